"""Span-level precision / recall / F1 for the address parser, conlleval-style.

A predicted span counts only if its type *and* both character offsets equal a gold span of the same
address (exact match on the raw text). Every element type present in the gold or the predictions gets a
row, so a type the parser never produces shows up with recall 0 instead of silently vanishing. Micro
scores pool the counts over all types.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Span = tuple[str, int, int]


@dataclass(frozen=True, slots=True)
class PRF:
    """Counts and scores of one element type (or of all types pooled: ``name == "micro"``)."""

    name: str
    tp: int
    n_pred: int
    n_gold: int

    @property
    def precision(self) -> float:
        return self.tp / self.n_pred if self.n_pred else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.n_gold if self.n_gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, float | int | str]:
        return {
            "name": self.name,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "tp": self.tp,
            "predicted": self.n_pred,
            "gold": self.n_gold,
        }


@dataclass(frozen=True, slots=True)
class SpanScores:
    per_type: tuple[PRF, ...]
    micro: PRF
    n_addresses: int

    def to_dict(self) -> dict[str, object]:
        return {
            "addresses": self.n_addresses,
            "micro": self.micro.to_dict(),
            "per_type": [row.to_dict() for row in self.per_type],
        }


def span_scores(
    gold: Sequence[Iterable[Span]], predicted: Sequence[Iterable[Span]], *, order: Sequence[str] = ()
) -> SpanScores:
    """Score predicted spans against gold spans, address by address.

    ``gold[i]`` and ``predicted[i]`` are the spans of address i. Duplicated spans are counted as many
    times as they occur (a multiset), so predicting one gold span twice earns one hit and one miss.
    ``order`` lists type names to put first in the table (e.g. the coarse-to-fine scheme).
    """
    if len(gold) != len(predicted):
        raise ValueError(f"gold has {len(gold)} addresses but predictions have {len(predicted)}")
    tp: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    for g_spans, p_spans in zip(gold, predicted, strict=True):
        g = Counter(g_spans)
        p = Counter(p_spans)
        for span, count in g.items():
            n_gold[span[0]] += count
        for span, count in p.items():
            n_pred[span[0]] += count
            tp[span[0]] += min(count, g.get(span, 0))
    names = set(n_gold) | set(n_pred)
    ordered = [name for name in order if name in names] + sorted(names - set(order))
    rows = tuple(PRF(name, tp[name], n_pred[name], n_gold[name]) for name in ordered)
    micro = PRF("micro", sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))
    return SpanScores(rows, micro, len(gold))


def format_table(scores: SpanScores) -> str:
    """A fixed-width table, one row per type, then the overall ``micro-F1: 0.xxxx`` line."""
    lines = [f"{'element':<12} {'precision':>9} {'recall':>9} {'f1':>9} {'gold':>7} {'pred':>7}"]
    for row in scores.per_type:
        lines.append(
            f"{row.name:<12} {row.precision:>9.4f} {row.recall:>9.4f} {row.f1:>9.4f} "
            f"{row.n_gold:>7d} {row.n_pred:>7d}"
        )
    m = scores.micro
    lines.append(
        f"{'micro':<12} {m.precision:>9.4f} {m.recall:>9.4f} {m.f1:>9.4f} {m.n_gold:>7d} {m.n_pred:>7d}"
    )
    lines.append(f"addresses: {scores.n_addresses}")
    lines.append(f"micro-F1: {m.f1:.4f}")
    return "\n".join(lines)
