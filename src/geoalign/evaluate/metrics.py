"""Classification metrics for the three match labels: accuracy, per-class P/R/F1, macro-F1, confusion.

Pure Python (no scikit-learn in the core install). Conventions match scikit-learn's: a class with no
predictions has precision 0, a class with no true items has recall 0, and macro-F1 is the unweighted
mean of the per-class F1 over the given labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from geoalign.types import LABELS


@dataclass(frozen=True, slots=True)
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class Report:
    labels: tuple[str, ...]
    accuracy: float
    macro_f1: float
    per_class: dict[str, ClassScores]
    #: confusion[i][j] = number of items with true label labels[i] predicted as labels[j]
    confusion: list[list[int]]
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_class": {
                name: {"precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.support}
                for name, s in self.per_class.items()
            },
            "confusion": {"labels": list(self.labels), "matrix": self.confusion},
        }


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def classification_report(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] = LABELS
) -> Report:
    """Scores of ``y_pred`` against ``y_true`` over ``labels`` (an unknown label is a ValueError)."""
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} items, y_pred {len(y_pred)}")
    if not y_true:
        raise ValueError("no items to evaluate")
    index = {name: i for i, name in enumerate(labels)}
    k = len(labels)
    confusion = [[0] * k for _ in range(k)]
    for t, p in zip(y_true, y_pred, strict=True):
        if t not in index or p not in index:
            raise ValueError(f"unknown label in ({t!r}, {p!r}); expected one of {list(labels)}")
        confusion[index[t]][index[p]] += 1
    per_class: dict[str, ClassScores] = {}
    for i, name in enumerate(labels):
        tp = confusion[i][i]
        predicted = sum(confusion[r][i] for r in range(k))
        actual = sum(confusion[i])
        precision, recall = _ratio(tp, predicted), _ratio(tp, actual)
        f1 = _ratio(2 * tp, predicted + actual)  # = 2PR/(P+R), and 0 when both are 0
        per_class[name] = ClassScores(precision, recall, f1, actual)
    correct = sum(confusion[i][i] for i in range(k))
    macro = sum(s.f1 for s in per_class.values()) / k
    return Report(tuple(labels), correct / len(y_true), macro, per_class, confusion, len(y_true))


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] = LABELS) -> float:
    return classification_report(y_true, y_pred, labels).macro_f1


def calibration_bins(
    confidences: Sequence[float], correct: Sequence[bool], n_bins: int = 10
) -> list[tuple[float, float, int]]:
    """Reliability diagram data: per equal-width confidence bin, (mean confidence, accuracy, count).

    Empty bins are left out. Used for the top-label calibration curve of ``geoalign eval --plot``.
    """
    sums = [[0.0, 0.0, 0] for _ in range(n_bins)]
    for conf, ok in zip(confidences, correct, strict=True):
        b = min(int(conf * n_bins), n_bins - 1) if conf >= 0 else 0
        sums[b][0] += conf
        sums[b][1] += float(ok)
        sums[b][2] += 1
    return [(s[0] / s[2], s[1] / s[2], int(s[2])) for s in sums if s[2]]


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], n_bins: int = 10
) -> float:
    bins = calibration_bins(confidences, correct, n_bins)
    total = sum(n for _, _, n in bins)
    return sum(n * abs(conf - acc) for conf, acc, n in bins) / total if total else 0.0


def format_report(report: Report) -> str:
    """The human-readable report printed by ``geoalign eval`` (``macro-F1: 0.xxxx`` is a stable line)."""
    width = max(len(name) for name in report.labels)
    lines = [
        f"pairs: {report.n}",
        f"accuracy: {report.accuracy:.4f}",
        f"macro-F1: {report.macro_f1:.4f}",
        "",
        f"{'label':<{width}}  precision  recall  f1      support",
    ]
    for name in report.labels:
        s = report.per_class[name]
        lines.append(f"{name:<{width}}  {s.precision:9.4f}  {s.recall:6.4f}  {s.f1:.4f}  {s.support:7d}")
    lines += ["", "confusion (rows = true, columns = predicted):"]
    short = [name.split("_")[0] for name in report.labels]
    # one space more than the longest name (partial), so the column names never run together
    cell = max(8, 1 + max(len(str(v)) for row in report.confusion for v in row))
    lines.append(" " * (width + 2) + "".join(f"{s:>{cell}}" for s in short))
    for name, row in zip(report.labels, report.confusion, strict=True):
        lines.append(f"{name:<{width}}  " + "".join(f"{v:>{cell}}" for v in row))
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class BinaryReport:
    """Same place or not: counts and precision / recall / F1 of the "same place" answers."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)  # as classification_report's

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
        }


def binary_report(y_true: Sequence[bool], y_pred: Sequence[bool]) -> BinaryReport:
    """Scores of binary answers (True = a match) against binary labels."""
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} items, y_pred {len(y_pred)}")
    if not y_true:
        raise ValueError("no items to evaluate")
    tp = sum(t and p for t, p in zip(y_true, y_pred, strict=True))
    fp = sum(p and not t for t, p in zip(y_true, y_pred, strict=True))
    fn = sum(t and not p for t, p in zip(y_true, y_pred, strict=True))
    return BinaryReport(tp, fp, fn, len(y_true) - tp - fp - fn)


def format_binary_report(report: BinaryReport, counted: str) -> str:
    """The binary block of ``geoalign eval --binary`` (``binary F1: 0.xxxx`` is a stable line)."""
    return "\n".join(
        [
            f"binary (a match = {counted}): pairs {report.n}",
            f"binary F1: {report.f1:.4f}",
            f"precision {report.precision:.4f}  recall {report.recall:.4f}  "
            f"(true matches found {report.tp}, false matches {report.fp}, missed {report.fn}, "
            f"true non-matches {report.tn})",
        ]
    )
