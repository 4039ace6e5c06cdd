"""The embedded default matcher: parsed-address features + a small LightGBM model, behind the staged
``Scorer`` protocol.

* ``prepare`` cleans, normalizes and parses each *distinct* address once (an LRU shared across batches,
  keyed by the cleaned text), cost 1 per item; a bad address becomes an ``ItemError`` in its slot.
* ``run`` builds one feature matrix for the whole batch and calls the booster once.
* ``finish`` turns probability rows into ``Match`` objects with a per-component explanation.

The model directory holds ``model.txt`` (LightGBM's own text format, ``Booster.model_to_string()``; no
pickle), ``model.json`` (feature names, label order, class weights, provenance) and ``MODEL_CARD.md``.
Feature names are checked at load: a model built for other features is a ModelLoadError rather than
silent garbage.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from geoalign.address.analyze import DEFAULT_PARSE_CACHE, AddressView, ViewCache, analyze
from geoalign.address.clean import DEFAULT_MAX_CHARS, Cleaned, clean
from geoalign.address.conflicts import HARD_NUMBERS, SAME_ROAD_ONLY
from geoalign.errors import ModelLoadError
from geoalign.scorers.features import (
    FEATURE_NAMES,
    STATE_DIFFERENT,
    STATE_EQUAL,
    CharWeights,
    compare_components,
    pair_features,
)
from geoalign.scorers.structured_onnx import ONNX_FILE, load_forest
from geoalign.types import LABELS, AddressPair, ItemError, Match, Prepared, PreparedItem, Raw, Result

#: The model shipped inside the package.
DEFAULT_MODEL_DIR: Final[Path] = Path(__file__).resolve().parent.parent / "models" / "structured"
MODEL_FILE: Final[str] = "model.txt"
META_FILE: Final[str] = "model.json"
MODEL_FORMAT: Final[str] = "geoalign-structured"
MODEL_FORMAT_VERSION: Final[int] = 1


#: The decision rule applied after the class weights, named in model.json so a model is always scored
#: with the rule it was tuned with.
DECISION_RULE: Final[str] = "exact_needs_no_number_conflict/v1"


def number_conflict_mask(features: np.ndarray) -> np.ndarray:
    """Pairs with a hard-number conflict: a different building, unit, floor or room number, or a
    different road number on the same road. Such a pair is never the same place (3栋 is not 5栋); in the
    CCKS data 2-5% of them are labelled exact_match (label noise), so the booster alone still gives
    some of them a high exact probability."""
    index = {name: i for i, name in enumerate(FEATURE_NAMES)}
    mask = np.zeros(features.shape[0], dtype=bool)
    same_road = features[:, index["road_state"]] == STATE_EQUAL
    for level in HARD_NUMBERS:  # the one list of address.conflicts
        differ = features[:, index[f"{level}_state"]] == STATE_DIFFERENT
        mask |= (same_road & differ) if level in SAME_ROAD_ONLY else differ
    return mask


def decide(raw: np.ndarray, features: np.ndarray, class_weights: Sequence[float] | np.ndarray) -> np.ndarray:
    """From booster probabilities to reported probabilities: the class-weight prior correction, then
    ``DECISION_RULE``: on a hard-number conflict the exact_match mass moves to partial_match."""
    weighted = raw * np.asarray(class_weights, dtype=np.float64)
    probs = weighted / weighted.sum(axis=1, keepdims=True)
    mask = number_conflict_mask(features)
    if mask.any():
        exact, partial = LABELS.index("exact_match"), LABELS.index("partial_match")
        probs[mask, partial] += probs[mask, exact]
        probs[mask, exact] = 0.0
    return probs


@dataclass(slots=True)
class StructuredModel:
    """A loaded booster with its metadata."""

    booster: Any
    meta: dict[str, Any]
    model_id: str
    class_weights: np.ndarray = field(default_factory=lambda: np.ones(len(LABELS)))
    char_weights: CharWeights = field(default_factory=CharWeights.uniform)

    @classmethod
    def load(cls, directory: str | Path) -> StructuredModel:
        """Load and validate a model directory (ModelLoadError on anything inconsistent)."""
        root = Path(directory)
        model_path, meta_path = root / MODEL_FILE, root / META_FILE
        for path in (model_path, meta_path):
            if not path.is_file():
                raise ModelLoadError(f"{root} is not a structured model directory: {path.name} is missing")
        model_bytes, meta_bytes = model_path.read_bytes(), meta_path.read_bytes()
        try:
            meta = json.loads(meta_bytes)
        except ValueError as exc:
            raise ModelLoadError(f"{meta_path}: invalid JSON ({exc})") from exc
        if meta.get("format") != MODEL_FORMAT or meta.get("format_version") != MODEL_FORMAT_VERSION:
            raise ModelLoadError(
                f"{meta_path}: format {meta.get('format')!r} v{meta.get('format_version')!r}, "
                f"expected {MODEL_FORMAT!r} v{MODEL_FORMAT_VERSION}"
            )
        if list(meta.get("labels", ())) != list(LABELS):
            raise ModelLoadError(f"{meta_path}: label order {meta.get('labels')} is not {list(LABELS)}")
        if list(meta.get("feature_names", ())) != list(FEATURE_NAMES):
            theirs, ours = set(meta.get("feature_names", ())), set(FEATURE_NAMES)
            raise ModelLoadError(
                f"{root}: the model was trained on other features than this geoalign computes "
                f"(missing here: {sorted(theirs - ours)[:5]}, new here: {sorted(ours - theirs)[:5]}, "
                "or another order); retrain it with 'geoalign train'"
            )
        # the exported graph when the directory has one (no lightgbm import: structured_onnx.py says why)
        booster = load_forest(root, meta, model_bytes, len(FEATURE_NAMES), len(LABELS))
        if booster is None:
            booster = _load_booster(model_path, model_bytes)
        weights = np.asarray(meta.get("class_weights", [1.0] * len(LABELS)), dtype=np.float64)
        if weights.shape != (len(LABELS),) or not np.all(weights > 0):
            raise ModelLoadError(f"{meta_path}: class_weights must be {len(LABELS)} positive numbers")
        if meta.get("decision_rule") != DECISION_RULE:
            raise ModelLoadError(
                f"{meta_path}: decision rule {meta.get('decision_rule')!r}, this geoalign applies "
                f"{DECISION_RULE!r}; retrain the model with 'geoalign train'"
            )
        char_weights = char_weights_of(meta, meta_path)
        idf = meta["char_idf"]
        # The id covers what decides the outputs (booster, features, labels, decision weights), not
        # provenance such as the training date: retraining on the same data reproduces the same id.
        decisive = json.dumps(
            [meta["feature_names"], meta["labels"], weights.tolist(), idf, DECISION_RULE],
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        digest = hashlib.sha256(model_bytes + b"\0" + decisive).hexdigest()[:12]
        return cls(booster, meta, f"structured-{digest}", weights, char_weights)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Probabilities in ``LABELS`` order, after the decision step (``decide``). ``booster`` is the
        LightGBM booster, or the same trees exported to ONNX (``structured_onnx.OnnxForest``)."""
        # One OpenMP thread: geoalign parallelizes with processes (score/serve --workers, link), and
        # LightGBM's default (every core) makes each call wait at OpenMP barriers for threads that other
        # busy processes hold: 8 ms for one row on a 2-core machine with the other core busy, against
        # 0.1 ms; and 1.6x the CPU per row at a batch of 256 (docs/benchmarks.md, session 8).
        raw = self.booster.predict(features, num_threads=1)
        raw = np.asarray(raw, dtype=np.float64).reshape(-1, len(LABELS))
        return decide(raw, features, self.class_weights)


def char_weights_of(meta: dict[str, Any], meta_path: Path) -> CharWeights:
    """The character IDF weights a model's features were computed with (its ``model.json``)."""
    idf = meta.get("char_idf")
    if not isinstance(idf, dict) or not isinstance(idf.get("weights"), dict) or "default" not in idf:
        raise ModelLoadError(f"{meta_path}: char_idf (character weights) is missing or malformed")
    return CharWeights({str(k): float(v) for k, v in idf["weights"].items()}, float(idf["default"]))


def _load_booster(model_path: Path, model_bytes: bytes) -> Any:
    """The LightGBM booster of ``model.txt``, checked against this geoalign's features and labels."""
    import lightgbm as lgb

    try:
        booster = lgb.Booster(model_str=model_bytes.decode("utf-8"))
    except Exception as exc:  # lightgbm raises its own LightGBMError for a corrupt file
        raise ModelLoadError(f"{model_path}: not a LightGBM text model ({exc})") from exc
    if booster.feature_name() != list(FEATURE_NAMES):
        raise ModelLoadError(f"{model_path}: booster features differ from {META_FILE}")
    num_class = int(booster.params.get("num_class", 0) or 0) or booster.num_model_per_iteration()
    if num_class != len(LABELS):
        raise ModelLoadError(f"{model_path}: booster has {num_class} classes, expected {len(LABELS)}")
    return booster


def save_model(directory: str | Path, booster: Any, meta: dict[str, Any], char_weights: CharWeights) -> None:
    """Write ``model.txt`` and ``model.json`` (atomically each); the caller writes the model card."""
    from geoalign.io.atomic import atomic_write_text

    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    full = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "labels": list(LABELS),
        "feature_names": list(FEATURE_NAMES),
        "decision_rule": DECISION_RULE,
        **meta,
        "char_idf": {"default": char_weights.default, "weights": dict(sorted(char_weights.weights.items()))},
    }
    atomic_write_text(root / MODEL_FILE, booster.model_to_string())
    atomic_write_text(root / META_FILE, json.dumps(full, ensure_ascii=False, indent=2) + "\n")
    # an ONNX export of the model this one replaces would be refused at load (it names the old
    # model.txt): the new model is scored with its booster until it is exported again
    (root / ONNX_FILE).unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class PairViews:
    """A structured prepared item's payload: the two analyzed addresses, and which sides ``clean`` cut
    to ``max_chars`` (reported as ``explanation.truncated``). Unpacks as ``view_a, view_b``."""

    views: tuple[AddressView, AddressView]
    cut: tuple[bool, bool] = (False, False)

    def __iter__(self) -> Iterator[AddressView]:
        return iter(self.views)


class PairFeaturizer:
    """Clean -> normalize -> parse each distinct address once (LRU across batches) and build feature
    rows. Shared by the scorer and by training, so a model is trained on exactly the features it sees
    when scoring. ``cache_size`` bounds the parsed-address cache (entries; 0 keeps none)."""

    def __init__(
        self,
        *,
        max_chars: int = DEFAULT_MAX_CHARS,
        cache_size: int = DEFAULT_PARSE_CACHE,
        char_weights: CharWeights | None = None,
    ) -> None:
        self.max_chars = max_chars
        self.char_weights = char_weights
        self._cache = ViewCache(cache_size)

    @property
    def cache(self) -> ViewCache:
        """The parsed-address cache (its ``size`` is the bound, ``len`` the entries held)."""
        return self._cache

    def view(self, text: str) -> AddressView | ItemError:
        """The analyzed view of one cleaned address (``address.analyze``, cached across batches)."""
        return self._cache.view(text)

    def _side(self, cleaned: Cleaned | ItemError, which: str) -> tuple[Cleaned, AddressView] | ItemError:
        """One side of a pair from its ``clean`` result: the cleaned text and its view, or why not."""
        if isinstance(cleaned, ItemError):
            return ItemError(cleaned.code, f"address {which}: {cleaned.message}")
        assert isinstance(cleaned, Cleaned)
        view = self.view(cleaned.text)
        if isinstance(view, ItemError):
            return ItemError(view.code, f"address {which}: {view.message}")
        return cleaned, view

    def warm(self, texts: Sequence[str]) -> None:
        """Analyze the distinct uncached cleaned texts in one batch and cache them (``ViewCache.warm``)."""
        self._cache.warm(texts)

    def prepare(self, pairs: Sequence[AddressPair]) -> list[PreparedItem | ItemError]:
        cleaned = [clean(v, max_chars=self.max_chars) for pair in pairs for v in (pair.a, pair.b)]
        self.warm([c.text for c in cleaned if isinstance(c, Cleaned)])
        items: list[PreparedItem | ItemError] = []
        for i in range(len(pairs)):
            side_a = self._side(cleaned[2 * i], "a")
            if isinstance(side_a, ItemError):
                items.append(side_a)
                continue
            side_b = self._side(cleaned[2 * i + 1], "b")
            if isinstance(side_b, ItemError):
                items.append(side_b)
                continue
            (a, view_a), (b, view_b) = side_a, side_b
            data = PairViews((view_a, view_b), (a.truncated, b.truncated))
            items.append(PreparedItem(1, (a.text, b.text), data, cut=(a.truncated, b.truncated)))
        return items

    def matrix(self, pairs: Sequence[AddressPair]) -> tuple[np.ndarray, list[ItemError | None]]:
        """The feature matrix of ``pairs`` (NaN rows where an item failed) and each item's error."""
        items = self.prepare(pairs)
        matrix = np.full((len(pairs), len(FEATURE_NAMES)), np.nan)
        errors: list[ItemError | None] = []
        for i, item in enumerate(items):
            if isinstance(item, ItemError):
                errors.append(item)
                continue
            view_a, view_b = item.data
            matrix[i] = pair_features(view_a, view_b, self.char_weights)
            errors.append(None)
        return matrix, errors


def truncation(item: PreparedItem) -> dict[str, Any]:
    """``explanation.truncated`` of a structured item: for each side ``clean`` cut to ``max_chars``,
    where (``at_char``: the length kept, the text the scorer saw), as the neural scorers report it."""
    data = item.data
    if not isinstance(data, PairViews):
        return {}
    return {
        side: {"by": "max_chars", "at_char": len(item.seen[index])}
        for index, side in enumerate(("a", "b"))
        if data.cut[index]
    }


class StructuredScorer:
    """The embedded matcher (see the module docstring). ``prepare``/``run``/``finish`` may be called
    from different threads (the address cache is locked); ``explain`` is read per call."""

    name = "structured"

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        max_chars: int = DEFAULT_MAX_CHARS,
        cache_size: int = DEFAULT_PARSE_CACHE,
        explain: bool = True,
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
        self.model = StructuredModel.load(self.model_dir)
        self.explain = explain
        self.featurizer = PairFeaturizer(
            max_chars=max_chars, cache_size=cache_size, char_weights=self.model.char_weights
        )

    @property
    def model_id(self) -> str:
        return self.model.model_id

    def prepare(self, pairs: Sequence[AddressPair]) -> Prepared:
        start = time.perf_counter()
        items = self.featurizer.prepare(pairs)
        share = (time.perf_counter() - start) * 1000.0 / max(len(pairs), 1)
        for item in items:
            if isinstance(item, PreparedItem):
                item.timings_ms["normalize"] = share
        return Prepared(items)

    def run(self, prepared: Prepared) -> Raw:
        start = time.perf_counter()
        ok = [i for i, item in enumerate(prepared.items) if isinstance(item, PreparedItem)]
        outputs: list[Any] = [None] * len(prepared.items)
        if ok:
            weights = self.model.char_weights
            rows = []
            for i in ok:
                item = prepared.items[i]
                assert isinstance(item, PreparedItem)
                view_a, view_b = item.data
                rows.append(pair_features(view_a, view_b, weights))
            probs = self.model.predict(np.asarray(rows, dtype=np.float64))
            for i, row in zip(ok, probs, strict=True):
                outputs[i] = row
        elapsed = (time.perf_counter() - start) * 1000.0
        return Raw(prepared, outputs, {"forward": elapsed / max(len(ok), 1)})

    def finish(self, raw: Raw) -> list[Result]:
        start = time.perf_counter()
        results: list[Result] = []
        matches: list[Match] = []
        forward = raw.timings_ms.get("forward", 0.0)
        for item, probs in zip(raw.prepared.items, raw.outputs, strict=True):
            if isinstance(item, ItemError):
                results.append(item)
                continue
            values = probs.tolist()
            # math.isfinite on three floats, not a numpy ufunc call per row (a tenth of finish)
            if not all(map(math.isfinite, values)):
                # a broken model file or booster: never a confident-looking label
                results.append(ItemError("non_finite_output", f"the structured model produced {values}"))
                continue
            explanation: dict[str, Any] | None = None
            if self.explain if item.explain is None else item.explain:
                view_a, view_b = item.data
                explanation = {"components": [c.to_dict() for c in compare_components(view_a, view_b)]}
                truncated = truncation(item)
                if truncated:
                    explanation["truncated"] = truncated
            timings = {
                "normalize": item.timings_ms.get("normalize", 0.0),
                "tokenize": 0.0,
                "forward": forward,
            }
            match = Match.from_probabilities(
                values,
                scorer=self.name,
                model=self.model_id,
                explanation=explanation,
                timings_ms=timings,
            )
            matches.append(match)
            results.append(match)
        post = (time.perf_counter() - start) * 1000.0 / max(len(matches), 1)
        for match in matches:
            assert match.timings_ms is not None
            match.timings_ms["post"] = post
        return results

    def score(self, pairs: Sequence[AddressPair]) -> list[Result]:
        return self.finish(self.run(self.prepare(pairs)))

    def warmup(self) -> None:
        self.score([AddressPair("浙江省杭州市西湖区文三路369号", "文三路369号")])


__all__ = [
    "DECISION_RULE",
    "DEFAULT_MODEL_DIR",
    "DEFAULT_PARSE_CACHE",
    "PairFeaturizer",
    "PairViews",
    "StructuredModel",
    "StructuredScorer",
    "analyze",
    "decide",
    "number_conflict_mask",
    "save_model",
    "truncation",
]
