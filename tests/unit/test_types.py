from __future__ import annotations

import json

import pytest

from geoalign.types import CCKS_ID_TO_LABEL, LABEL_TO_CCKS_ID, LABELS, ItemError, Match


def test_match_json_has_the_contract_shape() -> None:
    m = Match.from_probabilities([0.1, 0.7, 0.2], scorer="structured", model="m1")
    data = json.loads(json.dumps(m.to_dict()))
    assert list(data) == ["label", "probabilities", "scorer", "model", "explanation", "timings_ms"]
    assert data["label"] == "partial_match"
    assert list(data["probabilities"]) == list(LABELS)
    assert Match.from_dict(data).to_dict() == data


def test_match_from_probabilities_requires_three_values() -> None:
    with pytest.raises(ValueError):
        Match.from_probabilities([0.5, 0.5], scorer="s", model="m")


def test_match_from_probabilities_label_is_the_first_maximum_in_label_order() -> None:
    import numpy as np

    for probabilities, label in [
        ((0.4, 0.4, 0.2), "exact_match"),
        ((0.2, 0.4, 0.4), "partial_match"),
        ((1 / 3, 1 / 3, 1 / 3), "exact_match"),
        (np.array([0.1, 0.2, 0.7], dtype=np.float32), "not_match"),
    ]:
        match = Match.from_probabilities(probabilities, scorer="s", model="m")
        assert match.label == label
        assert all(type(p) is float for p in match.probabilities.values())
        assert list(match.probabilities) == list(LABELS)


def test_item_error_json() -> None:
    assert ItemError("empty", "nothing").to_dict() == {"error": {"code": "empty", "message": "nothing"}}


def test_ccks_order_is_not_exact_first() -> None:
    assert CCKS_ID_TO_LABEL == {0: "not_match", 1: "partial_match", 2: "exact_match"}
    assert all(CCKS_ID_TO_LABEL[LABEL_TO_CCKS_ID[label]] == label for label in LABELS)
