"""Train the address tagger (``geoalign.address.chartagger``) on the three labelled data sets.

Reproduces the shipped model directory (src/geoalign/models/parser/):

    nice -n 10 .venv/bin/python scripts/train_parser.py --data-root ../shared/data \\
        --out src/geoalign/models/parser

Reads the NAACL-2019, CCKS-2021 and SuperMap training files (``geoalign.address.schemes``: one element
set, written mappings), holds out ``--select-fraction`` of each training file (seeded) as the selection
split, featurizes every address with its data set as the ``domain`` feature, trains a linear-chain CRF
with CRFsuite on the hashed bucket ids (L-BFGS, elastic net), exports the weights to numpy (``.npz``, no
pickle) and reports span F1 on the selection split (per data set, in its own element set). The dev
files are scored only with ``--report-dev`` and are never used to choose anything.

The data is research-only and is never copied into the repository; only the trained weights ship, with
MODEL_CARD.md next to them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

from geoalign.address.chartagger import (
    FEATURE_VERSION,
    FastTagger,
    Lexicon,
    TagModel,
    lexicon_from_gazetteer,
    save_model,
)
from geoalign.address.schemes import ELEMENTS, SCHEME_ELEMENTS, Example, Format, read_labelled
from geoalign.address.tagger_train import SELECTION_FRACTION, SELECTION_SEED, selection_split, train_model
from geoalign.evaluate.parse_metrics import format_table, span_scores

TRAIN_FILES: dict[Format, str] = {
    "naacl": "naacl2019-address-parsing/train.txt",
    "ccks": "ccks2021-address-parsing/train.conll",
    "supermap": "supermap-address-tagging/train.txt",
}
DEV_FILES: dict[Format, str] = {
    "naacl": "naacl2019-address-parsing/dev.txt",
    "ccks": "ccks2021-address-parsing/dev.conll",
    "supermap": "supermap-address-tagging/dev.txt",
}
MODEL_FILE = "tagger.npz"


def evaluate(model: TagModel, sets: dict[Format, list[Example]], title: str) -> dict[str, float]:
    scores: dict[str, float] = {}
    for fmt, examples in sets.items():
        tagger = FastTagger(model, fmt)
        pred = tagger.spans_many([ex.text for ex in examples])
        keep = SCHEME_ELEMENTS[fmt]
        gold_f = [[s for s in ex.spans if s[0] in keep] for ex in examples]
        pred_f = [[s for s in p if s[0] in keep] for p in pred]
        table = span_scores(gold_f, pred_f, order=ELEMENTS)
        print(f"--- {title} {fmt} ({len(examples)} addresses)\n{format_table(table)}", flush=True)
        scores[fmt] = table.micro.f1
    return scores


def read_silver(paths: list[str]) -> dict[Format, list[Example]]:
    """Silver addresses by data set (``scripts/silver_parser_data.py``'s JSON lines)."""
    out: dict[Format, list[Example]] = {}
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, 1):
                try:
                    row = json.loads(line)
                    fmt = row["source"]
                    if fmt not in TRAIN_FILES:
                        raise ValueError(f"unknown source {fmt!r}")
                    spans = tuple((str(n), int(a), int(b)) for n, a, b in row["spans"])
                    out.setdefault(fmt, []).append(Example(str(row["text"]), spans, fmt))
                except (ValueError, KeyError, TypeError) as exc:
                    raise SystemExit(f"{path}:{lineno}: not a silver address ({exc})") from exc
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", required=True, type=Path, help="folder holding the three data sets")
    ap.add_argument("--out", required=True, type=Path, help="model directory to write")
    ap.add_argument("--bits", type=int, default=20, help="log2 of the number of hash buckets")
    ap.add_argument("--c1", type=float, default=0.05, help="L1 weight (prunes buckets: smaller file)")
    ap.add_argument("--c2", type=float, default=0.01, help="L2 weight")
    ap.add_argument("--algorithm", choices=("lbfgs", "ap"), default="ap", help="CRFsuite training algorithm")
    ap.add_argument("--max-iterations", type=int, default=12, help="L-BFGS iterations or perceptron epochs")
    ap.add_argument(
        "--select-fraction", type=float, default=SELECTION_FRACTION, help="held out of each train file"
    )
    ap.add_argument("--limit", type=int, default=0, help="use only N addresses of each train file (smoke)")
    ap.add_argument("--report-dev", action="store_true", help="also score the dev files (report only)")
    ap.add_argument(
        "--repeat",
        action="append",
        default=[],
        metavar="SET=N",
        help="train on a data set's training addresses N times (weights its conventions; e.g. naacl=2)",
    )
    ap.add_argument(
        "--silver",
        action="append",
        default=[],
        metavar="JSONL",
        help="extra training addresses tagged by the neural tagger (scripts/silver_parser_data.py)",
    )
    ap.add_argument("--seed", type=int, default=SELECTION_SEED)
    ap.add_argument("--verbose", action="store_true", help="CRFsuite progress per iteration")
    args = ap.parse_args(argv)

    repeat: dict[str, int] = {}
    for item in args.repeat:
        name, _, times = item.partition("=")
        if name not in TRAIN_FILES or not times.isdigit() or int(times) < 1:
            ap.error(f"--repeat takes SET=N with SET one of {sorted(TRAIN_FILES)} and N >= 1, got {item!r}")
        repeat[name] = int(times)
    t0 = time.perf_counter()
    lexicon = Lexicon.build(lexicon_from_gazetteer())
    train: list[tuple[Format, list[Example]]] = []
    raw = {fmt: read_labelled(args.data_root / rel, fmt) for fmt, rel in TRAIN_FILES.items()}
    rest, select = selection_split(raw, fraction=args.select_fraction, seed=args.seed, limit=args.limit)
    for fmt, examples in rest.items():
        times = repeat.get(fmt, 1)
        train.extend([(fmt, examples)] * times)
        print(f"{fmt}: {len(examples)} train (x{times}), {len(select[fmt])} selection", flush=True)
    silver = read_silver(args.silver)
    for fmt, examples in silver.items():
        train.append((fmt, examples))
        print(f"{fmt}: {len(examples)} silver", flush=True)
    params: dict[str, object] = {"max_iterations": args.max_iterations}
    if args.algorithm == "lbfgs":
        params |= {"c1": args.c1, "c2": args.c2}
    params["feature.possible_transitions"] = True
    model = train_model(
        train,
        bits=args.bits,
        lexicon=lexicon,
        params=params,
        algorithm=args.algorithm,
        verbose=args.verbose,
        log=lambda msg: print(f"{msg}, {time.perf_counter() - t0:.0f} s", flush=True),
    )
    args.out.mkdir(parents=True, exist_ok=True)
    save_model(model, args.out, MODEL_FILE)
    size = (args.out / MODEL_FILE).stat().st_size
    print(f"wrote {args.out / MODEL_FILE}: {len(model.weights) - 1} buckets, {size / 1e6:.1f} MB", flush=True)
    sel = evaluate(model, select, "selection split")
    manifest = {
        "format": "chartagger",
        "feature_version": FEATURE_VERSION,
        "model": MODEL_FILE,
        "default_domain": "naacl",
        "trained": dt.date.today().isoformat(),
        "train_data": {
            fmt: {"file": TRAIN_FILES[fmt], "addresses": len(exs), "repeat": repeat.get(fmt, 1)}
            for fmt, exs in dict(train).items()
        },
        "silver_data": {
            "files": [Path(f).name for f in args.silver],
            "addresses": {fmt: len(exs) for fmt, exs in silver.items()},
        },
        "selection_split": {"fraction": args.select_fraction, "seed": args.seed, "micro_f1": sel},
        "params": params | {"algorithm": args.algorithm, "bits": args.bits},
    }
    (args.out / "parser.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    if args.report_dev:
        dev = {fmt: read_labelled(args.data_root / rel, fmt) for fmt, rel in DEV_FILES.items()}
        evaluate(model, dev, "dev (report only)")
    print(f"total {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
