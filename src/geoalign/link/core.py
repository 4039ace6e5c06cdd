"""The per-chunk core of link and dedupe: query records + their candidates + the judge -> typed results.

No files, no progress bars, no Ray: the file driver (``driver``), the in-memory API (``memory``) and
the Ray engine's scoring actors all call ``judge_link`` / ``judge_dedupe`` on a chunk, so one rule
picks the best match and one rule makes a same-place edge everywhere. Where the candidates come from
is the caller's business: the local drivers look them up in a ``BlockIndex`` (``find_candidates``),
the Ray engine ranks them with a distributed group-by over the very same ``BlockIndex.candidates``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from geoalign.link.blocking import BlockIndex, BlockingDiagnostics, remember_pairs
from geoalign.link.candidates import Judged, Record, RecordAnalyzer, SamePlaceJudge
from geoalign.link.cluster import Clusters, Edge
from geoalign.link.rows import DedupeRow, DedupeStatus, LinkResult, link_result
from geoalign.link.settings import LinkSettings

#: Where a candidate came from: rule blocking, the nearest-neighbour retrieval, or both.
SOURCES = ("rules", "ann", "both")


class Neighbours(Protocol):
    """Learned retrieval as the core sees it (``geoalign.retrieval.retriever.AnnRetriever``): per query
    record, indexed positions nearest first."""

    def neighbours(self, queries: Sequence[Record]) -> list[list[int]]: ...


@dataclass(frozen=True, slots=True)
class Candidates:
    """Each query's candidates, best-ranked first, as positions into ``records``, and where each came
    from (``SOURCES``; all ``rules`` without retrieval)."""

    records: Sequence[Record]
    per_query: Sequence[Sequence[int]]
    sources: Sequence[Sequence[str]] | None = None

    def source(self, q: int, c: int) -> str:
        if self.sources is None:
            return "rules"
        return self.sources[q][list(self.per_query[q]).index(c)]

    def pairs(self) -> list[tuple[int, int]]:
        return [(q, c) for q, cands in enumerate(self.per_query) for c in cands]


@dataclass(slots=True)
class IndexedTable:
    """Analyzed records and their inverted key index (unusable records are not indexed)."""

    records: list[Record]
    index: BlockIndex
    unusable: int

    @property
    def usable(self) -> int:
        return len(self.records) - self.unusable


#: Records analyzed per batch when indexing (one batched parse; small enough for a smooth progress bar).
ANALYZE_BLOCK = 2048


def index_records(
    records: list[Record],
    analyzer: RecordAnalyzer,
    max_block_size: int,
    tick: Callable[[], Any] | None = None,
) -> IndexedTable:
    """Analyze ``records`` (in place) and index the usable ones; ``tick`` is called once per record."""
    for start in range(0, len(records), ANALYZE_BLOCK):
        block = records[start : start + ANALYZE_BLOCK]
        analyzer.analyze_many(block)
        if tick is not None:
            for _ in block:
                tick()
    return index_analyzed(records, max_block_size)


def index_analyzed(records: list[Record], max_block_size: int) -> IndexedTable:
    """Index the usable records of a table that is already analyzed (``index_records`` without the parse)."""
    index = BlockIndex(max_block_size)
    unusable = 0
    for n, record in enumerate(records):
        if record.error is None:
            index.add(n, record.keys)
        else:
            unusable += 1
    return IndexedTable(records, index, unusable)


def union_sources(rules: Sequence[int], ann: Sequence[int]) -> tuple[list[int], list[str], list[int | None]]:
    """Rule candidates (in their rank order) then the ANN-only ones (nearest first), each tagged with
    its source, and each candidate's rank among the ANN neighbours (None: not among them)."""
    ann_rank = {c: r for r, c in enumerate(ann)}
    merged = list(rules)
    sources = ["both" if c in ann_rank else "rules" for c in rules]
    in_rules = set(rules)
    for c in ann:
        if c not in in_rules:
            merged.append(c)
            sources.append("ann")
    return merged, sources, [ann_rank.get(c) for c in merged]


def find_candidates(
    queries: Sequence[Record],
    index: IndexedTable,
    max_candidates: int,
    *,
    diag: BlockingDiagnostics | None = None,
    remember: bool = False,
    accept: Callable[[int, int], bool] | None = None,
    retriever: Neighbours | None = None,
) -> Candidates:
    """Each usable query's ranked candidates from ``index``; an unusable query gets none.

    ``accept(i, c)``: whether indexed record ``c`` may pair with the ``i``-th query (dedupe: each pair
    once). ``diag`` observes every query; with ``remember`` it also keeps the candidate id pairs for
    the blocking recall. With a ``retriever`` the candidates are the union of the rule candidates (at
    most ``max_candidates``) and the query's k nearest neighbours (``union_sources``).
    """
    per_query: list[list[int]] = []
    sources: list[list[str]] = []
    near = retriever.neighbours(queries) if retriever is not None else None
    for i, record in enumerate(queries):
        if record.error is not None:
            per_query.append([])
            sources.append([])
            if diag is not None:
                diag.observe([], 0, 0)
            continue
        keep = functools.partial(accept, i) if accept is not None else None
        best, total = index.index.candidates(record.keys, max_candidates=max_candidates, accept=keep)
        ranks: list[int | None] | None = None
        tags = ["rules"] * len(best)
        if near is not None:
            ann = [c for c in near[i] if keep is None or keep(c)]
            best, tags, ranks = union_sources(best, ann)
            total += sum(1 for t in tags if t == "ann")
        if diag is not None:
            diag.observe(record.keys, total, len(best))
            if remember:
                remember_pairs(diag, record.id, (index.records[c].id for c in best), tags, ranks)
        per_query.append(best)
        sources.append(tags)
    return Candidates(index.records, per_query, sources if near is not None else None)


def _later_or_existing(positions: Sequence[int], n_existing: int, i: int, c: int) -> bool:
    return c > positions[i] or c < n_existing


def pair_once(positions: Sequence[int], n_existing: int = 0) -> Callable[[int, int], bool]:
    """The dedupe ``accept`` for a chunk of queries at ``positions``: each two records are paired once
    (the later one asks), and the first ``n_existing`` (an aligned table) never among themselves."""
    return functools.partial(_later_or_existing, positions, n_existing)


def _by_query(judged: Iterable[Judged]) -> dict[int, list[Judged]]:
    out: dict[int, list[Judged]] = {}
    for item in judged:
        out.setdefault(item.q, []).append(item)
    return out


def judge_link(queries: Sequence[Record], candidates: Candidates, judge: SamePlaceJudge) -> list[LinkResult]:
    """One result per query record, in order (see ``rows.link_result`` for the choice of the best)."""
    by_query = _by_query(judge.judge(queries, candidates.records, candidates.pairs()))
    results = [
        link_result(record, candidates.records, by_query.get(q, []), len(candidates.per_query[q]))
        for q, record in enumerate(queries)
    ]
    return [
        replace(r, source=candidates.source(q, r.best.c)) if r.best is not None else r
        for q, r in enumerate(results)
    ]


def judge_dedupe(
    queries: Sequence[Record], candidates: Candidates, judge: SamePlaceJudge
) -> list[list[Edge]]:
    """Per query record, its same-place edges (query id, candidate id, score rounded to 6 places)."""
    edges: list[list[Edge]] = [[] for _ in queries]
    for item in judge.judge(queries, candidates.records, candidates.pairs(), rank_all=False):
        if item.same_place:
            edge = Edge(queries[item.q].id, candidates.records[item.c].id, round(item.score, 6))
            edges[item.q].append(edge)
    return edges


def dedupe_rows(
    records: Sequence[Record], n_existing: int, incremental: bool, clusters: Clusters
) -> Iterator[DedupeRow]:
    """The dedupe output, one row per record in input order (existing records first)."""
    for n, record in enumerate(records):
        if record.error is not None:
            yield DedupeRow(record, DedupeStatus.ERROR)
            continue
        status = (
            (DedupeStatus.EXISTING if n < n_existing else DedupeStatus.NEW)
            if incremental
            else DedupeStatus.RECORD
        )
        yield DedupeRow(record, status, clusters.cluster_id(record.id), clusters.size(record.id))


def blocking_report(
    diag: BlockingDiagnostics,
    settings: LinkSettings,
    rules: Sequence[str],
    n_index: int,
    true_pairs: Sequence[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """The blocking module's report plus the settings that shaped it."""
    report = diag.report(true_pairs=true_pairs, n_index=n_index)
    report["max_candidates"] = settings.max_candidates
    report["rules_used"] = list(rules)
    return report


def guard_messages(clusters: Clusters) -> list[str]:
    """What the clusters' guards refused, one line each (none where they refused nothing): the same
    words from every engine."""
    out = []
    if clusters.refused:
        out.append(
            f"giant-cluster guard: {len(clusters.refused)} same-place edges refused "
            f"(clusters would exceed --max-cluster-size {clusters.max_cluster_size})"
        )
    if clusters.separated:
        detail = ", or two that state different detail (--same-detail)" if clusters.edge_check else ""
        out.append(
            f"different-places guard: {len(clusters.separated)} same-place edges refused (each would put "
            "two records the address rules call different places, e.g. two rooms of one building"
            f"{detail}, into one cluster)"
        )
    return out


#: The columns of ``dedupe --edges``.
EDGE_COLUMNS: tuple[str, ...] = ("a_id", "b_id", "score", "outcome")


def edge_rows(edges: Iterable[Edge], clusters: Clusters) -> Iterator[list[Any]]:
    """The rows of ``dedupe --edges`` (``EDGE_COLUMNS``): each edge with what became of it."""
    for e in edges:
        yield [e.a, e.b, e.score, clusters.outcome.get((e.a, e.b), "")]


__all__ = [
    "EDGE_COLUMNS",
    "SOURCES",
    "Candidates",
    "IndexedTable",
    "Neighbours",
    "blocking_report",
    "dedupe_rows",
    "edge_rows",
    "find_candidates",
    "guard_messages",
    "index_analyzed",
    "index_records",
    "judge_dedupe",
    "judge_link",
    "pair_once",
    "union_sources",
]
