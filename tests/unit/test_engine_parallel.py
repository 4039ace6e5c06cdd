"""The engine with a scorer that runs several batches at once (``ParallelBatches``, as the process pool
of ``geoalign serve --workers`` does) and one that holds outside resources (``Closes``)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from tests.fake_scorers import RecordingScorer, expected_label

from geoalign.engine.dynamic import AsyncEngine, Closes, EngineConfig, ParallelBatches
from geoalign.types import Match, Prepared, Raw

ADDRESSES = ["北京市朝阳区建国路88号", "上海市浦东新区世纪大道100号", "杭州市西湖区文三路369号", "深圳市"]


class ParallelScorer(RecordingScorer):
    """Two batches must be in ``run`` together to pass the barrier: a single-slot engine would time out
    (and the model fail) instead."""

    def __init__(self, slots: int = 2) -> None:
        super().__init__()
        self.slots = slots
        self.together = threading.Barrier(slots)
        self.closed = 0

    @property
    def parallel_batches(self) -> int:
        return self.slots

    def run(self, prepared: Prepared) -> Raw:
        self.together.wait(timeout=20)
        return super().run(prepared)

    def close(self) -> None:
        self.closed += 1


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout=60))


def test_backlog_is_shared_among_the_free_slots_and_runs_in_parallel() -> None:
    pairs = [(a, b) for a in ADDRESSES for b in ADDRESSES[:2]]

    async def main() -> None:
        scorer = ParallelScorer()
        assert isinstance(scorer, ParallelBatches) and isinstance(scorer, Closes)
        async with AsyncEngine(scorer, EngineConfig(token_budget=100_000)) as engine:
            assert engine.parallel == 2
            results = await engine.match_many(pairs)
        assert [r.label for r in results if isinstance(r, Match)] == [expected_label(a, b) for a, b in pairs]
        # one call of 8 pairs, two free slots: 4 + 4, both in the model at once (the barrier)
        assert sorted(len(b) for b in scorer.batches) == [4, 4]
        assert scorer.closed == 1, "the engine closes what its warm-up started when it drains"

    run(main())


def test_config_can_keep_one_batch_at_a_time() -> None:
    async def main() -> None:
        scorer = ParallelScorer(slots=1)  # a barrier of one: passes alone
        scorer.slots = 4  # the scorer offers 4 slots, the config insists on 1
        async with AsyncEngine(scorer, EngineConfig(token_budget=100_000, parallel_batches=1)) as engine:
            assert engine.parallel == 1
            await engine.match_many([(a, a) for a in ADDRESSES])
        assert [len(b) for b in scorer.batches] == [len(ADDRESSES)]

    run(main())


def test_a_scorer_that_fails_to_warm_up_is_closed() -> None:
    class Failing(ParallelScorer):
        def warmup(self) -> None:
            raise RuntimeError("cannot start")

    async def main() -> None:
        scorer = Failing()
        engine = AsyncEngine(scorer)
        with pytest.raises(RuntimeError, match="cannot start"):
            await engine.start()
        assert engine.state == "closed" and scorer.closed == 1

    run(main())
