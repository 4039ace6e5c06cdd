"""The Python API: ``geoalign.match(a, b)`` for one pair, ``Matcher`` for batches.

``Matcher.score`` has the shape of sentence-transformers' ``CrossEncoder.predict``: a list of pairs in,
one result per pair out (``Match``, or ``ItemError`` for a pair that could not be scored), in batches,
with an optional progress bar. The embedded structured matcher is the default; it needs no download.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from geoalign.errors import InputError
from geoalign.types import LABELS, AddressPair, ItemError, Match, Result, Scorer

PairLike = AddressPair | tuple[Any, Any] | list[Any] | dict[str, Any]


def as_pair(item: PairLike) -> AddressPair:
    """An AddressPair from a pair, a 2-tuple/list or a ``{"a": ..., "b": ...}`` mapping."""
    if isinstance(item, AddressPair):
        return item
    if isinstance(item, dict):
        if "a" not in item or "b" not in item:
            raise InputError(f"a pair mapping needs keys 'a' and 'b', got {sorted(item)}")
        return AddressPair(item["a"], item["b"])
    if isinstance(item, tuple | list) and len(item) == 2:
        return AddressPair(item[0], item[1])
    raise InputError(f"not an address pair: {item!r} (use (a, b), {{'a':..,'b':..}} or AddressPair)")


class Matcher:
    """Scores address pairs in batches with one scorer (default: the embedded ``structured`` one)."""

    def __init__(
        self,
        scorer: str | Scorer = "structured",
        model: str | Path | None = None,
        *,
        batch_size: int = 2048,
        **options: Any,
    ) -> None:
        if batch_size < 1:
            raise InputError("batch_size must be >= 1")
        if isinstance(scorer, str):
            from geoalign.scorers.registry import build_scorer

            self.scorer: Scorer = build_scorer(scorer, model, **options)
        else:
            self.scorer = scorer
        self.batch_size = batch_size

    @property
    def model_id(self) -> str:
        return self.scorer.model_id

    def score(
        self,
        pairs: Iterable[PairLike],
        batch_size: int | None = None,
        show_progress: bool = False,
    ) -> list[Result]:
        """One result per pair, in order. A bad pair gets an ItemError in its slot; the rest are scored."""
        items = [as_pair(p) for p in pairs]
        size = batch_size or self.batch_size
        results: list[Result] = []
        bar = None
        if show_progress:
            from tqdm import tqdm

            bar = tqdm(total=len(items), unit="pairs", file=sys.stderr)
        try:
            for start in range(0, len(items), size):
                chunk = items[start : start + size]
                results.extend(self.scorer.score(chunk))
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
        return results

    def predict(
        self, pairs: Iterable[PairLike], batch_size: int | None = None, show_progress: bool = False
    ) -> np.ndarray:
        """Probabilities as an array of shape (n, 3) in ``LABELS`` order; NaN rows for unusable pairs."""
        results = self.score(pairs, batch_size=batch_size, show_progress=show_progress)
        out = np.full((len(results), len(LABELS)), np.nan)
        for i, result in enumerate(results):
            if isinstance(result, Match):
                out[i] = [result.probabilities[name] for name in LABELS]
        return out

    def match(self, a: Any, b: Any) -> Match:
        """Compare one pair; an unusable address is an InputError (there is no slot to put it in)."""
        result = self.scorer.score([AddressPair(a, b)])[0]
        if isinstance(result, ItemError):
            raise InputError(f"{result.code}: {result.message}")
        return result

    def warmup(self) -> None:
        self.scorer.warmup()


_default: Matcher | None = None
_default_lock = threading.Lock()


def default_matcher() -> Matcher:
    """The process-wide embedded matcher, loaded at first use."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Matcher()
    return _default


def match(a: Any, b: Any) -> Match:
    """Compare two addresses with the embedded matcher: label, probabilities and an explanation."""
    return default_matcher().match(a, b)


__all__ = ["Matcher", "as_pair", "default_matcher", "match"]
