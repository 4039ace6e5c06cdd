"""Link asks the cascade's neural stage only for pairs whose answer it could change
(``cascade.cheap_stage``, ``cascade.exact_bounds``, ``candidates.SamePlaceJudge._staged``)."""

from __future__ import annotations

from collections.abc import Sequence

from tests.fake_scorers import ScoreOnlyScorer

from geoalign.address.analyze import ViewCache
from geoalign.link.blocking import DEFAULT_RULES
from geoalign.link.candidates import Judged, Record, RecordAnalyzer, SamePlaceJudge
from geoalign.link.rows import LinkStatus, link_result
from geoalign.scorers.cascade import CascadeScorer, cheap_stage, exact_bounds
from geoalign.scorers.rules import with_rules
from geoalign.scorers.structured import StructuredScorer
from geoalign.types import AddressPair, Match, Result

QUERY = "浙江省杭州市西湖区文三路369号"
LIFTED = "杭州市西湖区文三路369号"  # admin_omitted: the rules lift exact_match to >= 0.95
SAME = "浙江省杭州市西湖区文三路369号"  # identical: exact_match 1 whatever the models say
OPEN = "浙江省杭州市西湖区文三路369号电子大厦"  # in the uncertain band, no rule fires


class RecordingNeural(ScoreOnlyScorer):
    """A neural stage that records what it is asked and answers exact_match 0.6 (below every floor)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def score(self, pairs: Sequence[AddressPair]) -> list[Result]:
        self.asked += [(str(p.a), str(p.b)) for p in pairs]
        return [Match.from_probabilities((0.6, 0.3, 0.1), scorer="onnx", model=self.model_id) for _ in pairs]


def _judge(
    texts: Sequence[str], *, rank_all: bool = True, staged: bool = True
) -> tuple[list[Judged], RecordingNeural, SamePlaceJudge, list[Record]]:
    neural = RecordingNeural()
    scorer = with_rules(CascadeScorer(StructuredScorer(), neural, threshold=0.85))
    judge = SamePlaceJudge(scorer)
    if not staged:
        judge.cheap_stage = None  # every pair through the whole cascade, as before
    analyzer = RecordAnalyzer(ViewCache(), DEFAULT_RULES)
    query = analyzer.analyze(Record("q", QUERY))
    records = [analyzer.analyze(Record(f"r{i}", t)) for i, t in enumerate(texts)]
    judged = judge.judge([query], records, [(0, i) for i in range(len(texts))], rank_all=rank_all)
    return judged, neural, judge, records


def test_a_lifted_or_identical_candidate_alone_needs_no_neural_answer() -> None:
    for text in (LIFTED, SAME):
        judged, neural, judge, records = _judge([text])
        assert neural.asked == []
        assert judged[0].same_place
        row = link_result(Record("q", QUERY), records, judged, 1)
        assert row.status is LinkStatus.MATCH
        assert judge.stats.neural_not_needed >= 1
        explanation = judged[0].forward.explanation  # type: ignore[union-attr]
        assert explanation["cascade"]["neural_not_needed"] is True
        assert judged[0].forward.model == judge.scorer.model_id  # type: ignore[union-attr]


def test_a_lifted_candidate_with_a_rival_is_ranked_on_the_neural_answer() -> None:
    neural = _judge([LIFTED, OPEN])[1]
    assert (QUERY, OPEN) in neural.asked and (QUERY, LIFTED) in neural.asked


def test_dedupe_keeps_every_edge_score_so_only_fixed_answers_skip_the_neural_stage() -> None:
    neural = _judge([LIFTED, SAME], rank_all=False)[1]
    assert (QUERY, LIFTED) in neural.asked
    assert (QUERY, SAME) not in neural.asked


def test_the_decisions_are_those_of_the_whole_cascade() -> None:
    texts = [LIFTED, SAME, OPEN]
    for rank_all in (True, False):
        staged, _n, _j, records = _judge(texts, rank_all=rank_all)
        whole, _n, _j, _r = _judge(texts, rank_all=rank_all, staged=False)
        assert [(j.c, j.same_place, j.p_forward, j.p_reverse) for j in staged] == [
            (j.c, j.same_place, j.p_forward, j.p_reverse) for j in whole
        ]
        a = link_result(Record("q", QUERY), records, staged, 3)
        b = link_result(Record("q", QUERY), records, whole, 3)
        assert (a.status, a.right, a.second, a.margin) == (b.status, b.right, b.second, b.margin)


def test_exact_bounds_reads_the_stage_and_the_rules() -> None:
    def answer(p: tuple[float, float, float], explanation: dict[str, object] | None) -> Match:
        return Match.from_probabilities(p, scorer="cascade", model="m", explanation=explanation)

    decided = answer((0.9, 0.05, 0.05), {"cascade": {"stage": "structured"}})
    assert exact_bounds(decided) == (0.9, 0.9)
    band = {"stage": "structured", "uncertain": True}
    assert exact_bounds(answer((0.95, 0.03, 0.02), {"cascade": band, "rules": ["admin_omitted"]})) == (
        0.95,
        1.0,
    )
    assert exact_bounds(answer((0.0, 0.7, 0.3), {"cascade": band, "rules": ["another_road"]})) == (0.0, 0.0)
    assert exact_bounds(answer((1.0, 0.0, 0.0), {"cascade": band, "rules": ["identical"]})) == (1.0, 1.0)
    assert exact_bounds(answer((0.4, 0.3, 0.3), {"cascade": band})) is None
    assert exact_bounds(answer((0.4, 0.3, 0.3), None)) is None  # nothing known without the explanation
    assert exact_bounds(answer((0.4, 0.3, 0.3), {"cascade": {"stage": "neural"}})) is None


def test_the_cheap_stage_is_the_same_rules_over_the_cascade_without_its_neural_stage() -> None:
    cascade = CascadeScorer(StructuredScorer(), RecordingNeural(), threshold=0.85)
    cheap = cheap_stage(with_rules(cascade, rules=["identical", "another_road"], max_chars=80))
    inner = cheap.inner  # type: ignore[union-attr]
    assert isinstance(inner, CascadeScorer) and inner.neural is None
    assert inner.structured is cascade.structured and inner.threshold == 0.85
    assert cheap.enabled == {"identical", "another_road"}  # type: ignore[union-attr]
    assert cheap.max_chars == 80  # type: ignore[union-attr]
    # nothing to spare: no neural stage, or no rules to bound an uncertain answer
    assert cheap_stage(with_rules(cascade.without_neural())) is None
    assert cheap_stage(cascade) is None
    assert cheap_stage(with_rules(StructuredScorer())) is None
