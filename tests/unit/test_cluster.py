"""Clusters: stable IDs (smallest id at creation, older survives a merge), the giant-cluster guard and
incremental updates that keep existing IDs."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geoalign.errors import InputError
from geoalign.link.cluster import Clusters, Edge, build_clusters, id_order


def ids(clusters: Clusters) -> dict[object, str]:
    return dict(clusters.records())


def test_batch_cluster_id_is_smallest_record_id() -> None:
    c = build_clusters(["5", "3", "9", "10", "2"], [Edge("9", "10"), Edge("10", "3"), Edge("5", "2")])
    assert ids(c) == {"2": "2", "3": "3", "5": "2", "9": "3", "10": "3"}
    assert c.size("9") == 3


def test_numeric_ids_sort_by_value() -> None:
    assert sorted(["10", "9", "b", "a"], key=id_order) == ["9", "10", "a", "b"]
    c = build_clusters(["10", "9"], [Edge("10", "9")])
    assert c.cluster_id("10") == "9"


def test_giant_cluster_guard_refuses_and_reports() -> None:
    records = [str(i) for i in range(1, 7)]
    edges = [
        Edge("1", "2", 0.9),
        Edge("2", "3", 0.9),
        Edge("4", "5", 0.9),
        Edge("5", "6", 0.9),
        Edge("3", "4", 0.1),
    ]
    c = build_clusters(records, edges, max_cluster_size=3)
    assert c.stats().largest_cluster == 3
    assert len(c.refused) == 1
    refused = c.refused[0]
    assert (refused.edge.a, refused.edge.b) == ("3", "4")  # the weakest edge is the one refused
    assert (refused.size_a, refused.size_b) == (3, 3)
    assert c.cluster_id("6") == "4"


def test_strong_edges_merge_before_weak_ones_under_the_guard() -> None:
    # the weak edge comes first in input order but is applied last
    edges = [Edge("1", "3", 0.2), Edge("2", "3", 0.95)]
    c = build_clusters(["1", "2", "3"], edges, max_cluster_size=2)
    assert c.cluster_id("3") == "2"
    assert [(r.edge.a, r.edge.b) for r in c.refused] == [("1", "3")]


def test_two_records_of_different_places_never_share_a_cluster_however_the_edges_chain() -> None:
    # "c" is the coarse record (文三路369号), same place as both rooms; the rooms are different places
    apart = {frozenset({"r1", "r2"})}

    def cannot_link(a: object, b: object) -> bool:
        return frozenset({a, b}) in apart

    edges = [Edge("c", "r1", 0.9), Edge("c", "r2", 0.8), Edge("r2", "r2b", 0.95)]
    c = build_clusters(["c", "r1", "r2", "r2b"], edges, cannot_link=cannot_link)
    assert c.cluster_id("c") == c.cluster_id("r1")  # the stronger edge first
    assert c.cluster_id("r2") == c.cluster_id("r2b") != c.cluster_id("r1")
    assert [(r.edge.a, r.edge.b, r.reason, r.pair) for r in c.separated] == [
        ("c", "r2", "different_places", ("r1", "r2"))
    ]
    assert c.refused == [] and c.stats().separated_edges == 1
    # without the check the chain joins them
    assert len({build_clusters(["c", "r1", "r2", "r2b"], edges).cluster_id(r) for r in ("r1", "r2")}) == 1


def test_an_edges_own_ends_are_asked_only_the_edge_check() -> None:
    # what the judge that made the edge does not look at (dedupe --same-detail: the level of detail)
    def cannot_link(a: object, b: object) -> bool:
        return frozenset({a, b}) == frozenset({"tower", "floor"})

    edges = [Edge("tower", "floor", 0.9)]
    lenient = build_clusters(["tower", "floor"], edges, cannot_link=cannot_link)
    assert lenient.cluster_id("tower") == lenient.cluster_id("floor")  # the judge's word stands
    strict = build_clusters(["tower", "floor"], edges, cannot_link=cannot_link, edge_check=cannot_link)
    assert strict.cluster_id("tower") != strict.cluster_id("floor")
    assert strict.outcome[("tower", "floor")] == "refused_different_places"
    assert [r.pair for r in strict.separated] == [("tower", "floor")]
    # an edge check without a cannot_link still runs
    alone = build_clusters(["tower", "floor"], edges, edge_check=cannot_link)
    assert alone.cluster_id("tower") != alone.cluster_id("floor")


def test_incremental_new_record_joins_existing_cluster_and_keeps_its_id() -> None:
    existing = [("7", "7"), ("8", "7"), ("20", "20")]
    # new record 1 has the smallest id, but the existing cluster is older: its ID survives
    c = build_clusters(["1", "30", "31"], [Edge("1", "8"), Edge("30", "31")], existing=existing)
    assert c.cluster_id("1") == "7"
    assert c.cluster_id("7") == "7"
    assert c.cluster_id("20") == "20"
    assert c.cluster_id("31") == "30"  # a cluster of new records only: its smallest id


def test_incremental_bridge_between_existing_clusters_keeps_the_older_id() -> None:
    existing = [("7", "7"), ("20", "20"), ("21", "20")]
    c = build_clusters(["99"], [Edge("99", "21"), Edge("99", "7")], existing=existing)
    assert {c.cluster_id(r) for r in ("7", "20", "21", "99")} == {"7"}
    assert ("20", "7") in c.stats().retired_ids


def test_existing_cluster_ids_need_not_be_member_ids() -> None:
    c = build_clusters(["3"], [Edge("3", "b")], existing=[("a", "K1"), ("b", "K1")])
    assert {c.cluster_id(r) for r in ("a", "b", "3")} == {"K1"}


def test_duplicate_and_unknown_ids_are_errors() -> None:
    c = Clusters()
    c.add("1")
    with pytest.raises(InputError, match="duplicate"):
        c.add("1")
    with pytest.raises(InputError, match="unknown record"):
        c.add_edges([Edge("1", "2")])
    with pytest.raises(InputError):
        Clusters(max_cluster_size=1)


def _components(records: list[str], edges: list[Edge]) -> list[set[str]]:
    groups = {r: {r} for r in records}
    for e in edges:
        merged = groups[e.a] | groups[e.b]
        for r in merged:
            groups[r] = merged
    return [set(g) for g in {id(g): g for g in groups.values()}.values()]


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(2, 25),
    edge_pairs=st.lists(st.tuples(st.integers(0, 24), st.integers(0, 24)), max_size=40),
)
def test_without_guard_clusters_are_connected_components(n: int, edge_pairs: list[tuple[int, int]]) -> None:
    records = [str(i) for i in range(n)]
    edges = [Edge(str(a), str(b)) for a, b in edge_pairs if a < n and b < n]
    c = build_clusters(records, edges, max_cluster_size=10_000)
    for component in _components(records, edges):
        assert {c.cluster_id(r) for r in component} == {min(component, key=id_order)}


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_incremental_update_never_renames_an_unmerged_existing_cluster(seed: int) -> None:
    rng = random.Random(seed)
    old = [str(i) for i in range(1, 16)]
    old_edges = [Edge(rng.choice(old), rng.choice(old)) for _ in range(10)]
    first = build_clusters(old, old_edges, max_cluster_size=10_000)
    existing = list(first.records())
    new = [str(i) for i in range(16, 26)]
    everyone = old + new
    new_edges = [Edge(rng.choice(new), rng.choice(everyone)) for _ in range(8)]
    second = build_clusters(new, new_edges, max_cluster_size=10_000, existing=existing)
    before = dict(existing)
    retired = {old_id for old_id, _ in second.stats().retired_ids}
    for record, cid in before.items():
        if cid not in retired:
            assert second.cluster_id(record) == cid
        else:  # merged into an older existing cluster: the survivor is an existing ID
            assert second.cluster_id(record) in set(before.values())
    # the same updates applied in one batch give the same partition
    batch = build_clusters(everyone, old_edges + new_edges, max_cluster_size=10_000)
    part = lambda cl: sorted(sorted(g) for g in _group(cl).values())  # noqa: E731
    assert part(second) == part(batch)


def _group(c: Clusters) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for record, cid in c.records():
        out.setdefault(cid, []).append(str(record))
    return out
