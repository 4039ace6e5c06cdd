"""``geoalign parse``: split addresses into components (JSON out).

One address as an argument prints one JSON object (``Components.to_dict``). ``--file FILE`` (or ``-`` for
stdin) parses one address per line and prints one JSON object per line, in input order; a line that
cannot be parsed (empty, whitespace only) prints an error object ``{"error": {...}, "line": N}`` in its
place — lines are never dropped, so output line N always answers input line N.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import TextIO

from geoalign.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", nargs="?", help="one address (omit when using --file)")
    parser.add_argument(
        "--file", metavar="FILE", help="parse one address per line of FILE ('-' = stdin), JSON lines out"
    )
    parser.add_argument("--indent", type=int, default=None, help="pretty-print single-address output")


def _lines(path: str) -> Iterator[str]:
    if path == "-":
        yield from sys.stdin
        return
    try:
        fh: TextIO = open(path, encoding="utf-8")  # noqa: SIM115 - closed below, generator keeps it open
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with fh:
        try:
            yield from fh
        except UnicodeDecodeError as exc:
            raise InputError(f"{path} is not UTF-8 text: {exc}") from exc


def run(args: argparse.Namespace) -> int:
    from geoalign.address.parse import parse

    if (args.address is None) == (args.file is None):
        raise InputError("give either one ADDRESS or --file FILE (use '-' for stdin)")
    if args.address is not None:
        print(json.dumps(parse(args.address).to_dict(), ensure_ascii=False, indent=args.indent))
        return 0
    out = sys.stdout
    for lineno, line in enumerate(_lines(args.file), 1):
        text = line.rstrip("\r\n")
        try:
            obj = parse(text).to_dict()
        except InputError as exc:
            obj = {"error": {"code": exc.code, "message": str(exc)}, "line": lineno}
        out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    out.flush()
    return 0
