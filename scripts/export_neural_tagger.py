"""Export a trained neural character tagger (``scripts/train_neural_tagger.py``'s ``OUT/best``) as a parser
model directory: static int8 ONNX calibrated on training addresses, decoded jointly with a linear tagger.

Reproduces ``src/geoalign/models/parser-neural`` (its metrics block is then filled in by hand from the
selection-split evaluation, see its MODEL_CARD.md):

    PYTHONPATH=src .venv/bin/python scripts/export_neural_tagger.py --run artifacts/neural-tagger/l6/best \\
        --data-root ../shared/data --out src/geoalign/models/parser-neural --partner shipped

Calibration uses ``--per-set`` addresses of each training file's non-selection part (the selection split
and the dev files are never read for it). ``--partner none`` decodes the neural scores alone.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from train_parser import TRAIN_FILES

from geoalign.address.schemes import read_labelled
from geoalign.address.tagger_train import SELECTION_FRACTION, SELECTION_SEED, selection_split
from geoalign.neural.tag_export import export_tagger


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, type=Path, help="the trained model directory (RUN/best)")
    ap.add_argument("--data-root", required=True, type=Path, help="folder holding the three data sets")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--partner", default="shipped", help="'shipped', a chartagger directory, or 'none'")
    ap.add_argument("--partner-weight", type=float, default=1.0)
    ap.add_argument("--neural-weight", type=float, default=1.0)
    ap.add_argument("--per-set", type=int, default=400, help="calibration addresses per training file")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    raw = {fmt: read_labelled(args.data_root / rel, fmt) for fmt, rel in TRAIN_FILES.items()}
    train, _ = selection_split(raw, fraction=SELECTION_FRACTION, seed=SELECTION_SEED)
    rng = random.Random(args.seed)
    calibration = [(ex.text, fmt) for fmt, exs in train.items() for ex in rng.sample(exs, args.per_set)]
    out = export_tagger(args.run, args.out, calibration=calibration)
    manifest_path = out / "parser.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["quantization"]["calibration"] = (
        f"{len(calibration)} training addresses ({args.per_set} of each training file's non-selection "
        f"part, seed {args.seed})"
    )
    if args.partner != "none":
        manifest["linear_partner"] = {"model": args.partner, "weight": args.partner_weight}
        manifest["neural_weight"] = args.neural_weight
    manifest_path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
