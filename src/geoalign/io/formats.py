"""Which table format a path holds, decided from its name (or given explicitly)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from geoalign.errors import InputError

#: Known formats and the file suffixes that imply them.
FORMATS: Final[dict[str, tuple[str, ...]]] = {
    "tsv": (".tsv", ".tab", ".txt"),
    "csv": (".csv",),
    "jsonl": (".jsonl", ".ndjson", ".json"),
    "parquet": (".parquet", ".pq"),
    "xlsx": (".xlsx",),
}


def detect_format(path: str | Path, explicit: str | None = None) -> str:
    """The format name for ``path``: ``explicit`` if given, else from the suffix.

    A compressed or unknown suffix is an InputError rather than a guess: reading a CSV as TSV would
    silently produce one-column rows.
    """
    if explicit:
        fmt = explicit.lower()
        if fmt not in FORMATS:
            raise InputError(f"unknown format {explicit!r}; choose one of {', '.join(FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower()
    for fmt, suffixes in FORMATS.items():
        if suffix in suffixes:
            return fmt
    raise InputError(
        f"cannot tell the format of {str(path)!r} from its suffix {suffix!r}; "
        f"use --format ({', '.join(FORMATS)})"
    )


#: Suffixes an output file may have. ``.txt`` reads as TSV (Excel's "Unicode text" export), but as an
#: output name it says nothing about the format: a user who wrote ``-o out.txt`` may expect anything.
OUTPUT_SUFFIXES: Final[dict[str, tuple[str, ...]]] = {
    fmt: tuple(s for s in suffixes if s != ".txt") for fmt, suffixes in FORMATS.items()
}


def output_format(
    path: str | Path, explicit: str | None = None, option: str | None = "--output-format"
) -> str:
    """The format to write ``path`` in: ``explicit`` if given, else from a known output suffix.

    An unknown or ambiguous suffix (``.txt``, ``.dat``, none) is an InputError listing the known ones,
    never a silent TSV.
    """
    if explicit:
        return detect_format(path, explicit)
    suffix = Path(path).suffix.lower()
    for fmt, suffixes in OUTPUT_SUFFIXES.items():
        if suffix in suffixes:
            return fmt
    known = ", ".join(s for suffixes in OUTPUT_SUFFIXES.values() for s in suffixes)
    raise InputError(
        f"cannot tell the output format of {str(path)!r} from its suffix {suffix or '(none)'!r}; "
        f"name it with one of {known}" + (f", or give {option} ({', '.join(FORMATS)})" if option else "")
    )
