"""Where records come from: table files (streamed) or Python objects, turned into ``Record``s.

Both sources give the same records for the same data (ids are text, an empty id is a ``missing_id``
error in its row, ids must be unique; a table with a column named ``id`` takes its ids from it, as a
record mapping with an ``"id"`` key does), so the file driver and the in-memory API cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NamedTuple, TypeVar

from geoalign.errors import InputError
from geoalign.link.candidates import Record
from geoalign.types import ItemError

T = TypeVar("T")

#: The column a table's ids come from when none is named: the first of these a column is called
#: (ignoring case and spaces), the English name, then what Chinese tables call a record's number (编号,
#: 序号); naming the id column as the empty string numbers the rows instead. (Not 订单号, 客户编号 and
#: the like: a table may hold several, and which one identifies the row is the user's call.)
ID_COLUMN_NAMES: Final[tuple[str, ...]] = ("id", "编号", "序号")
#: The address column when none is named: the first of these a column is called (ignoring case and
#: spaces): the English name, then what Chinese tables call it (地址, 详细地址, 收货地址 …).
ADDRESS_COLUMN_NAMES: Final[tuple[str, ...]] = (
    "address",
    "addr",
    "地址",
    "详细地址",
    "收货地址",
    "完整地址",
    "联系地址",
    "通讯地址",
    "通信地址",
    "注册地址",
    "经营地址",
    "办公地址",
    "门店地址",
    "家庭地址",
    "家庭住址",
    "单位地址",
    "住址",
)


@dataclass(frozen=True, slots=True)
class TableSpec:
    """Where a table's records are: file, address column (None: the first column named as in
    ``ADDRESS_COLUMN_NAMES``), id column (None: the first column named as in ``ID_COLUMN_NAMES``, id,
    编号 or 序号, else the 1-based row number; ``""``: the row number), carried columns, format, header
    and text-encoding options (None: detect)."""

    path: str | Path
    col: str | None = None
    id_col: str | None = None
    carry: Sequence[str] = ()
    fmt: str | None = None
    header: bool | None = None
    encoding: str | None = None


def make_record(
    rid: Any, address: Any, line: int, carry: list[Any], error: ItemError | None = None
) -> Record:
    """A record with its id as text; an empty id makes the row unusable (``missing_id``)."""
    record = Record(
        id="" if rid is None else str(rid).strip(), address=address, carry=carry, line=line, error=error
    )
    if record.error is None and not record.id:
        record.error = ItemError("missing_id", f"line {line}: the id column is empty")
    return record


def _column(columns: Sequence[str], spec: str, what: str, path: Any) -> int:
    from geoalign.io.tables import resolve_column

    try:
        return resolve_column(columns, spec)
    except InputError as exc:
        raise InputError(f"{path}: {what}: {exc}") from exc


#: ``carry`` of one item, ``*``: every column but the address and id columns (a register's name, phone,
#: category … come back beside their cluster).
CARRY_ALL: Final[str] = "*"


def carried_column_indexes(
    columns: Sequence[Any], carry: Sequence[str], i_addr: int, i_id: int | None, path: Any
) -> list[int]:
    """The positions of the carried columns: each named one (a name or a 1-based position), or with
    ``CARRY_ALL`` every column but the address and id columns, in the table's order."""
    if list(carry) == [CARRY_ALL]:
        return [i for i in range(len(columns)) if i not in (i_addr, i_id)]
    if CARRY_ALL in carry:
        raise InputError(f"{path}: carried columns: {CARRY_ALL!r} (every other column) stands alone")
    return [_column([str(c) for c in columns], c, "carried column", path) for c in carry]


def _first_named(columns: Sequence[Any], names: Sequence[str]) -> int | None:
    """The position of the column called by the first of ``names`` the table has (names matched ignoring
    case and surrounding spaces; the leftmost column of one name), else None."""
    named = {str(c).strip().casefold(): i for i, c in reversed(list(enumerate(columns)))}
    return next((named[name] for name in names if name in named), None)


def address_column_index(columns: Sequence[Any], col: str | None, path: Any) -> int:
    """Which column holds the addresses: the one named (a name or a 1-based position), else the first
    column called by one of ``ADDRESS_COLUMN_NAMES``."""
    if col is not None:
        return _column([str(c) for c in columns], col, "address column", path)
    found = _first_named(columns, ADDRESS_COLUMN_NAMES)
    if found is None:
        raise InputError(
            f"{path}: no address column: none is called {', '.join(ADDRESS_COLUMN_NAMES[:6])} or another "
            f"usual name; name it (a name or a 1-based position); columns are {[str(c) for c in columns]}"
        )
    return found


def id_column_index(columns: Sequence[str], id_col: str | None, has_header: bool, path: Any) -> int | None:
    """Which column holds the ids (None: the row number). Unnamed, it is the first column called by one
    of ``ID_COLUMN_NAMES`` in a table with a header (``id`` is also the key the in-memory API reads)."""
    if id_col is None:
        if not has_header:
            return None
        return _first_named(columns, ID_COLUMN_NAMES)
    if id_col == "":
        return None
    return _column(columns, id_col, "id column", path)


class TableRecords(NamedTuple):
    """An opened table: the carried columns' names, its records (streamed), the row count when known,
    the column its ids come from (None: the row number), its address column and all its columns."""

    carry_names: list[str]
    records: Iterator[Record]
    total: int | None
    id_column: str | None
    address_column: str
    columns: list[str]


def iter_records(spec: TableSpec, *, count: bool = False) -> TableRecords:
    """Open a table and stream its rows as Records (not yet analyzed). Errors for a missing column or
    an empty file are raised here, before any work; duplicate ids are caught by ``check_unique``."""
    from geoalign.io.tables import read_table

    # the columns the user named (or the usual address names): one in the first row makes it the header
    carry = [c for c in spec.carry if c != CARRY_ALL]
    named = (*(ADDRESS_COLUMN_NAMES if spec.col is None else (spec.col,)), spec.id_col, *carry)
    table = read_table(
        spec.path, spec.fmt, header=spec.header, count=count, encoding=spec.encoding, expect=named
    )
    if not table.columns:
        raise InputError(f"{spec.path}: the file is empty (no header, no rows)")
    i_addr = address_column_index(table.columns, spec.col, spec.path)
    i_id = id_column_index(table.columns, spec.id_col, table.header, spec.path)
    i_carry = carried_column_indexes(table.columns, spec.carry, i_addr, i_id, spec.path)
    carry_names = [table.columns[i] for i in i_carry]

    def rows() -> Iterator[Record]:
        for n, row in enumerate(table.rows, start=1):
            rid = row.values[i_id] if i_id is not None else n
            carry = [row.values[i] for i in i_carry]
            yield make_record(rid, row.values[i_addr], row.line, carry, row.error)

    id_column = None if i_id is None else table.columns[i_id]
    columns = [str(c) for c in table.columns]
    return TableRecords(carry_names, rows(), table.total, id_column, columns[i_addr], columns)


def records_from_items(items: Iterable[Any], name: str) -> list[Record]:
    """Records from ``(id, address)`` pairs or ``{"id", "address"}`` mappings (the in-memory API); a
    mapping without an id gets its 1-based position, as a file without an id column does."""
    records: list[Record] = []
    for item in items:
        n = len(records) + 1
        if isinstance(item, dict):
            if "address" not in item:
                raise InputError(f"{name}: a record mapping needs an 'address' key, got {sorted(item)}")
            records.append(make_record(item.get("id", n), item["address"], n, []))
        elif isinstance(item, tuple | list) and len(item) == 2:
            records.append(make_record(item[0], item[1], n, []))
        else:
            raise InputError(
                f"{name}: a record is (id, address) or {{'id':..., 'address':...}}, got {item!r}"
            )
    if not records:
        raise InputError(f"{name}: no records")
    return records


def check_unique(
    records: Iterable[Record], path: Any, seen: dict[str, int] | None = None, seen_in: Any = None
) -> dict[str, int]:
    """Map id -> line, raising InputError on the first duplicate (ids must name one record each);
    ``seen``: ids already taken, at lines of the file ``seen_in`` (None: of this one)."""
    seen = {} if seen is None else seen
    for record in records:
        if not record.id:
            continue
        if record.id in seen:
            where = (
                f"lines {seen[record.id]} and {record.line}"
                if seen_in is None
                else f"line {record.line}, and line {seen[record.id]} of {seen_in}"
            )
            raise InputError(
                f"{path}: duplicate id {record.id!r} ({where}); "
                "ids must be unique (name another id column, or an empty one to number the rows)"
            )
        seen[record.id] = record.line
    return seen


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter)."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def read_true_pairs(path: str | Path) -> list[tuple[str, str]]:
    """Labelled true pairs for the blocking recall: the first two columns are (left id, right id)."""
    from geoalign.io.tables import read_table

    table = read_table(path)
    if len(table.columns) < 2:
        raise InputError(f"{path}: a labelled-pairs file needs two columns (left id, right id)")
    out = []
    for row in table.rows:
        if row.error is None and row.values[0] is not None and row.values[1] is not None:
            out.append((str(row.values[0]).strip(), str(row.values[1]).strip()))
    return out


__all__ = [
    "TableSpec",
    "check_unique",
    "chunks",
    "iter_records",
    "make_record",
    "read_true_pairs",
    "records_from_items",
]
