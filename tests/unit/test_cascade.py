"""Cascade scorer: only the uncertain band reaches the neural stage, and every pair is accounted for."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from tests.fake_scorers import ScoreOnlyScorer

from geoalign.errors import InputError
from geoalign.scorers.cascade import CascadeScorer
from geoalign.scorers.registry import build_scorer
from geoalign.types import AddressPair, ItemError, Match, Prepared, PreparedItem, Raw, Result

#: structured probabilities by address b: sure exact, sure not, and two uncertain ones
SURE_EXACT = (0.95, 0.04, 0.01)
SURE_NOT = (0.01, 0.02, 0.97)
UNSURE = (0.45, 0.40, 0.15)


class FakeStructured:
    """Stand-in for the embedded matcher: probabilities from a table keyed by address b, an explanation
    with one component, ItemError for an empty address."""

    name = "structured"
    model_id = "structured-test"

    def __init__(self, table: dict[str, tuple[float, float, float]]) -> None:
        self.table = table
        self.seen: list[tuple[str, str]] = []

    def prepare(self, pairs: Sequence[AddressPair]) -> Prepared:
        items: list[PreparedItem | ItemError] = []
        for p in pairs:
            if not p.a or not p.b:
                items.append(ItemError("empty_address", "address is empty"))
            else:
                items.append(PreparedItem(1, (p.a, p.b), (p.a, p.b)))
        return Prepared(items)

    def run(self, prepared: Prepared) -> Raw:
        outputs = []
        for item in prepared.items:
            assert isinstance(item, PreparedItem)  # the cascade passes only good items
            self.seen.append(item.data)
            outputs.append(self.table[item.data[1]])
        return Raw(prepared, outputs)

    def finish(self, raw: Raw) -> list[Result]:
        explanation = {"components": [{"name": "roadno", "a": "1", "b": "1", "status": "agree"}]}
        return [
            Match.from_probabilities(p, scorer=self.name, model=self.model_id, explanation=explanation)
            for p in raw.outputs
        ]

    def score(self, pairs: Sequence[AddressPair]) -> list[Result]:
        return self.finish(self.run(self.prepare(pairs)))

    def warmup(self) -> None:
        pass


class FakeNeural(ScoreOnlyScorer):
    """Records what it is asked; answers not_match, or an ItemError for one poisoned address."""

    def __init__(self) -> None:
        self.asked: list[AddressPair] = []

    def score(self, pairs: Sequence[AddressPair]) -> list[Result]:
        self.asked.extend(pairs)
        return [
            ItemError("too_long", "over the limit")
            if p.b == "poison"
            else Match.from_probabilities((0.1, 0.1, 0.8), scorer="onnx", model=self.model_id)
            for p in pairs
        ]


TABLE = {"exact": SURE_EXACT, "not": SURE_NOT, "unsure": UNSURE, "poison": UNSURE, "青禾路9号3号楼": UNSURE}


def test_only_the_uncertain_band_reaches_the_neural_stage() -> None:
    neural = FakeNeural()
    cascade = CascadeScorer(FakeStructured(TABLE), neural, threshold=0.9)
    pairs = [AddressPair(" q ", "exact"), AddressPair("q", "unsure"), AddressPair("q", "not")]
    results = cascade.score(pairs)
    # the neural scorer gets the pair as written (raw text), not the structured scorer's view
    assert neural.asked == [AddressPair("q", "unsure")]
    assert [r.label for r in results if isinstance(r, Match)] == ["exact_match", "not_match", "not_match"]
    stages = [r.explanation["cascade"]["stage"] for r in results if isinstance(r, Match) and r.explanation]
    assert stages == ["structured", "neural", "structured"]
    second = results[1]
    assert isinstance(second, Match)
    assert second.scorer == "cascade"
    assert second.explanation is not None
    assert second.explanation["cascade"]["structured_probabilities"]["exact_match"] == pytest.approx(0.45)
    assert second.explanation["components"][0]["name"] == "roadno"  # hard-number evidence kept
    s = cascade.stats
    assert (s.pairs, s.structured_decided, s.neural_decided, s.errors) == (3, 2, 1, 0)
    assert s.structured_decided + s.neural_decided + s.errors == s.pairs


def test_accounting_with_bad_items_and_neural_failures() -> None:
    cascade = CascadeScorer(FakeStructured(TABLE), FakeNeural(), threshold=0.9)
    pairs = [
        AddressPair("q", ""),  # rejected by prepare
        AddressPair("q", "poison"),  # uncertain; the neural stage fails on it
        AddressPair("q", "unsure"),
        AddressPair("q", "exact"),
    ]
    results = cascade.score(pairs)
    assert isinstance(results[0], ItemError)
    poisoned = results[1]
    assert isinstance(poisoned, Match)  # the structured answer stands, and says why
    assert poisoned.explanation is not None
    assert poisoned.explanation["cascade"]["neural_error"]["code"] == "too_long"
    s = cascade.stats
    assert (s.pairs, s.errors, s.neural_errors, s.neural_decided, s.structured_decided) == (4, 1, 1, 1, 2)
    assert s.structured_decided + s.neural_decided + s.errors == s.pairs


def test_without_a_neural_stage_the_band_is_counted_not_rescored() -> None:
    cascade = CascadeScorer(FakeStructured(TABLE), None, threshold=0.9)
    results = cascade.score([AddressPair("q", "unsure"), AddressPair("q", "exact")])
    assert results[0].explanation["cascade"] == {"stage": "structured", "uncertain": True}  # type: ignore[union-attr]
    assert (cascade.stats.uncertain_kept, cascade.stats.structured_decided) == (1, 1)
    assert "none" in cascade.model_id


def test_threshold_moves_the_band() -> None:
    neural = FakeNeural()
    cascade = CascadeScorer(FakeStructured(TABLE), neural, threshold=0.4)
    cascade.score([AddressPair("q", "unsure")])  # 0.45 >= 0.4: structured is sure enough
    assert neural.asked == []
    cascade.reset()
    assert cascade.stats.pairs == 0


def test_bad_configuration_is_an_input_error() -> None:
    with pytest.raises(InputError, match="threshold"):
        CascadeScorer(FakeStructured(TABLE), None, threshold=0.0)
    with pytest.raises(InputError, match="neural"):
        CascadeScorer(FakeStructured(TABLE), FakeStructured(TABLE))  # type: ignore[arg-type]


def test_registry_builds_cascade_only_with_a_neural_model(tmp_path) -> None:
    shipped = build_scorer("cascade")  # no --model: geoalign's shipped neural matcher and its stack
    assert shipped.neural is not None and shipped.neural.name == "onnx" and shipped.stack is not None
    structured_dir = tmp_path / "s"
    structured_dir.mkdir()
    (structured_dir / "model.json").write_text('{"format": "geoalign-structured"}', encoding="utf-8")
    with pytest.raises(InputError, match="structured model"):
        build_scorer("cascade", structured_dir)


def test_the_neural_stage_reads_the_text_without_the_noise_the_normalizer_drops() -> None:
    """It saw no phone numbers or recipients in training: 张三 138… before an address moved its answer.
    The spelling stays as written (3号楼, not the normalizer's 3栋)."""
    neural = FakeNeural()
    cascade = CascadeScorer(FakeStructured(TABLE), neural, threshold=0.9)
    cascade.score(
        [
            AddressPair("张三 13812345678 青禾路9号3号楼", "青禾路9号3号楼"),
            AddressPair("13812345678", "unsure"),
        ]
    )
    assert neural.asked == [
        AddressPair("青禾路9号3号楼", "青禾路9号3号楼"),
        AddressPair("13812345678", "unsure"),  # nothing but noise: left as given
    ]
