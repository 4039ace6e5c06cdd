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
