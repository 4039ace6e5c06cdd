"""Driving a Ray run: start or join Ray, read, block, judge, write a Parquet dataset; cluster on the
driver from the same-place edges alone."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

from geoalign.address.analyze import AddressView
from geoalign.errors import InputError
from geoalign.link.blocking import parse_rules
from geoalign.link.ray_engine.blocking import blocking_report, rank_candidates
from geoalign.link.ray_engine.common import (
    RayOptions,
    ScorerFactory,
    record_from_row,
    require_pyarrow,
    require_ray,
)
from geoalign.link.ray_engine.judge import judged, link_output_schema, with_records
from geoalign.link.ray_engine.read import check_unique_ids, read_analyzed
from geoalign.link.rows import (
    DedupeRow,
    DedupeStatus,
    dedupe_carried_names,
    dedupe_carry_notice,
    dedupe_columns,
    link_carry_notice,
)
from geoalign.link.settings import LinkSettings, RunFlags
from geoalign.link.summary import DedupeSummary, LinkSummary, RunSummary, cluster_report
from geoalign.link.tables import TableSpec


def _resolve_partitions(ropts: RayOptions) -> RayOptions:
    """Enough shuffle partitions to keep every CPU busy and each partition small; fixed ones are kept."""
    if ropts.partitions is None:
        import dataclasses

        cpus = int(require_ray().cluster_resources().get("CPU", 2))
        return dataclasses.replace(ropts, partitions=max(4, 2 * cpus))
    return ropts


def init_ray(address: str | None) -> Any:
    """Join the cluster at ``address`` (``auto``: the one this machine belongs to), or start a local
    Ray; a Ray already initialized in this process (tests, notebooks) is reused as is."""
    ray = require_ray()
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


def _status_counts(output: str | Path, partitions: int | None) -> dict[str, int]:
    """Rows per status, counted by reading back that one column of the written dataset."""
    ray = require_ray()
    ds = ray.data.read_parquet(str(output)).select_columns(["status"])
    counts = ds.groupby("status", num_partitions=partitions).count().take_all()
    return {row["status"]: int(row["count()"]) for row in counts}


def _start(
    settings: LinkSettings | None,
    ray_options: RayOptions | None,
    output: str | Path,
    output_format: str | None,
) -> tuple[LinkSettings, RayOptions, tuple[str, ...]]:
    settings = settings or LinkSettings()
    rules = parse_rules(settings.rules)
    _check_output(output, output_format)
    init_ray((ray_options or RayOptions()).address)
    return settings, _resolve_partitions(ray_options or RayOptions()), rules


def _usable(ds: Any) -> Any:
    return ds.filter(lambda r: r["error"] is None)


def _retrieval(
    query: Any,
    index: Any,
    settings: LinkSettings,
    summary: RunSummary,
    log: Callable[[str], None] | None,
    *,
    dedupe: bool,
) -> Any:
    """With ``--ann``: the nearest-neighbour rows that join the rule blocks (``ray_engine.retrieval``);
    None without it."""
    if settings.ann is None:
        return None
    from geoalign.link.ray_engine.retrieval import ann_candidates

    t0 = time.perf_counter()
    stream = ann_candidates(query, index, settings, dedupe=dedupe)
    summary.retrieval = stream.report
    summary.seconds["retrieval_index"] = time.perf_counter() - t0
    if log is not None:
        log(
            f"retrieval: index built on the driver over {stream.report['vectors']:,} records "
            f"({stream.report['embedded_texts']:,} distinct texts of {stream.report['records']:,} records "
            f"embedded by Ray tasks) "
            f"in {summary.seconds['retrieval_index']:.1f}s"
        )
    return stream.rows


def link_ray(
    left: TableSpec,
    right: TableSpec,
    output: str | Path,
    *,
    scorer_factory: ScorerFactory,
    settings: LinkSettings | None = None,
    flags: RunFlags | None = None,
    ray_options: RayOptions | None = None,
    output_format: str | None = None,
    log: Callable[[str], None] | None = None,
) -> LinkSummary:
    """``link`` on Ray: same rows as ``geoalign.link.pipeline.link`` (any order), written as a Parquet
    dataset directory at ``output``. Of ``flags`` only ``with_explanation`` applies (Ray retries
    instead of resuming, and shows its own progress)."""
    settings, ropts, rules = _start(settings, ray_options, output, output_format)
    with_explanation = (flags or RunFlags()).with_explanation
    summary = LinkSummary()
    t0 = time.perf_counter()
    ann = settings.ann is not None
    left_ds, left_carry, left_types = read_analyzed(left, rules, with_text=ann)
    right_ds, right_carry, right_types = read_analyzed(right, rules, with_text=ann)
    notice = link_carry_notice(left_carry, right_carry)
    if notice is not None and log is not None:
        log(notice)
    check_unique_ids(left_ds, left.path, ropts.partitions)
    check_unique_ids(right_ds, right.path, ropts.partitions)
    n_left, n_right = left_ds.count(), right_ds.count()
    n_right_usable = _usable(right_ds).count()
    summary.seconds["read_analyze"] = time.perf_counter() - t0
    ann_rows = _retrieval(left_ds, right_ds, settings, summary, log, dedupe=False)
    t1 = time.perf_counter()
    ranked = rank_candidates(left_ds, right_ds, settings, ropts, dedupe=False, ann_rows=ann_rows)
    summary.blocking = blocking_report(ranked, n_left, n_right_usable, settings, rules, dedupe=False)
    summary.seconds["blocking"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    schema = link_output_schema(left_types, right_types, left_carry, right_carry)
    packed = with_records(left_ds, ranked, right_ds, ropts, len(left_carry), len(right_carry))
    rows = judged(
        packed,
        scorer_factory,
        rules,
        settings,
        with_explanation,
        ropts,
        len(left_carry),
        len(right_carry),
        schema,
        False,
    )
    _write(rows, output)
    summary.seconds["score_write"] = time.perf_counter() - t2
    counts = summary.counts
    counts.left_records, counts.right_records, counts.right_unusable = (
        n_left,
        n_right,
        n_right - n_right_usable,
    )
    counts.status = _status_counts(output, ropts.partitions)
    summary.seconds["total"] = time.perf_counter() - t0
    if log is not None:
        log(f"ray: wrote {sum(counts.status.values()):,} rows to {output} (a Parquet dataset)")
    return summary


def _cluster_rows(batch: Any, *, assigned: Any, n_carry: int, schema: Any) -> Any:
    """Dedupe output rows: a record touched by a same-place edge gets its cluster from ``assigned``
    (built on the driver from the edges alone); every other usable record is its own cluster."""
    pa = require_pyarrow()
    mapping = assigned if isinstance(assigned, dict) else require_ray().get(assigned)
    out = []
    for row in batch.to_pylist():
        carry = [row[f"c{i}"] for i in range(n_carry)]
        record = record_from_row(row["id"], row["address"], row["line"], row["error"], carry)
        if record.error is not None:
            dedupe_row = DedupeRow(record, DedupeStatus.ERROR)
        else:
            cid, size = mapping.get(record.id, (record.id, 1))
            dedupe_row = DedupeRow(record, DedupeStatus.RECORD, cid, size)
        out.append(dict(zip(schema.names, dedupe_row.values(n_carry), strict=True)))
    return pa.Table.from_pylist(out, schema=schema)


def dedupe_ray(
    table: TableSpec,
    output: str | Path,
    *,
    scorer_factory: ScorerFactory,
    settings: LinkSettings | None = None,
    ray_options: RayOptions | None = None,
    output_format: str | None = None,
    edges_output: str | Path | None = None,
    log: Callable[[str], None] | None = None,
) -> DedupeSummary:
    """``dedupe`` on Ray: same clusters as ``geoalign.link.pipeline.dedupe`` (non-incremental)."""
    from geoalign.link.candidates import place_guards
    from geoalign.link.cluster import Edge, build_clusters
    from geoalign.link.core import EDGE_COLUMNS, edge_rows, guard_messages

    settings, ropts, rules = _start(settings, ray_options, output, output_format)
    ray, pa = require_ray(), require_pyarrow()
    summary = DedupeSummary()
    t0 = time.perf_counter()
    ds, carry, types = read_analyzed(table, rules, with_text=settings.ann is not None)
    notice = dedupe_carry_notice(carry)
    if notice is not None and log is not None:
        log(notice)
    check_unique_ids(ds, table.path, ropts.partitions)
    n_records = ds.count()
    n_usable = _usable(ds).count()
    summary.seconds["read_analyze"] = time.perf_counter() - t0
    ann_rows = _retrieval(ds, ds, settings, summary, log, dedupe=True)
    t1 = time.perf_counter()
    ranked = rank_candidates(ds, ds, settings, ropts, dedupe=True, ann_rows=ann_rows)
    summary.blocking = blocking_report(ranked, n_records, n_usable, settings, rules, dedupe=True)
    summary.seconds["blocking"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    packed = with_records(_usable(ds), ranked, ds, ropts, len(carry), len(carry))
    edge_ds = judged(
        packed, scorer_factory, rules, settings, False, ropts, len(carry), len(carry), None, True
    )
    # the driver holds the same-place edges only (a small fraction of the pairs), never the records
    edges = [Edge(r["a"], r["b"], float(r["score"])) for r in edge_ds.iter_rows()]
    summary.seconds["score"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    touched = {e.a for e in edges} | {e.b for e in edges}
    cannot_link, edge_check = place_guards(_views_of(ds, touched), same_detail=settings.same_detail)
    clusters = build_clusters(
        touched,
        edges,
        max_cluster_size=settings.max_cluster_size,
        cannot_link=cannot_link,
        edge_check=edge_check,
    )
    summary.clusters = cluster_report(clusters, len(edges), singletons=n_usable - len(touched))
    assigned = {record: (cid, clusters.size(record)) for record, cid in clusters.records()}
    summary.seconds["cluster"] = time.perf_counter() - t3
    t4 = time.perf_counter()
    types_of = {
        "cluster_id": pa.string(),
        "cluster_size": pa.int64(),
        "status": pa.string(),
        "error": pa.string(),
    }
    types_of.update(zip(dedupe_carried_names(carry), types, strict=True))
    fields = [pa.field(name, types_of.get(name, pa.string())) for name in dedupe_columns(carry)]
    rows = ds.map_batches(
        _cluster_rows,
        fn_kwargs={"assigned": ray.put(assigned), "n_carry": len(carry), "schema": pa.schema(fields)},
        batch_format="pyarrow",
    )
    _write(rows, output)
    if edges_output is not None:
        from geoalign.io.writers import write_table

        write_table(edges_output, EDGE_COLUMNS, edge_rows(edges, clusters))
    summary.seconds["write"] = time.perf_counter() - t4
    summary.counts.records = summary.counts.new_records = n_records
    summary.counts.unusable = n_records - n_usable
    summary.seconds["total"] = time.perf_counter() - t0
    if log is not None:
        for message in guard_messages(clusters):
            log(message)
    return summary


def _views_of(ds: Any, ids: set[Hashable]) -> dict[Hashable, AddressView]:
    """The parsed views of the records ``ids`` (those an edge touches: a small part of the table), for the
    different-places guard; parsed here, as each worker parsed them."""
    from geoalign.address.analyze import analyze
    from geoalign.address.clean import Cleaned, clean

    wanted = frozenset(ids)
    views: dict[Hashable, AddressView] = {}
    for row in ds.filter(lambda r: r["id"] in wanted).select_columns(["id", "address"]).iter_rows():
        cleaned = clean(row["address"])  # the default length, as the workers' RecordAnalyzer cleans
        if isinstance(cleaned, Cleaned):
            try:
                views[row["id"]] = analyze(cleaned.text)
            except InputError:
                continue  # no view, no conflict: as a record the workers could not parse
    return views
