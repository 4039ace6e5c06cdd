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
* **Different places never share a cluster** (``cannot_link``). Transitivity chains through a coarse
  record: 文三路369号 is the same place as 文三路369号1幢3单元801室 and as 369号1幢4单元801室 (each edge
  right), and the two rooms would end in one cluster. A merge that would put together two records the
  address rules call different places (another building, unit, room, gate, road or district) is refused
  and reported; edges go strongest first, so the coarse record joins its best match.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

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


#: What became of an edge (the ``outcome`` column of ``dedupe --edges``): it joined two clusters, its two
#: records were in one already, or a guard refused it (the giant-cluster guard; the different-places guard).
EDGE_OUTCOMES: tuple[str, ...] = ("merged", "redundant", "refused_size", "refused_different_places")

#: Whether two records are different places, whatever an edge says (see ``Clusters``).
CannotLink = Callable[[Hashable, Hashable], bool]


@dataclass(frozen=True, slots=True)
class RefusedEdge:
    """An edge a guard refused, with the sizes it would have joined and why: ``size`` (the giant-cluster
    guard) or ``different_places`` (``cannot_link``: the two clusters hold records of different places;
    ``pair`` names the first two found)."""

    edge: Edge
    size_a: int
    size_b: int
    reason: Literal["size", "different_places"] = "size"
    pair: tuple[Hashable, Hashable] | None = None


@dataclass(slots=True)
class ClusterStats:
    records: int = 0
    clusters: int = 0
    merged_edges: int = 0
    redundant_edges: int = 0
    refused_edges: int = 0
    separated_edges: int = 0
    largest_cluster: int = 0
    retired_ids: list[tuple[str, str]] = field(default_factory=list)  # (retired id, surviving id)


def _never_apart(a: Hashable, b: Hashable) -> bool:
    return False


class Clusters:
    """Union-find over record ids with stable cluster IDs (see the module docstring). ``cannot_link``
    (record, record) -> True where the two are different places: an edge that would join two clusters
    holding such a pair is refused (``separated``). An edge's own two records are not asked (the judge
    that made the edge found them one place); ``edge_check`` is asked about them instead, for what that
    judge does not look at (``dedupe --same-detail``: the level of detail)."""

    def __init__(
        self,
        max_cluster_size: int = 1000,
        cannot_link: CannotLink | None = None,
        *,
        edge_check: CannotLink | None = None,
    ) -> None:
        if max_cluster_size < 2:
            raise InputError("max_cluster_size must be >= 2")
        self.max_cluster_size = max_cluster_size
        # an edge check alone still needs the members kept and the merge loop run
        self.cannot_link = cannot_link if cannot_link is not None or edge_check is None else _never_apart
        self.edge_check = edge_check
        # root -> its records, kept only for the cannot-link check
        self._members: dict[Hashable, list[Hashable]] = {}
        self.separated: list[RefusedEdge] = []
        #: what became of each edge applied, by (a, b): ``EDGE_OUTCOMES``
        self.outcome: dict[tuple[Hashable, Hashable], str] = {}
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
        if self.cannot_link is not None:
            self._members[record] = [record]
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
        if self.cannot_link is not None:
            self._members[big] += self._members.pop(small)
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
            apart = self._different_places(edge.a, edge.b)
            if apart is not None:
                self.separated.append(RefusedEdge(edge, *sizes, reason="different_places", pair=apart))
                self.outcome[(edge.a, edge.b)] = "refused_different_places"
                continue
            merged = self._union(edge.a, edge.b)
            if merged is None:
                self.redundant_edges += 1
                self.outcome[(edge.a, edge.b)] = "redundant"
            elif merged:
                self.merged_edges += 1
                self.outcome[(edge.a, edge.b)] = "merged"
            else:
                self.refused.append(RefusedEdge(edge, *sizes))
                self.outcome[(edge.a, edge.b)] = "refused_size"

    def _different_places(self, a: Hashable, b: Hashable) -> tuple[Hashable, Hashable] | None:
        """The first pair of records, one from each cluster, that ``cannot_link`` calls different places
        (None: none, or no check, or one cluster already). The edge's own two records are asked only
        ``edge_check``: an edge is the judge's word that they are one place (two singletons merge
        without a check)."""
        if self.cannot_link is None:
            return None
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        for x in self._members[ra]:
            for y in self._members[rb]:
                check = self.cannot_link if (x, y) != (a, b) else self.edge_check
                if check is not None and check(x, y):
                    return (x, y)
        return None

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
            separated_edges=len(self.separated),
            largest_cluster=max((self._size[r] for r in roots), default=0),
            retired_ids=list(self.retired),
        )


def build_clusters(
    record_ids: Iterable[Hashable],
    edges: Iterable[Edge],
    *,
    max_cluster_size: int = 1000,
    existing: Iterable[tuple[Hashable, str]] = (),
    cannot_link: CannotLink | None = None,
    edge_check: CannotLink | None = None,
) -> Clusters:
    """Clusters for a batch: ``existing`` (record, cluster id) pairs from an aligned table first (the
    older generation, kept as they were), then the new records in id order, then the edges."""
    clusters = Clusters(max_cluster_size, cannot_link, edge_check=edge_check)
    for record, cid in existing:
        clusters.add(record, cid)
    clusters.new_generation()
    for record in sorted(record_ids, key=id_order):
        clusters.add(record)
    clusters.add_edges(edges)
    return clusters


__all__ = [
    "EDGE_OUTCOMES",
    "CannotLink",
    "ClusterStats",
    "Clusters",
    "Edge",
    "RefusedEdge",
    "build_clusters",
    "id_order",
]
