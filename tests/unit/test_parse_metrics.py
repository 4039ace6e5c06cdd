"""Span P/R/F1 of the parser metric, on hand-made examples with known answers."""

from __future__ import annotations

import pytest

from geoalign.evaluate.parse_metrics import format_table, span_scores


def _row(scores, name):
    return next(r for r in scores.per_type if r.name == name)


def test_perfect_prediction_scores_one() -> None:
    gold = [[("prov", 0, 3), ("city", 3, 6)], [("road", 0, 4)]]
    scores = span_scores(gold, gold)
    assert scores.micro.f1 == 1.0
    assert scores.n_addresses == 2
    assert all(r.f1 == 1.0 for r in scores.per_type)


def test_boundary_error_is_both_a_false_positive_and_a_false_negative() -> None:
    gold = [[("road", 0, 4), ("roadno", 4, 8)]]
    pred = [[("road", 0, 5), ("roadno", 5, 8)]]  # off by one: no credit at all, conlleval-style
    scores = span_scores(gold, pred)
    assert scores.micro.tp == 0
    assert scores.micro.f1 == 0.0


def test_counts_precision_recall_and_micro() -> None:
    gold = [[("prov", 0, 3), ("city", 3, 6), ("poi", 6, 10)], [("poi", 0, 2)]]
    pred = [[("prov", 0, 3), ("city", 3, 6), ("subpoi", 6, 10)], [("poi", 0, 2), ("roomno", 2, 5)]]
    scores = span_scores(gold, pred, order=("prov", "city", "poi"))
    assert [r.name for r in scores.per_type] == ["prov", "city", "poi", "roomno", "subpoi"]
    poi = _row(scores, "poi")
    assert (poi.tp, poi.n_pred, poi.n_gold) == (1, 1, 2)
    assert poi.precision == 1.0 and poi.recall == 0.5
    assert poi.f1 == pytest.approx(2 / 3)
    # A type predicted but never gold has a row with recall 0 (not silently dropped).
    assert _row(scores, "roomno").n_gold == 0 and _row(scores, "roomno").f1 == 0.0
    assert (scores.micro.tp, scores.micro.n_pred, scores.micro.n_gold) == (3, 5, 4)
    assert scores.micro.precision == pytest.approx(0.6)
    assert scores.micro.recall == 0.75
    assert scores.micro.f1 == pytest.approx(2 / 3)


def test_spans_are_matched_within_their_own_address_only() -> None:
    gold = [[("prov", 0, 3)], []]
    pred = [[], [("prov", 0, 3)]]
    assert span_scores(gold, pred).micro.tp == 0


def test_duplicate_prediction_earns_one_hit() -> None:
    scores = span_scores([[("poi", 0, 2)]], [[("poi", 0, 2), ("poi", 0, 2)]])
    assert (scores.micro.tp, scores.micro.n_pred) == (1, 2)


def test_a_gold_type_never_predicted_keeps_its_row() -> None:
    scores = span_scores([[("person", 0, 2)]], [[]])
    row = _row(scores, "person")
    assert (row.precision, row.recall, row.f1) == (0.0, 0.0, 0.0)


def test_length_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="2 addresses"):
        span_scores([[], []], [[]])


def test_table_ends_with_the_micro_f1_line() -> None:
    table = format_table(span_scores([[("poi", 0, 2)]], [[("poi", 0, 2), ("road", 2, 4)]]))
    assert table.splitlines()[-1] == "micro-F1: 0.6667"
    assert "poi" in table and "road" in table
