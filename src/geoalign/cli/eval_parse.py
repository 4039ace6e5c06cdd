"""``geoalign eval-parse``: per-element precision / recall / F1 of the parser on a labelled file.

Any of the three labelled formats (``geoalign.address.schemes``): NAACL-2019 (``token TAG``, BIO),
CCKS-2021 (one character a line, BIES) or SuperMap (WordPiece tokens, BMES, 24 types) — given with
``--format`` or detected from the tags. Gold elements are mapped into the parser's element set; the
score is entity-level and conlleval-style (a predicted component counts only when its element and both
character offsets equal a gold span) over the elements that data set has, so a set is never charged for
an element its annotators did not tag. The parser decodes with the file's own tagging conventions (its
``domain``) unless ``--domain`` says otherwise. The last line is ``micro-F1: 0.xxxx``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", required=True, type=Path, help="labelled file (naacl, ccks or supermap format)"
    )
    parser.add_argument(
        "--format",
        choices=("naacl", "ccks", "supermap"),
        default=None,
        help="file format (default: detected)",
    )
    parser.add_argument(
        "--domain",
        choices=("naacl", "ccks", "supermap"),
        default=None,
        help="tagging conventions to decode with (default: the file's format where the model has it)",
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the scores as JSON to OUT")
    parser.add_argument(
        "--model",
        metavar="DIR",
        help="parser model: 'linear' (the shipped fast parser, default), 'neural' (the shipped accurate "
        "parser) or a model directory",
    )


def run(args: argparse.Namespace) -> int:
    from geoalign.address.parse import Parser, model_domains, resolve_model_dir
    from geoalign.address.schemes import ELEMENTS, SCHEME_ELEMENTS, read_labelled
    from geoalign.errors import InputError
    from geoalign.evaluate.parse_metrics import format_table, span_scores
    from geoalign.io.atomic import atomic_write_text
    from geoalign.types import Components

    if not args.data.is_file():
        raise InputError(f"--data {args.data}: no such file")
    examples = read_labelled(args.data, args.format)
    if not examples:
        raise InputError(f"--data {args.data}: no labelled addresses found")
    fmt = examples[0].source
    model_dir = resolve_model_dir(args.model)
    domains = model_domains(model_dir)
    domain = args.domain or (fmt if fmt in domains else domains[0])
    note = "" if args.domain or domain == fmt else f" (the model has no {fmt} domain)"
    parser = Parser(model_dir, domain=domain)
    t0 = time.perf_counter()
    parsed = parser.parse_many([ex.text for ex in examples])
    seconds = time.perf_counter() - t0
    keep = SCHEME_ELEMENTS[fmt]
    predicted = [
        [(c.name, c.start, c.end) for c in p if c.name in keep] if isinstance(p, Components) else []
        for p in parsed
    ]
    gold = [[s for s in ex.spans if s[0] in keep] for ex in examples]
    scores = span_scores(gold, predicted, order=ELEMENTS)
    print(f"format: {fmt}  domain: {domain}{note}")
    print(format_table(scores))
    if args.json is not None:
        payload = scores.to_dict() | {
            "data": str(args.data),
            "format": fmt,
            "domain": domain,
            "model": str(parser.model_dir),
            "seconds": round(seconds, 3),
        }
        atomic_write_text(args.json, json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    return 0
