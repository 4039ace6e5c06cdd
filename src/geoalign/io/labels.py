"""Labelled pair files: TSV ``a<TAB>b<TAB>label`` (headerless or with a header) or JSONL ``{a, b, label}``.

Labels are names (exact_match / partial_match / not_match) or integers in the CCKS order
0 = not_match, 1 = partial_match, 2 = exact_match. A bad row is an error naming its line: training on
silently skipped rows would make a model that cannot be reproduced from its data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from geoalign.errors import DataFormatError
from geoalign.io.tables import read_table
from geoalign.types import CCKS_ID_TO_LABEL, LABELS, Label


@dataclass(frozen=True, slots=True)
class LabelledPair:
    a: str
    b: str
    label: Label
    line: int


def parse_label(value: object) -> Label:
    """A label name or CCKS integer (as int or text) -> the label name."""
    if isinstance(value, bool):
        raise ValueError(f"not a label: {value!r}")
    if isinstance(value, int):
        if value in CCKS_ID_TO_LABEL:
            return CCKS_ID_TO_LABEL[value]
        raise ValueError(f"label id {value} is not one of 0 (not_match), 1 (partial_match), 2 (exact_match)")
    if isinstance(value, float) and value.is_integer():
        return parse_label(int(value))
    if isinstance(value, str):
        text = value.strip()
        if text in LABELS:
            return text  # type: ignore[return-value]
        if text.lstrip("-").isdigit():
            return parse_label(int(text))
    raise ValueError(f"not a label: {value!r} (use a label name or 0/1/2 in the CCKS order)")


def read_labelled_pairs(
    path: str | Path,
    *,
    fmt: str | None = None,
    a: str = "a",
    b: str = "b",
    label: str = "label",
    max_errors: int = 0,
    encoding: str | None = None,
) -> list[LabelledPair]:
    """Read labelled pairs. Columns are found by name when the file has a header (``a``/``b``/``label``
    or the names given), else by position (first three). More than ``max_errors`` bad rows is a
    DataFormatError listing the first few. ``encoding``: of a text file (None: detected)."""
    table = read_table(path, fmt, encoding=encoding, expect=(a, b, label))
    if table.header and all(name in table.columns for name in (a, b, label)):
        ia, ib, il = (table.columns.index(name) for name in (a, b, label))
    elif len(table.columns) >= 3:
        ia, ib, il = 0, 1, 2
    else:
        raise DataFormatError(
            f"{path}: need columns {a!r}, {b!r}, {label!r} (or three positional columns), "
            f"found {table.columns}"
        )
    pairs: list[LabelledPair] = []
    problems: list[str] = []
    for row in table.rows:
        va, vb, vl = row.values[ia], row.values[ib], row.values[il]
        problem = row.error.message if row.error is not None else None
        if problem is None and not (isinstance(va, str) and isinstance(vb, str)):
            problem = f"line {row.line}: addresses must be text"
        if problem is None:
            try:
                pairs.append(LabelledPair(va, vb, parse_label(vl), row.line))
                continue
            except ValueError as exc:
                problem = f"line {row.line}: {exc}"
        problems.append(problem)
    if len(problems) > max_errors:
        shown = "; ".join(problems[:5])
        raise DataFormatError(f"{path}: {len(problems)} bad rows (first: {shown})")
    if not pairs:
        raise DataFormatError(f"{path}: no labelled pairs")
    return pairs
