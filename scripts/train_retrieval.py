"""Train geoalign's retrieval encoder (``geoalign.retrieval.train``) and export it to ONNX.

    python scripts/train_retrieval.py --ccks /work/shared/data/ccks2021-address-relevance/round1_slice.tsv \
        --shenzhen /work/shared/data/shenzhen-address-pairs/train.tsv -o artifacts/retrieval/L2 \
        --layers 2 --minutes 20 --threads 1

Rerunning the same command resumes from ``OUT/last.pt``. The exported model is ``OUT/onnx``; copy it to
``src/geoalign/models/retrieval`` (with its MODEL_CARD.md) to ship it. Needs the ``[train]`` extra.
"""

from __future__ import annotations

import argparse

from geoalign.retrieval.train import RetrievalTrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ccks", required=True, help="CCKS relevance TSV (its training split is used)")
    parser.add_argument("--shenzhen", help="Shenzhen train.tsv (its positives are used)")
    parser.add_argument("-o", "--out", required=True, help="output directory (resumable)")
    defaults = RetrievalTrainConfig(out="", ccks="")
    for name in ("layers", "max_length", "batch_size", "threads", "save_every", "eval_every", "max_steps"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    for name in ("lr", "temperature", "minutes"):
        parser.add_argument(f"--{name}", type=float, default=getattr(defaults, name))
    parser.add_argument(
        "--hard-negatives",
        action="store_true",
        help="add each CCKS training query's not_match candidates as extra negatives",
    )
    parser.add_argument("--synth-per-address", type=int, default=defaults.synth_per_address)
    args = parser.parse_args()
    fields = {k: v for k, v in vars(args).items() if v is not None}
    print(train(RetrievalTrainConfig(**fields)))


if __name__ == "__main__":
    main()
