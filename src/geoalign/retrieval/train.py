"""Fine-tune the retrieval encoder contrastively (needs ``[train]``): ``scripts/train_retrieval.py``.

Pairs that should be near each other: CCKS exact_match and partial_match pairs of the *training* split
only (``neural.data.ccks_splits``: the frozen fold and the validation fold are never trained on), the
Shenzhen training positives, and rule-made pairs (``address.synth.generate_pairs``) of the CCKS
training texts. Every text is normalized first (``address.normalize``), as the link core embeds the
normalized text of a record.

Loss: symmetric InfoNCE with in-batch negatives (each a's positive is its b; the other b's of the batch
are its negatives) at a fixed temperature — the objective e5 itself was trained with. A batch never
holds the same text twice (a duplicate would be a false negative). With ``hard_negatives`` each CCKS
query also brings one of its own not_match candidates (annotated as another place, yet usually on the
same road or in the same compound: exactly the records retrieval must rank below the true one) as an
extra negative column for every a of the batch.

Resumable: ``OUT/last.pt`` (model, optimizer, step, data order seed) every ``save_every`` steps; a rerun
continues. ``OUT/train.log`` logs loss and the validation recall@k (validation queries against every
distinct CCKS candidate, exact search). The end: ``OUT/onnx`` (int8 export) and ``OUT/metrics.json``.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geoalign.neural.checkpoint import log_line


@dataclass
class RetrievalTrainConfig:
    out: str
    ccks: str
    shenzhen: str | None = None
    layers: int = 2
    max_length: int = 32
    batch_size: int = 64
    lr: float = 5e-5
    temperature: float = 0.05
    minutes: float = 20.0  # wall-clock budget for the optimisation steps
    max_steps: int = 100_000
    synth_per_address: int = 1
    hard_negatives: bool = False  # add each CCKS query's not_match candidates as negatives
    shenzhen_limit: int = 20_000
    threads: int = 1
    seed: int = 16
    save_every: int = 50
    eval_every: int = 200


def save_checkpoint(
    torch: Any, path: Path, model: Any, optimizer: Any, step: int, epoch: int, epoch_step: int
) -> None:
    """The resumable state: weights, optimizer and where in the epoch the run stopped."""
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step,
            "epoch": epoch,
            "epoch_step": epoch_step,
        },
        path,
    )


def log(out: Path, message: str) -> None:
    log_line(out / "train.log", message)


def _norm(text: str) -> str:
    from geoalign.address.normalize import normalize
    from geoalign.errors import GeoalignError

    try:
        return normalize(text)
    except GeoalignError:
        return text.strip()


def training_pairs(cfg: RetrievalTrainConfig) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """(a, b) positives from the training sources, normalized and deduplicated, and their counts."""
    from geoalign.address.synth import generate_pairs
    from geoalign.neural.data import MASK_NOT, ccks_splits, read_binary_pairs

    splits = ccks_splits(cfg.ccks)
    ccks = [(p.a, p.b) for p in splits.train if p.allowed != MASK_NOT]
    shenzhen: list[tuple[str, str]] = []
    if cfg.shenzhen:
        rows = read_binary_pairs(cfg.shenzhen, source="shenzhen")
        shenzhen = [(p.a, p.b) for p in rows if p.allowed != MASK_NOT][: cfg.shenzhen_limit]
    seeds = sorted({t for pair in splits.train for t in (pair.a, pair.b)})
    synth = [
        (a, b)
        for a, b, label, _kind in generate_pairs(seeds, cfg.seed, cfg.synth_per_address)
        if label != "not_match"
    ]
    pairs = list(dict.fromkeys((_norm(a), _norm(b)) for a, b in ccks + shenzhen + synth))
    pairs = [(a, b) for a, b in pairs if a != b]
    counts = {"ccks": len(ccks), "shenzhen": len(shenzhen), "synth": len(synth), "distinct": len(pairs)}
    return pairs, counts


def hard_negative_map(cfg: RetrievalTrainConfig) -> dict[str, list[str]]:
    """Normalized CCKS training query -> its normalized not_match candidates (training split only)."""
    from geoalign.neural.data import MASK_NOT, ccks_splits

    out: dict[str, list[str]] = {}
    for p in ccks_splits(cfg.ccks).train:
        if p.allowed == MASK_NOT:
            a, b = _norm(p.a), _norm(p.b)
            if a != b:
                out.setdefault(a, []).append(b)
    return {a: sorted(set(bs)) for a, bs in out.items()}


def pick_hard_negatives(
    batch_pairs: Sequence[tuple[str, str]], hard: dict[str, list[str]], rng: random.Random
) -> list[str]:
    """At most one hard negative per a, never a text of the batch and never twice (no false negative)."""
    taken = {t for pair in batch_pairs for t in pair}
    out: list[str] = []
    for a, _b in batch_pairs:
        options = [t for t in hard.get(a, ()) if t not in taken]
        if options:
            choice = rng.choice(options)
            taken.add(choice)
            out.append(choice)
    return out


def validation_task(cfg: RetrievalTrainConfig) -> tuple[list[str], list[str], list[tuple[int, int]]]:
    """Validation queries, every distinct CCKS candidate, and the (query, candidate) exact pairs."""
    from geoalign.neural.data import MASK_EXACT, ccks_splits

    splits = ccks_splits(cfg.ccks)
    candidates: dict[str, int] = {}
    for p in splits.train + splits.validation + splits.test:
        candidates.setdefault(_norm(p.b), len(candidates))
    queries: dict[str, int] = {}
    gold = []
    for p in splits.validation:
        qi = queries.setdefault(_norm(p.a), len(queries))
        if p.allowed == MASK_EXACT:
            gold.append((qi, candidates[_norm(p.b)]))
    return list(queries), list(candidates), gold


def recall_at(
    q: np.ndarray, c: np.ndarray, gold: Sequence[tuple[int, int]], ks: Sequence[int]
) -> dict[str, float]:
    top = np.argsort(-(q @ c.T), axis=1)[:, : max(ks)]
    return {f"recall@{k}": round(float(np.mean([b in top[a, :k] for a, b in gold])), 4) for k in ks}


def _batches(pairs: list[tuple[str, str]], batch: int, rng: random.Random) -> list[list[int]]:
    order = list(range(len(pairs)))
    rng.shuffle(order)
    out: list[list[int]] = []
    current: list[int] = []
    seen: set[str] = set()
    for i in order:
        a, b = pairs[i]
        if a in seen or b in seen:
            continue  # goes to a later epoch's batches: never a false negative inside one batch
        current.append(i)
        seen.update((a, b))
        if len(current) == batch:
            out.append(current)
            current, seen = [], set()
    return out


def train(cfg: RetrievalTrainConfig) -> Path:
    import torch

    from geoalign.retrieval.export import build_encoder, export_onnx, pooled_module, shipped_tokenizer_path

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=1), encoding="utf-8")
    pairs, counts = training_pairs(cfg)
    hard = hard_negative_map(cfg) if cfg.hard_negatives else {}
    counts["hard_negative_queries"] = len(hard)
    log(out, f"data: {counts}")
    val_q, val_c, gold = validation_task(cfg)
    log(out, f"validation: {len(val_q)} queries x {len(val_c)} candidates, {len(gold)} exact pairs")
    encoder, tokenizer = build_encoder(cfg.layers)
    model = pooled_module(encoder)
    tokenizer.no_padding()
    tokenizer.enable_truncation(cfg.max_length)
    pad = tokenizer.token_to_id("<pad>")
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    step, epoch, epoch_step = 0, 0, 0  # epoch_step: batches of the current epoch already taken
    ckpt = out / "last.pt"
    if ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, epoch, epoch_step = int(state["step"]), int(state["epoch"]), int(state["epoch_step"])
        log(out, f"resumed at step {step} (epoch {epoch})")

    def tensors(texts: Sequence[str]) -> tuple[Any, Any]:
        encs = tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in encs)
        ids = torch.full((len(encs), width), pad, dtype=torch.long)
        mask = torch.zeros((len(encs), width), dtype=torch.long)
        for r, e in enumerate(encs):
            ids[r, : len(e.ids)] = torch.tensor(e.ids)
            mask[r, : len(e.ids)] = 1
        return ids, mask

    def embed(texts: Sequence[str]) -> np.ndarray:
        model.eval()
        rows = []
        with torch.no_grad():
            for start in range(0, len(texts), 256):
                rows.append(model(*tensors(texts[start : start + 256])).numpy())
        model.train()
        return np.concatenate(rows)

    def evaluate() -> dict[str, float]:
        return recall_at(embed(val_q), embed(val_c), gold, (1, 5, 10, 20, 50))

    if step == 0:
        log(out, f"untuned e5 (first {cfg.layers} layers): {evaluate()}")
    deadline = time.monotonic() + cfg.minutes * 60
    model.train()
    done = False
    while not done:
        batches = _batches(pairs, cfg.batch_size, random.Random(cfg.seed + epoch))
        for batch in batches[epoch_step:]:
            batch_pairs = [pairs[i] for i in batch]
            # seeded by step so a resumed run draws the same negatives
            negatives = pick_hard_negatives(batch_pairs, hard, random.Random(cfg.seed * 1_000_003 + step))
            a = tensors([p[0] for p in batch_pairs])
            b = tensors([p[1] for p in batch_pairs] + negatives)
            za, zb_all = model(*a), model(*b)
            zb = zb_all[: len(batch)]
            target = torch.arange(len(batch))
            loss = (
                torch.nn.functional.cross_entropy(za @ zb_all.T / cfg.temperature, target)
                + torch.nn.functional.cross_entropy(zb @ za.T / cfg.temperature, target)
            ) / 2
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            epoch_step += 1
            if step % 10 == 0:
                log(out, f"step {step} epoch {epoch} loss {loss.item():.4f}")
            if step % cfg.save_every == 0:
                save_checkpoint(torch, ckpt, model, optimizer, step, epoch, epoch_step)
            if step % cfg.eval_every == 0:
                log(out, f"step {step}: validation {evaluate()}")
            if time.monotonic() > deadline or step >= cfg.max_steps:
                done = True
                break
        else:
            epoch += 1
            epoch_step = 0
    save_checkpoint(torch, ckpt, model, optimizer, step, epoch, epoch_step)
    metrics = {
        "validation": evaluate(),
        "steps": step,
        "epochs": epoch,
        "data": counts,
        "layers": cfg.layers,
        "max_length": cfg.max_length,
        "hard_negatives": cfg.hard_negatives,
    }
    log(out, f"final: {metrics}")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
    export_onnx(
        model.encoder,
        shipped_tokenizer_path(),
        out / "onnx",
        max_length=cfg.max_length,
        int8=True,
        metrics=metrics,
    )
    return out / "onnx"


__all__ = [
    "RetrievalTrainConfig",
    "hard_negative_map",
    "pick_hard_negatives",
    "recall_at",
    "train",
    "training_pairs",
    "validation_task",
]
