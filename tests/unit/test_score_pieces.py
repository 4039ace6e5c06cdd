"""``geoalign score --workers``: how a chunk is cut into pieces for the worker processes."""

from __future__ import annotations

import pytest

from geoalign.cli.score import MIN_PIECE, _pieces, _pool, _scorer
from geoalign.errors import ModelLoadError
from geoalign.scorers.spec import ScorerSpec


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


def test_a_failed_worker_pool_is_shut_down_whole_before_the_error_goes_on(tmp_path):
    """Leaving ``_pool`` by the workers' build error joins the executor's manager thread and its worker
    processes: the interpreter's exit hook racing a still-closing manager thread ended a CI run with
    "OSError: [Errno 9] Bad file descriptor" in place of the error."""
    spec = ScorerSpec(scorer="structured", model=str(tmp_path))  # no model.txt: every worker's build fails
    with pytest.raises(ModelLoadError, match="not a structured model directory"), _pool(spec, 2) as pool:
        assert pool is not None
        try:
            _scorer(spec, pool, 2)
        finally:
            manager = pool._executor_manager_thread
            processes = list((pool._processes or {}).values())
    assert manager is not None and not manager.is_alive()
    assert processes and not any(p.is_alive() for p in processes)


def test_each_worker_gets_its_share_of_the_cores(monkeypatch):
    # the default judge's neural stage takes intra-op threads: N workers each taking every core
    # oversubscribed the machine (830 rows/s with 2 workers against 949-975 with one, session 39)
    monkeypatch.setattr("geoalign.cpus.usable_cpus", lambda: 4)
    assert ScorerSpec().for_workers(2).threads == 2
    assert ScorerSpec().for_workers(8).threads == 1
    assert ScorerSpec().for_workers(1).threads is None  # one process: the runtime's own default
    assert ScorerSpec(threads=3).for_workers(2).threads == 3  # the user's --threads is kept
    structured = ScorerSpec(scorer="structured")
    assert structured.for_workers(2) is structured  # no threads to share: the spec is untouched
    assert not structured.applies("threads") and ScorerSpec().applies("threads")
