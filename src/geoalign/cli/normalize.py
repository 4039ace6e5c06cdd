"""``geoalign normalize``: normalize addresses (text in, JSON out).

One address as an argument prints one JSON object (``Normalized.to_dict``: ``text``, ``original``,
``changed_by``, ``truncated``, and ``admin`` with ``--complete-admin``). ``--file FILE`` (or ``-`` for
stdin) normalizes one address per line and prints one JSON object per line, in input order; a line that
cannot be normalized (empty, nothing left after noise removal) prints an error object
``{"error": {"code", "message"}, "line": N}`` in its place — lines are never dropped, so output line N
always answers input line N. A bad single address is an error (exit status 2).
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
        "--file", metavar="FILE", help="normalize one address per line of FILE ('-' = stdin), JSON lines out"
    )
    parser.add_argument(
        "--complete-admin",
        action="store_true",
        help="prefix missing admin levels when the gazetteer resolves them unambiguously "
        "(榆阳区 → 陕西省榆林市榆阳区)",
    )
    parser.add_argument(
        "--max-chars", type=int, default=None, help="truncate addresses to this many characters (default 256)"
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
    from geoalign.address.normalize import DEFAULT_MAX_CHARS, normalize_detailed

    if (args.address is None) == (args.file is None):
        raise InputError("give either one ADDRESS or --file FILE (use '-' for stdin)")
    max_chars = DEFAULT_MAX_CHARS if args.max_chars is None else args.max_chars
    if max_chars < 1:
        raise InputError(f"--max-chars must be a positive integer, got {max_chars}")
    options = {"max_chars": max_chars, "complete_admin": args.complete_admin}
    if args.address is not None:
        result = normalize_detailed(args.address, **options)
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=args.indent))
        return 0
    out = sys.stdout
    for lineno, line in enumerate(_lines(args.file), 1):
        text = line.rstrip("\r\n")
        try:
            obj = normalize_detailed(text, **options).to_dict()
        except InputError as exc:
            obj = {"error": {"code": exc.code, "message": str(exc)}, "line": lineno}
        out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    out.flush()
    return 0
