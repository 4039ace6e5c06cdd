"""The ``cascade`` scorer: the embedded matcher decides the pairs it is sure about, a neural scorer the rest.

Why: the structured matcher costs ~0.1 ms per pair once addresses are parsed; a BERT-class model costs
milliseconds per pair on a CPU. On table alignment most candidate pairs are obviously different (another
road number) or obviously the same, so only the *uncertain band* — pairs whose highest probability is
below ``threshold`` — is worth the neural model (uk_address_matcher's cheap-stage-first design).

* Each pair is scored by the structured scorer first. A pair whose top probability is at least
  ``threshold`` is decided there. The others are sent to the neural scorer (torch or ONNX, built through
  the registry), whose probabilities become the answer. It reads the text as written (it was trained on
  it, not on the normalizer's spelling), without what the normalizer drops as noise (``normalize.noise``:
  phone numbers and the names beside them, labels, postcodes, delivery notes): the model saw no such noise
  in training, and 张三 138… before an address moved its answer from exact_match to partial_match.
* The structured explanation (per-component agree/conflict) is kept on every answer — the neural models
  give none, and the same-place check of link/dedupe needs the hard-number comparison — together with
  ``explanation["cascade"]``: which stage decided, and the structured probabilities when it was not.
* The neural stage's answer passes the rule layer's caps (``scorers.rules.cap_decision`` on the
  structured stage's views): a conflict the structured stage saw (3栋 vs 5栋, another city) caps the
  neural label too, named in ``explanation["rules"]``. The structured stage applies its own decision
  rule; without this the cascade would answer exact_match where its first stage refused it.
* A neural failure on one item never fails its batch; the structured answer is kept, and the failure is
  recorded in the explanation and counted in ``stats`` (visible, not silent).
* ``stats`` counts how many pairs each stage decided and how long each stage took, for the run report.
* A caller that reads only the exact_match probability (link's same-place judge) can score with the
  cheap stage first (``cheap_stage``: the rule layer over ``without_neural()``) and ask the whole
  cascade only for the pairs whose answer ``exact_bounds`` leaves open.

Without a neural scorer the cascade is the structured scorer plus the same accounting; the uncertain
band is then counted as ``uncertain_kept`` so a user sees what ``--model`` would be asked to score.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from geoalign.address.normalize import noise
from geoalign.errors import InputError
from geoalign.scorers.stack import Stack
from geoalign.types import LABELS, AddressPair, ItemError, Match, Prepared, PreparedItem, Raw, Result, Scorer

CASCADE_CONFIDENCE_THRESHOLD = 0.9


@dataclass(slots=True)
class CascadeStats:
    """Per-stage accounting, cumulative over the scorer's life (``reset`` starts over)."""

    pairs: int = 0
    errors: int = 0
    structured_decided: int = 0
    neural_decided: int = 0
    neural_errors: int = 0
    uncertain_kept: int = 0
    structured_ms: float = 0.0
    neural_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class _Item:
    """A cascade item: the structured scorer's prepared item plus the pair as given (for the neural
    scorer, which must see the original text, not the normalized one)."""

    inner: PreparedItem
    pair: AddressPair


def _quiet(text: Any) -> Any:
    """``text`` without the noise the normalizer drops, spaces collapsed; as given where nothing would be
    left, or where it is no string (the neural scorer reports its own error)."""
    if not isinstance(text, str):
        return text
    quiet = " ".join(noise(text).split())
    return quiet if quiet else text


def _without_noise(pair: AddressPair) -> AddressPair:
    """What the neural stage reads of a pair (module docstring)."""
    a, b = _quiet(pair.a), _quiet(pair.b)
    return pair if a == pair.a and b == pair.b else dataclasses.replace(pair, a=a, b=b)


class CascadeScorer:
    """Structured first, neural for the uncertain band (see the module docstring)."""

    name = "cascade"

    def __init__(
        self,
        structured: Scorer,
        neural: Scorer | None = None,
        *,
        threshold: float = CASCADE_CONFIDENCE_THRESHOLD,
        stack: Stack | None = None,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise InputError(f"cascade threshold must be in (0, 1], got {threshold}")
        if neural is not None and neural.name in ("structured", "cascade"):
            raise InputError(f"the cascade's second stage must be a neural scorer, not {neural.name!r}")
        self.structured = structured
        self.neural = neural
        self.threshold = threshold
        self.stack = stack
        self.stats = CascadeStats()
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        second = self.neural.model_id if self.neural is not None else "none"
        stacked = "+stack" if self.stack is not None else ""
        return f"cascade({self.structured.model_id}+{second}{stacked}@{self.threshold:g})"

    @property
    def explain(self) -> bool:
        """Explanations on or off: the structured stage builds them (the neural stage has none)."""
        return bool(getattr(self.structured, "explain", True))

    @explain.setter
    def explain(self, value: bool) -> None:
        if hasattr(self.structured, "explain"):
            self.structured.explain = value  # type: ignore[attr-defined]

    def without_neural(self) -> CascadeScorer:
        """This cascade with no neural stage, sharing its structured scorer (and so the parse cache) and
        threshold: the whole cascade's answer wherever the structured stage decides, else the structured
        answer marked ``uncertain``. The stack is left out: it blends only neural answers."""
        return CascadeScorer(self.structured, None, threshold=self.threshold)

    def reset(self) -> None:
        with self._lock:
            self.stats = CascadeStats()

    def prepare(self, pairs: Sequence[AddressPair]) -> Prepared:
        start = time.perf_counter()
        inner = self.structured.prepare(pairs)
        items: list[PreparedItem | ItemError] = []
        for item, pair in zip(inner.items, pairs, strict=True):
            if isinstance(item, ItemError):
                items.append(item)
            else:
                items.append(
                    PreparedItem(item.cost, item.seen, _Item(item, pair), item.timings_ms, cut=item.cut)
                )
        with self._lock:
            self.stats.structured_ms += (time.perf_counter() - start) * 1000.0
        return Prepared(items)

    def run(self, prepared: Prepared) -> Raw:
        ok = [i for i, item in enumerate(prepared.items) if isinstance(item, PreparedItem)]
        start = time.perf_counter()
        inner = Prepared([_with_explain(prepared.items[i]) for i in ok])
        first = self.structured.finish(self.structured.run(inner)) if ok else []
        structured_ms = (time.perf_counter() - start) * 1000.0
        outputs: list[Any] = [None] * len(prepared.items)
        uncertain: list[int] = []
        for i, result in zip(ok, first, strict=True):
            outputs[i] = result
            if isinstance(result, Match) and result.confidence < self.threshold:
                uncertain.append(i)
        neural_ms = 0.0
        neural_results: dict[int, Result] = {}
        if uncertain and self.neural is not None:
            start = time.perf_counter()
            pairs = [_without_noise(prepared.items[i].data.pair) for i in uncertain]  # type: ignore[union-attr]
            neural_results = dict(zip(uncertain, self.neural.score(pairs), strict=True))
            neural_ms = (time.perf_counter() - start) * 1000.0
        with self._lock:
            stats = self.stats
            stats.pairs += len(prepared.items)
            stats.errors += len(prepared.items) - len(ok) + sum(isinstance(r, ItemError) for r in first)
            stats.structured_ms += structured_ms
            stats.neural_ms += neural_ms
            n_uncertain = len(uncertain)
            n_neural_errors = sum(isinstance(r, ItemError) for r in neural_results.values())
            stats.structured_decided += sum(isinstance(r, Match) for r in first) - n_uncertain
            if self.neural is None:
                stats.uncertain_kept += n_uncertain
            else:
                stats.neural_decided += n_uncertain - n_neural_errors
                stats.neural_errors += n_neural_errors
                stats.structured_decided += n_neural_errors  # their structured answer stands
        return Raw(prepared, [(outputs[i], neural_results.get(i)) for i in range(len(outputs))])

    def finish(self, raw: Raw) -> list[Result]:
        results: list[Result] = []
        for item, output in zip(raw.prepared.items, raw.outputs, strict=True):
            if isinstance(item, ItemError):
                results.append(item)
                continue
            first, second = output
            if isinstance(first, ItemError):
                results.append(first)
                continue
            combined = self._combine(first, second)
            if isinstance(second, Match):
                combined = _capped_by_rules(combined, item.data.inner.data, self.name)
            if first.explanation is None and combined.explanation is not None:
                # explanations were switched off (the structured stage built none): keep the answer bare
                combined = Match(
                    combined.label,
                    combined.probabilities,
                    combined.scorer,
                    combined.model,
                    None,
                    combined.timings_ms,
                )
            results.append(combined)
        return results

    def _combine(self, first: Match, second: Result | None) -> Match:
        explanation = dict(first.explanation or {})
        if second is None:
            stage: dict[str, Any] = {"stage": "structured"}
            if first.confidence < self.threshold:
                stage["uncertain"] = True
            explanation["cascade"] = stage
            return Match(
                first.label, first.probabilities, self.name, self.model_id, explanation, first.timings_ms
            )
        if isinstance(second, ItemError):
            explanation["cascade"] = {
                "stage": "structured",
                "uncertain": True,
                "neural_error": {"code": second.code, "message": second.message},
            }
            return Match(
                first.label, first.probabilities, self.name, self.model_id, explanation, first.timings_ms
            )
        stage = {
            "stage": "neural" if self.stack is None else "stacked",
            "neural_scorer": second.scorer,
            "structured_label": first.label,
            "structured_probabilities": dict(first.probabilities),
        }
        label, probabilities = second.label, second.probabilities
        cut = (second.explanation or {}).get("truncated")
        if cut:
            # the neural stage's cut (tokens, or the same max_chars) is where its answer stopped reading
            merged = {**explanation.get("truncated", {}), **cut}
            explanation["truncated"] = {side: merged[side] for side in ("a", "b") if side in merged}
        if self.stack is not None:
            # one answer from both models' probabilities (scorers/stack.py), not the neural one alone
            stage["neural_probabilities"] = dict(second.probabilities)
            blended = self.stack.predict(
                np.array([[first.probabilities[n] for n in LABELS]]),
                np.array([[second.probabilities[n] for n in LABELS]]),
            )[0]
            probabilities = {n: float(p) for n, p in zip(LABELS, blended, strict=True)}
            label = LABELS[int(np.argmax(blended))]
        explanation["cascade"] = stage
        timings = dict(second.timings_ms or {})
        if first.timings_ms:
            timings["normalize"] = first.timings_ms.get("normalize", 0.0) + timings.get("normalize", 0.0)
        return Match(label, probabilities, self.name, self.model_id, explanation, timings or None)

    def score(self, pairs: Sequence[AddressPair]) -> list[Result]:
        return self.finish(self.run(self.prepare(pairs)))

    def warmup(self) -> None:
        self.structured.warmup()
        if self.neural is not None:
            self.neural.warmup()


def _with_explain(item: PreparedItem | ItemError) -> PreparedItem:
    """The structured stage's item, carrying the per-call explanation switch the engine set on ours."""
    assert isinstance(item, PreparedItem)
    inner: PreparedItem = item.data.inner
    return inner.carrying(item.explain)


def _capped_by_rules(match: Match, views: Any, name: str) -> Match:
    """The neural answer under the rule layer's caps, where the structured stage left address views."""
    from geoalign.address.analyze import AddressView
    from geoalign.scorers.rules import apply_decision, cap_decision

    views = getattr(views, "views", views)  # the structured scorer's PairViews
    if not (isinstance(views, tuple) and len(views) == 2 and all(isinstance(v, AddressView) for v in views)):
        return match
    return apply_decision(match, cap_decision(views[0], views[1]), name)


def cheap_stage(scorer: Scorer) -> Scorer | None:
    """The cheap stage of a cascade under the rule layer: the same rules over ``without_neural()``, whose
    answers ``exact_bounds`` reads. None where there is no neural stage to spare: a cascade without one,
    or a scorer that is not a cascade under the rules (without the rules an uncertain answer bounds
    nothing, so a cheap pass would only score the structured stage twice)."""
    from geoalign.scorers.rules import RuleScorer

    if not isinstance(scorer, RuleScorer):
        return None
    inner = scorer.inner
    if not isinstance(inner, CascadeScorer) or inner.neural is None:
        return None
    return RuleScorer(inner.without_neural(), rules=scorer.enabled, max_chars=scorer.max_chars)


def exact_bounds(result: Result) -> tuple[float, float] | None:
    """What the whole cascade (under the rule layer) could answer for exact_match, given its cheap
    stage's answer (``cheap_stage``), or None where it could be anything.

    Outside the uncertain band the structured stage decides: its answer is the cascade's. Inside it
    the neural answer would replace it, but the rule layer acts after the cascade on the same views:
    a cap it applied here caps the neural answer too (exact_match 0), and a lift to a floor lifts
    it to the same floor (exact_match in [floor, 1]; ``identical`` is 1 whatever the models say).
    Nothing is read without the explanation that says which stage decided and which rule fired."""
    if not isinstance(result, Match) or result.explanation is None:
        return None
    from geoalign.scorers.rules import CAPS, LIFT_PROBABILITY

    stage = result.explanation.get("cascade") or {}
    if stage.get("stage") != "structured" or "neural_error" in stage:
        return None
    p = result.probabilities["exact_match"]
    if not stage.get("uncertain"):
        return (p, p)
    fired = result.explanation.get("rules") or ()
    if p == 0.0 and any(rule in CAPS for rule in fired):
        return (0.0, 0.0)
    floors = [LIFT_PROBABILITY[rule] for rule in fired if rule in LIFT_PROBABILITY]
    if floors and p == floors[0]:
        return (p, p) if p >= 1.0 else (p, 1.0)
    return None


#: geoalign's own neural matcher, shipped in the package (int8 ONNX + tokenizer + stack.json).
SHIPPED_NEURAL: Final = Path(__file__).resolve().parent.parent / "models" / "neural"
STACK_FILE: Final = "stack.json"


def build_cascade(
    model: str | Path | None = None,
    *,
    threshold: float | None = None,
    structured_model: str | Path | None = None,
    max_chars: int | None = None,
    cache_size: int | None = None,
    **options: Any,
) -> CascadeScorer:
    """The registry's builder: structured (shipped or ``structured_model``) + the neural scorer of
    ``model`` (default: geoalign's shipped neural matcher; a ModelScope/HF checkpoint -> torch, a geoalign
    export -> onnx); ``options`` go to it. A ``stack.json`` beside the model blends both answers in the
    uncertain band and brings the threshold it was fitted for (an explicit ``threshold`` wins).
    ``max_chars`` (the one length limit) reaches both stages, ``cache_size`` (parsed addresses) the
    structured one."""
    from geoalign.scorers.registry import build_scorer, detect_backend
    from geoalign.scorers.structured import StructuredScorer

    if model is None:
        if not (SHIPPED_NEURAL / STACK_FILE).is_file():
            raise InputError(
                f"this geoalign build ships no neural matcher ({SHIPPED_NEURAL} is missing); give --model "
                "DIR for the cascade's neural stage, or use --scorer structured"
            )
        model = SHIPPED_NEURAL
    backend = detect_backend(model)
    if backend == "structured":
        raise InputError(f"--model {str(model)!r} is a structured model; the cascade needs a neural one")
    stack = Stack.load(Path(model) / STACK_FILE) if (Path(model) / STACK_FILE).is_file() else None
    if threshold is None:
        fitted = stack.meta.get("threshold") if stack is not None else None
        threshold = float(fitted) if fitted is not None else CASCADE_CONFIDENCE_THRESHOLD
    own: dict[str, Any] = {}
    if max_chars is not None:
        own["max_chars"] = options["max_chars"] = max_chars
    if cache_size is not None:
        own["cache_size"] = cache_size
    neural = build_scorer(backend, model, **options)
    structured = StructuredScorer(structured_model, **own)
    return CascadeScorer(structured, neural, threshold=threshold, stack=stack)


__all__ = [
    "CASCADE_CONFIDENCE_THRESHOLD",
    "CascadeScorer",
    "CascadeStats",
    "build_cascade",
    "cheap_stage",
    "exact_bounds",
]
