"""Domain-adaptive masked-LM pretraining of the neural matcher's encoder on unlabelled addresses.

``geoalign pretrain-neural`` continues pretraining an encoder directory as ``train-neural`` writes it
(``OUT/init`` of a run: the pruned 6-layer e5-small) on an address corpus, then writes ``OUT/final``: the
same directory layout and tokenizer, with the adapted encoder, so ``geoalign train-neural --init-from
OUT/final`` fine-tunes from it.

- **Leakage**: before anything else every string of the CCKS validation split and frozen test fold
  (``neural/data.ccks_splits``) and of the given evaluation files is removed from the corpus (the corpus
  was assembled from, among others, those very data sets).
- **Model**: transformers' ``BertForMaskedLM`` over the init's encoder, its output projection tied to the
  input embeddings. e5 ships no LM head, so the head's dense layer, LayerNorm and output bias start
  fresh (checked when loading: nothing else may be missing).
- **Mask token**: the pruned vocabulary has no ``<mask>`` (XLM-R's is its last piece, never used by
  addresses), so one is appended for pretraining only; its embedding row starts at transformers' resize
  default and is cut off again in ``OUT/final``, which keeps the init's tokenizer byte for byte (teachers
  and students trained from the same data paths keep sharing one vocabulary).
- **Masking**: ``DataCollatorForLanguageModeling`` (15%, 80/10/10). Not whole-word: XLM-R's pieces on
  addresses are already words (``浙江省``, ``杭州``) and the collator's whole-word mode needs spaces.
- **Cost**: the vocabulary projection runs only on the masked positions (~15% of tokens) instead of
  every position, which ``BertForMaskedLM(labels=...)`` would do; the loss is the same.

Resumable: ``OUT/last.pt`` (model, optimizer, scheduler, step, RNG) every ``save_every`` steps; rerunning
the same command continues from it (the batch plan is a function of the seed). Log: ``OUT/pretrain.log``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from geoalign.errors import DataFormatError, InputError, ModelLoadError
from geoalign.neural.checkpoint import load_state, log_line, save_state
from geoalign.neural.data import ccks_splits, read_lines, texts_of
from geoalign.neural.optim import adamw_with_warmup, apply_step

MASK_TOKEN = "<mask>"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


@dataclass
class PretrainConfig:
    out: str
    init: str  # an encoder directory as train-neural writes (OUT/init or OUT/best)
    corpus: str
    ccks: str | None = None  # remove its validation split and frozen test fold from the corpus
    exclude: tuple[str, ...] = ()  # plain files: one string a line; tab-separated lines give each text field
    exclude_tagged: tuple[str, ...] = ()  # parser files (`token TAG` lines, CCKS/NAACL/SuperMap formats)
    steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-4
    warmup: float = 0.06
    weight_decay: float = 0.01
    max_tokens: int = 48  # per address, specials included (truncated)
    mlm_probability: float = 0.15
    corpus_sample: int | None = None  # use a random sample of the (filtered) corpus
    save_every: int = 100
    log_every: int = 50
    seed: int = 20211
    threads: int = 1
    bf16: bool | None = None  # None: where the CPU has native bf16 (elsewhere emulated, ~10x slower)


def log(out: Path, message: str) -> None:
    log_line(out / "pretrain.log", message)


# ------------------------------------------------------------------------------------------- corpus


def _is_label(field: str) -> bool:
    return field.strip().lstrip("-").isdigit()


def read_exclusions(
    *, ccks: str | None = None, plain: Iterable[str] = (), tagged: Iterable[str] = ()
) -> set[str]:
    """Every string that must not be pretrained on: the CCKS validation split and frozen test fold (never
    its training split), each line of the plain files (tab-separated lines: each field that is not a bare
    integer label, so pair files ``a<TAB>b<TAB>0|1`` give a and b), and the addresses of tagged parser
    files."""
    from geoalign.address.schemes import read_labelled

    out: set[str] = set()
    if ccks:
        splits = ccks_splits(ccks)
        out |= texts_of(splits.validation) | texts_of(splits.test)
    for path in plain:
        for line in read_lines(path):
            out.update(f for f in line.split("\t") if f.strip() and not _is_label(f))
    for path in tagged:
        out.update(example.text for example in read_labelled(path))
    return out


def load_corpus(path: str, exclude: set[str], sample: int | None, seed: int) -> tuple[list[str], int]:
    """Distinct corpus lines minus the excluded strings, shuffled (a sample if asked); and how many
    distinct lines were removed."""
    lines = sorted(set(read_lines(path)))
    kept = [t for t in lines if t not in exclude]
    random.Random(seed).shuffle(kept)
    if not kept:
        raise DataFormatError(f"{path}: no corpus lines left after the exclusions")
    return (kept[:sample] if sample else kept), len(lines) - len(kept)


# ------------------------------------------------------------------------------------------- model


def mlm_tokenizer(init: Path) -> Any:
    """The init's tokenizer plus a ``<mask>`` piece at the end, wrapped for transformers' collator."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer.from_file(str(init / "tokenizer.json"))
    if tok.token_to_id(MASK_TOKEN) is None:
        tok.add_special_tokens([MASK_TOKEN])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        cls_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token=MASK_TOKEN,
    )


def load_mlm_model(init: Path, vocab_size: int) -> Any:
    """``BertForMaskedLM`` with the init's encoder, the decoder tied to the input embeddings (grown by
    the mask row); only the fresh head (transform dense/LayerNorm, output bias) may be missing."""
    from transformers import BertForMaskedLM

    loaded: Any = BertForMaskedLM.from_pretrained(init, output_loading_info=True, tie_word_embeddings=True)
    model, info = loaded
    fresh = {
        "cls.predictions.transform.dense.weight",
        "cls.predictions.transform.dense.bias",
        "cls.predictions.transform.LayerNorm.weight",
        "cls.predictions.transform.LayerNorm.bias",
        "cls.predictions.bias",
        "cls.predictions.decoder.weight",  # tied: the input embeddings
        "cls.predictions.decoder.bias",
    }
    bad = [k for k in info["missing_keys"] if k not in fresh and not k.endswith("position_ids")]
    if bad:
        raise ModelLoadError(f"{init}: encoder weights missing from the init: {bad[:5]}")
    if model.get_input_embeddings().weight.shape[0] != vocab_size:
        model.resize_token_embeddings(vocab_size)
    if model.get_output_embeddings().weight is not model.get_input_embeddings().weight:
        raise RuntimeError("the masked-LM decoder is not tied to the input embeddings")
    return model


def masked_lm_loss(model: Any, batch: dict[str, Any]) -> Any:
    """Cross-entropy of the masked positions only (the vocabulary projection is the costly part)."""
    import torch

    hidden = model.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])[0]
    labels = batch["labels"]
    chosen = labels != -100
    logits = model.cls(hidden[chosen])
    return torch.nn.functional.cross_entropy(logits.float(), labels[chosen])


def write_final(model: Any, init: Path, target: Path, extra: dict[str, Any]) -> Path:
    """``target``: the init directory with the adapted encoder. The classifier and pooler stay the init's
    (what fine-tuning would have started from) and the mask row is cut off, so the tokenizer files are
    the init's, copied unchanged."""
    import torch
    from transformers import BertForSequenceClassification

    classifier = BertForSequenceClassification.from_pretrained(init)
    state = {k: v.detach().clone() for k, v in model.bert.state_dict().items()}
    key = "embeddings.word_embeddings.weight"
    rows = classifier.bert.embeddings.word_embeddings.weight.shape[0]
    state[key] = state[key][:rows].clone()
    missing, unexpected = classifier.bert.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if not k.startswith("pooler.")]:
        raise RuntimeError(f"final: missing {missing[:5]} unexpected {unexpected[:5]}")
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with torch.no_grad():
        classifier.save_pretrained(tmp)
    for name in TOKENIZER_FILES:
        shutil.copyfile(init / name, tmp / name)
    meta_path = init / "geoalign_neural.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    meta["pretrain"] = extra
    (tmp / "geoalign_neural.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target


# ------------------------------------------------------------------------------------------- train


def batch_plan(lengths: Sequence[int], cfg: PretrainConfig) -> list[list[int]]:
    """``cfg.steps`` batches: successive shuffled, length-bucketed passes over the corpus (a function of
    the seed, so a resumed run replays the same plan and skips what it did)."""
    from geoalign.neural.train import length_batches

    plan: list[list[int]] = []
    epoch = 0
    while len(plan) < cfg.steps:
        plan += length_batches(lengths, cfg.batch_size, random.Random(cfg.seed + epoch), shuffle=True)
        epoch += 1
    return plan[: cfg.steps]


def pretrain(cfg: PretrainConfig) -> Path:
    import torch
    from transformers import DataCollatorForLanguageModeling

    out, init = Path(cfg.out), Path(cfg.init)
    for name in ("config.json", *TOKENIZER_FILES):
        if not (init / name).is_file():
            raise FileNotFoundError(f"--init {init}: no {name} (give a train-neural run's init/ or best/)")
    if cfg.steps < 1 or cfg.batch_size < 1:
        raise InputError("--steps and --batch-size must be positive")
    out.mkdir(parents=True, exist_ok=True)
    final = out / "final"
    torch.set_num_threads(cfg.threads)
    from geoalign.neural.train import autocast_wanted

    bf16 = autocast_wanted(torch.device("cpu"), cfg.bf16)
    (out / "pretrain_config.json").write_text(json.dumps(asdict(cfg), indent=1), encoding="utf-8")

    exclude = read_exclusions(ccks=cfg.ccks, plain=cfg.exclude, tagged=cfg.exclude_tagged)
    texts, removed = load_corpus(cfg.corpus, exclude, cfg.corpus_sample, cfg.seed)
    log(out, f"corpus: {len(texts)} addresses used; {removed} removed of {len(exclude)} excluded strings")
    tokenizer = mlm_tokenizer(init)
    backend = tokenizer.backend_tokenizer  # batch encoding in Rust; the collator only pads and masks
    backend.enable_truncation(cfg.max_tokens)
    backend.no_padding()
    encodings = backend.encode_batch(texts)
    examples = [{"input_ids": e.ids} for e in encodings]
    lengths = [len(e.ids) for e in encodings]
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=cfg.mlm_probability)
    plan = batch_plan(lengths, cfg)

    torch.manual_seed(cfg.seed)  # the fresh head and mask row, then masking and dropout
    model = load_mlm_model(init, len(tokenizer))
    optimizer, scheduler = adamw_with_warmup(
        model, lr=cfg.lr, weight_decay=cfg.weight_decay, warmup=cfg.warmup, total_steps=cfg.steps
    )
    step = 0
    last = out / "last.pt"
    saved = load_state(last, model, optimizer, scheduler)
    if saved is not None:
        if saved["steps"] != cfg.steps:
            raise InputError(f"{last} was saved by a {saved['steps']}-step run; this one asks {cfg.steps}")
        step = saved["step"]
        log(out, f"resumed at step {step}/{cfg.steps}")
    log(
        out,
        f"model: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M params, {cfg.steps} steps of "
        f"{cfg.batch_size}, init {init}",
    )

    def save_last() -> None:
        save_state(last, model, optimizer, scheduler, step=step, steps=cfg.steps)

    model.train()
    t0, run_steps, window = time.time(), 0, []
    while step < cfg.steps:
        batch = collator([examples[i] for i in plan[step]])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = masked_lm_loss(model, batch)
        apply_step(loss, model, optimizer, scheduler)
        step += 1
        run_steps += 1
        window.append(loss.item())
        if step % cfg.log_every == 0 or step == cfg.steps:
            rate = (time.time() - t0) / run_steps
            mean = sum(window) / len(window)
            lr = scheduler.get_last_lr()[0]
            log(out, f"step {step}/{cfg.steps} mlm loss {mean:.4f} lr {lr:.2e} ({rate:.2f}s/step)")
            window = []
        if step % cfg.save_every == 0 or step == cfg.steps:
            save_last()
    model.eval()
    settings = {k: v for k, v in asdict(cfg).items() if k != "out"}
    write_final(model, init, final, {"corpus_used": len(texts), "removed": removed, **settings})
    log(out, f"finished: {step} steps; encoder in {final}")
    return final
