"""Classification metrics against hand-computed values."""

from __future__ import annotations

import pytest

from geoalign.evaluate.metrics import (
    calibration_bins,
    classification_report,
    expected_calibration_error,
    format_report,
    macro_f1,
)

E, P, N = "exact_match", "partial_match", "not_match"


def test_report_by_hand():
    truth = [E, E, P, P, P, N, N, N, N, N]
    pred = [E, P, P, P, N, N, N, N, E, N]
    r = classification_report(truth, pred)
    assert r.n == 10
    assert r.accuracy == pytest.approx(7 / 10)
    # exact: tp 1, predicted 2, actual 2 -> P=R=F1=0.5
    assert r.per_class[E].precision == pytest.approx(0.5)
    assert r.per_class[E].recall == pytest.approx(0.5)
    # partial: tp 2, predicted 3, actual 3
    assert r.per_class[P].f1 == pytest.approx(2 / 3)
    # not: tp 4, predicted 5, actual 5
    assert r.per_class[N].f1 == pytest.approx(0.8)
    assert r.macro_f1 == pytest.approx((0.5 + 2 / 3 + 0.8) / 3)
    assert r.confusion == [[1, 1, 0], [0, 2, 1], [1, 0, 4]]
    assert macro_f1(truth, pred) == pytest.approx(r.macro_f1)


def test_class_never_predicted_scores_zero():
    r = classification_report([E, N, N], [N, N, N])
    assert r.per_class[E].precision == 0.0 and r.per_class[E].f1 == 0.0
    assert r.per_class[P].support == 0 and r.per_class[P].f1 == 0.0


def test_errors():
    with pytest.raises(ValueError):
        classification_report([E], [E, N])
    with pytest.raises(ValueError):
        classification_report([], [])
    with pytest.raises(ValueError, match="unknown label"):
        classification_report(["same"], [E])


def test_format_report_has_stable_macro_f1_line():
    text = format_report(classification_report([E, P, N, N], [E, N, N, N]))
    assert "macro-F1: 0.6000" in text  # F1: exact 1, partial 0, not 0.8
    assert "accuracy: 0.7500" in text
    assert "confusion" in text


def test_calibration():
    bins = calibration_bins([0.95, 0.91, 0.55, 0.3], [True, False, True, False], n_bins=10)
    assert bins == [(0.3, 0.0, 1), (0.55, 1.0, 1), (pytest.approx(0.93), 0.5, 2)]
    ece = expected_calibration_error([0.95, 0.91, 0.55, 0.3], [True, False, True, False], n_bins=10)
    assert ece == pytest.approx((0.3 + 0.45 + 2 * 0.43) / 4)


def test_binary_report_counts_and_scores() -> None:
    from geoalign.evaluate.metrics import binary_report, format_binary_report

    report = binary_report([True, True, True, False, False], [True, True, False, True, False])
    assert (report.tp, report.fp, report.fn, report.tn, report.n) == (2, 1, 1, 1, 5)
    assert report.precision == pytest.approx(2 / 3) and report.recall == pytest.approx(2 / 3)
    assert report.f1 == pytest.approx(2 / 3)
    assert "binary F1: 0.6667" in format_binary_report(report, "exact_match").splitlines()
    nothing = binary_report([False], [False])  # no match anywhere: scores are 0, not a division error
    assert (nothing.precision, nothing.recall, nothing.f1) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        binary_report([], [])
    with pytest.raises(ValueError):
        binary_report([True], [True, False])


def test_confusion_columns_never_run_together() -> None:
    from geoalign.evaluate.metrics import classification_report, format_report

    text = format_report(
        classification_report(["exact_match", "partial_match"], ["partial_match", "not_match"])
    )
    header = next(line for line in text.splitlines() if "partial" in line and "exact" in line)
    assert header.split() == ["exact", "partial", "not"]
