"""Table writers for the same formats the readers accept. Every write is atomic (temp file + rename).

A cell may hold a structured value (a dict or list, such as the ``error`` object): JSONL writes it as a
nested JSON value, the other formats as its JSON text (a spreadsheet cell or a TSV field holds text).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

from geoalign import _extras
from geoalign.io.atomic import atomic_path
from geoalign.io.formats import output_format

#: Excel refuses longer cells; the XLSX writer cuts there (the full text stays in the input file).
XLSX_MAX_CELL = 32767


def _flat(value: Any) -> Any:
    """A structured value as JSON text; anything else unchanged."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def _tsv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    value = _flat(value)
    text = value if isinstance(value, str) else str(value)
    # TSV has no quoting: a tab or newline inside a cell would shift or split the row.
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\r\n", " ").replace("\t", " ").replace("\n", " ").replace("\r", " ")
    return text


def _write_tsv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write("\t".join(_tsv_cell(c) for c in columns) + "\n")
        out.writelines("\t".join(_tsv_cell(v) for v in row) + "\n" for row in rows)


def _write_csv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows(["" if v is None else _flat(v) for v in row] for row in rows)


def _write_jsonl(path: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for row in rows:
            out.write(json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False, default=str))
            out.write("\n")


def _write_parquet(path: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    pa = _extras.require("pyarrow", "tables", "writing Parquet")
    pq = _extras.require("pyarrow.parquet", "tables", "writing Parquet")
    materialized = list(rows)
    arrays = []
    for i, _name in enumerate(columns):
        values = [_flat(row[i]) for row in materialized]
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            # mixed types in one input column: keep every value, as text
            arrays.append(pa.array([None if v is None else str(v) for v in values], type=pa.string()))
    pq.write_table(pa.Table.from_arrays(arrays, names=list(columns)), path)


def _write_xlsx(path: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    openpyxl = _extras.require("openpyxl", "tables", "writing XLSX")
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    def cell(value: Any) -> Any:
        value = _flat(value)
        if isinstance(value, str):
            return ILLEGAL_CHARACTERS_RE.sub(" ", value)[:XLSX_MAX_CELL]
        if value is None or isinstance(value, int | float | bool):
            return value
        return str(value)[:XLSX_MAX_CELL]

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append([cell(c) for c in columns])
    for row in rows:
        sheet.append([cell(v) for v in row])
    book.save(path)


_WRITERS = {
    "tsv": _write_tsv,
    "csv": _write_csv,
    "jsonl": _write_jsonl,
    "parquet": _write_parquet,
    "xlsx": _write_xlsx,
}


def nested_json(value: Any) -> Any:
    """A cell holding JSON text as the object it encodes; any other value (or unreadable text) as is."""
    if not isinstance(value, str) or not value.startswith(("{", "[")):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def write_table(
    path: str | Path,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    fmt: str | None = None,
    *,
    json_columns: Collection[str] = (),
) -> None:
    """Write a table (header + rows) to ``path`` atomically; the format comes from ``fmt`` or the suffix
    (an unknown or ambiguous suffix is refused: see ``output_format``).

    ``json_columns``: columns whose cells hold JSON text (link/dedupe ``error`` and ``explanation``, text
    so that every engine and Parquet schema sees one type). JSONL writes them as nested objects, as
    ``geoalign score`` does; the flat formats keep the text."""
    kind = output_format(path, fmt)
    if kind == "jsonl" and json_columns:
        nested = [i for i, name in enumerate(columns) if name in json_columns]
        rows = ([nested_json(v) if i in nested else v for i, v in enumerate(row)] for row in rows)
    # check the extra before creating any temporary file
    if kind in ("parquet", "xlsx"):
        _extras.require("pyarrow" if kind == "parquet" else "openpyxl", "tables", f"writing {kind}")
    with atomic_path(path) as tmp:
        _WRITERS[kind](tmp, columns, rows)
