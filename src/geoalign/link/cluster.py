"""Clusters over same-place edges: union-find with stable IDs, a giant-cluster guard and incremental use.

Why these rules:

* **Stable IDs.** A cluster's ID is its smallest record id when it is created; when two clusters merge,
  the *older* ID survives (the one created earlier), so an ID a user stored yesterday still names the
  same place after today's records are added. Within one batch every record's singleton is created in
  id order, so "older" means "smaller id" there; clusters loaded from an aligned table are older than
  any created in this run, and among themselves ordered by their ids.
* **Giant-cluster guard.** Same-place edges are built to be strict (exact_match both ways, no hard-number
  conflict), but one bad edge between two big clusters would fuse, say, two whole buildings. A merge
  whose result would exceed ``max_cluster_size`` is refused and reported, never applied silently.
  Edges are applied strongest first, so a refused edge is the weakest link of the would-be giant.
* **Only edges decide.** Transitivity is what clustering adds; it is also why clusters are built only
  from same-place edges and not from one-directional exact_match (which chains a street into one blob).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from geoalign.errors import InputError


def id_order(record_id: Any) -> tuple[int, int, str]:
    """Sort key for record ids: numeric ids by value (9 before 10), then the others as text."""
    text = str(record_id)
    if text.isdigit():
        return (0, int(text), "")
    return (1, 0, text)


@dataclass(frozen=True, slots=True)
class Edge:
    """A same-place edge with its strength (used only to order the merges)."""

    a: Hashable
    b: Hashable
    score: float = 1.0


@dataclass(frozen=True, slots=True)
class RefusedEdge:
    """An edge the giant-cluster guard refused, with the sizes it would have joined."""

    edge: Edge
    size_a: int
    size_b: int


@dataclass(slots=True)
class ClusterStats:
    records: int = 0
    clusters: int = 0
    merged_edges: int = 0
    redundant_edges: int = 0
    refused_edges: int = 0
    largest_cluster: int = 0
    retired_ids: list[tuple[str, str]] = field(default_factory=list)  # (retired id, surviving id)


class Clusters:
    """Union-find over record ids with stable cluster IDs (see the module docstring)."""

    def __init__(self, max_cluster_size: int = 1000) -> None:
        if max_cluster_size < 2:
            raise InputError("max_cluster_size must be >= 2")
        self.max_cluster_size = max_cluster_size
        self._parent: dict[Hashable, Hashable] = {}
        self._size: dict[Hashable, int] = {}
        self._cluster_id: dict[Hashable, str] = {}  # root -> cluster id
        self._age: dict[Hashable, tuple[int, tuple[int, int, str]]] = {}  # root -> (generation, id order)
        self._generation = 0
        self._anchor: dict[str, Hashable] = {}  # loaded cluster id -> its first record
        self.refused: list[RefusedEdge] = []
        self.retired: list[tuple[str, str]] = []
        self.merged_edges = 0
        self.redundant_edges = 0

    def __contains__(self, record: Hashable) -> bool:
        return record in self._parent

    def __len__(self) -> int:
        return len(self._parent)

    def new_generation(self) -> None:
        """Start a new generation: clusters created from now on are younger than all existing ones."""
        self._generation += 1

    def add(self, record: Hashable, cluster_id: str | None = None) -> None:
        """Add a record. ``cluster_id`` puts it into an existing cluster (loading an aligned table);
        records loaded with the same ``cluster_id`` end up in one cluster with that ID."""
        if record in self._parent:
            raise InputError(f"duplicate record id {record!r}")
        self._parent[record] = record
        self._size[record] = 1
        cid = str(record) if cluster_id is None else str(cluster_id)
        self._cluster_id[record] = cid
        self._age[record] = (self._generation, id_order(cid))
        if cluster_id is not None:
            anchor = self._anchor.get(cid)
            if anchor is None:
                self._anchor[cid] = record
            else:
                self._union(anchor, record, guard=False)

    def find(self, record: Hashable) -> Hashable:
        parent = self._parent
        root = record
        while parent[root] != root:
            root = parent[root]
        while parent[record] != root:  # path compression
            parent[record], record = root, parent[record]
        return root

    def cluster_id(self, record: Hashable) -> str:
        return self._cluster_id[self.find(record)]

    def size(self, record: Hashable) -> int:
        return self._size[self.find(record)]

    def _union(self, a: Hashable, b: Hashable, *, guard: bool = True) -> bool | None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        if guard and self._size[ra] + self._size[rb] > self.max_cluster_size:
            return False
        older, younger = (ra, rb) if self._age[ra] <= self._age[rb] else (rb, ra)
        # union by size for speed; the surviving *ID* is the older cluster's regardless of the root
        big, small = (ra, rb) if self._size[ra] >= self._size[rb] else (rb, ra)
        survivor_id, survivor_age = self._cluster_id[older], self._age[older]
        retired_id = self._cluster_id[younger]
        self._parent[small] = big
        self._size[big] += self._size.pop(small)
        self._cluster_id.pop(small)
        self._age.pop(small)
        self._cluster_id[big] = survivor_id
        self._age[big] = survivor_age
        if retired_id != survivor_id:
            self.retired.append((retired_id, survivor_id))
        return True

    def add_edges(self, edges: Iterable[Edge]) -> None:
        """Apply edges strongest first (ties in id order, for determinism); refused ones are kept in
        ``refused``. Both ends must have been added."""
        ordered = sorted(edges, key=lambda e: (-e.score, id_order(e.a), id_order(e.b)))
        for edge in ordered:
            for end in (edge.a, edge.b):
                if end not in self._parent:
                    raise InputError(f"edge names unknown record id {end!r}")
            sizes = (self.size(edge.a), self.size(edge.b))
            merged = self._union(edge.a, edge.b)
            if merged is None:
                self.redundant_edges += 1
            elif merged:
                self.merged_edges += 1
            else:
                self.refused.append(RefusedEdge(edge, *sizes))

    def records(self) -> Iterator[tuple[Hashable, str]]:
        """Every record with its cluster ID, in insertion order."""
        for record in self._parent:
            yield record, self.cluster_id(record)

    def stats(self) -> ClusterStats:
        roots = [r for r in self._parent if self._parent[r] == r]
        return ClusterStats(
            records=len(self._parent),
            clusters=len(roots),
            merged_edges=self.merged_edges,
            redundant_edges=self.redundant_edges,
            refused_edges=len(self.refused),
            largest_cluster=max((self._size[r] for r in roots), default=0),
            retired_ids=list(self.retired),
        )


def build_clusters(
    record_ids: Iterable[Hashable],
    edges: Iterable[Edge],
    *,
    max_cluster_size: int = 1000,
    existing: Iterable[tuple[Hashable, str]] = (),
) -> Clusters:
    """Clusters for a batch: ``existing`` (record, cluster id) pairs from an aligned table first (the
    older generation), then the new records in id order, then the edges."""
    clusters = Clusters(max_cluster_size)
    for record, cid in existing:
        clusters.add(record, cid)
    clusters.new_generation()
    for record in sorted(record_ids, key=id_order):
        clusters.add(record)
    clusters.add_edges(edges)
    return clusters


__all__ = ["ClusterStats", "Clusters", "Edge", "RefusedEdge", "build_clusters", "id_order"]
