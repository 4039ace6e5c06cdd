"""Length bucketing / token-budget batching: pure functions, checked by properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geoalign.engine.batching import (
    pad_batch,
    padding_stats,
    plan_batches,
    truncate_pair_lengths,
)

lengths_st = st.lists(st.integers(min_value=0, max_value=300), max_size=200)


@given(lengths_st, st.integers(1, 4096), st.integers(1, 128))
def test_every_item_once_and_budgets_hold(lengths: list[int], max_tokens: int, max_batch: int) -> None:
    batches = plan_batches(lengths, max_tokens=max_tokens, max_batch=max_batch)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    for batch in batches:
        assert 1 <= len(batch) <= max_batch
        padded = len(batch) * max(lengths[i] for i in batch)
        # only a lone item may exceed the budget (it must still be scored)
        assert padded <= max_tokens or len(batch) == 1


@given(lengths_st)
def test_batches_are_length_sorted(lengths: list[int]) -> None:
    batches = plan_batches(lengths, max_tokens=512, max_batch=8)
    seq = [lengths[i] for b in batches for i in b]
    assert seq == sorted(seq)


def test_bucketing_cuts_padding_versus_arrival_order() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(20, 80, size=512).tolist()
    bucketed = padding_stats(lengths, plan_batches(lengths, max_tokens=32 * 80, max_batch=32))
    arrival = padding_stats(lengths, [list(range(i, min(i + 32, 512))) for i in range(0, 512, 32)])
    assert bucketed.real_tokens == arrival.real_tokens == sum(lengths)
    assert bucketed.waste < 0.05 < arrival.waste


def test_budget_groups_short_items_into_larger_batches() -> None:
    batches = plan_batches([10] * 10 + [100] * 4, max_tokens=200, max_batch=64)
    assert [len(b) for b in batches] == [10, 2, 2]


def test_invalid_budget_rejected() -> None:
    with pytest.raises(ValueError):
        plan_batches([1, 2], max_tokens=0)
    with pytest.raises(ValueError):
        plan_batches([-1], max_tokens=10)


def test_pad_batch_right_pads_and_masks() -> None:
    ids, mask = pad_batch([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert ids.dtype == np.int64


@given(st.integers(0, 600), st.integers(0, 600), st.integers(0, 600))
def test_truncate_pair_lengths_properties(a: int, b: int, budget: int) -> None:
    ka, kb = truncate_pair_lengths(a, b, budget)
    assert 0 <= ka <= a and 0 <= kb <= b
    assert ka + kb == min(a + b, budget)
    if a + b > budget:  # the shorter side (first on a tie) keeps up to half the budget
        short, keep_short = (a, ka) if a <= b else (b, kb)
        assert keep_short == min(short, budget // 2)


def test_truncate_pair_lengths_examples() -> None:
    assert truncate_pair_lengths(10, 20, 100) == (10, 20)
    assert truncate_pair_lengths(3, 600, 509) == (3, 506)  # a short address is kept whole
    assert truncate_pair_lengths(27, 27, 23) == (11, 12)  # tie: the first loses the odd token
    assert truncate_pair_lengths(29, 15, 15) == (8, 7)
