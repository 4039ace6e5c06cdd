"""The contract every scorer must pass (ARCHITECTURE.md "Contracts"), run against every scorer.

Add a scorer: one line in ``SCORERS`` (a name and a builder taking a temporary directory). Parametrised
like Splink's backend decorator / RapidFuzz's per-implementation tests, so a new backend cannot skip the
contract. Builders that need an optional extra call ``require_module``: skipped locally, a failure under
``CI=true``.
"""

from __future__ import annotations

import copy
import json
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.servers import require_module

from geoalign.engine.dynamic import EngineConfig
from geoalign.engine.sync import SyncEngine
from geoalign.types import LABELS, AddressPair, ItemError, Match, Result, Scorer

# -------------------------------------------------------------------------------------------- scorers


def _structured(tmp: Path) -> Scorer:
    from geoalign.scorers.structured import StructuredScorer

    return StructuredScorer()


def _mgeo_dir(tmp: Path) -> Path:
    require_module("torch", "torch")
    require_module("transformers", "torch")
    from tests.fixtures_mgeo import small_config, write_modelscope_dir

    path = tmp / "mgeo"
    if not path.exists():
        write_modelscope_dir(path, config=small_config(max_position_embeddings=48))
    return path


def _xlmr_dir(tmp: Path) -> Path:
    require_module("torch", "torch")
    require_module("transformers", "torch")
    from tests.fixtures_pair import write_xlmr_dir

    path = tmp / "xlmr"
    if not path.exists():
        write_xlmr_dir(path)
    return path


def _torch_from(directory: Callable[[Path], Path]) -> Callable[[Path], Scorer]:
    def build(tmp: Path) -> Scorer:
        from geoalign.scorers.checkpoints import load_checkpoint
        from geoalign.scorers.mgeo_torch import TorchScorer

        return TorchScorer(load_checkpoint(directory(tmp)))

    return build


def _onnx_from(directory: Callable[[Path], Path], variant: str) -> Callable[[Path], Scorer]:
    def build(tmp: Path) -> Scorer:
        require_module("onnx", "export")
        require_module("onnxruntime", "onnx")
        from geoalign.scorers.export_onnx import ExportOptions, export_checkpoint
        from geoalign.scorers.mgeo_onnx import OnnxScorer

        source = directory(tmp)
        out = tmp / f"{source.name}-onnx"
        if not out.exists():
            export_checkpoint(source, out, ExportOptions(int8=True), echo=lambda line: None)
        return OnnxScorer(out, variant=variant, provider="cpu")

    return build


def _cascade(tmp: Path) -> Scorer:
    from geoalign.scorers.cascade import CascadeScorer
    from geoalign.scorers.structured import StructuredScorer

    # a threshold of 1.0 sends every pair to the neural stage: the contract must hold through both stages
    return CascadeScorer(StructuredScorer(), _torch_from(_mgeo_dir)(tmp), threshold=1.0)


#: name -> builder. A new scorer is one line here.
SCORERS: dict[str, Callable[[Path], Scorer]] = {
    "structured": _structured,
    "torch-mgeo": _torch_from(_mgeo_dir),
    "torch-xlmr": _torch_from(_xlmr_dir),
    "onnx-mgeo-fp32": _onnx_from(_mgeo_dir, "fp32"),
    "onnx-mgeo-int8": _onnx_from(_mgeo_dir, "int8"),
    "onnx-xlmr-int8": _onnx_from(_xlmr_dir, "int8"),
    "cascade": _cascade,
}

#: Scorers that do not meet a clause yet: (scorer, clause) -> reason. Strict xfail: when the scorer is
#: fixed the test fails until the entry is removed.
KNOWN_GAPS: dict[tuple[str, str], str] = {}

_BUILT: dict[str, Scorer] = {}
_LOCK = threading.Lock()


@pytest.fixture(scope="session")
def contract_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("contract")


@pytest.fixture(params=sorted(SCORERS))
def named(request: pytest.FixtureRequest, contract_dir: Path) -> tuple[str, Scorer]:
    name = request.param
    with _LOCK:
        if name not in _BUILT:
            _BUILT[name] = SCORERS[name](contract_dir)
    return name, _BUILT[name]


def _gap(request: pytest.FixtureRequest, name: str, clause: str) -> None:
    reason = KNOWN_GAPS.get((name, clause))
    if reason is not None:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))


# ------------------------------------------------------------------------------------------- helpers

GOOD = [
    AddressPair("杭州市西湖区文一路3号", "文一路3号"),
    AddressPair("上海市浦东新区中心大厦12楼", "浦东新区中心大厦"),
    AddressPair("北京市西湖路1号3栋2单元101室", "北京市"),
    AddressPair("南京市中心路2号", "杭州市文一路2号"),
]
#: long enough to be cut by every scorer's limits (``max_chars`` 256 and the tiny models' max_length)
LONG = "浙江省杭州市西湖区文一路3号大厦12楼" * 20


#: How far one pair's probabilities may move with its batch neighbours. int8 graphs quantize activations
#: dynamically with one scale per tensor, i.e. per *batch*, so a pair's answer depends (slightly) on what
#: it is batched with; the export's parity gate bounds the drift (int8_max_prob_diff).
INT8_BATCH_ATOL = 0.05


def _atol(scorer: Scorer) -> float:
    from geoalign.types import HasVariant

    return INT8_BATCH_ATOL if isinstance(scorer, HasVariant) and scorer.variant == "int8" else 1e-5


def _close(x: Result, y: Result, atol: float = 1e-5) -> bool:
    if isinstance(x, ItemError) or isinstance(y, ItemError):
        return x == y
    # with a batch-dependent int8 graph a near-tie may flip its label; its probabilities stay bounded
    return (x.label == y.label or atol > 1e-3) and all(
        math.isclose(x.probabilities[k], y.probabilities[k], abs_tol=atol) for k in LABELS
    )


def _assert_match_shape(result: Result, scorer: Scorer) -> None:
    assert isinstance(result, Match), result
    data = json.loads(json.dumps(result.to_dict(), ensure_ascii=False))
    assert list(data) == ["label", "probabilities", "scorer", "model", "explanation", "timings_ms"]
    assert data["label"] in LABELS
    assert list(data["probabilities"]) == list(LABELS)
    probs = [data["probabilities"][k] for k in LABELS]
    assert all(isinstance(p, float) and math.isfinite(p) and 0.0 <= p <= 1.0 for p in probs)
    assert sum(probs) == pytest.approx(1.0, abs=1e-6)
    assert data["label"] == LABELS[int(np.argmax(probs))]
    assert data["scorer"] == scorer.name and data["model"] == scorer.model_id
    assert data["explanation"] is None or isinstance(data["explanation"], dict)
    assert data["timings_ms"] is None or all(
        isinstance(v, float) and v >= 0 for v in data["timings_ms"].values()
    )
    assert Match.from_dict(data).to_dict() == data


# ------------------------------------------------------------------------------------------ contract


def test_match_json_shape_and_label_names(named: tuple[str, Scorer]) -> None:
    _, scorer = named
    results = scorer.score(GOOD)
    assert len(results) == len(GOOD)
    for result in results:
        _assert_match_shape(result, scorer)


BAD: list[tuple[Any, str | None]] = [
    (None, "missing"),
    ("", "empty"),
    (42, "not_a_string"),
    (b"bytes", "not_a_string"),
    ("\x00\x01\u200b\t\n", "empty"),  # control and format characters only
    ("🏠🏢🚇", None),  # emoji: a Match or an ItemError, never an exception or a neighbour's failure
    (LONG * 50, None),  # huge: scored on its truncated text (a Match), or an ItemError in its slot
]


def test_one_item_error_per_bad_item_without_failing_neighbours(named: tuple[str, Scorer]) -> None:
    _, scorer = named
    alone = scorer.score(GOOD)
    pairs: list[AddressPair] = []
    expected: list[tuple[str, Any]] = []  # ("good", index) or ("bad", code)
    for i, (value, code) in enumerate(BAD):
        good = GOOD[i % len(GOOD)]
        bad = AddressPair(value, "杭州市文一路3号") if i % 2 else AddressPair("杭州市文一路3号", value)
        pairs += [good, bad]
        expected += [("good", i % len(GOOD)), ("bad", code)]
    results = scorer.score(pairs)
    assert len(results) == len(pairs)
    for (kind, what), result in zip(expected, results, strict=True):
        if kind == "good":
            assert _close(result, alone[what], _atol(scorer)), (result, alone[what])
        elif what is not None:
            assert isinstance(result, ItemError) and result.code == what, result
            assert json.loads(json.dumps(result.to_dict()))["error"]["code"] == what
        else:
            assert isinstance(result, ItemError | Match)
            if isinstance(result, Match):
                _assert_match_shape(result, scorer)


def test_truncation_is_recorded(request: pytest.FixtureRequest, named: tuple[str, Scorer]) -> None:
    name, scorer = named
    _gap(request, name, "truncation")
    (result,) = scorer.score([AddressPair(LONG, "文一路3号")])
    assert isinstance(result, Match)
    truncated = (result.explanation or {}).get("truncated")
    assert truncated is not None and set(truncated) == {"a"}, result.explanation
    side = truncated["a"]
    assert side["by"] in ("max_length", "max_chars")
    assert 0 < side["at_char"] <= len(LONG)
    (short,) = scorer.score([AddressPair("文一路3号", "文一路3号")])
    assert isinstance(short, Match) and "truncated" not in (short.explanation or {})


class _NanRows:
    """Wraps a pair-classifier backend: NaN logits for rows holding ``marker`` (a token id)."""

    def __init__(self, inner: Any, marker: int) -> None:
        self.inner = inner
        self.marker = marker
        for attr in ("name", "model_id", "variant", "device", "default_max_tokens"):
            setattr(self, attr, getattr(inner, attr))

    def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
        logits = np.array(self.inner.forward(input_ids, attention_mask, token_type_ids), dtype=np.float32)
        logits[(input_ids == self.marker).any(axis=1)] = np.nan
        return logits

    def describe(self) -> dict[str, Any]:
        return dict(self.inner.describe())


class _NanFirstRow:
    """Wraps a structured model (a slots dataclass: its ``predict`` cannot be patched): NaN for the
    first row of every batch, everything else from the real model."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def predict(self, features: Any) -> Any:
        out = np.array(self.inner.predict(features), dtype=np.float64)
        out[0] = np.nan
        return out


def _poisoned(scorer: Scorer, marker_text: str) -> Scorer:
    """A copy of ``scorer`` whose model answers NaN for pairs containing ``marker_text``."""
    from geoalign.scorers.cascade import CascadeScorer
    from geoalign.scorers.pair_classifier import PairClassifierScorer
    from geoalign.scorers.structured import StructuredScorer

    if isinstance(scorer, PairClassifierScorer):
        clone = copy.copy(scorer)
        marker = scorer.encoder.tokenize([marker_text])[marker_text][-1]
        clone.backend = _NanRows(scorer.backend, marker)  # type: ignore[assignment]
        return clone
    if isinstance(scorer, CascadeScorer):
        assert scorer.neural is not None
        return CascadeScorer(scorer.structured, _poisoned(scorer.neural, marker_text), threshold=1.0)
    if isinstance(scorer, StructuredScorer):
        clone = copy.copy(scorer)
        clone.model = _NanFirstRow(scorer.model)  # type: ignore[assignment]
        return clone
    raise AssertionError(f"add a NaN injection for {type(scorer).__name__}")


def test_non_finite_outputs_never_leave_a_scorer(
    request: pytest.FixtureRequest, named: tuple[str, Scorer]
) -> None:
    name, scorer = named
    _gap(request, name, "non_finite")
    poisoned = _poisoned(scorer, "厦")
    pairs = [GOOD[0], AddressPair("上海市中心大厦", "中心大厦"), GOOD[3]]
    results = poisoned.score(pairs)
    for result in results:
        if isinstance(result, Match):
            assert all(math.isfinite(p) for p in result.probabilities.values()), result
    errors = [
        r.code if isinstance(r, ItemError) else (r.explanation or {}).get("cascade", {}).get("neural_error")
        for r in results
    ]
    assert any(errors), results  # the poisoned item is reported, not hidden
    neural = [r for r in results if isinstance(r, ItemError)]
    assert all(r.code == "non_finite_output" for r in neural)
    if name != "structured":  # the NaN goes into the marked pair only: its neighbours are untouched
        clean = scorer.score([GOOD[0], GOOD[3]])
        assert _close(results[0], clean[0], _atol(scorer)) and _close(results[2], clean[1], _atol(scorer))


def test_deterministic_and_independent_of_batching(named: tuple[str, Scorer]) -> None:
    _, scorer = named
    pairs = GOOD * 3 + [AddressPair(LONG, GOOD[0].b)]
    first = scorer.score(pairs)
    again = scorer.score(pairs)
    assert [r.to_dict()["probabilities"] for r in first if isinstance(r, Match)] == [
        r.to_dict()["probabilities"] for r in again if isinstance(r, Match)
    ]
    for pair, together in zip(pairs, first, strict=True):
        (alone,) = scorer.score([pair])
        assert _close(together, alone, _atol(scorer)), (pair, together, alone)


def test_score_equals_finish_run_prepare(named: tuple[str, Scorer]) -> None:
    _, scorer = named
    pairs = [*GOOD, AddressPair(None, "x")]
    staged = scorer.finish(scorer.run(scorer.prepare(pairs)))
    direct = scorer.score(pairs)
    assert len(staged) == len(direct) == len(pairs)
    for x, y in zip(staged, direct, strict=True):
        assert _close(x, y, atol=0.0)
        if isinstance(x, Match) and isinstance(y, Match):
            assert x.explanation == y.explanation


def test_thread_safe_under_the_engine(named: tuple[str, Scorer]) -> None:
    """Several caller threads and several prepare threads share one engine: every answer equals the
    sequential one (shared token caches, parse caches and stats must hold up)."""
    _, scorer = named
    pairs = [AddressPair(f"杭州市西湖区文一路{i}号", f"文一路{i % 7}号") for i in range(40)] + GOOD
    reference = scorer.score(pairs)
    failures: list[BaseException] = []
    outputs: dict[int, list[Result]] = {}
    config = EngineConfig(token_budget=256, max_batch_items=8, prepare_threads=4)
    with SyncEngine(scorer, config) as engine:

        def call(k: int) -> None:
            try:
                chunk = pairs[k::3] + pairs[: 5 + k]
                outputs[k] = engine.match_many(chunk)
            except BaseException as exc:  # reported below, with the thread's number
                failures.append(exc)

        threads = [threading.Thread(target=call, args=(k,)) for k in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
    assert not failures, failures
    for k, results in outputs.items():
        chunk = list(range(len(pairs)))[k::3] + list(range(5 + k))
        for index, result in zip(chunk, results, strict=True):
            assert _close(result, reference[index], _atol(scorer)), (k, index, result, reference[index])
    assert len(outputs) == 6


def test_the_explanation_switch_is_per_call(named: tuple[str, Scorer]) -> None:
    """Off per call through the engine (and keyed apart in its cache), on again for the next call."""
    from geoalign.engine.cache import MemoryLRU
    from geoalign.types import Explains

    _, scorer = named
    if not isinstance(scorer, Explains):
        pytest.skip(f"{scorer.name} has no explanation switch")
    pair = AddressPair(LONG, "文一路3号")
    cache = MemoryLRU()
    with SyncEngine(scorer, cache=cache) as engine:
        plain = engine.match_many([pair], explain=False)[0]
        full = engine.match_many([pair], explain=True)[0]
        again = engine.match_many([pair], explain=False)[0]
    assert isinstance(plain, Match) and isinstance(full, Match) and isinstance(again, Match)
    assert plain.explanation is None and again.explanation is None
    assert full.explanation  # something is explained (components, truncation, cascade stage)
    assert len(cache) == 2
