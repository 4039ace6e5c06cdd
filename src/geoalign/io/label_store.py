"""Review labels on disk: one ``<set>.tsv`` per label set in one directory, in the format
``geoalign train --pairs`` reads (TSV with header ``a<TAB>b<TAB>label``, label names). When the reviewed
rows carried record ids (``geoalign link`` writes ``left_id`` / ``right_id``), the file gains ``a_id`` and
``b_id`` columns, so every label can be traced back to the records it judged (train reads the columns
it needs by name and ignores the rest).

The HTTP service's ``/v1/labels`` is the only writer today; the store lives in ``io/`` because it is a
file format and an atomic-write policy, not HTTP. It knows nothing of requests: bad names and unreadable
files are ``GeoalignError``s the caller turns into its own answer.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from geoalign.errors import DataFormatError, GeoalignError, InputError
from geoalign.types import LABELS

#: A label set becomes a file name, so it is restricted to characters safe on every filesystem. Checked
#: with ``fullmatch`` (``$`` in ``match`` would let "abc\n" through and put a line break in a file name).
SET_NAME: Final[re.Pattern[str]] = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
DEFAULT_SET: Final[str] = "labels"


class InvalidSetName(InputError):
    code = "invalid_set"


class LabelsFileUnreadable(GeoalignError):
    """The set's file exists but is not a labels file ``geoalign train`` would read (hand-edited):
    it is reported, never overwritten."""

    code = "labels_file_unreadable"


def check_set_name(name: str) -> str:
    if not SET_NAME.fullmatch(name) or name.endswith("."):
        raise InvalidSetName(
            f"label set name {name!r}: use 1-64 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit and not ending with '.'"
        )
    return name


@dataclass(frozen=True, slots=True)
class Labelled:
    """One label to save: the pair, the label name, and the records' ids where the review had them."""

    a: str
    b: str
    label: str
    a_id: str = ""
    b_id: str = ""


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    a_id: str = ""
    b_id: str = ""


@dataclass(frozen=True, slots=True)
class SaveSummary:
    set: str
    #: the file name inside the labels directory (never an absolute server path: a client has no use
    #: for it, and it tells an attacker where the server keeps its files)
    file: str
    saved: int
    total: int
    counts: dict[str, int]


class LabelStore:
    """Labels of one directory: ``<set>.tsv`` files, one row per (a, b) pair.

    Saving a pair again replaces its label in place (a reviewer who changes their mind must not leave
    two contradicting rows for training). Every save rewrites the file atomically, so ``geoalign train``
    started at any moment reads a complete file; a review is human-paced, so rewriting is cheap enough.
    The lock serialises writers within this process; one server process owns a labels directory.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory).resolve()
        self._lock = threading.Lock()

    def path(self, name: str) -> Path:
        return self.directory / f"{check_set_name(name)}.tsv"

    def _read(self, path: Path) -> dict[tuple[str, str], Row]:
        from geoalign.io.labels import read_labelled_pairs
        from geoalign.io.tables import read_table

        if not path.exists():
            return {}
        try:
            pairs = read_labelled_pairs(path, fmt="tsv")
        except DataFormatError as exc:
            raise LabelsFileUnreadable(f"cannot update {path.name}: {exc}") from exc
        ids: dict[int, tuple[str, str]] = {}
        table = read_table(path, "tsv")
        if table.header and ("a_id" in table.columns or "b_id" in table.columns):
            at = [table.columns.index(c) if c in table.columns else None for c in ("a_id", "b_id")]
            for row in table.rows:
                got = tuple(
                    "" if i is None or row.values[i] in (None, "") else str(row.values[i]) for i in at
                )
                ids[row.line] = (got[0], got[1])
        return {(p.a, p.b): Row(p.label, *ids.get(p.line, ("", ""))) for p in pairs}

    def save(self, name: str, labels: list[tuple[str, str, str]] | list[Labelled]) -> SaveSummary:
        """Add or replace rows in set ``name``: ``(a, b, label)`` (label names), or ``Labelled`` rows
        with record ids. A pair labelled again keeps the ids it had unless new ones are given."""
        from geoalign.io.writers import write_table

        path = self.path(name)
        with self._lock:
            rows = self._read(path)
            for item in labels:
                given = item if isinstance(item, Labelled) else Labelled(*item)
                old = rows.get((given.a, given.b))
                rows[(given.a, given.b)] = Row(
                    given.label,
                    given.a_id or (old.a_id if old else ""),
                    given.b_id or (old.b_id if old else ""),
                )
            columns = ["a", "b", "label"]
            with_ids = any(row.a_id or row.b_id for row in rows.values())
            if with_ids:
                columns += ["a_id", "b_id"]
            write_table(
                path,
                columns,
                ([a, b, r.label, *((r.a_id, r.b_id) if with_ids else ())] for (a, b), r in rows.items()),
                "tsv",
            )
        counts: dict[str, int] = {label: 0 for label in LABELS}
        for row in rows.values():
            counts[row.label] += 1
        return SaveSummary(set=name, file=path.name, saved=len(labels), total=len(rows), counts=counts)
