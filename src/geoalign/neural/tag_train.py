"""Fine-tune the neural character tagger (probe, issue 15) on the three labelled data sets at once.

Cross-entropy per character, with each address's logits restricted to its domain's labels (a data set
is never taught an element its annotators did not tag). Every epoch takes up to ``per_epoch[domain]``
addresses of each training set (a fresh seeded sample: SuperMap is 4x the others), batches them by
length, and ends with span micro-F1 on each selection split (``parse_metrics.span_scores``, the data
set's own elements, constrained Viterbi decode); the best mean is kept in ``OUT/best``. With every
selection split empty (a *refit* on all training data, the epoch count chosen by an earlier run that
held a split out) there is nothing to choose on: each epoch's end is written to ``OUT/best``, so the
last epoch is what stays, and ``selection.json`` says it is a refit.

Resumable: ``OUT/last.pt`` (model, optimizer, schedule, step, best) every ``save_every`` steps and at
each epoch's end; rerunning the same command continues. Log: ``OUT/train.log``.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geoalign.address.schemes import ELEMENTS, SCHEME_ELEMENTS, Example
from geoalign.neural.checkpoint import load_state, log_line, save_state
from geoalign.neural.optim import adamw_with_warmup, apply_step
from geoalign.neural.tag_data import CharVocab, Encoded, domain_label_mask, encode_examples
from geoalign.neural.tag_model import NeuralCharTagger, batch_tensors, save_model
from geoalign.neural.train import length_batches


@dataclass
class TagTrainConfig:
    out: str
    epochs: int = 3
    batch_size: int = 32
    lr: float = 1e-4
    warmup: float = 0.06
    weight_decay: float = 0.01
    per_epoch: dict[str, int] = field(default_factory=dict)  # domain -> addresses per epoch (0/absent: all)
    seed: int = 13
    threads: int = 1
    bf16: bool = False  # measured: bf16 autocast is ~8x slower than fp32 on this CPU (no native bf16)
    save_every: int = 50
    eval_limit: int = 0  # selection addresses scored per domain at each epoch's end (0: all)


def span_f1(tagger: NeuralCharTagger, examples: Sequence[Example]) -> float:
    """Entity-level micro-F1 over the examples' data set's own elements (as ``eval-parse`` scores)."""
    from geoalign.evaluate.parse_metrics import span_scores

    keep = SCHEME_ELEMENTS[tagger.domain]  # type: ignore[index]
    pred = tagger.spans_many([ex.text for ex in examples])
    gold = [[s for s in ex.spans if s[0] in keep] for ex in examples]
    return span_scores(gold, [[s for s in p if s[0] in keep] for p in pred], order=ELEMENTS).micro.f1


def _epoch_data(
    vocab: CharVocab, train: Mapping[str, Sequence[Example]], cfg: TagTrainConfig, epoch: int
) -> list[Encoded]:
    rng = random.Random(cfg.seed * 1000 + epoch)
    out = []
    for domain, examples in train.items():
        cap = cfg.per_epoch.get(domain, 0)
        chosen = rng.sample(list(examples), cap) if 0 < cap < len(examples) else list(examples)
        out.append(encode_examples(vocab, chosen, domain))
    return out


def _flatten(parts: Sequence[Encoded]) -> tuple[list[list[int]], list[list[int]], list[str]]:
    ids = [x for p in parts for x in p.ids]
    labels = [x for p in parts for x in p.labels]
    domains = [p.domain for p in parts for _ in p.ids]
    return ids, labels, domains


def tag_loss(logits: Any, labels: Any, domain_mask: Any) -> Any:
    """Mean CE over labelled characters, each address's logits restricted to its domain's labels."""
    import torch

    masked = logits.float().masked_fill(~domain_mask[:, None, :], -1e4)
    return torch.nn.functional.cross_entropy(masked.flatten(0, 1), labels.flatten(), ignore_index=-100)


def train_step(model: Any, optimizer: Any, scheduler: Any, batch: dict[str, Any], bf16: bool) -> float:
    import torch

    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    loss = tag_loss(logits, batch["labels"], batch["domain_mask"])
    apply_step(loss, model, optimizer, scheduler)
    return float(loss.item())


def collate(
    ids: Sequence[list[int]], labels: Sequence[list[int]], domains: Sequence[str], pad: int
) -> dict[str, Any]:
    import torch

    input_ids, mask = batch_tensors(ids, pad)
    lab = torch.full(input_ids.shape, -100, dtype=torch.long)
    for row, x in enumerate(labels):
        lab[row, : len(x)] = torch.tensor(x, dtype=torch.long)
    masks = {d: domain_label_mask(d) for d in set(domains)}
    dmask = torch.from_numpy(np.stack([masks[d] for d in domains]))
    return {"input_ids": input_ids, "attention_mask": mask, "labels": lab, "domain_mask": dmask}


def train(
    cfg: TagTrainConfig,
    model: Any,
    pieces: Sequence[str],
    train_sets: Mapping[str, Sequence[Example]],
    select_sets: Mapping[str, Sequence[Example]],
) -> Path:
    import torch

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=1), encoding="utf-8")
    vocab = CharVocab.from_pieces(pieces)
    epochs = [_flatten(_epoch_data(vocab, train_sets, cfg, e)) for e in range(cfg.epochs)]
    plans = [
        length_batches([len(x) for x in ids], cfg.batch_size, random.Random(cfg.seed + e), shuffle=True)
        for e, (ids, _, _) in enumerate(epochs)
    ]
    total = sum(len(p) for p in plans)
    optimizer, scheduler = adamw_with_warmup(
        model, lr=cfg.lr, weight_decay=cfg.weight_decay, warmup=cfg.warmup, total_steps=total
    )
    # No held-out addresses at all: a refit on everything, the epoch count fixed beforehand.
    refit = not any(select_sets.values())
    last = out / "last.pt"
    step, best = 0, -1.0
    saved = load_state(last, model, optimizer, scheduler)
    if saved is not None:
        step, best = saved["step"], saved["best"]
        log_line(out / "train.log", f"resumed at step {step}/{total} (best selection F1 {best:.4f})")
    n_params = sum(p.numel() for p in model.parameters()) / 1e6
    log_line(out / "train.log", f"model {n_params:.1f}M params, {total} steps over {cfg.epochs} epochs")
    done = run_steps = 0
    t0 = time.time()
    running = 0.0
    for epoch, ((ids, labels, domains), plan) in enumerate(zip(epochs, plans, strict=True)):
        for idx in plan:
            if done < step:
                done += 1
                continue
            batch = collate(
                [ids[i] for i in idx], [labels[i] for i in idx], [domains[i] for i in idx], vocab.pad
            )
            loss = train_step(model, optimizer, scheduler, batch, cfg.bf16)
            running = 0.98 * running + 0.02 * loss if run_steps else loss
            step += 1
            done += 1
            run_steps += 1
            if step % 25 == 0:
                rate = (time.time() - t0) / run_steps
                log_line(
                    out / "train.log",
                    f"epoch {epoch} step {step}/{total} loss {running:.4f} ({rate:.3f}s/step)",
                )
            if step % cfg.save_every == 0:
                save_state(last, model, optimizer, scheduler, step=step, best=best)
        if done < step:
            continue
        if refit:
            record: dict[str, Any] = {"epoch": epoch, "refit": True, "selection_f1": None}
            keep = True
            log_line(out / "train.log", f"epoch {epoch} done (refit: no selection split; last epoch kept)")
        else:
            scores = {}
            for domain, examples in select_sets.items():
                chosen = examples[: cfg.eval_limit] if cfg.eval_limit else examples
                model.eval()
                scores[domain] = span_f1(NeuralCharTagger(model, vocab, domain, bf16=cfg.bf16), chosen)
            mean = float(np.mean(list(scores.values())))
            text = " ".join(f"{d} {f:.4f}" for d, f in scores.items())
            log_line(out / "train.log", f"epoch {epoch} done: selection F1 {text} (mean {mean:.4f})")
            record = {"epoch": epoch, "selection_f1": scores, "mean": mean}
            keep = mean > best
            best = max(best, mean)
        if keep:
            save_model(model, pieces, out / "best")
            (out / "best" / "selection.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
        save_state(last, model, optimizer, scheduler, step=step, best=best)
    if refit:
        log_line(out / "train.log", f"finished (refit): last epoch in {out / 'best'}")
    else:
        log_line(out / "train.log", f"finished: best mean selection F1 {best:.4f}; model in {out / 'best'}")
    return out / "best"
