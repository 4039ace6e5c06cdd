"""Hard negatives for retrieval training: never a text of the batch, never twice, reproducible."""

from __future__ import annotations

import random

from geoalign.retrieval.train import pick_hard_negatives


def test_hard_negatives_skip_batch_texts_and_repeats() -> None:
    batch = [("q1", "p1"), ("q2", "p2"), ("q3", "p3")]
    hard = {"q1": ["p2", "n1"], "q2": ["n1"], "q3": ["p1", "q2"]}
    picked = pick_hard_negatives(batch, hard, random.Random(0))
    # q1 cannot take p2 (a positive in the batch), q2 cannot take n1 again, q3 has only batch texts
    assert picked == ["n1"]


def test_hard_negatives_are_reproducible_and_one_per_query() -> None:
    batch = [(f"q{i}", f"p{i}") for i in range(20)]
    hard = {f"q{i}": [f"n{i}a", f"n{i}b", f"n{i}c"] for i in range(20)}
    first = pick_hard_negatives(batch, hard, random.Random(7))
    assert first == pick_hard_negatives(batch, hard, random.Random(7))
    assert len(first) == 20 and len(set(first)) == 20
    assert all(neg.startswith(f"n{i}") for i, neg in enumerate(first))
