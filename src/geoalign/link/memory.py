"""Link and dedupe for records held in Python: the same core as the file driver, no files at all.

Records are ``(id, address)`` pairs or ``{"id", "address"}`` mappings; each output row is a dict with
the columns of the file output (``geoalign.link.pipeline``). Everything is held in memory, so for
large tables use the file driver, which streams and resumes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from geoalign.link.blocking import BlockingDiagnostics, parse_rules
from geoalign.link.candidates import (
    RecordAnalyzer,
    SamePlaceJudge,
    featurizer_of,
    place_guards,
)
from geoalign.link.cluster import Edge, build_clusters
from geoalign.link.core import (
    blocking_report,
    dedupe_rows,
    find_candidates,
    guard_messages,
    index_records,
    judge_dedupe,
    judge_link,
    pair_once,
)
from geoalign.link.rows import dedupe_columns, link_columns, link_values, row_dict
from geoalign.link.settings import LinkSettings, RunFlags, default_scorer, make_retriever
from geoalign.link.summary import DedupeSummary, LinkSummary, cluster_report, snapshot_stats
from geoalign.link.tables import check_unique, chunks, records_from_items
from geoalign.types import Scorer


def link_records(
    left: Iterable[Any],
    right: Iterable[Any],
    *,
    scorer: Scorer | None = None,
    settings: LinkSettings | None = None,
    flags: RunFlags | None = None,
) -> tuple[list[dict[str, Any]], LinkSummary]:
    """``link`` for records in memory: one output row (a dict) per left record, in order."""
    settings, flags = settings or LinkSettings(), flags or RunFlags()
    rules = parse_rules(settings.rules)
    summary = LinkSummary()
    t0 = time.perf_counter()
    lefts, rights = records_from_items(left, "left"), records_from_items(right, "right")
    check_unique(lefts, "left")
    check_unique(rights, "right")
    scorer = scorer or default_scorer()
    analyzer = RecordAnalyzer(featurizer_of(scorer), rules)
    indexed = index_records(rights, analyzer, settings.max_block_size)
    summary.counts.right_records, summary.counts.right_unusable = len(rights), indexed.unusable
    summary.seconds["index_right"] = time.perf_counter() - t0
    retriever = make_retriever(settings)
    if retriever is not None:
        retriever.add(indexed.records)
    diag = BlockingDiagnostics(indexed.index, ann_k=settings.ann_k if retriever else None)
    judge = SamePlaceJudge(scorer, threshold=settings.threshold, batch_size=settings.batch_size)
    columns = link_columns([], [])
    rows: list[dict[str, Any]] = []
    t1 = time.perf_counter()
    for chunk in chunks(lefts, flags.chunk_size):
        analyzer.analyze_many(chunk)
        candidates = find_candidates(chunk, indexed, settings.max_candidates, diag=diag, retriever=retriever)
        for result in judge_link(chunk, candidates, judge):
            status = summary.counts.status
            status[result.status.value] = status.get(result.status.value, 0) + 1
            rows.append(row_dict(columns, link_values(result, 0, flags.with_explanation)))
    summary.seconds["link"] = time.perf_counter() - t1
    summary.blocking = blocking_report(diag, settings, rules, indexed.usable)
    summary.counts.left_records = len(lefts)
    summary.judge = judge.stats
    summary.cascade = snapshot_stats(scorer)
    summary.seconds["total"] = time.perf_counter() - t0
    return rows, summary


def dedupe_records(
    records: Iterable[Any],
    *,
    scorer: Scorer | None = None,
    settings: LinkSettings | None = None,
    flags: RunFlags | None = None,
) -> tuple[list[dict[str, Any]], DedupeSummary]:
    """``dedupe`` for records in memory: one row (a dict) per record with its cluster, in order."""
    settings, flags = settings or LinkSettings(), flags or RunFlags()
    rules = parse_rules(settings.rules)
    summary = DedupeSummary()
    t0 = time.perf_counter()
    items = records_from_items(records, "records")
    check_unique(items, "records")
    scorer = scorer or default_scorer()
    analyzer = RecordAnalyzer(featurizer_of(scorer), rules)
    indexed = index_records(items, analyzer, settings.max_block_size)
    summary.counts.records = summary.counts.new_records = len(items)
    summary.counts.unusable = indexed.unusable
    summary.seconds["index"] = time.perf_counter() - t0
    retriever = make_retriever(settings)
    if retriever is not None:
        retriever.add(indexed.records)
    diag = BlockingDiagnostics(indexed.index, dedupe=True, ann_k=settings.ann_k if retriever else None)
    judge = SamePlaceJudge(scorer, threshold=settings.threshold, batch_size=settings.batch_size)
    edges: list[Edge] = []
    t1 = time.perf_counter()
    for positions in chunks(range(len(items)), flags.chunk_size):
        queries = [items[q] for q in positions]
        candidates = find_candidates(
            queries,
            indexed,
            settings.max_candidates,
            diag=diag,
            accept=pair_once(positions),
            retriever=retriever,
        )
        edges.extend(e for per_query in judge_dedupe(queries, candidates, judge) for e in per_query)
    summary.seconds["score"] = time.perf_counter() - t1
    summary.blocking = blocking_report(diag, settings, rules, indexed.usable)
    views = {r.id: r.view for r in items if r.view is not None}
    cannot_link, edge_check = place_guards(views, same_detail=settings.same_detail)
    clusters = build_clusters(
        [r.id for r in items if r.error is None],
        edges,
        max_cluster_size=settings.max_cluster_size,
        cannot_link=cannot_link,
        edge_check=edge_check,
    )
    summary.clusters = cluster_report(clusters, len(edges))
    summary.messages += guard_messages(clusters)
    columns = dedupe_columns([])
    rows = [row_dict(columns, row.values(0)) for row in dedupe_rows(items, 0, False, clusters)]
    summary.judge = judge.stats
    summary.cascade = snapshot_stats(scorer)
    summary.seconds["total"] = time.perf_counter() - t0
    return rows, summary


__all__ = ["dedupe_records", "link_records"]
