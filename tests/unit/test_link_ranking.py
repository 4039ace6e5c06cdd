"""How link picks a query's best candidate (``Judged.rank`` and ``rows.link_result``)."""

from __future__ import annotations

import pytest

from geoalign.address.analyze import ViewCache
from geoalign.link.blocking import DEFAULT_RULES
from geoalign.link.candidates import Judged, Record, RecordAnalyzer, SamePlaceJudge
from geoalign.link.rows import LinkStatus, link_result
from geoalign.types import AddressPair, Match


def _match(p_exact: float) -> Match:
    rest = (1.0 - p_exact) / 2
    probabilities = {"exact_match": p_exact, "partial_match": rest, "not_match": rest}
    label = max(probabilities, key=lambda k: probabilities[k])
    return Match(label, probabilities, scorer="test", model="test")  # type: ignore[arg-type]


def _judged(c: int, forward: float, reverse: float | None = None, **flags: object) -> Judged:
    return Judged(0, c, _match(forward), None if reverse is None else _match(reverse), **flags)  # type: ignore[arg-type]


RECORDS = [Record(f"r{i}", f"地址{i}") for i in range(4)]
LEFT = Record("q", "查询地址")


def test_the_likeliest_answer_is_best_even_when_it_is_not_the_same_place() -> None:
    # a record that says more than the query (low reverse probability) is still the query's likeliest
    # answer: it is shown, and the row is no_match because it is not the same place
    likelier = _judged(1, 0.9, 0.1)
    same = _judged(0, 0.4, 0.5, same_place=True)
    result = link_result(LEFT, RECORDS, [same, likelier], 2)
    assert result.status is LinkStatus.NO_MATCH
    assert result.right is RECORDS[1]
    assert result.second is RECORDS[0]


def test_a_same_place_best_is_a_match() -> None:
    same = _judged(0, 0.7, 0.5, same_place=True)
    other = _judged(1, 0.6, 0.9)
    result = link_result(LEFT, RECORDS, [other, same], 2)
    assert result.status is LinkStatus.MATCH
    assert result.right is RECORDS[0]


def test_a_parsed_conflict_is_not_a_rank_of_its_own() -> None:
    # the record saying more than the query (low reverse) is still the query's best answer, and a
    # hard-number conflict read by the parser no longer sends a candidate to the back by itself
    fuller = _judged(0, 0.8, 0.05, conflicts=["road"])
    weaker = _judged(1, 0.3, 0.3)
    result = link_result(LEFT, RECORDS, [weaker, fuller], 2)
    assert result.status is LinkStatus.NO_MATCH
    assert result.right is RECORDS[0]
    assert result.second is RECORDS[1]
    assert result.margin == pytest.approx(0.5)


def test_identical_text_ranks_as_certain() -> None:
    twin = _judged(0, 0.3, None, same_place=True, identical=True)
    other = _judged(1, 0.95, 0.9, same_place=True)
    result = link_result(LEFT, RECORDS, [other, twin], 2)
    assert result.right is RECORDS[0]
    assert twin.rank_score == 1.0
    assert result.margin == pytest.approx(0.05)


def test_rank_uses_the_forward_probability_not_the_smaller_direction() -> None:
    a = _judged(0, 0.9, 0.3, same_place=True)
    b = _judged(1, 0.6, 0.6, same_place=True)
    assert a.score < b.score  # the both-direction score (edges, output) is unchanged
    assert a.rank > b.rank


class _FixedScorer:
    """Forward exact probability by candidate text (reverse: the same table by the first text)."""

    name = "fixed"

    def __init__(self, p_exact: dict[str, float]) -> None:
        self.p_exact = p_exact
        self.seen: list[tuple[str, str]] = []

    def score(self, pairs: list[AddressPair]) -> list[Match]:
        self.seen += [(str(p.a), str(p.b)) for p in pairs]
        return [_match(self.p_exact.get(str(p.b), self.p_exact.get(str(p.a), 0.0))) for p in pairs]


QUERY = "浙江省杭州市西湖区文三路369号"
CLEAN = "杭州市西湖区文三路369号电子大厦"
OTHER_ROAD = "浙江省杭州市西湖区文二路369号"  # a road conflict: the parse often misreads those
OTHER_NUMBER = "浙江省杭州市西湖区文三路370号"  # a hard-number conflict: never scored


def _judge(
    p_exact: dict[str, float], rank_all: bool = True
) -> tuple[list[Judged], _FixedScorer, SamePlaceJudge]:
    analyzer = RecordAnalyzer(ViewCache(), DEFAULT_RULES)
    query = analyzer.analyze(Record("q", QUERY))
    records = [analyzer.analyze(Record(f"r{i}", t)) for i, t in enumerate((CLEAN, OTHER_ROAD, OTHER_NUMBER))]
    scorer = _FixedScorer(p_exact)
    judge = SamePlaceJudge(scorer)  # type: ignore[arg-type]
    return judge.judge([query], records, [(0, 0), (0, 1), (0, 2)], rank_all=rank_all), scorer, judge


def test_road_conflicts_are_ranked_when_no_same_place_candidate_was_found() -> None:
    judged, scorer, judge = _judge({CLEAN: 0.1, OTHER_ROAD: 0.8})
    assert (QUERY, OTHER_NUMBER) not in scorer.seen
    assert {(QUERY, CLEAN), (QUERY, OTHER_ROAD)} <= set(scorer.seen)
    best = link_result(Record("q", QUERY), [Record("r0", CLEAN), Record("r1", OTHER_ROAD)], judged, 3)
    assert best.right is not None and best.right.id == "r1"
    assert best.status is LinkStatus.NO_MATCH  # a road conflict is never the same place
    assert judge.stats.skipped_hard_numbers == 1
    assert judge.stats.skipped_conflicting == 0


def test_road_conflicts_are_not_scored_once_a_same_place_candidate_is_found() -> None:
    judged, scorer, judge = _judge({CLEAN: 0.9, OTHER_ROAD: 0.8})
    assert (QUERY, OTHER_ROAD) not in scorer.seen
    assert [j.same_place for j in judged] == [True]
    assert judge.stats.skipped_conflicting == 1


def test_dedupe_never_scores_conflicting_pairs() -> None:
    _, scorer, judge = _judge({CLEAN: 0.1, OTHER_ROAD: 0.8}, rank_all=False)
    assert {b for _a, b in scorer.seen} == {CLEAN}
    assert judge.stats.skipped_conflicting == 1


def test_batched_record_analysis_equals_one_at_a_time() -> None:
    """``analyze_many`` (one batched parse, then the same per-record steps) = ``analyze`` per record,
    errors included, and it parses the distinct addresses in one batch."""
    addresses = ["浙江省杭州市西湖区文三路369号", "", "文三路 ３６９号", "北京市朝阳区建国路88号", " ", None]
    one = [Record(f"r{i}", a) for i, a in enumerate(addresses)]
    many = [Record(f"r{i}", a) for i, a in enumerate(addresses)]
    single = RecordAnalyzer(ViewCache(), DEFAULT_RULES)
    for record in one:
        single.analyze(record)
    cache = ViewCache()
    RecordAnalyzer(cache, DEFAULT_RULES).analyze_many(many)
    assert [(r.keys, r.view, r.error) for r in many] == [(r.keys, r.view, r.error) for r in one]
    assert [r.error is not None for r in many] == [False, True, False, False, True, True]
    assert len(cache) == 3  # the three usable addresses, each parsed once
