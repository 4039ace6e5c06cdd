"""``geoalign parse``: split addresses into components (JSON out).

One address as an argument prints one JSON object (``Components.to_dict``). ``--file FILE`` (or ``-`` for
stdin) parses one address per line and prints one JSON object per line, in input order; a line that
cannot be parsed (empty, whitespace only) prints an error object ``{"error": {...}, "line": N}`` in its
place — lines are never dropped, so output line N always answers input line N. Lines are decoded one by
one, so a line that is not UTF-8 gets a ``bad_encoding`` error object and its neighbours still parse.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO

from geoalign.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", nargs="?", help="one address (omit when using --file)")
    parser.add_argument(
        "--file", metavar="FILE", help="parse one address per line of FILE ('-' = stdin), JSON lines out"
    )
    parser.add_argument("--indent", type=int, default=None, help="pretty-print single-address output")


def _lines(path: str) -> Iterator[bytes]:
    """Raw lines: decoding is per line, so one badly encoded line becomes one error object."""
    if path == "-":
        yield from sys.stdin.buffer
        return
    try:
        fh: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by the with below, inside the generator
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with fh:
        yield from fh


def _answer(raw_line: bytes, lineno: int) -> dict[str, Any]:
    from geoalign.address.parse import parse

    try:
        text = raw_line.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        return {"error": {"code": "bad_encoding", "message": f"line is not UTF-8: {exc}"}, "line": lineno}
    if lineno == 1:
        text = text.removeprefix("\ufeff")  # a BOM is not part of the first address
    try:
        return parse(text).to_dict()
    except InputError as exc:
        return {"error": {"code": exc.code, "message": str(exc)}, "line": lineno}


def run(args: argparse.Namespace) -> int:
    from geoalign.address.parse import parse

    if (args.address is None) == (args.file is None):
        raise InputError("give either one ADDRESS or --file FILE (use '-' for stdin)")
    if args.address is not None:
        print(json.dumps(parse(args.address).to_dict(), ensure_ascii=False, indent=args.indent))
        return 0
    out = sys.stdout
    for lineno, raw_line in enumerate(_lines(args.file), 1):
        out.write(json.dumps(_answer(raw_line, lineno), ensure_ascii=False) + "\n")
    out.flush()
    return 0
