"""Evaluation plots: the confusion matrix and a calibration (reliability) curve in one PNG.

matplotlib is the ``plot`` extra; it is imported here only, through ``_extras.require``, and with the
non-interactive Agg backend so it works on a server without a display.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from geoalign import _extras
from geoalign.evaluate.metrics import Report, calibration_bins, expected_calibration_error
from geoalign.io.atomic import atomic_path


def plot_evaluation(
    report: Report,
    confidences: Sequence[float],
    correct: Sequence[bool],
    path: str | Path,
    *,
    title: str = "",
    n_bins: int = 10,
) -> Path:
    """Draw the confusion matrix (left) and top-label calibration curve (right) into ``path``."""
    matplotlib = _extras.require("matplotlib", "plot", "geoalign eval --plot")
    matplotlib.use("Agg")
    plt = _extras.require("matplotlib.pyplot", "plot", "geoalign eval --plot")

    fig, (ax_cm, ax_cal) = plt.subplots(1, 2, figsize=(11, 4.8))
    matrix = report.confusion
    ax_cm.imshow(matrix, cmap="Blues")
    ticks = range(len(report.labels))
    ax_cm.set_xticks(list(ticks), report.labels, rotation=20)
    ax_cm.set_yticks(list(ticks), report.labels)
    ax_cm.set_xlabel("predicted")
    ax_cm.set_ylabel("true")
    peak = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            ax_cm.text(
                j, i, str(value), ha="center", va="center", color="white" if value > peak / 2 else "black"
            )
    ax_cm.set_title(f"confusion (accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f})")

    bins = calibration_bins(confidences, correct, n_bins)
    ax_cal.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    ax_cal.plot([b[0] for b in bins], [b[1] for b in bins], marker="o", label="model")
    ece = expected_calibration_error(confidences, correct, n_bins)
    ax_cal.set_xlabel("confidence (top-label probability)")
    ax_cal.set_ylabel("accuracy")
    ax_cal.set_xlim(0, 1)
    ax_cal.set_ylim(0, 1)
    ax_cal.set_title(f"calibration (ECE {ece:.3f})")
    ax_cal.legend(loc="upper left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    target = Path(path)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return target
