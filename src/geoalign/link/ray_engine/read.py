"""Reading for the Ray engine: a Datasource over Parquet row groups or geoalign's own text readers,
analysis (clean, normalize, parse, blocking keys) as CPU tasks, and the distributed unique-id check."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from geoalign import _extras
from geoalign.errors import InputError
from geoalign.link.candidates import RecordAnalyzer
from geoalign.link.ray_engine.common import encode_error, record_from_row, require_pyarrow, require_ray
from geoalign.link.tables import TableSpec, address_column_index, carried_column_indexes, id_column_index
from geoalign.types import ItemError

_READ_ROWS = 8192  # rows per block read from a text table


def _record_schema(carry_types: Sequence[Any]) -> Any:
    pa = require_pyarrow()
    fields = [
        pa.field("pos", pa.int64()),
        pa.field("id", pa.string()),
        pa.field("address", pa.string()),
        pa.field("line", pa.int64()),
        pa.field("error", pa.string()),
        *(pa.field(f"c{i}", t) for i, t in enumerate(carry_types)),
    ]
    return pa.schema(fields)


def _record_row(
    pos: int, rid: Any, address: Any, line: int, error: ItemError | None, carry: list[Any]
) -> dict[str, Any]:
    rid_text = "" if rid is None else str(rid).strip()
    if error is None and not rid_text:
        error = ItemError("missing_id", f"line {line}: the id column is empty")
    if error is None and address is not None and not isinstance(address, str):
        # the local engine's clean() says the same; Arrow needs one type for the column
        error = ItemError("not_a_string", f"address must be a string, got {type(address).__name__}")
    row = {
        "pos": pos,
        "id": rid_text,
        "address": None if address is None else str(address),
        "line": line,
        "error": encode_error(error),
    }
    for i, value in enumerate(carry):
        row[f"c{i}"] = value
    return row


def _text_carry(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _parquet_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.parquet") if p.is_file())
        if not files:
            raise InputError(f"{path}: no *.parquet files in this directory")
        return files
    return [path]


def make_datasource(spec: TableSpec) -> tuple[Any, list[str]]:
    """A Ray Datasource over ``spec`` and the names of its carried columns.

    Parquet: one read task per row group, each knowing its first row's position (from the footer, read
    here on the driver: metadata only). Other formats: one streaming read task through geoalign's own
    reader, so malformed rows, header detection and encodings behave exactly as in the local engine.
    """
    ray = require_ray()
    pa = require_pyarrow()
    from geoalign.io.formats import detect_format

    path = Path(spec.path)
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    fmt = "parquet" if path.is_dir() else detect_format(path, spec.fmt)

    if fmt == "parquet":
        pq = _extras.require("pyarrow.parquet", "tables", "reading Parquet")
        files = _parquet_files(path)
        schema = pq.ParquetFile(files[0]).schema_arrow
        columns = list(schema.names)
        i_addr = address_column_index(columns, spec.col, path)
        i_id = id_column_index(columns, spec.id_col, True, path)
        i_carry = carried_column_indexes(columns, spec.carry, i_addr, i_id, path)
        carry_names = [columns[i] for i in i_carry]
        out_schema = _record_schema([schema.field(i).type for i in i_carry])
        pieces: list[tuple[str, int, int, int]] = []  # file, row group, first position, rows
        start = 0
        for file in files:
            meta = pq.ParquetFile(file).metadata
            for group in range(meta.num_row_groups):
                rows = meta.row_group(group).num_rows
                pieces.append((str(file), group, start, rows))
                start += rows

        def read_piece(file: str, group: int, first: int) -> Iterator[Any]:
            handle = pq.ParquetFile(file)
            names = handle.schema_arrow.names
            pos = first
            for batch in handle.iter_batches(row_groups=[group], batch_size=_READ_ROWS):
                out = []
                for values in batch.to_pylist():
                    row = [values[c] for c in names]
                    rid = row[i_id] if i_id is not None else pos + 1
                    out.append(_record_row(pos, rid, row[i_addr], pos + 1, None, [row[i] for i in i_carry]))
                    pos += 1
                yield pa.Table.from_pylist(out, schema=out_schema)

        tasks: list[tuple[Callable[[], Iterator[Any]], int | None, str]] = [
            (functools.partial(read_piece, f, g, s), n, f) for f, g, s, n in pieces
        ]
    else:
        from geoalign.io.tables import read_table

        table = read_table(path, fmt, header=spec.header)
        if not table.columns:
            raise InputError(f"{path}: the file is empty (no header, no rows)")
        columns = list(table.columns)
        i_addr = address_column_index(columns, spec.col, path)
        i_id = id_column_index(columns, spec.id_col, table.header, path)
        i_carry = carried_column_indexes(columns, spec.carry, i_addr, i_id, path)
        carry_names = [columns[i] for i in i_carry]
        out_schema = _record_schema([pa.string()] * len(i_carry))
        header = table.header  # decided once here, so the read task sees the file the same way
        close = getattr(table.rows, "close", None)
        if close is not None:  # only the header was needed here: release the file now
            close()

        def read_text() -> Iterator[Any]:
            stream = read_table(path, fmt, header=header)
            out: list[dict[str, Any]] = []
            for n, row in enumerate(stream.rows):
                rid = row.values[i_id] if i_id is not None else n + 1
                carry = [_text_carry(row.values[i]) for i in i_carry]
                out.append(_record_row(n, rid, row.values[i_addr], row.line, row.error, carry))
                if len(out) >= _READ_ROWS:
                    yield pa.Table.from_pylist(out, schema=out_schema)
                    out = []
            if out:
                yield pa.Table.from_pylist(out, schema=out_schema)

        tasks = [(read_text, None, str(path))]

    from ray.data import Datasource, ReadTask
    from ray.data.block import BlockMetadata

    class _Source(Datasource):  # type: ignore[misc]
        def estimate_inmemory_data_size(self) -> int | None:
            return None

        def get_read_tasks(
            self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
        ) -> list[Any]:
            return [
                ReadTask(fn, BlockMetadata(num_rows=n, size_bytes=None, exec_stats=None, input_files=(f,)))
                for fn, n, f in tasks
            ]

    del ray
    return _Source(), carry_names


_ANALYZERS: dict[tuple[str, ...], RecordAnalyzer] = {}


def _analyze(batch: Any, *, rules: tuple[str, ...], with_text: bool = False) -> Any:
    """clean + normalize + parse + keys for a batch of records: a CPU task. The analyzer (parser,
    gazetteer, parse LRU) is kept per worker process, so it loads once per worker, not per batch.
    ``with_text`` adds each usable record's normalized text (what ``--ann`` embeds)."""
    pa = require_pyarrow()
    analyzer = _ANALYZERS.get(rules)
    if analyzer is None:
        from geoalign.scorers.structured import PairFeaturizer

        # a view depends on the text alone (char weights only enter pair features), so a plain
        # featurizer gives the blocking keys the scorer's own would
        analyzer = _ANALYZERS[rules] = RecordAnalyzer(PairFeaturizer(), rules)
    rows = batch.select(["id", "address", "line", "error"]).to_pylist()
    records = [record_from_row(row["id"], row["address"], row["line"], row["error"]) for row in rows]
    analyzer.analyze_many(records)  # one batched parse of the block's distinct addresses
    keys = [[key for _rule, key in record.keys] for record in records]
    errors = [encode_error(record.error) for record in records]
    batch = batch.set_column(batch.schema.get_field_index("error"), "error", pa.array(errors, pa.string()))
    batch = batch.append_column("keys", pa.array(keys, pa.list_(pa.string())))
    if with_text:
        texts = [r.view.text if r.view is not None and r.error is None else None for r in records]
        batch = batch.append_column("text", pa.array(texts, pa.string()))
    return batch


def read_analyzed(
    spec: TableSpec, rules: tuple[str, ...], *, with_text: bool = False
) -> tuple[Any, list[str], list[Any]]:
    """The analyzed records of a table, materialized in the object store (they are used twice: for
    the keys and for the payload; the object store spills to disk, the driver holds references).
    ``with_text``: also a ``text`` column, the normalized text (``--ann`` embeds it)."""
    ray = require_ray()
    source, carry = make_datasource(spec)
    ds = ray.data.read_datasource(source)
    kwargs = {"rules": rules, "with_text": with_text}
    ds = ds.map_batches(_analyze, fn_kwargs=kwargs, batch_format="pyarrow", batch_size=1024)
    ds = ds.materialize()
    schema = ds.schema().base_schema
    return ds, carry, [schema.field(f"c{i}").type for i in range(len(carry))]


def _duplicates(group: Any) -> Any:
    pa = require_pyarrow()
    ids = group.column("id").to_pylist()
    lines = sorted(group.column("line").to_pylist())
    keep = len(ids) > 1 and ids[0] != ""
    return pa.table(
        {
            "id": pa.array(ids[:1] if keep else [], pa.string()),
            "first_line": pa.array(lines[:1] if keep else [], pa.int64()),
            "second_line": pa.array(lines[1:2] if keep else [], pa.int64()),
        }
    )


def check_unique_ids(ds: Any, path: Any, partitions: int | None) -> None:
    """Ids name one record each (the local engine's rule), checked by a distributed group-by."""
    dups = (
        ds.select_columns(["id", "line"])
        .groupby("id", num_partitions=partitions)
        .map_groups(_duplicates, batch_format="pyarrow")
    )
    found = dups.take(1)
    if found:
        row = found[0]
        raise InputError(
            f"{path}: duplicate id {row['id']!r} (lines {row['first_line']} and {row['second_line']}); "
            "ids must be unique"
        )
