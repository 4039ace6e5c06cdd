"""``Matcher.link`` and ``Matcher.dedupe``: whole tables in Python, as ``Matcher.score`` takes pairs.

A pandas or polars DataFrame in, a DataFrame of the same library out: the input's columns (and, for
pandas, its index) in their order, then the columns ``geoalign link`` / ``geoalign dedupe`` write about
each record (``LINK_COLUMNS``, ``DEDUPE_COLUMNS``). A record's id is its ``id`` column's value where one
is named, else its pandas index label or its polars row position (0-based); ids come back as given
(``right_id`` is the right table's id, ready for a merge). Records given as ``(id, address)`` pairs or
``{"id", "address"}`` mappings come back as the rows of ``link_records`` / ``dedupe_records`` (dicts).

Everything is held in memory and judged in this process; for tables that do not fit, or a run that
should resume, use the CLI (``geoalign link`` / ``dedupe``), which streams from files.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Hashable, Iterable
from typing import Any, Final

from geoalign.errors import InputError
from geoalign.frames import cell_value, check_named_once, check_room, error_series, frame_kind
from geoalign.link.rows import DEDUPE_RESULT_COLUMNS, LINK_RESULT_COLUMNS
from geoalign.types import LABELS, Scorer

#: What ``Matcher.link`` adds to the left frame: ``geoalign link``'s columns without the left record's
#: (the frame has them) and without the explanation (``explain=True`` adds it).
LINK_COLUMNS: Final[tuple[str, ...]] = (
    "status",
    "right_id",
    "right_address",
    *(c for c in LINK_RESULT_COLUMNS[1:] if c != "explanation"),
)
#: What ``Matcher.dedupe`` adds to the frame.
DEDUPE_COLUMNS: Final[tuple[str, ...]] = DEDUPE_RESULT_COLUMNS
_FLOAT_COLUMNS: Final[frozenset[str]] = frozenset(
    {*(f"p_{name}" for name in LABELS), "p_exact_reverse", "margin"}
)
#: Output columns holding a record id of the table named: mapped back to the id as given.
_ID_COLUMNS: Final[dict[str, str]] = {"right_id": "right", "second_right_id": "right", "cluster_id": "self"}


@dataclasses.dataclass(frozen=True, slots=True)
class _Table:
    """One input: the records as the in-memory API takes them, and each id's original value."""

    frame: Any  # the DataFrame, or None for a list of records
    kind: str | None
    records: list[Any]
    ids: dict[str, Hashable]


def _settings(options: dict[str, Any]) -> Any:
    """``LinkSettings`` from keyword options (the CLI's flags without dashes; ``ann=True``: the shipped
    retrieval model)."""
    from geoalign.link.settings import LinkSettings

    names = {f.name for f in dataclasses.fields(LinkSettings)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise InputError(f"unknown link option(s) {unknown}; known: {', '.join(sorted(names))}")
    if options.get("ann") is True:
        options = {**options, "ann": "shipped"}
    elif options.get("ann") is False:
        options = {**options, "ann": None}
    return LinkSettings(**options)


def _table(data: Any, name: str, on: str | None, id_column: str | None) -> _Table:
    kind = frame_kind(data)
    if kind is None:
        if isinstance(data, str | bytes) or not isinstance(data, Iterable):
            raise InputError(
                f"{name}: a pandas or polars DataFrame, or (id, address) records, not {data!r:.60}"
            )
        if id_column is not None:
            raise InputError(f"{name}: an id column names a DataFrame column; records carry their own ids")
        return _Table(None, None, list(data), {})
    from geoalign.link.tables import address_column_index

    columns = list(data.columns)
    if id_column is not None and id_column not in columns:
        raise InputError(f"{name}: no column {id_column!r} in the DataFrame; its columns: {columns}")
    if on is None or on not in columns:  # unnamed: the usual names (address, 地址 …); else by position
        on = columns[address_column_index(columns, on, name)]
    check_named_once(data, (on, id_column), name)
    if kind == "pandas":
        addresses = data[on].tolist()
        ids = data[id_column].tolist() if id_column is not None else list(data.index)
    else:
        addresses = data.get_column(on).to_list()
        ids = data.get_column(id_column).to_list() if id_column is not None else list(range(len(data)))
    records = [(ident, cell_value(address, kind)) for ident, address in zip(ids, addresses, strict=True)]
    return _Table(data, kind, records, {str(ident): ident for ident in ids})


def link_table(
    scorer: Scorer,
    left: Any,
    right: Any,
    *,
    on: str | None = None,
    left_on: str | None = None,
    right_on: str | None = None,
    left_id: str | None = None,
    right_id: str | None = None,
    explain: bool = False,
    **options: Any,
) -> Any:
    """The best record of ``right`` for each record of ``left``, judged by ``scorer`` (see the module
    docstring); ``options`` are ``LinkSettings`` fields (``threshold``, ``ann``, ``max_candidates`` …)."""
    from geoalign.link.memory import link_records
    from geoalign.link.settings import RunFlags

    settings = _settings(options)
    lefts = _table(left, "left", left_on or on, left_id)
    rights = _table(right, "right", right_on or on, right_id)
    columns = [*LINK_COLUMNS, "explanation"] if explain else list(LINK_COLUMNS)
    if lefts.frame is not None:
        check_room(lefts.frame, columns, "left")
        if not lefts.records:  # nothing to link: the columns, no rows
            return _with_columns(lefts, [], columns, {})
    flags = RunFlags(with_explanation=explain)
    rows, _summary = link_records(
        lefts.records, rights.records, scorer=scorer, settings=settings, flags=flags
    )
    if lefts.frame is None:
        return rows
    tables = {"right": rights.ids, "self": lefts.ids}
    return _with_columns(lefts, rows, columns, tables)


def dedupe_table(
    scorer: Scorer,
    records: Any,
    *,
    on: str | None = None,
    id: str | None = None,
    explain: bool = False,
    **options: Any,
) -> Any:
    """Same-place clusters of ``records``, judged by ``scorer`` (see the module docstring)."""
    from geoalign.link.memory import dedupe_records
    from geoalign.link.settings import RunFlags

    settings = _settings(options)
    table = _table(records, "records", on, id)
    if table.frame is not None:
        check_room(table.frame, DEDUPE_COLUMNS, "records")
        if not table.records:
            return _with_columns(table, [], list(DEDUPE_COLUMNS), {})
    flags = RunFlags(with_explanation=explain)
    rows, _summary = dedupe_records(table.records, scorer=scorer, settings=settings, flags=flags)
    if table.frame is None:
        return rows
    return _with_columns(table, rows, list(DEDUPE_COLUMNS), {"self": table.ids})


def _values(rows: list[dict[str, Any]], column: str, ids: dict[str, dict[str, Hashable]]) -> list[Any]:
    values = [row.get(column) for row in rows]
    table = _ID_COLUMNS.get(column)
    if table is not None:
        return [None if v is None else ids[table].get(str(v), v) for v in values]
    return values


def _nullable_ints(values: list[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, int) and not isinstance(v, bool) for v in present)


def _with_columns(table: _Table, rows: list[dict[str, Any]], columns: list[str], ids: Any) -> Any:
    """The input frame with ``columns`` of ``rows`` (one per record, in order) appended."""
    if len(rows) != len(table.records):
        raise AssertionError(f"{len(rows)} rows for {len(table.records)} records")
    added = {column: _values(rows, column, ids) for column in columns}
    if table.kind == "pandas":
        import pandas as pd

        out = table.frame.copy()
        for column, values in added.items():
            if column in _FLOAT_COLUMNS:
                values = [math.nan if v is None else float(v) for v in values]
            elif column in _ID_COLUMNS and _nullable_ints(values):
                # integer ids stay integers beside the rows without one (a float 101.0 would not merge)
                values = pd.array(values, dtype="Int64")
            out[column] = values
        return out
    import polars as pl

    series = []
    for column, values in added.items():
        if column in _FLOAT_COLUMNS:
            series.append(pl.Series(column, values, dtype=pl.Float64))
        elif column == "error":  # as Matcher.score's frames write it
            series.append(error_series(column, values))
        elif column == "explanation":  # nested and uneven: kept as the Python objects
            series.append(pl.Series(column, values, dtype=pl.Object))
        else:
            series.append(pl.Series(column, values, strict=False))
    return table.frame.with_columns(series)


__all__ = ["DEDUPE_COLUMNS", "LINK_COLUMNS", "dedupe_table", "link_table"]
