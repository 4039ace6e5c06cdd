#!/usr/bin/env python
"""Train a small BERT pair classifier on CCKS-style address pairs and save it in the Hugging Face layout.

Why it exists: label agreement of bf16/fp16 against fp32 means nothing on random weights, and the cascade
needs a neural stage that makes real decisions. This model is a test/benchmark artefact built by a
command (never committed): a character vocabulary (geoalign.scorers.charvocab), a few layers, a few
minutes on a CPU. The torch scorer loads the output directory like any checkpoint.

    python scripts/train_tiny_pair_classifier.py \
        --pairs /work/shared/data/ccks2021-address-relevance/round1_slice.tsv -o artifacts/tiny-pair-clf

Input: ``query<TAB>candidate<TAB>label`` (label 0 = not_match, 1 = partial_match, 2 = exact_match, the CCKS
convention; label names are accepted too). The split is by query, so dev queries are never seen.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import transformers

from geoalign.address.clean import clean
from geoalign.engine.batching import pad_batch, plan_batches
from geoalign.scorers.charvocab import write_char_vocab
from geoalign.types import CCKS_ID_TO_LABEL, ItemError

#: The model's own id order: the CCKS order (MGeo's differs; the loader maps through names either way).
ID2LABEL = dict(CCKS_ID_TO_LABEL)
LABEL2ID = {v: k for k, v in ID2LABEL.items()}
MAX_LENGTH = 96


def read_pairs(path: Path) -> list[tuple[str, str, int]]:
    rows: list[tuple[str, str, int]] = []
    skipped = 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                skipped += 1
                continue
            a, b, label = clean(parts[0]), clean(parts[1]), parts[2].strip()
            if isinstance(a, ItemError) or isinstance(b, ItemError):
                skipped += 1
                continue
            if label in LABEL2ID:
                y = LABEL2ID[label]  # type: ignore[index]
            elif label in {"0", "1", "2"}:
                y = int(label)
            else:
                skipped += 1
                continue
            rows.append((a.text, b.text, y))
    if skipped:
        print(f"skipped {skipped} unusable rows", file=sys.stderr)
    return rows


def split_by_query(rows: list[tuple[str, str, int]], dev_share: float, seed: int) -> tuple[list, list]:
    queries = sorted({r[0] for r in rows})
    random.Random(seed).shuffle(queries)
    dev_q = set(queries[: int(len(queries) * dev_share)])
    return [r for r in rows if r[0] not in dev_q], [r for r in rows if r[0] in dev_q]


def encode(tokenizer, rows):  # type: ignore[no-untyped-def]
    enc = tokenizer([r[0] for r in rows], [r[1] for r in rows], truncation=True, max_length=MAX_LENGTH)
    return enc["input_ids"], enc["token_type_ids"], np.array([r[2] for r in rows])


def batches(ids, types, labels, *, shuffle: bool, rng: random.Random, max_tokens: int = 4096):  # type: ignore[no-untyped-def]
    plan = plan_batches([len(x) for x in ids], max_tokens=max_tokens, max_batch=64)
    if shuffle:
        rng.shuffle(plan)
    for batch in plan:
        x, mask = pad_batch([ids[i] for i in batch])
        t, _ = pad_batch([types[i] for i in batch])
        yield (
            torch.from_numpy(x),
            torch.from_numpy(mask),
            torch.from_numpy(t),
            torch.from_numpy(labels[batch]),
        )


def evaluate(model, ids, types, labels) -> dict[str, float]:  # type: ignore[no-untyped-def]
    model.eval()
    preds = np.zeros(len(labels), dtype=np.int64)
    order = plan_batches([len(x) for x in ids], max_tokens=8192, max_batch=256)
    with torch.inference_mode():
        for batch in order:
            x, mask = pad_batch([ids[i] for i in batch])
            t, _ = pad_batch([types[i] for i in batch])
            logits = model(
                input_ids=torch.from_numpy(x),
                attention_mask=torch.from_numpy(mask),
                token_type_ids=torch.from_numpy(t),
            ).logits
            preds[batch] = logits.argmax(-1).numpy()
    model.train()
    f1s = []
    per_label = {}
    for k, name in ID2LABEL.items():
        tp = int(((preds == k) & (labels == k)).sum())
        fp = int(((preds == k) & (labels != k)).sum())
        fn = int(((preds != k) & (labels == k)).sum())
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        f1s.append(f1)
        per_label[f"f1_{name}"] = round(f1, 4)
    return {
        "accuracy": round(float((preds == labels).mean()), 4),
        "macro_f1": round(float(np.mean(f1s)), 4),
        **per_label,
    }


def set_lr(optimizer: torch.optim.Optimizer, peak: float, progress: float) -> None:
    """Warm-up then linear decay over ``progress`` in [0, 1], where progress is the larger of the step
    share and the *time* share of the budget: on a busy shared CPU the time budget, not the epoch count,
    usually ends training, and the rate must still anneal to zero by then."""
    warm = 0.05
    factor = min(1.0, (progress + 1e-3) / warm) * max(0.0, 1.0 - progress)
    for group in optimizer.param_groups:
        group["lr"] = peak * factor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", required=True, type=Path, help="TSV: query, candidate, label")
    parser.add_argument("-o", "--output", required=True, type=Path, help="output directory (HF layout)")
    parser.add_argument("--max-minutes", type=float, default=8.0, help="training time budget (default 8)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=96)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    rows = read_pairs(args.pairs)
    if len(rows) < 100:
        parser.error(f"{args.pairs}: only {len(rows)} usable rows")
    train_rows, dev_rows = split_by_query(rows, 0.1, args.seed)
    print(f"train {len(train_rows)} pairs, dev {len(dev_rows)} pairs (split by query)")

    with tempfile.TemporaryDirectory() as tmp:
        write_char_vocab(Path(tmp) / "vocab.txt")
        tokenizer = transformers.BertTokenizerFast.from_pretrained(tmp, local_files_only=True)
    tr_ids, tr_types, tr_y = encode(tokenizer, train_rows)
    dv_ids, dv_types, dv_y = encode(tokenizer, dev_rows)

    config = transformers.BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=max(1, args.hidden // 32),
        intermediate_size=args.hidden * 4,
        max_position_embeddings=MAX_LENGTH,
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        num_labels=3,
        id2label=ID2LABEL,
        label2id=LABEL2ID,
    )
    model = transformers.BertForSequenceClassification(config)
    model.train()
    # square-root class weights: not_match dominates (~60%), exact is rare (~6%). Fully balanced weights
    # were measured to stall at the uniform-prediction loss (ln 3) within a few CPU minutes; sqrt learns.
    counts = np.bincount(tr_y, minlength=3).astype(np.float64)
    weights = torch.tensor((counts.sum() / (3 * np.maximum(counts, 1))) ** 0.5, dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps_per_epoch = sum(1 for _ in plan_batches([len(x) for x in tr_ids], max_tokens=4096, max_batch=64))
    total_steps = steps_per_epoch * args.epochs
    budget_s = args.max_minutes * 60
    set_lr(optimizer, args.lr, 0.0)
    start = time.perf_counter()
    history = []
    step = 0
    out_of_time = False
    for epoch in range(args.epochs):
        running, n = 0.0, 0
        for x, mask, t, y in batches(tr_ids, tr_types, tr_y, shuffle=True, rng=rng):
            n += 1
            logits = model(input_ids=x, attention_mask=mask, token_type_ids=t).logits
            loss = loss_fn(logits, y)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            step += 1
            set_lr(optimizer, args.lr, max(step / total_steps, (time.perf_counter() - start) / budget_s))
            running += float(loss.detach())
            if time.perf_counter() - start > budget_s:
                out_of_time = True
                break
        metrics = evaluate(model, dv_ids, dv_types, dv_y)
        elapsed = time.perf_counter() - start
        history.append(
            {
                "epoch": epoch + 1,
                "loss": round(running / max(1, n), 4),
                "seconds": round(elapsed, 1),
                **metrics,
            }
        )
        print(json.dumps(history[-1]), flush=True)
        if out_of_time:
            print(f"stopped at the {args.max_minutes}-minute budget", flush=True)
            break

    model.eval()
    out: Path = args.output
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    data_sha = hashlib.sha256(args.pairs.read_bytes()).hexdigest()[:16]
    final = history[-1]
    card = {
        "model": "geoalign tiny pair classifier (BERT, character vocabulary)",
        "architecture": {
            "layers": args.layers,
            "hidden": args.hidden,
            "max_length": MAX_LENGTH,
            "parameters": sum(p.numel() for p in model.parameters()),
        },
        "training_data": {
            "path": str(args.pairs),
            "sha256_16": data_sha,
            "train_pairs": len(train_rows),
            "dev_pairs": len(dev_rows),
            "split": "by query, 10% dev, seed " + str(args.seed),
        },
        "licence": "trained on CCKS 2021 address-relevance data (GeoGLUE, CC BY-NC 4.0): "
        "non-commercial research and evaluation only; retrain on your own labels for commercial use",
        "dev_metrics": {k: final[k] for k in final if k not in {"epoch", "loss", "seconds"}},
        "history": history,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
        "id2label": ID2LABEL,
    }
    (out / "model_card.json").write_text(
        json.dumps(card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (out / "README.md").write_text(
        "# geoalign tiny pair classifier\n\n"
        f"- Training data: `{args.pairs}` (CCKS 2021 address relevance, sha256 {data_sha}), "
        f"{len(train_rows)} train / {len(dev_rows)} dev pairs, split by query.\n"
        "- Licence of the data, hence of this model: **non-commercial research and evaluation only** "
        "(CC BY-NC 4.0, as GeoGLUE).\n"
        f"- Dev metrics: accuracy {final['accuracy']}, macro-F1 {final['macro_f1']}.\n"
        f"- Date: {card['date']}. Reproduce: `{card['command']}`.\n"
        "- A test/benchmark artefact for the torch scorer (real decisions for bf16/fp16 agreement), not a "
        "production model.\n",
        encoding="utf-8",
    )
    print(f"saved to {out} in {time.perf_counter() - start:.0f}s: dev {card['dev_metrics']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
