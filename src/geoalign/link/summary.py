"""What a link or dedupe run did, as typed objects (the report, ``--json`` and benchmarks read them).

``to_dict`` gives the JSON of ``--json``. ``blocking`` stays the blocking module's own report (a
JSON-able dict that ``blocking.format_report`` prints), ``seconds`` maps phase names to seconds;
everything else is a field with a name and a type.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from geoalign.link.candidates import JudgeStats
from geoalign.link.cluster import Clusters, RefusedEdge

if TYPE_CHECKING:
    from geoalign.scorers.cascade import CascadeStats


@dataclass(slots=True)
class LinkCounts:
    """Records read on each side; ``status``: left records per output status, in order of appearance."""

    left_records: int = 0
    left_resumed: int = 0
    right_records: int = 0
    right_unusable: int = 0
    status: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class DedupeCounts:
    """Records read: all, from ``--existing``, new; unusable ones (status ``error``)."""

    records: int = 0
    existing_records: int = 0
    new_records: int = 0
    unusable: int = 0


@dataclass(frozen=True, slots=True)
class ClusterReport:
    """The clustering of a dedupe run (local and Ray engines alike); ``refused`` (the giant-cluster
    guard), ``separated`` (the different-places guard) and ``retired_ids`` hold the first 20 of each,
    ``retired_ids_total`` all of them."""

    records: int
    clusters: int
    largest_cluster: int
    edges: int
    merged_edges: int
    redundant_edges: int
    refused_edges: int
    refused: list[RefusedEdge]
    retired_ids: list[tuple[str, str]]
    retired_ids_total: int
    separated_edges: int = 0
    separated: list[RefusedEdge] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["refused"] = [_refused_dict(r) for r in self.refused]
        out["separated"] = [
            {**_refused_dict(r), "different_places": list(r.pair) if r.pair is not None else None}
            for r in self.separated
        ]
        return out


def _refused_dict(r: RefusedEdge) -> dict[str, Any]:
    return {"a": r.edge.a, "b": r.edge.b, "score": r.edge.score, "sizes": [r.size_a, r.size_b]}


def cluster_report(clusters: Clusters, n_edges: int, *, singletons: int = 0) -> ClusterReport:
    """The report of a clustering. ``singletons`` counts usable records that are not in ``clusters``
    at all (the Ray engine clusters only the records its edges touch); each is a cluster of its own."""
    stats = clusters.stats()
    return ClusterReport(
        records=stats.records + singletons,
        clusters=stats.clusters + singletons,
        largest_cluster=max(stats.largest_cluster, 1 if singletons else 0),
        edges=n_edges,
        merged_edges=stats.merged_edges,
        redundant_edges=stats.redundant_edges,
        refused_edges=stats.refused_edges,
        refused=list(clusters.refused[:20]),
        retired_ids=stats.retired_ids[:20],
        retired_ids_total=len(stats.retired_ids),
        separated_edges=stats.separated_edges,
        separated=list(clusters.separated[:20]),
    )


@dataclass(slots=True)
class RunSummary:
    """What every run reports: seconds per phase, the blocking report, the judge's and the cascade's
    counters (None where nothing was scored here: ``--explain-blocking``, or the Ray engine, whose
    counters live in its actors), and messages for the user."""

    seconds: dict[str, float] = field(default_factory=dict)
    blocking: dict[str, Any] = field(default_factory=dict)
    judge: JudgeStats | None = None
    cascade: CascadeStats | None = None  # a snapshot of the cascade scorer's counters
    messages: list[str] = field(default_factory=list)
    #: with ``--ann``: how the index was had (built / loaded / extended from a saved one), its counts
    #: and why a saved index was not used (``retrieval.retriever.IndexReport``); None without it
    retrieval: dict[str, Any] | None = None
    #: processes that judged the chunks (``--workers``; 1: this process alone)
    workers: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "workers": self.workers,
            "blocking": self.blocking,
            "judge": asdict(self.judge) if self.judge is not None else {},
            "cascade": self.cascade.to_dict() if self.cascade is not None else None,
            "messages": self.messages,
            "retrieval": self.retrieval,
        }


@dataclass(slots=True)
class LinkSummary(RunSummary):
    counts: LinkCounts = field(default_factory=LinkCounts)
    #: the written links against ``--truth`` (``link.truth.TruthTally.report``), None without it
    truth: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"counts": asdict(self.counts), **RunSummary.to_dict(self), "truth": self.truth}


@dataclass(slots=True)
class DedupeSummary(RunSummary):
    counts: DedupeCounts = field(default_factory=DedupeCounts)
    clusters: ClusterReport | None = None

    def to_dict(self) -> dict[str, Any]:
        clusters = self.clusters.to_dict() if self.clusters is not None else None
        return {"counts": asdict(self.counts), **RunSummary.to_dict(self), "clusters": clusters}


def snapshot_stats(scorer: Any) -> CascadeStats | None:
    """A copy of a cascade scorer's per-stage counters (None for another scorer)."""
    from dataclasses import replace

    from geoalign.scorers.cascade import CascadeStats

    stats = getattr(scorer, "stats", None)
    return replace(stats) if isinstance(stats, CascadeStats) else None


__all__ = [
    "ClusterReport",
    "DedupeCounts",
    "DedupeSummary",
    "LinkCounts",
    "LinkSummary",
    "RunSummary",
    "cluster_report",
    "snapshot_stats",
]
