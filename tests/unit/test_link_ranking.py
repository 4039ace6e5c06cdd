"""How link picks a query's best candidate (``Judged.rank`` and ``rows.link_result``)."""

from __future__ import annotations

import pytest

from geoalign.link.candidates import Judged, Record
from geoalign.link.rows import LinkStatus, link_result
from geoalign.types import Match


def _match(p_exact: float) -> Match:
    rest = (1.0 - p_exact) / 2
    probabilities = {"exact_match": p_exact, "partial_match": rest, "not_match": rest}
    label = max(probabilities, key=lambda k: probabilities[k])
    return Match(label, probabilities, scorer="test", model="test")  # type: ignore[arg-type]


def _judged(c: int, forward: float, reverse: float | None = None, **flags: object) -> Judged:
    return Judged(0, c, _match(forward), None if reverse is None else _match(reverse), **flags)  # type: ignore[arg-type]


RECORDS = [Record(f"r{i}", f"地址{i}") for i in range(4)]
LEFT = Record("q", "查询地址")


def test_same_place_outranks_a_higher_forward_probability() -> None:
    same = _judged(0, 0.4, 0.5, same_place=True)
    louder = _judged(1, 0.9, 0.1)
    result = link_result(LEFT, RECORDS, [louder, same], 2)
    assert result.status is LinkStatus.MATCH
    assert result.right is RECORDS[0]


def test_without_a_same_place_candidate_the_forward_probability_decides() -> None:
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
