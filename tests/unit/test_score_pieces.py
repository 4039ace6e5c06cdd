"""``geoalign score --workers``: how a chunk is cut into pieces for the worker processes."""

from __future__ import annotations

import pytest

from geoalign.cli.score import MIN_PIECE, _pieces


@pytest.mark.parametrize("n", [0, 1, MIN_PIECE - 1, MIN_PIECE, 2 * MIN_PIECE + 1, 4096, 4097, 19_251])
@pytest.mark.parametrize("parts", [1, 2, 4, 7])
def test_pieces_cover_the_items_in_order_and_near_equal(n, parts):
    items = list(range(n))
    pieces = _pieces(items, parts)
    assert [x for piece in pieces for x in piece] == items
    if n == 0:
        assert pieces == []
        return
    assert 1 <= len(pieces) <= parts
    sizes = [len(piece) for piece in pieces]
    assert max(sizes) - min(sizes) <= 1
    if len(pieces) > 1:
        assert min(sizes) >= MIN_PIECE


def test_a_big_chunk_gets_one_piece_per_part():
    assert [len(p) for p in _pieces(list(range(4096)), 4)] == [1024] * 4
    assert [len(p) for p in _pieces(list(range(2867)), 4)] == [717, 717, 717, 716]
