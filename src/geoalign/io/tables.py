"""Streaming table readers for CSV / TSV (with or without header) / JSONL / Parquet / XLSX.

Every physical record comes back as a ``TableRow`` with its line number, including the broken ones:
a row with the wrong number of cells, invalid JSON or undecodable bytes carries an ``ItemError`` in
``error`` instead of being dropped or stopping the job, so a batch job can write it out as an error row.
Text files are decoded in the encoding ``geoalign.io.encoding`` detects (or is told): UTF-8 with or
without a BOM, GB18030/GBK, UTF-16/32 with a BOM.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geoalign import _extras
from geoalign.errors import DataFormatError, InputError
from geoalign.io.encoding import MARK_ERRORS, detect_encoding, display, has_marks, show_marks
from geoalign.io.formats import detect_format
from geoalign.types import ItemError

#: A header cell looks like an identifier (``query``, ``address_a``, ``addr 1``); an address does not.
_HEADER_CELL = re.compile(r"^[A-Za-z_][\w .\-]{0,63}$")

#: A Chinese column name is short, and says what the column holds (``地址A``, ``门店名称``, ``序号``);
#: an address almost never contains these words, and a headerless file's first row is an address.
_ZH_HEADER_CELL = re.compile(r"^[\w .\-()（）/]{1,16}$")
_ZH_HEADER_WORDS = (
    "地址",
    "名称",
    "名字",
    "姓名",
    "编号",
    "序号",
    "标签",
    "标注",
    "类别",
    "类型",
    "备注",
    "结果",
    "来源",
    "电话",
    "日期",
    "代码",
)
_ZH_HEADER_NAMES = frozenset(
    ("省", "市", "区", "县", "省份", "城市", "区县", "地区", "街道", "乡镇", "门店", "网点", "商户")
)

#: csv's default field limit (128 KiB) would turn one long cell into a crash of the whole file.
_CSV_FIELD_LIMIT = 64 * 1024 * 1024


@dataclass(slots=True)
class TableRow:
    """One input record. ``line`` is 1-based (the physical line for text files, the sheet row for XLSX,
    the data row for Parquet). ``values`` always has one entry per column (padded with None)."""

    line: int
    values: list[Any]
    error: ItemError | None = None
    #: the record's text when no values could be taken from it (a JSONL line that is not a JSON object)
    raw: str | None = None


@dataclass(slots=True)
class Table:
    """Column names plus a one-shot iterator over the rows."""

    columns: list[str]
    rows: Iterator[TableRow]
    header: bool
    fmt: str
    total: int | None = field(default=None)
    #: the text encoding the file was read with (None for Parquet/XLSX)
    encoding: str | None = None


def _header_cell(cell: Any) -> bool:
    if not isinstance(cell, str):
        return False
    text = cell.strip()
    if _HEADER_CELL.match(text):
        return True
    return bool(_ZH_HEADER_CELL.match(text)) and (
        text in _ZH_HEADER_NAMES or any(word in text for word in _ZH_HEADER_WORDS)
    )


def looks_like_header(cells: Sequence[Any], expect: Sequence[Any] = ()) -> bool:
    """Whether a first row is a header: a cell is a column name the caller asked for (``expect``, e.g.
    ``--a 地址A``), or every cell is an identifier-like name (``query``, ``addr_1``) or a Chinese column
    name (``地址A``, ``门店名称``, ``序号``), none an address or a number."""
    names = {c.strip() for c in cells if isinstance(c, str)}
    if any(isinstance(e, str) and not e.isdigit() and e in names for e in expect):
        return True
    return bool(cells) and all(_header_cell(c) for c in cells)


def default_column_names(n: int) -> list[str]:
    """Names for a headerless table: the first two are the address pair, the rest numbered."""
    return [("a", "b")[i] if i < 2 else f"col{i + 1}" for i in range(n)]


def unique_names(names: Sequence[str]) -> list[str]:
    """Header names, a repeated one numbered as pandas reads it (地址, 地址 → 地址, 地址.1): a JSONL or
    Parquet output keys its columns by name and would keep only one of two; a name is still found by
    its first column."""
    taken = set(names)
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        unique = name
        n = 0
        while unique in seen or (unique != name and unique in taken):
            n += 1
            unique = f"{name}.{n}"
        seen.add(unique)
        out.append(unique)
    return out


def resolve_column(columns: Sequence[str], spec: str | int) -> int:
    """The index of a column given by name or by 1-based position."""
    if isinstance(spec, str) and spec in columns:
        return columns.index(spec)
    text = str(spec)
    if text.isdigit() and 1 <= int(text) <= len(columns):
        return int(text) - 1
    raise InputError(f"no column {spec!r}; columns are {list(columns)} (or give a 1-based position)")


def _fit(values: list[Any], width: int, line: int) -> TableRow:
    if len(values) == width:
        return TableRow(line, values)
    error = ItemError("malformed_row", f"line {line}: expected {width} columns, got {len(values)}")
    fitted = (values + [None] * width)[:width]
    return TableRow(line, fitted, error)


def _mark_encoding(row: TableRow, encoding: str) -> TableRow:
    """Flag a row holding bytes the file's encoding could not decode (``bad_encoding``) and show those
    bytes as ``\\xNN``: the rest of the row stays readable and nothing is replaced by U+FFFD."""
    marked = [i for i, v in enumerate(row.values) if isinstance(v, str) and has_marks(v)]
    if not marked:
        return row
    if row.error is None:
        message = f"line {row.line}: bytes that are not valid {display(encoding)}"
        row.error = ItemError("bad_encoding", message)
    for i in marked:
        row.values[i] = show_marks(row.values[i])
    return row


def _count_lines(path: Path, encoding: str | None) -> int:
    if encoding is not None and encoding.startswith(("utf-16", "utf-32")):
        # newline bytes also occur inside other characters of a UTF-16/32 file: count decoded lines
        with open(path, encoding=encoding, errors=MARK_ERRORS) as text:
            return sum(1 for _ in text)
    count = 0
    last = b"\n"
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (0 if last == b"\n" else 1)


def _decide_header(first: list[Any], header: bool | None, expect: Sequence[Any]) -> bool:
    return looks_like_header(first, expect) if header is None else header


def _delimited(path: Path, fmt: str, header: bool | None, encoding: str, expect: Sequence[Any]) -> Table:
    handle = open(path, encoding=encoding, errors=MARK_ERRORS, newline="")  # noqa: SIM115
    if fmt == "tsv":
        # TSV is one record per line, no quoting: addresses contain quote characters legitimately.
        records: Iterator[tuple[int, list[str]]] = (
            (n, line.rstrip("\r\n").split("\t")) for n, line in enumerate(handle, start=1)
        )
    else:
        csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
        records = _csv_records(handle)
    try:
        first_line, first = next(records)
    except StopIteration:
        handle.close()
        return Table([], iter(()), bool(header), fmt, encoding=encoding)
    has_header = _decide_header(first, header, expect)
    columns = (
        unique_names([show_marks(c.strip()) for c in first])
        if has_header
        else default_column_names(len(first))
    )
    width = len(columns)

    def rows() -> Iterator[TableRow]:
        try:
            if not has_header:
                yield _mark_encoding(_fit(first, width, first_line), encoding)
            for line, values in records:
                if values == [""] or values == []:
                    yield TableRow(
                        line, [None] * width, ItemError("malformed_row", f"line {line}: empty line")
                    )
                    continue
                yield _mark_encoding(_fit(list(values), width, line), encoding)
        finally:
            handle.close()

    return Table(columns, rows(), has_header, fmt, encoding=encoding)


def _csv_records(handle: Any) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(handle)
    start = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # csv can resume after a bad record; report it as a one-cell row so the caller flags it
            yield start, [f"<unreadable: {exc}>"]
            start = reader.line_num + 1
            continue
        yield start, values
        start = reader.line_num + 1


def _jsonl(path: Path, encoding: str) -> Table:
    handle = open(path, encoding=encoding, errors=MARK_ERRORS)  # noqa: SIM115
    parsed: list[tuple[int, str, Any, ItemError | None]] = []
    columns: list[str] | None = None
    lines = enumerate(handle, start=1)

    def decode(line_no: int, text: str) -> tuple[int, str, Any, ItemError | None]:
        try:
            return line_no, text, json.loads(text), None
        except ValueError as exc:
            return line_no, text, None, ItemError("malformed_row", f"line {line_no}: invalid JSON ({exc})")

    # The first valid object fixes the columns; lines before it (bad JSON, blank) are kept as errors.
    for line_no, text in lines:
        if not text.strip():
            continue
        item = decode(line_no, text)
        parsed.append(item)
        if isinstance(item[2], dict):
            columns = [str(k) for k in item[2]]
            break
        if isinstance(item[2], list):
            columns = default_column_names(len(item[2]))
            break
    if columns is None:
        handle.close()
        if parsed:
            raise DataFormatError(f"{path}: no JSON object or array found on any line")
        return Table([], iter(()), True, "jsonl", encoding=encoding)
    width = len(columns)
    cols = columns

    def to_row(line_no: int, text: str, obj: Any, error: ItemError | None) -> TableRow:
        # a line that gives no values keeps its text, so the error row still shows what was there
        raw = show_marks(text.rstrip("\r\n"))
        if error is not None:
            return TableRow(line_no, [None] * width, error, raw)
        if isinstance(obj, list):
            return _mark_encoding(_fit(obj, width, line_no), encoding)
        if not isinstance(obj, dict):
            return TableRow(
                line_no,
                [None] * width,
                ItemError(
                    "malformed_row", f"line {line_no}: expected a JSON object, got {type(obj).__name__}"
                ),
                raw,
            )
        row = TableRow(line_no, [obj.get(c) for c in cols])
        missing = [c for c in cols if c not in obj]
        extra = [k for k in obj if k not in cols]
        if missing or extra:
            detail = "; ".join(
                part
                for part in (
                    f"missing keys {missing}" if missing else "",
                    f"unexpected keys {extra}" if extra else "",
                )
                if part
            )
            row.error = ItemError("malformed_row", f"line {line_no}: {detail}")
        return _mark_encoding(row, encoding)

    def rows() -> Iterator[TableRow]:
        try:
            for item in parsed:
                yield to_row(*item)
            for line_no, text in lines:
                if not text.strip():
                    yield TableRow(
                        line_no, [None] * width, ItemError("malformed_row", f"line {line_no}: empty line")
                    )
                    continue
                yield to_row(*decode(line_no, text))
        finally:
            handle.close()

    return Table(cols, rows(), True, "jsonl", encoding=encoding)


def _parquet(path: Path) -> Table:
    pq = _extras.require("pyarrow.parquet", "tables", "reading Parquet")
    source = pq.ParquetFile(path)
    columns = list(source.schema_arrow.names)

    def rows() -> Iterator[TableRow]:
        n = 0
        for batch in source.iter_batches(batch_size=8192):
            for record in batch.to_pylist():
                n += 1
                yield TableRow(n, [record[c] for c in columns])

    return Table(columns, rows(), True, "parquet", total=source.metadata.num_rows)


def _xlsx(path: Path, header: bool | None, expect: Sequence[Any]) -> Table:
    openpyxl = _extras.require("openpyxl", "tables", "reading XLSX")
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    sheet = book.worksheets[0]
    records = (
        (n, list(values))
        for n, values in enumerate(sheet.iter_rows(values_only=True), start=1)
        # Excel reports formatted-but-empty rows; a row with no value at all is not a record.
        if any(v is not None for v in values)
    )
    first_line, first = next(records, (0, []))
    if not first:
        book.close()
        return Table([], iter(()), bool(header), "xlsx")
    while first and first[-1] is None:  # trailing empty cells of a ragged sheet
        first.pop()
    has_header = _decide_header(first, header, expect)
    columns = (
        unique_names([str(c).strip() for c in first]) if has_header else default_column_names(len(first))
    )
    width = len(columns)

    def fit(line: int, values: list[Any]) -> TableRow:
        trimmed = list(values)
        while len(trimmed) > width and trimmed[-1] is None:
            trimmed.pop()
        # a short row in a sheet is a row with empty trailing cells, which read as None
        trimmed += [None] * (width - len(trimmed))
        return _fit(trimmed, width, line)

    def rows() -> Iterator[TableRow]:
        try:
            if not has_header:
                yield fit(first_line, first)
            for line, values in records:
                yield fit(line, values)
        finally:
            book.close()

    # read-only sheets know their size only when the writer stored a dimension record
    total = max(sheet.max_row - int(has_header), 0) if sheet.max_row is not None else None
    return Table(columns, rows(), has_header, "xlsx", total=total)


def read_table(
    path: str | Path,
    fmt: str | None = None,
    *,
    header: bool | None = None,
    count: bool = False,
    encoding: str | None = None,
    expect: Sequence[Any] = (),
) -> Table:
    """Open a table for streaming.

    ``header``: True/False forces it; None detects it (a first row of column names is a header: those in
    ``expect``, the names the caller will look up, or identifier-like / Chinese column names; addresses
    and labels are not). JSONL and Parquet always have names. ``encoding``: the text encoding of a
    CSV/TSV/JSONL file (checked); None detects it (``geoalign.io.encoding``); Parquet and XLSX carry
    their own. ``count`` fills ``Table.total`` for text formats (one extra fast pass over the bytes;
    used for the progress bar).
    """
    source = Path(path)
    if not source.is_file():
        raise InputError(f"input file not found: {path}")
    kind = detect_format(source, fmt)
    if kind in ("tsv", "csv"):
        table = _delimited(source, kind, header, detect_encoding(source, encoding), expect)
    elif kind == "jsonl":
        table = _jsonl(source, detect_encoding(source, encoding))
    elif kind == "parquet":
        table = _parquet(source)
    else:
        table = _xlsx(source, header, expect)
    if count and table.total is None:
        lines = _count_lines(source, table.encoding)
        table.total = max(lines - int(table.header and kind != "jsonl"), 0)
    return table


__all__ = ["Table", "TableRow", "default_column_names", "looks_like_header", "read_table", "resolve_column"]
