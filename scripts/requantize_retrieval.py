"""Re-export the retrieval model without its training checkpoint (``geoalign.retrieval.export``).

    python scripts/requantize_retrieval.py --model src/geoalign/models/retrieval -o artifacts/retrieval/eager

re-exports it with eager attention at its precision (``reexport``: the same int8 weights, a graph ONNX
Runtime runs faster; how the shipped model.onnx was made), and

    python scripts/requantize_retrieval.py --model src/geoalign/models/retrieval --static \
        --ccks /work/shared/data/ccks2021-address-relevance/round1_slice.tsv \
        --corpus /work/shared/data/address-corpus/addresses.txt -o artifacts/retrieval/static

quantizes it as a static int8 graph instead (``requantize_static``: batch-independent answers; measured
in docs/benchmarks.md, session 6, and not shipped: it lost 2-3 of 194 CCKS validation pairs in blocking).

Static calibration texts (normalized as the link core embeds them): ``--calibration``/2 texts of the CCKS
*training* split (never the validation or frozen test fold) and as many corpus lines drawn from line
``--corpus-from`` on (past the first 100k the speed benchmark embeds), seed 0. Works on the dynamic-int8
graph ``export_onnx`` writes (its training checkpoint need not exist). Needs the ``[export]`` extra and
``transformers``. Copy OUT to ``src/geoalign/models/retrieval`` (with its MODEL_CARD.md) to ship it.
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def calibration_texts(ccks: str, corpus: str, n: int, corpus_from: int) -> list[str]:
    from geoalign.neural.data import ccks_splits
    from geoalign.retrieval.train import _norm

    rng = np.random.default_rng(0)
    train = list(dict.fromkeys(_norm(t) for p in ccks_splits(ccks).train for t in (p.a, p.b)))
    picked = [train[i] for i in rng.choice(len(train), n // 2, replace=False)]
    with open(corpus, encoding="utf-8") as handle:
        lines = handle.read().splitlines()[corpus_from:]
    picked += [_norm(lines[i]) for i in rng.choice(len(lines), n - n // 2, replace=False)]
    return picked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="src/geoalign/models/retrieval", help="retrieval model directory")
    parser.add_argument("--static", action="store_true", help="static int8 (needs --ccks and --corpus)")
    parser.add_argument("--ccks", help="CCKS relevance TSV (training split texts calibrate)")
    parser.add_argument("--corpus", help="address file, one per line")
    parser.add_argument("--calibration", type=int, default=2048, help="calibration texts in all")
    parser.add_argument("--corpus-from", type=int, default=250_000, help="first corpus line to draw from")
    parser.add_argument(
        "--int8-first-ffn", action="store_true", help="quantize the first layer's FFN output MatMul too"
    )
    parser.add_argument("-o", "--out", required=True)
    args = parser.parse_args()

    from geoalign.retrieval.export import reexport, requantize_static

    if not args.static:
        print(reexport(args.model, args.out))
        return
    if not (args.ccks and args.corpus):
        parser.error("--static needs --ccks and --corpus (calibration texts)")
    texts = calibration_texts(args.ccks, args.corpus, args.calibration, args.corpus_from)
    print(
        json.dumps(
            requantize_static(args.model, args.out, texts, first_ffn_fp32=not args.int8_first_ffn),
            indent=1,
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
