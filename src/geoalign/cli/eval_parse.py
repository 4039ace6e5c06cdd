"""``geoalign eval-parse``: span precision / recall / F1 of the parser on a labelled file.

The file is NAACL-2019 style (``token TAG`` per line, BIO tags, a blank line between addresses; the tag
spellings devZone/subRoad/subRoadno are folded). Each address's raw text is its tokens concatenated; a
predicted component counts only when its type and both offsets equal a gold span (conlleval-style).
Every element type in the gold file gets a row. The last line is ``micro-F1: 0.xxxx``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, type=Path, help="labelled file (NAACL-2019 format)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the scores as JSON to OUT")
    parser.add_argument("--model", type=Path, metavar="DIR", help="parser model directory (default: shipped)")


def run(args: argparse.Namespace) -> int:
    from geoalign.address.parse import DEFAULT_MODEL_DIR, Parser
    from geoalign.address.tagger import read_bio_file
    from geoalign.errors import InputError
    from geoalign.evaluate.parse_metrics import format_table, span_scores
    from geoalign.io.atomic import atomic_write_text
    from geoalign.types import COMPONENT_NAMES

    if not args.data.is_file():
        raise InputError(f"--data {args.data}: no such file")
    examples = read_bio_file(args.data)
    if not examples:
        raise InputError(f"--data {args.data}: no labelled addresses found")
    parser = Parser(args.model or DEFAULT_MODEL_DIR)
    t0 = time.perf_counter()
    predicted = [[(c.name, c.start, c.end) for c in parser.parse(text)] for text, _, _, _ in examples]
    seconds = time.perf_counter() - t0
    scores = span_scores([gold for _, gold, _, _ in examples], predicted, order=COMPONENT_NAMES)
    print(format_table(scores))
    if args.json is not None:
        payload = scores.to_dict() | {
            "data": str(args.data),
            "model": str(parser.model_dir),
            "seconds": round(seconds, 3),
        }
        atomic_write_text(args.json, json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    return 0
