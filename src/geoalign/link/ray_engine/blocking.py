"""Blocking on Ray: keys exploded, one task per key joins its block, one task per query ranks its
candidates with the local engine's very ``BlockIndex.candidates`` (so ties break the same way) and,
with ``--ann``, adds its nearest neighbours (``ray_engine.retrieval``) as the local core does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from geoalign.link.blocking import BlockIndex
from geoalign.link.ray_engine.common import RayOptions, require_pyarrow, require_ray
from geoalign.link.settings import LinkSettings


def _explode_keys(batch: Any, *, side: int) -> Any:
    """(key, side, pos, kidx) per key of each usable record; side 1 = query, 0 = indexed."""
    pa = require_pyarrow()
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


def block_schema() -> Any:
    """One query's block for one of its keys (or, ``kidx = ANN_KIDX``, its nearest neighbours)."""
    pa = require_pyarrow()
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
    pa = require_pyarrow()
    side = group.column("side").to_pylist()
    pos = group.column("pos").to_pylist()
    kidx = group.column("kidx").to_pylist()
    index = sorted(p for s, p in zip(side, pos, strict=True) if s == 0)
    queries = [(p, k) for s, p, k in zip(side, pos, kidx, strict=True) if s == 1]
    if not index or not queries:
        return block_schema().empty_table()
    oversized = len(index) > max_block_size
    pairs = len(index) * (len(index) - 1) // 2 if dedupe else len(index) * len(queries)
    rows = {
        "q": [q for q, _ in queries],
        "kidx": [k for _, k in queries],
        "block": [None if oversized else index] * len(queries),
        "skipped_blocks": [int(oversized and pairs > 0 and i == 0) for i in range(len(queries))],
        "skipped_pairs": [pairs if oversized and i == 0 else 0 for i in range(len(queries))],
    }
    return pa.Table.from_pydict(rows, schema=block_schema())


def _rank(group: Any, *, max_block_size: int, max_candidates: int, dedupe: bool) -> Any:
    """One query record: the local engine's ranking (``BlockIndex.candidates``) over its blocks, then,
    where an ANN row came along, the local core's union with its nearest neighbours (``sources``:
    each candidate's source; null without ``--ann``)."""
    from geoalign.link.core import union_sources
    from geoalign.link.ray_engine.retrieval import ANN_KIDX

    pa = require_pyarrow()
    rows = sorted(group.to_pylist(), key=lambda r: r["kidx"])
    q = rows[0]["q"]
    near = [r["block"] or [] for r in rows if r["kidx"] == ANN_KIDX]
    rows = [r for r in rows if r["kidx"] != ANN_KIDX]
    index = BlockIndex(max_block_size)
    keys: list[tuple[str, str]] = []
    for row in rows:
        key = f"k{row['kidx']}"  # the key text does not matter here, only its block and its order
        keys.append(("", key))
        if row["block"] is not None:
            index.blocks[key] = row["block"]
    accept = (lambda c: c > q) if dedupe else None
    best, total = index.candidates(keys, max_candidates=max_candidates, accept=accept)
    sources: list[str] | None = None
    if near:
        ann = [c for c in near[0] if accept is None or accept(c)]
        best, sources, _ranks = union_sources(best, ann)
        total += sources.count("ann")
    return pa.table(
        {
            "q": pa.array([q], pa.int64()),
            "cands": pa.array([best], pa.list_(pa.int64())),
            "sources": pa.array([sources], pa.list_(pa.string())),
            "n_before": pa.array([total], pa.int64()),
            "n_after": pa.array([len(best)], pa.int64()),
            "cut": pa.array([int(total > len(best))], pa.int64()),
            "skipped_blocks": pa.array([sum(r["skipped_blocks"] for r in rows)], pa.int64()),
            "skipped_pairs": pa.array([sum(r["skipped_pairs"] for r in rows)], pa.int64()),
        }
    )


def rank_candidates(
    query: Any,
    index: Any,
    settings: LinkSettings,
    ropts: RayOptions,
    *,
    dedupe: bool,
    ann_rows: Any = None,
) -> Any:
    """Per query record: its ranked candidates (positions into ``index``) and blocking counters.
    ``ann_rows`` (``--ann``: ``retrieval.ann_candidates``) join the blocks before the per-query
    group-by, so a query found by retrieval alone is ranked too."""
    ray = require_ray()
    keys = query.map_batches(_explode_keys, fn_kwargs={"side": 1}, batch_format="pyarrow").union(
        index.map_batches(_explode_keys, fn_kwargs={"side": 0}, batch_format="pyarrow")
    )
    blocks = keys.groupby("key", num_partitions=ropts.partitions).map_groups(
        _join_block,
        fn_kwargs={"max_block_size": settings.max_block_size, "dedupe": dedupe},
        batch_format="pyarrow",
    )
    if ann_rows is not None:
        blocks = blocks.union(ann_rows)
    ranked = blocks.groupby("q", num_partitions=ropts.partitions).map_groups(
        _rank,
        fn_kwargs={
            "max_block_size": settings.max_block_size,
            "max_candidates": settings.max_candidates,
            "dedupe": dedupe,
        },
        batch_format="pyarrow",
    )
    del ray
    return ranked.materialize()


def blocking_report(
    ranked: Any, n_queries: int, n_index: int, settings: LinkSettings, rules: Sequence[str], dedupe: bool
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
        "max_block_size": settings.max_block_size,
        "max_candidates": settings.max_candidates,
        "skipped_blocks": int(sums.get("sum(skipped_blocks)") or 0),
        "skipped_pairs": int(sums.get("sum(skipped_pairs)") or 0),
        "rules_used": list(rules),
    }
