"""The parsed-address cache is bounded by the user's setting (issue 17.17), and its views are compact."""

from __future__ import annotations

import sys

from geoalign.address.analyze import DEFAULT_PARSE_CACHE, ViewCache, analyze
from geoalign.scorers.spec import ScorerSpec
from geoalign.types import AddressPair, Match

ROADS = ["文三路", "中山北路", "学院路", "解放大道"]


def _addresses(n: int) -> list[str]:
    return [f"浙江省杭州市西湖区{ROADS[i % 4]}{i + 1}号{i % 9 + 1}栋{i % 5 + 1}单元" for i in range(n)]


def test_a_structured_job_never_holds_more_parsed_addresses_than_its_bound() -> None:
    scorer = ScorerSpec(scorer="structured", parse_cache=7).build()
    cache = scorer.featurizer.cache  # type: ignore[attr-defined]
    texts = _addresses(40)
    for start in range(0, 40, 8):  # batches of 8 pairs = 16 distinct addresses each
        chunk = texts[start : start + 8]
        results = scorer.score([AddressPair(t, t[9:]) for t in chunk])
        assert all(isinstance(r, Match) for r in results)
        assert len(cache) <= 7
    assert len(cache) == 7 and cache.size == 7
    # the most recently used addresses are the ones kept
    assert texts[-1][9:] in cache.data


def test_a_zero_cache_keeps_nothing_and_scores_the_same() -> None:
    texts = _addresses(6)
    pairs = [AddressPair(t, t[9:]) for t in texts]
    none = ScorerSpec(scorer="structured", parse_cache=0).build()
    some = ScorerSpec(scorer="structured").build()
    assert [r.to_dict()["probabilities"] for r in none.score(pairs)] == [  # type: ignore[union-attr]
        r.to_dict()["probabilities"]  # type: ignore[union-attr]
        for r in some.score(pairs)
    ]
    assert len(none.featurizer.cache) == 0  # type: ignore[attr-defined]
    assert some.featurizer.cache.size == DEFAULT_PARSE_CACHE  # type: ignore[attr-defined]


def test_the_lru_bound_holds_under_direct_use() -> None:
    cache = ViewCache(3)
    for text in _addresses(10):
        cache.view(text)
        assert len(cache) <= 3


def _deep_size(obj: object, seen: set[int]) -> int:
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(_deep_size(k, seen) + _deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, list | tuple | set | frozenset):
        size += sum(_deep_size(x, seen) for x in obj)
    elif hasattr(obj, "__slots__"):
        size += sum(_deep_size(getattr(obj, name), seen) for name in obj.__slots__)  # type: ignore[attr-defined]
    return size


def test_a_cached_view_is_compact() -> None:
    """The character sets, bigrams and positions are computed per pair, not stored: a ~40-character
    address costs a few KB in the cache, not the ~15 KB it did (bench_parse_cache.py measures it)."""
    view = analyze("浙江省杭州市西湖区文三路369号东部软件园3号楼2单元501室")
    assert _deep_size(view, set()) < 5000
    assert view.chars == frozenset(view.text) and "文三" in view.bigrams
    assert view.text.index("3") in view.positions["3"]
