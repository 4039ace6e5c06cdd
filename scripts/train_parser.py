"""Train the address-parser CRF(s) on NAACL-2019 style data and report span F1 on a dev file.

Reproduces the shipped model directory (src/geoalign/models/parser/):

    .venv/bin/python scripts/train_parser.py \\
        --train ../shared/data/naacl2019-address-parsing/train.txt \\
        --dev ../shared/data/naacl2019-address-parsing/dev.txt \\
        --out src/geoalign/models/parser --stack-folds 3

Stage 1 is a CRF on character/gazetteer features. With ``--stack-folds K`` (K >= 2) a second CRF is
trained on stage 1's tags as extra features; its training tags come from K out-of-fold stage-1 models
(trained on the other folds), so it sees stage-1 mistakes as they happen on unseen text.

The data is research-only and is never copied into the repository; only the trained weights ship, with
MODEL_CARD.md next to them. ``parser.json`` in the output directory records what was trained and how.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from geoalign.address.tagger import (
    FEATURE_VERSION,
    CrfTagger,
    read_bio_file,
    stack_features,
    token_features,
    train,
)
from geoalign.evaluate.parse_metrics import format_table, span_scores
from geoalign.types import COMPONENT_NAMES

STAGE1 = "crf.model"
STAGE2 = "crf-stack.model"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", required=True, type=Path)
    ap.add_argument("--dev", type=Path, help="report span F1 on this file after training")
    ap.add_argument("--out", required=True, type=Path, help="model directory to write")
    ap.add_argument("--c1", type=float, default=0.1, help="L1 weight (prunes features: smaller file)")
    ap.add_argument("--c2", type=float, default=0.01, help="L2 weight")
    ap.add_argument("--max-iterations", type=int, default=150)
    ap.add_argument("--min-freq", type=int, default=1, help="drop features seen fewer times than this")
    ap.add_argument("--stack-folds", type=int, default=0, help="train a second stage with K folds (K>=2)")
    ap.add_argument("--reuse-stage1", type=Path, help="an already trained stage-1 model (same features)")
    args = ap.parse_args(argv)
    params = {"c1": args.c1, "c2": args.c2, "max_iterations": args.max_iterations, "min_freq": args.min_freq}

    t0 = time.perf_counter()
    data = read_bio_file(args.train)
    print(f"train: {len(data)} addresses from {args.train}", flush=True)
    feats = [token_features(tokens, text) for text, _, tokens, _ in data]
    tags = [t for _, _, _, t in data]
    args.out.mkdir(parents=True, exist_ok=True)
    stage1 = args.out / STAGE1
    if args.reuse_stage1 is not None:
        shutil.copyfile(args.reuse_stage1, stage1)
    else:
        train(zip(feats, tags, strict=True), stage1, **params, log=print)
    print(f"stage 1: {stage1} ({stage1.stat().st_size / 1024:.0f} KiB), {time.perf_counter() - t0:.0f} s")
    stages = [STAGE1]
    if args.stack_folds >= 2:
        k = args.stack_folds
        oof: list[list[str]] = [[] for _ in data]
        with tempfile.TemporaryDirectory() as tmp:
            for fold in range(k):
                model = Path(tmp) / f"fold{fold}.model"
                rest = [(feats[i], tags[i]) for i in range(len(data)) if i % k != fold]
                train(rest, model, **params)
                tagger = CrfTagger(model)
                for i in range(fold, len(data), k):
                    oof[i] = list(tagger._tagger.tag(feats[i]))
                print(f"fold {fold + 1}/{k} done, {time.perf_counter() - t0:.0f} s", flush=True)
        stage2 = args.out / STAGE2
        stacked = (stack_features(f, o) for f, o in zip(feats, oof, strict=True))
        train(zip(stacked, tags, strict=True), stage2, **params, log=print)
        print(f"stage 2: {stage2} ({stage2.stat().st_size / 1024:.0f} KiB), {time.perf_counter() - t0:.0f} s")
        stages.append(STAGE2)
    elif (args.out / STAGE2).exists():
        (args.out / STAGE2).unlink()  # a stale second stage must not outlive its first stage
    manifest = {
        "format": "crfsuite",
        "feature_version": FEATURE_VERSION,
        "stages": stages,
        "trained": dt.date.today().isoformat(),
        "train_data": args.train.name,
        "train_addresses": len(data),
        "params": params | {"stack_folds": args.stack_folds},
    }
    (args.out / "parser.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(f"total {time.perf_counter() - t0:.0f} s", flush=True)
    if args.dev is not None:
        second = args.out / STAGE2 if len(stages) == 2 else None
        tagger = CrfTagger(stage1, second)
        dev = read_bio_file(args.dev)
        gold = [spans for _, spans, _, _ in dev]
        pred = [tagger.spans(text) for text, _, _, _ in dev]
        print(format_table(span_scores(gold, pred, order=COMPONENT_NAMES)))
        if second is not None:
            single = CrfTagger(stage1)
            pred1 = [single.spans(text) for text, _, _, _ in dev]
            print(f"stage 1 alone: micro-F1 {span_scores(gold, pred1).micro.f1:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
