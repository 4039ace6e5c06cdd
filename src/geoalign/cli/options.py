"""Options shared by the commands that read table files (score, eval, link, dedupe)."""

from __future__ import annotations

import argparse

ENCODING_HELP = (
    "text encoding of CSV/TSV/TXT/JSONL inputs, e.g. utf-8, gb18030, gbk, utf-16, big5 (default: detect "
    "from a byte-order mark, else UTF-8, else GB18030; Parquet/XLSX need none)"
)


def add_encoding_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--encoding``: checked against the file's start, so a wrong one is an error, not mojibake."""
    parser.add_argument("--encoding", metavar="NAME", default=None, help=ENCODING_HELP)
