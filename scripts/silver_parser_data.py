"""Silver training data for the fast parser: unlabelled addresses tagged by the neural tagger (issue 15).

The neural character tagger (``address.neural_tagger``, exported with ``geoalign.neural.tag_export``)
tags better than the linear tagger but costs tens of times more per address. Its tags on unlabelled
addresses, in one data set's conventions (``--domain``), become extra training addresses for
``scripts/train_parser.py --silver``: the linear tagger learns from the neural one (distillation by
silver labels) and stays as fast as before.

Never tagged: every address of the three parsers' dev files and of their training files (gold wins; the
selection split lives there), and the CCKS relevance validation and frozen folds (``--ccks``), exactly
as the masked-LM pretraining excludes them. Output: JSON lines ``{"text", "spans", "source"}``.

    PYTHONPATH=src .venv/bin/python scripts/silver_parser_data.py --teacher artifacts/neural-tagger/l6-onnx \\
        --data-root ../shared/data --lines ../shared/data/address-corpus/addresses.txt --domain naacl \\
        --n 30000 --out artifacts/silver/naacl.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

TAGGED_FILES = (
    "naacl2019-address-parsing/train.txt",
    "naacl2019-address-parsing/dev.txt",
    "ccks2021-address-parsing/train.conll",
    "ccks2021-address-parsing/dev.conll",
    "supermap-address-tagging/train.txt",
    "supermap-address-tagging/dev.txt",
    "supermap-address-tagging/test.txt",
)


def excluded(data_root: Path, ccks_relevance: str | None) -> set[str]:
    from geoalign.neural.pretrain import read_exclusions

    tagged = [str(data_root / rel) for rel in TAGGED_FILES if (data_root / rel).is_file()]
    return read_exclusions(ccks=ccks_relevance, tagged=tagged)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", required=True, help="neural-chartagger parser directory (ONNX)")
    ap.add_argument("--data-root", required=True, type=Path, help="folder holding the labelled sets")
    ap.add_argument("--lines", required=True, action="append", help="unlabelled addresses, one a line")
    ap.add_argument("--domain", required=True, choices=("naacl", "ccks", "supermap"))
    ap.add_argument("--n", type=int, default=30000, help="addresses to tag (a seeded sample)")
    ap.add_argument("--min-chars", type=int, default=6, help="shorter lines are skipped")
    ap.add_argument("--ccks-relevance", help="round1_slice.tsv: its validation and frozen folds are excluded")
    ap.add_argument("--seed", type=int, default=29)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args(argv)

    from geoalign.address.neural_tagger import OnnxCharTagger

    t0 = time.perf_counter()
    skip = excluded(args.data_root, args.ccks_relevance)
    texts: set[str] = set()
    for path in args.lines:
        with open(path, encoding="utf-8") as handle:
            texts.update(line.strip() for line in handle)
    pool = sorted(t for t in texts if len(t) >= args.min_chars and t not in skip)
    random.Random(args.seed).shuffle(pool)
    chosen = pool[: args.n]
    print(f"{len(texts)} distinct lines, {len(pool)} usable after {len(skip)} excluded strings; "
          f"tagging {len(chosen)} in the {args.domain} conventions", flush=True)  # fmt: skip
    tagger = OnnxCharTagger(args.teacher, args.domain, threads=args.threads)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as out:
        for lo in range(0, len(chosen), 2048):
            block = chosen[lo : lo + 2048]
            for text, spans in zip(block, tagger.spans_many(block), strict=True):
                row = {"text": text, "spans": [list(s) for s in spans], "source": args.domain}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            print(f"{lo + len(block)} tagged, {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
