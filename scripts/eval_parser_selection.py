"""Score whole parser model directories on the selection split (what parser choices are made on).

    PYTHONPATH=src .venv/bin/python scripts/eval_parser_selection.py --data-root ../shared/data \\
        --model neural --model artifacts/neural-tagger/l12/export

For each model directory (or ``linear`` / ``neural``, the shipped ones) and each of the three training
files: the entity-level span micro-F1 of the *whole* parser (``Parser.parse_many``: the joint decode where
the model has one, the gazetteer alignment) on the held-out selection part of the file, scored as
``geoalign eval-parse`` scores a dev file (each set in its own elements and conventions). The split is
``scripts/train_parser.py``'s (same fraction and seed), so the figures are comparable with the model
cards' selection tables. The dev files are not read: they are reported once per model, after the choice,
with ``geoalign eval-parse --model DIR --data DEV``. All models are scored in one run, on one machine.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from train_parser import TRAIN_FILES

from geoalign.address.parse import Parser, resolve_model_dir
from geoalign.address.schemes import ELEMENTS, SCHEME_ELEMENTS, read_labelled
from geoalign.address.tagger_train import SELECTION_FRACTION, SELECTION_SEED, selection_split
from geoalign.evaluate.parse_metrics import span_scores
from geoalign.types import Components


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", required=True, type=Path, help="folder holding the three data sets")
    ap.add_argument("--model", action="append", required=True, help="parser model (repeat to compare)")
    ap.add_argument("--select-fraction", type=float, default=SELECTION_FRACTION, help="train_parser.py's")
    ap.add_argument("--seed", type=int, default=SELECTION_SEED, help="train_parser.py's")
    ap.add_argument("--json", type=Path, help="also write the scores here")
    args = ap.parse_args(argv)

    raw = {fmt: read_labelled(args.data_root / rel, fmt) for fmt, rel in TRAIN_FILES.items()}  # type: ignore[arg-type]
    _, select = selection_split(raw, fraction=args.select_fraction, seed=args.seed)  # type: ignore[arg-type]
    results: dict[str, dict[str, float]] = {}
    for model in args.model:
        directory = resolve_model_dir(model)
        row: dict[str, float] = {}
        for fmt, examples in select.items():
            parser = Parser(directory, domain=fmt)
            parsed = parser.parse_many([ex.text for ex in examples])
            keep = SCHEME_ELEMENTS[fmt]
            predicted = [
                [(c.name, c.start, c.end) for c in p if c.name in keep] if isinstance(p, Components) else []
                for p in parsed
            ]
            gold = [[s for s in ex.spans if s[0] in keep] for ex in examples]
            row[fmt] = round(span_scores(gold, predicted, order=ELEMENTS).micro.f1, 4)
        row["mean"] = round(sum(row.values()) / len(row), 4)
        results[model] = row
        print(model, " ".join(f"{k} {v:.4f}" for k, v in row.items()), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
