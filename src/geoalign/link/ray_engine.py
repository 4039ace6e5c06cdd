"""``--engine ray``: link and dedupe on a Ray cluster with Ray Data, streaming end to end.

Why Ray Data and not a home-made engine: it already schedules CPU tasks and GPU actors, streams blocks
between stages with backpressure, spills to disk, and retries tasks and restarts actors on lost
workers. This module only maps the single-machine pipeline (``geoalign.link.pipeline``) onto it:

    read (Parquet row groups in parallel; CSV/TSV/JSONL/XLSX through geoalign's own readers)
      -> analyze: clean + normalize + parse + blocking keys              (CPU tasks)
      -> explode keys, ``groupby(key)``: each block is joined in one task
      -> ``groupby(query)``: the same ``BlockIndex.candidates`` ranking as the local engine
      -> join the candidates' right records                              (hash joins)
      -> ``SamePlaceJudge`` in an actor pool (the scorer loaded once per actor; ``num_gpus`` per actor)
      -> write Parquet (a dataset directory, written by the workers)

The driver holds Parquet metadata, the run counters and object references, never a table: a row goes
from the readers to the writers without passing through it (the benchmark measures its peak memory).
For dedupe the driver collects the *same-place edges* only (a small fraction of the pairs) and builds
the clusters over the records they touch with the local union-find (every other record is its own
cluster), so stable cluster IDs and the giant-cluster guard are exactly the local ones.

Same results as the local engine: candidates are ranked by the very same ``BlockIndex.candidates``
(each query's keys in their original order, blocks in record order, so even float ties break the same
way), and the same judge and row builder are used. Row *order* is not kept (a cluster writes in
parallel): sort by ``left_id`` (link) or ``id`` (dedupe). Carried columns keep their Parquet type and
are text when read from text formats.

Failure handling is Ray's: analysis and blocking tasks are retried; scoring actors are restarted
(``max_restarts``) and their in-flight batch re-run (``max_task_retries``). A batch's output is only
kept once its task succeeds, so a killed worker neither loses nor duplicates rows (tested).

Not supported here (clear errors, use the local engine): resuming a partial run (Ray retries instead),
``--explain-blocking`` / ``--labels``, incremental dedupe (``--existing``), and non-Parquet outputs.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geoalign import _extras
from geoalign.errors import InputError
from geoalign.link.blocking import BlockIndex, parse_rules
from geoalign.link.candidates import Judged, Record, RecordAnalyzer, SamePlaceJudge, featurizer_of
from geoalign.link.pipeline import (
    LINK_RESULT_COLUMNS,
    Options,
    RunSummary,
    TableSpec,
    _link_row,
    cluster_report,
)
from geoalign.types import ItemError, Scorer

#: Builds the scorer inside each actor (must be picklable: a module-level function or a partial).
ScorerFactory = Callable[[], Scorer]

_READ_ROWS = 8192  # rows per block read from a text table


def _ray() -> Any:
    return _extras.require("ray", "ray", "the Ray engine")


def _pa() -> Any:
    return _extras.require("pyarrow", "tables", "the Ray engine")


@dataclass(slots=True)
class RayOptions:
    """Where and how wide to run: ``address`` None starts (or joins) a local Ray; ``actors`` is the
    scoring actor pool (min, max); ``num_gpus`` per actor (0 on CPU; the ONNX scorer on CPU too)."""

    address: str | None = None
    actors: tuple[int, int] = (1, 2)
    num_gpus: float = 0.0
    cpus_per_actor: float = 1.0
    batch_records: int = 256  # query records per scoring batch (x up to max_candidates pairs)
    partitions: int | None = None  # hash partitions of the groupbys and joins (None: 2 x cluster CPUs)
    max_restarts: int = 3
    max_task_retries: int = 3


# ------------------------------------------------------------------------------------------ reading


def _record_schema(carry_types: Sequence[Any]) -> Any:
    pa = _pa()
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
        "error": None if error is None else json.dumps([error.code, error.message], ensure_ascii=False),
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


def _make_datasource(spec: TableSpec) -> tuple[Any, list[str]]:
    """A Ray Datasource over ``spec`` and the names of its carried columns.

    Parquet: one read task per row group, each knowing its first row's position (from the footer, read
    here on the driver: metadata only). Other formats: one streaming read task through geoalign's own
    reader, so malformed rows, header detection and encodings behave exactly as in the local engine.
    """
    ray = _ray()
    pa = _pa()
    from geoalign.io.formats import detect_format
    from geoalign.io.tables import resolve_column

    path = Path(spec.path)
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    fmt = "parquet" if path.is_dir() else detect_format(path, spec.fmt)

    def col(columns: Sequence[str], name: str, what: str) -> int:
        try:
            return resolve_column(columns, name)
        except InputError as exc:
            raise InputError(f"{path}: {what}: {exc}") from exc

    if fmt == "parquet":
        pq = _extras.require("pyarrow.parquet", "tables", "reading Parquet")
        files = _parquet_files(path)
        schema = pq.ParquetFile(files[0]).schema_arrow
        columns = list(schema.names)
        i_addr = col(columns, spec.col, "address column")
        i_id = col(columns, spec.id_col, "id column") if spec.id_col else None
        i_carry = [col(columns, c, "carried column") for c in spec.carry]
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
        i_addr = col(columns, spec.col, "address column")
        i_id = col(columns, spec.id_col, "id column") if spec.id_col else None
        i_carry = [col(columns, c, "carried column") for c in spec.carry]
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


# ----------------------------------------------------------------------------------------- analysis


_ANALYZERS: dict[tuple[str, ...], RecordAnalyzer] = {}


def _analyze(batch: Any, *, rules: tuple[str, ...]) -> Any:
    """clean + normalize + parse + keys for a batch of records: a CPU task. The analyzer (parser,
    gazetteer, parse LRU) is kept per worker process, so it loads once per worker, not per batch."""
    pa = _pa()
    analyzer = _ANALYZERS.get(rules)
    if analyzer is None:
        from geoalign.scorers.structured import PairFeaturizer

        # a view depends on the text alone (char weights only enter pair features), so a plain
        # featurizer gives the blocking keys the scorer's own would
        analyzer = _ANALYZERS[rules] = RecordAnalyzer(PairFeaturizer(), rules)
    keys: list[list[str]] = []
    errors: list[str | None] = []
    for row in batch.select(["id", "address", "line", "error"]).to_pylist():
        record = _record(row["id"], row["address"], row["line"], row["error"])
        analyzer.analyze(record)
        keys.append([key for _rule, key in record.keys])
        errors.append(_error_text(record.error))
    batch = batch.set_column(batch.schema.get_field_index("error"), "error", pa.array(errors, pa.string()))
    return batch.append_column("keys", pa.array(keys, pa.list_(pa.string())))


def _record(rid: str, address: Any, line: int, error: str | None, carry: list[Any] | None = None) -> Record:
    err = None
    if error is not None:
        code, message = json.loads(error)
        err = ItemError(code, message)
    return Record(id=rid, address=address, carry=carry or [], line=line, error=err)


def _error_text(error: ItemError | None) -> str | None:
    return None if error is None else json.dumps([error.code, error.message], ensure_ascii=False)


# ----------------------------------------------------------------------------------------- blocking


def _explode_keys(batch: Any, *, side: int) -> Any:
    """(key, side, pos, kidx) per key of each usable record; side 1 = query, 0 = indexed."""
    pa = _pa()
    out_key: list[str] = []
    out_pos: list[int] = []
    out_kidx: list[int] = []
    for pos, error, keys in zip(
        batch.column("pos").to_pylist(),
        batch.column("error").to_pylist(),
        batch.column("keys").to_pylist(),
        strict=True,
    ):
        if error is not None:
            continue
        for kidx, key in enumerate(keys):
            out_key.append(key)
            out_pos.append(pos)
            out_kidx.append(kidx)
    n = len(out_key)
    return pa.table(
        {
            "key": pa.array(out_key, pa.string()),
            "side": pa.array([side] * n, pa.int8()),
            "pos": pa.array(out_pos, pa.int64()),
            "kidx": pa.array(out_kidx, pa.int32()),
        }
    )


_BLOCK_FIELDS = ("q", "kidx", "block", "skipped_blocks", "skipped_pairs")


def _block_schema() -> Any:
    pa = _pa()
    return pa.schema(
        [
            pa.field("q", pa.int64()),
            pa.field("kidx", pa.int32()),
            pa.field("block", pa.list_(pa.int64())),
            pa.field("skipped_blocks", pa.int64()),
            pa.field("skipped_pairs", pa.int64()),
        ]
    )


def _join_block(group: Any, *, max_block_size: int, dedupe: bool) -> Any:
    """One blocking key: every query record carrying it gets the block (indexed records, in record
    order, as ``BlockIndex`` holds them). An oversized block gives no candidates; its first query row
    carries it into the skipped-block counts, exactly as the local report counts it."""
    pa = _pa()
    side = group.column("side").to_pylist()
    pos = group.column("pos").to_pylist()
    kidx = group.column("kidx").to_pylist()
    index = sorted(p for s, p in zip(side, pos, strict=True) if s == 0)
    queries = [(p, k) for s, p, k in zip(side, pos, kidx, strict=True) if s == 1]
    if not index or not queries:
        return _block_schema().empty_table()
    oversized = len(index) > max_block_size
    pairs = len(index) * (len(index) - 1) // 2 if dedupe else len(index) * len(queries)
    rows = {
        "q": [q for q, _ in queries],
        "kidx": [k for _, k in queries],
        "block": [None if oversized else index] * len(queries),
        "skipped_blocks": [int(oversized and pairs > 0 and i == 0) for i in range(len(queries))],
        "skipped_pairs": [pairs if oversized and i == 0 else 0 for i in range(len(queries))],
    }
    return pa.Table.from_pydict(rows, schema=_block_schema())


def _rank(group: Any, *, max_block_size: int, max_candidates: int, dedupe: bool) -> Any:
    """One query record: the local engine's ranking (``BlockIndex.candidates``) over its blocks."""
    pa = _pa()
    rows = sorted(group.to_pylist(), key=lambda r: r["kidx"])
    q = rows[0]["q"]
    index = BlockIndex(max_block_size)
    keys: list[tuple[str, str]] = []
    for row in rows:
        key = f"k{row['kidx']}"  # the key text does not matter here, only its block and its order
        keys.append(("", key))
        if row["block"] is not None:
            index.blocks[key] = row["block"]
    accept = (lambda c: c > q) if dedupe else None
    best, total = index.candidates(keys, max_candidates=max_candidates, accept=accept)
    return pa.table(
        {
            "q": pa.array([q], pa.int64()),
            "cands": pa.array([best], pa.list_(pa.int64())),
            "n_before": pa.array([total], pa.int64()),
            "n_after": pa.array([len(best)], pa.int64()),
            "cut": pa.array([int(total > len(best))], pa.int64()),
            "skipped_blocks": pa.array([sum(r["skipped_blocks"] for r in rows)], pa.int64()),
            "skipped_pairs": pa.array([sum(r["skipped_pairs"] for r in rows)], pa.int64()),
        }
    )


# --------------------------------------------------------------------- candidates with their records


def _explode_candidates(batch: Any, *, n_carry: int) -> Any:
    """One row per (query, candidate) with the query's payload; a query without candidates keeps one
    row (rank -1) so it still reaches the output as ``no_candidates`` / ``error``."""
    pa = _pa()
    cols = ["pos", "id", "address", "line", "error", *(f"c{i}" for i in range(n_carry))]
    out: dict[str, list[Any]] = {name: [] for name in (*cols, "rank", "rpos", "n_cands")}
    for row in batch.to_pylist():
        cands = row.get("cands") or []
        for rank, rpos in enumerate(cands) if cands else [(-1, -1)]:
            for name in cols:
                out[name].append(row[name])
            out["rank"].append(rank)
            out["rpos"].append(rpos)
            out["n_cands"].append(len(cands))
    schema = batch.select(cols).schema
    for name, typ in (("rank", pa.int32()), ("rpos", pa.int64()), ("n_cands", pa.int64())):
        schema = schema.append(pa.field(name, typ))
    return pa.Table.from_pydict(out, schema=schema)


def _rename_right(batch: Any, *, n_carry: int) -> Any:
    names = ["rpos", "r_id", "r_address", "r_line", *(f"r_c{i}" for i in range(n_carry))]
    return batch.select(["pos", "id", "address", "line", *(f"c{i}" for i in range(n_carry))]).rename_columns(
        names
    )


def _pack(group: Any, *, n_carry: int, n_rcarry: int) -> Any:
    """One query record with its candidates' records, in rank order (a list column per field)."""
    pa = _pa()
    rows = sorted(group.to_pylist(), key=lambda r: r["rank"])
    first = rows[0]
    cands = [r for r in rows if r["rank"] >= 0]
    if len(cands) != first["n_cands"]:
        # a join that lost a candidate would silently change results; this must never happen
        raise RuntimeError(f"query {first['pos']}: {len(cands)} of {first['n_cands']} candidates joined")
    schema = group.schema
    fields = [pa.field(n, schema.field(n).type) for n in ("pos", "id", "address", "line", "error")]
    fields += [schema.field(f"c{i}") for i in range(n_carry)]
    fields.append(pa.field("n_cands", pa.int64()))
    data: dict[str, list[Any]] = {f.name: [first[f.name]] for f in fields}
    for name in ("r_id", "r_address", "r_line", *(f"r_c{i}" for i in range(n_rcarry))):
        fields.append(pa.field(name, pa.list_(schema.field(name).type)))
        data[name] = [[r[name] for r in cands]]
    return pa.Table.from_pydict(data, schema=pa.schema(fields))


def link_output_schema(
    left_types: Sequence[Any],
    right_types: Sequence[Any],
    left_carry: Sequence[str],
    right_carry: Sequence[str],
) -> Any:
    pa = _pa()
    f64 = pa.float64()
    fields = [pa.field("left_id", pa.string()), pa.field("left_address", pa.string())]
    fields += [pa.field(f"left_{n}", t) for n, t in zip(left_carry, left_types, strict=True)]
    fields += [
        pa.field("status", pa.string()),
        pa.field("right_id", pa.string()),
        pa.field("right_address", pa.string()),
    ]
    fields += [pa.field(f"right_{n}", t) for n, t in zip(right_carry, right_types, strict=True)]
    types = {
        "label": pa.string(),
        "p_exact_match": f64,
        "p_partial_match": f64,
        "p_not_match": f64,
        "p_exact_reverse": f64,
        "same_place": pa.bool_(),
        "margin": f64,
        "second_right_id": pa.string(),
        "n_candidates": pa.int64(),
        "explanation": pa.string(),
        "error": pa.string(),
    }
    fields += [pa.field(name, types[name]) for name in LINK_RESULT_COLUMNS[1:]]
    return pa.schema(fields)


class _Judge:
    """The scoring actor: the scorer is built once per actor (a model loaded once, on its GPU where
    the actor has one); each batch of query records is judged with the local engine's judge."""

    def __init__(
        self,
        factory: ScorerFactory,
        rules: Sequence[str],
        options: Options,
        n_carry: int,
        n_rcarry: int,
        out_schema: Any,
        dedupe: bool,
    ) -> None:
        self.scorer = factory()
        self.scorer.warmup()
        self.analyzer = RecordAnalyzer(featurizer_of(self.scorer), rules)
        self.judge = SamePlaceJudge(self.scorer, threshold=options.threshold, batch_size=options.batch_size)
        self.options = options
        self.n_carry = n_carry
        self.n_rcarry = n_rcarry
        self.out_schema = out_schema
        self.dedupe = dedupe

    def __call__(self, batch: Any) -> Any:
        pa = _pa()
        queries: list[Record] = []
        candidates: list[Record] = []
        pairs: list[tuple[int, int]] = []
        n_cands: list[int] = []
        for row in batch.to_pylist():
            record = _record(
                row["id"],
                row["address"],
                row["line"],
                row["error"],
                [row[f"c{i}"] for i in range(self.n_carry)],
            )
            self.analyzer.analyze(record)
            q = len(queries)
            queries.append(record)
            n_cands.append(row["n_cands"])
            for k, rid in enumerate(row["r_id"]):
                carry = [row[f"r_c{i}"][k] for i in range(self.n_rcarry)]
                candidate = _record(rid, row["r_address"][k], row["r_line"][k], None, carry)
                self.analyzer.analyze(candidate)
                pairs.append((q, len(candidates)))
                candidates.append(candidate)
        by_query: dict[int, list[Judged]] = {}
        for item in self.judge.judge(queries, candidates, pairs):
            by_query.setdefault(item.q, []).append(item)
        if self.dedupe:
            edges = [
                (queries[j.q].id, candidates[j.c].id, round(j.score, 6))
                for items in by_query.values()
                for j in items
                if j.same_place
            ]
            return pa.table(
                {
                    "a": pa.array([e[0] for e in edges], pa.string()),
                    "b": pa.array([e[1] for e in edges], pa.string()),
                    "score": pa.array([e[2] for e in edges], pa.float64()),
                }
            )
        rows = [
            _link_row(
                record,
                candidates,
                by_query.get(q, []),
                n_cands[q],
                self.n_rcarry,
                self.options.with_explanation,
            )
            for q, record in enumerate(queries)
        ]
        names = self.out_schema.names
        return pa.Table.from_pylist(
            [dict(zip(names, row, strict=True)) for row in rows], schema=self.out_schema
        )


# ------------------------------------------------------------------------------------------ driving


def _resolve_partitions(ropts: RayOptions) -> RayOptions:
    """Enough shuffle partitions to keep every CPU busy and each partition small; fixed ones are kept."""
    if ropts.partitions is None:
        import dataclasses

        cpus = int(_ray().cluster_resources().get("CPU", 2))
        return dataclasses.replace(ropts, partitions=max(4, 2 * cpus))
    return ropts


def init_ray(address: str | None) -> Any:
    """Join the cluster at ``address`` (``auto``: the one this machine belongs to), or start a local
    Ray; a Ray already initialized in this process (tests, notebooks) is reused as is."""
    ray = _ray()
    if not ray.is_initialized():
        os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        ray.init(address=address, **kwargs)
    return ray


def _check_output(output: str | Path, output_format: str | None) -> None:
    text = str(output)
    if output_format not in (None, "parquet") or not (text.endswith(".parquet") or text.endswith("/")):
        raise InputError(
            "--engine ray writes Parquet: give an output ending in .parquet "
            f"(a dataset directory), not {text!r}"
        )
    path = Path(text)
    if (
        "://" not in text
        and path.exists()
        and (path.is_file() or any(not p.name.endswith(".parquet") for p in path.iterdir()))
    ):
        raise InputError(f"{path}: exists and is not a previous Parquet dataset output; not replacing it")


def _write(ds: Any, output: str | Path) -> None:
    """Workers write the part files; locally into a temporary sibling renamed at the end, so a failed
    run never leaves a half dataset under the output name."""
    text = str(output).rstrip("/")
    if "://" in text:
        ds.write_parquet(text)
        return
    final = Path(text)
    tmp = final.with_name(f".{final.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        ds.write_parquet(str(tmp))
        if not tmp.exists():  # an empty result writes no file at all
            tmp.mkdir(parents=True)
        if final.exists():
            old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
            final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old)
        else:
            tmp.rename(final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _read_analyzed(spec: TableSpec, rules: tuple[str, ...]) -> tuple[Any, list[str], list[Any]]:
    """The analyzed records of a table, materialized in the object store (they are used twice: for
    the keys and for the payload; the object store spills to disk, the driver holds references)."""
    ray = _ray()
    source, carry = _make_datasource(spec)
    ds = ray.data.read_datasource(source)
    ds = ds.map_batches(_analyze, fn_kwargs={"rules": rules}, batch_format="pyarrow", batch_size=1024)
    ds = ds.materialize()
    schema = ds.schema().base_schema
    return ds, carry, [schema.field(f"c{i}").type for i in range(len(carry))]


def _duplicates(group: Any) -> Any:
    pa = _pa()
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


def _check_unique(ds: Any, path: Any, partitions: int | None) -> None:
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


def _candidates(query: Any, index: Any, options: Options, ropts: RayOptions, *, dedupe: bool) -> Any:
    """Per query record: its ranked candidates (positions into ``index``) and blocking counters."""
    ray = _ray()
    keys = query.map_batches(_explode_keys, fn_kwargs={"side": 1}, batch_format="pyarrow").union(
        index.map_batches(_explode_keys, fn_kwargs={"side": 0}, batch_format="pyarrow")
    )
    blocks = keys.groupby("key", num_partitions=ropts.partitions).map_groups(
        _join_block,
        fn_kwargs={"max_block_size": options.max_block_size, "dedupe": dedupe},
        batch_format="pyarrow",
    )
    ranked = blocks.groupby("q", num_partitions=ropts.partitions).map_groups(
        _rank,
        fn_kwargs={
            "max_block_size": options.max_block_size,
            "max_candidates": options.max_candidates,
            "dedupe": dedupe,
        },
        batch_format="pyarrow",
    )
    del ray
    return ranked.materialize()


def _blocking_report(
    ranked: Any, n_queries: int, n_index: int, options: Options, rules: Sequence[str], dedupe: bool
) -> dict[str, Any]:
    """The counters of the local blocking report that add up across queries (per-rule tables and the
    largest blocks need the whole key index: use the local engine's ``--explain-blocking``)."""
    from ray.data.aggregate import Sum

    sums: dict[str, Any] = {}
    if ranked.count():
        sums = ranked.aggregate(
            Sum("n_before"), Sum("n_after"), Sum("cut"), Sum("skipped_blocks"), Sum("skipped_pairs")
        )
    return {
        "queries": n_queries,
        "indexed": n_index,
        "full_comparison_pairs": n_index * (n_index - 1) // 2 if dedupe else n_queries * n_index,
        "candidate_pairs_before_cut": int(sums.get("sum(n_before)") or 0),
        "candidate_pairs": int(sums.get("sum(n_after)") or 0),
        "queries_cut_to_max_candidates": int(sums.get("sum(cut)") or 0),
        "max_block_size": options.max_block_size,
        "max_candidates": options.max_candidates,
        "skipped_blocks": int(sums.get("sum(skipped_blocks)") or 0),
        "skipped_pairs": int(sums.get("sum(skipped_pairs)") or 0),
        "rules_used": list(rules),
    }


def _with_records(query: Any, ranked: Any, index: Any, ropts: RayOptions, n_carry: int, n_rcarry: int) -> Any:
    """Each query record packed with its candidates' records (two hash joins and a group-by)."""
    joined = query.join(ranked, "left_outer", ropts.partitions, on=("pos",), right_on=("q",))
    exploded = joined.map_batches(_explode_candidates, fn_kwargs={"n_carry": n_carry}, batch_format="pyarrow")
    right = index.map_batches(_rename_right, fn_kwargs={"n_carry": n_rcarry}, batch_format="pyarrow")
    paired = exploded.join(right, "left_outer", ropts.partitions, on=("rpos",))
    return paired.groupby("pos", num_partitions=ropts.partitions).map_groups(
        _pack, fn_kwargs={"n_carry": n_carry, "n_rcarry": n_rcarry}, batch_format="pyarrow"
    )


def actor_cpus(ropts: RayOptions, cluster_cpus: float) -> float:
    """CPUs reserved per scoring actor. Upstream stages (reads, parse, shuffles) run while the actors
    score; if the pool reserved every CPU they could never be scheduled and the run would hang (seen
    on 2 cores with 2 actors). So the pool leaves one CPU free, sharing the rest among its actors
    (the cores are then shared in time, not reserved: the throughput is what it is)."""
    spare = max(cluster_cpus - 1.0, 0.1)
    return min(ropts.cpus_per_actor, spare / max(ropts.actors[1], 1))


def _judged(
    packed: Any,
    factory: ScorerFactory,
    rules: Sequence[str],
    options: Options,
    ropts: RayOptions,
    n_carry: int,
    n_rcarry: int,
    out_schema: Any,
    dedupe: bool,
) -> Any:
    ray = _ray()
    remote: dict[str, Any] = {"max_restarts": ropts.max_restarts, "max_task_retries": ropts.max_task_retries}
    return packed.map_batches(
        _Judge,
        fn_constructor_args=(factory, tuple(rules), options, n_carry, n_rcarry, out_schema, dedupe),
        batch_format="pyarrow",
        batch_size=ropts.batch_records,
        compute=ray.data.ActorPoolStrategy(min_size=ropts.actors[0], max_size=ropts.actors[1]),
        num_cpus=actor_cpus(ropts, ray.cluster_resources().get("CPU", 1.0)),
        num_gpus=ropts.num_gpus or None,
        **remote,
    )


def _status_counts(output: str | Path, partitions: int | None) -> dict[str, int]:
    """Rows per status, counted by reading back that one column of the written dataset."""
    ray = _ray()
    ds = ray.data.read_parquet(str(output)).select_columns(["status"])
    counts = ds.groupby("status", num_partitions=partitions).count().take_all()
    return {row["status"]: int(row["count()"]) for row in counts}


def link_ray(
    left: TableSpec,
    right: TableSpec,
    output: str | Path,
    *,
    scorer_factory: ScorerFactory,
    options: Options | None = None,
    ray_options: RayOptions | None = None,
    output_format: str | None = None,
    log: Callable[[str], None] | None = None,
) -> RunSummary:
    """``link`` on Ray: same rows as ``geoalign.link.pipeline.link`` (any order), written as a Parquet
    dataset directory at ``output``."""
    options = options or Options()
    options.check()
    ropts = ray_options or RayOptions()
    rules = parse_rules(options.rules)
    _check_output(output, output_format)
    summary = RunSummary()
    t0 = time.perf_counter()
    init_ray(ropts.address)
    ropts = _resolve_partitions(ropts)
    left_ds, left_carry, left_types = _read_analyzed(left, rules)
    right_ds, right_carry, right_types = _read_analyzed(right, rules)
    _check_unique(left_ds, left.path, ropts.partitions)
    _check_unique(right_ds, right.path, ropts.partitions)
    n_left, n_right = left_ds.count(), right_ds.count()
    n_right_usable = right_ds.filter(lambda r: r["error"] is None).count()
    summary.seconds["read_analyze"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    ranked = _candidates(left_ds, right_ds, options, ropts, dedupe=False)
    summary.blocking = _blocking_report(ranked, n_left, n_right_usable, options, rules, dedupe=False)
    summary.seconds["blocking"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    schema = link_output_schema(left_types, right_types, left_carry, right_carry)
    packed = _with_records(left_ds, ranked, right_ds, ropts, len(left_carry), len(right_carry))
    judged = _judged(
        packed, scorer_factory, rules, options, ropts, len(left_carry), len(right_carry), schema, False
    )
    _write(judged, output)
    summary.seconds["score_write"] = time.perf_counter() - t2
    summary.counts.update(left_records=n_left, right_records=n_right, right_unusable=n_right - n_right_usable)
    summary.counts["status"] = _status_counts(output, ropts.partitions)
    summary.seconds["total"] = time.perf_counter() - t0
    if log is not None:
        log(f"ray: wrote {sum(summary.counts['status'].values()):,} rows to {output} (a Parquet dataset)")
    return summary


def _cluster_rows(batch: Any, *, assigned: Any, n_carry: int, schema: Any) -> Any:
    """Dedupe output rows: a record touched by a same-place edge gets its cluster from ``assigned``
    (built on the driver from the edges alone); every other usable record is its own cluster."""
    pa = _pa()
    mapping = assigned if isinstance(assigned, dict) else _ray().get(assigned)
    out = []
    for row in batch.to_pylist():
        carry = [row[f"c{i}"] for i in range(n_carry)]
        if row["error"] is not None:
            code, message = json.loads(row["error"])
            error = json.dumps({"code": code, "message": message}, ensure_ascii=False)
            out.append([row["id"], row["address"], *carry, None, None, "record", error])
            continue
        cid, size = mapping.get(row["id"], (row["id"], 1))
        out.append([row["id"], row["address"], *carry, cid, size, "record", None])
    names = schema.names
    return pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in out], schema=schema)


def dedupe_ray(
    table: TableSpec,
    output: str | Path,
    *,
    scorer_factory: ScorerFactory,
    options: Options | None = None,
    ray_options: RayOptions | None = None,
    output_format: str | None = None,
    edges_output: str | Path | None = None,
    log: Callable[[str], None] | None = None,
) -> RunSummary:
    """``dedupe`` on Ray: same clusters as ``geoalign.link.pipeline.dedupe`` (non-incremental)."""
    from geoalign.link.cluster import Edge, build_clusters

    options = options or Options()
    options.check()
    ropts = ray_options or RayOptions()
    rules = parse_rules(options.rules)
    _check_output(output, output_format)
    ray = init_ray(ropts.address)
    ropts = _resolve_partitions(ropts)
    pa = _pa()
    summary = RunSummary()
    t0 = time.perf_counter()
    ds, carry, types = _read_analyzed(table, rules)
    _check_unique(ds, table.path, ropts.partitions)
    n_records = ds.count()
    n_usable = ds.filter(lambda r: r["error"] is None).count()
    summary.seconds["read_analyze"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    ranked = _candidates(ds, ds, options, ropts, dedupe=True)
    summary.blocking = _blocking_report(ranked, n_records, n_usable, options, rules, dedupe=True)
    summary.seconds["blocking"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    packed = _with_records(ds.filter(lambda r: r["error"] is None), ranked, ds, ropts, len(carry), len(carry))
    edge_ds = _judged(packed, scorer_factory, rules, options, ropts, len(carry), len(carry), None, True)
    # the driver holds the same-place edges only (a small fraction of the pairs), never the records
    edges = [Edge(r["a"], r["b"], float(r["score"])) for r in edge_ds.iter_rows()]
    summary.seconds["score"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    touched = {e.a for e in edges} | {e.b for e in edges}
    clusters = build_clusters(touched, edges, max_cluster_size=options.max_cluster_size)
    summary.clusters = cluster_report(clusters, len(edges), singletons=n_usable - len(touched))
    assigned = {record: (cid, clusters.size(record)) for record, cid in clusters.records()}
    summary.seconds["cluster"] = time.perf_counter() - t3
    t4 = time.perf_counter()
    fields = [pa.field("id", pa.string()), pa.field("address", pa.string())]
    fields += [pa.field(name, typ) for name, typ in zip(carry, types, strict=True)]
    fields += [
        pa.field("cluster_id", pa.string()),
        pa.field("cluster_size", pa.int64()),
        pa.field("status", pa.string()),
        pa.field("error", pa.string()),
    ]
    ref = ray.put(assigned)
    rows = ds.map_batches(
        _cluster_rows,
        fn_kwargs={"assigned": ref, "n_carry": len(carry), "schema": pa.schema(fields)},
        batch_format="pyarrow",
    )
    _write(rows, output)
    if edges_output is not None:
        from geoalign.io.writers import write_table

        write_table(edges_output, ["a_id", "b_id", "score"], ([e.a, e.b, e.score] for e in edges))
    summary.seconds["write"] = time.perf_counter() - t4
    summary.counts.update(records=n_records, unusable=n_records - n_usable)
    summary.seconds["total"] = time.perf_counter() - t0
    if clusters.refused and log is not None:
        log(
            f"giant-cluster guard: {len(clusters.refused)} same-place edges refused "
            f"(clusters would exceed --max-cluster-size {options.max_cluster_size})"
        )
    return summary


# ---------------------------------------------------------------------------------------------- CLI


def _unsupported(args: Any, command: str) -> None:
    refused = [
        (getattr(args, "explain_blocking", False), "--explain-blocking"),
        (getattr(args, "labels", None), "--labels"),
        (getattr(args, "existing", None), "--existing"),
    ]
    for given, flag in refused:
        if given:
            raise InputError(f"{command} --engine ray does not support {flag}; use --engine local for it")


def scorer_factory_from_args(args: Any) -> ScorerFactory:
    """A picklable recipe for the CLI's scorer: each actor builds (and loads) its own."""
    from geoalign.scorers.spec import ScorerSpec

    return ScorerSpec.for_tables(args).build


def run_cli(command: str, args: Any) -> int:
    """``geoalign link|dedupe ... --engine ray``: the same options, run on Ray (see the module docstring)."""
    import sys

    from geoalign.cli.link import options_from_args, split_list, tables_from_args

    _unsupported(args, command)
    if not args.output:
        raise InputError("-o/--output is required")
    actors = max(1, int(getattr(args, "ray_actors", 2) or 2))
    ropts = RayOptions(
        address=getattr(args, "ray_address", None),
        actors=(1, actors),
        num_gpus=float(getattr(args, "ray_gpus_per_actor", 0.0) or 0.0),
    )
    factory = scorer_factory_from_args(args)
    options = options_from_args(args)

    def log(message: str) -> None:
        print(f"geoalign {command}: {message}", file=sys.stderr)

    if command == "link":
        summary = link_ray(
            *tables_from_args(args),
            args.output,
            scorer_factory=factory,
            options=options,
            ray_options=ropts,
            output_format=args.output_format,
            log=log,
        )
    else:
        summary = dedupe_ray(
            TableSpec(args.input, args.col, args.id_col, split_list(args.carry), args.format, args.header),
            args.output,
            scorer_factory=factory,
            options=options,
            ray_options=ropts,
            output_format=args.output_format,
            edges_output=args.edges,
            log=log,
        )
    from geoalign.cli.link import report_summary

    report_summary(f"{command} (ray)", summary, args, f"{args.output} (Parquet dataset)")
    return 0
