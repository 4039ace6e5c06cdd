"""Export a structured model directory's LightGBM trees to ONNX (``model.onnx``) and record the check.

Scoring then runs the trees in onnxruntime instead of importing lightgbm (``scorers/structured_onnx.py``
says why). The check compares both runtimes on 2,000 random feature rows and, with ``--pairs``, on the
features of real labelled pairs (nothing of them is written but the count and the largest difference).
Needs the ``export`` extra. Reproduces the shipped file:

    python scripts/export_structured_onnx.py src/geoalign/models/structured \\
        --pairs ../shared/data/ccks2021-address-relevance/round1_slice.tsv
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir", type=Path, help="a structured model directory (model.txt + model.json)")
    ap.add_argument("--pairs", type=Path, help="labelled pairs whose feature rows join the check")
    args = ap.parse_args(argv)

    from geoalign.io.labels import read_labelled_pairs
    from geoalign.scorers.structured import META_FILE, PairFeaturizer, char_weights_of
    from geoalign.scorers.structured_onnx import export_forest
    from geoalign.types import AddressPair

    sample = None
    if args.pairs is not None:
        # the rows this model scores: features with its own character weights (read from model.json,
        # so an existing model.onnx, stale or not, stays untouched unless the new export succeeds)
        meta_path = args.model_dir / META_FILE
        weights = char_weights_of(json.loads(meta_path.read_text(encoding="utf-8")), meta_path)
        pairs = read_labelled_pairs(args.pairs)
        matrix, errors = PairFeaturizer(char_weights=weights).matrix([AddressPair(p.a, p.b) for p in pairs])
        sample = np.asarray(matrix, dtype=np.float64)[[e is None for e in errors]]
    record = export_forest(args.model_dir, sample)
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
