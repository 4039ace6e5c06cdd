"""The misjudged pairs of an evaluation, as rows a person can read through (``geoalign eval --errors``).

A confusion matrix says how often the scorer is wrong; these rows say on what. Every pair whose
predicted label differs from its gold label is a row, and so is every pair that could not be scored
(its ``error`` says why): leaving those out would hide the inputs the scorer cannot handle at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from geoalign.types import LABELS, ItemError, Match

#: Columns of the errors file: where the pair was in the labelled file, the pair, the label the file
#: gives (the truth), the label the scorer gave, its three probabilities, and the error of an unscored pair.
ERROR_COLUMNS: tuple[str, ...] = (
    "line",
    "a",
    "b",
    "gold_label",
    "predicted_label",
    *(f"p_{name}" for name in LABELS),
    "error",
)


class Judged(Protocol):
    """A labelled pair as the evaluation sees it (``geoalign.io.labels.LabelledPair`` fits)."""

    @property
    def a(self) -> str: ...
    @property
    def b(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def line(self) -> int: ...


def misjudged_rows(
    pairs: Sequence[Judged], results: Iterable[Match | ItemError], digits: int = 6
) -> Iterator[list[Any]]:
    """One row (in :data:`ERROR_COLUMNS` order) per misjudged or unscored pair, in file order."""
    for pair, result in zip(pairs, results, strict=True):
        base = [pair.line, pair.a, pair.b, pair.label]
        if isinstance(result, ItemError):
            yield [*base, None, None, None, None, result.to_dict()["error"]]
        elif result.label != pair.label:
            probs = [round(result.probabilities[name], digits) for name in LABELS]
            yield [*base, result.label, *probs, None]


__all__ = ["ERROR_COLUMNS", "misjudged_rows"]
