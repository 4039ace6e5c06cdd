"""Train the address-parser CRF on NAACL-2019 style data and report span F1 on a dev file.

Reproduces the shipped model (src/geoalign/models/parser/crf.model):

    .venv/bin/python scripts/train_parser.py \\
        --train ../shared/data/naacl2019-address-parsing/train.txt \\
        --dev ../shared/data/naacl2019-address-parsing/dev.txt \\
        --out src/geoalign/models/parser/crf.model

The data is research-only and is never copied into the repository; only the trained weights ship, with
MODEL_CARD.md next to them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from geoalign.address.tagger import CrfTagger, read_bio_file, train
from geoalign.evaluate.parse_metrics import format_table, span_scores
from geoalign.types import COMPONENT_NAMES


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", required=True, type=Path)
    ap.add_argument("--dev", type=Path, help="report span F1 on this file after training")
    ap.add_argument("--out", required=True, type=Path, help="where to write the CRFsuite model")
    ap.add_argument("--c1", type=float, default=0.1, help="L1 weight (prunes features: smaller file)")
    ap.add_argument("--c2", type=float, default=0.01, help="L2 weight")
    ap.add_argument("--max-iterations", type=int, default=150)
    ap.add_argument("--min-freq", type=int, default=1, help="drop features seen fewer times than this")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    data = read_bio_file(args.train)
    print(f"train: {len(data)} addresses from {args.train}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    train(
        ((text, tokens, tags) for text, _, tokens, tags in data),
        args.out,
        c1=args.c1,
        c2=args.c2,
        max_iterations=args.max_iterations,
        min_freq=args.min_freq,
        log=print,
    )
    size_kb = args.out.stat().st_size / 1024
    print(f"model: {args.out} ({size_kb:.0f} KiB), {time.perf_counter() - t0:.0f} s", flush=True)
    if args.dev is not None:
        tagger = CrfTagger(args.out)
        dev = read_bio_file(args.dev)
        gold = [spans for _, spans, _, _ in dev]
        pred = [tagger.spans(text) for text, _, _, _ in dev]
        print(format_table(span_scores(gold, pred, order=COMPONENT_NAMES)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
