"""The async engine against a deterministic fake scorer: batching, budgets, overload, deadlines,
cancellation, drain, failure isolation, cache and the sync wrapper. Events and counters, no timings."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.fake_scorers import BOOM, REJECT, RecordingScorer, expected_label

from geoalign.engine.cache import MemoryLRU
from geoalign.engine.dynamic import (
    AsyncEngine,
    EngineConfig,
    EngineObserver,
    EngineOverloaded,
    EngineUnavailable,
    select_batch,
)
from geoalign.engine.sync import SyncEngine
from geoalign.types import AddressPair, ItemError, Match, Prepared, Raw, Result

ADDRESSES = [
    "北京市朝阳区建国路88号",
    "北京市朝阳区建国路88号SOHO现代城",
    "上海市浦东新区世纪大道100号",
    "浙江省杭州市西湖区文三路369号",
    "杭州市西湖区文三路369号东部软件园",
    "广东省深圳市南山区科技园南区",
]


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout=60))  # type: ignore[arg-type]


async def until(predicate: Callable[[], bool]) -> None:
    """Yield to the loop until ``predicate`` holds (bounded by the test's overall timeout)."""
    while not predicate():
        await asyncio.sleep(0.001)


async def wait_thread_event(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, 10), "event never set"


# ---------------------------------------------------------------- select_batch (pure)


def test_select_batch_anchors_on_oldest_and_sorts_by_length() -> None:
    costs = [30, 10, 31, 11, 29, 12]
    chosen = select_batch(costs, token_budget=95, max_items=10, padded=True)
    assert 0 in chosen
    # the oldest (30) batches with its nearest lengths, not with the short ones
    assert sorted(costs[i] for i in chosen) == [29, 30, 31]


def test_select_batch_budget_modes_and_item_cap() -> None:
    costs = [10] * 10
    assert len(select_batch(costs, token_budget=45, max_items=100, padded=True)) == 4
    assert len(select_batch(costs, token_budget=45, max_items=100, padded=False)) == 4
    assert len(select_batch(costs, token_budget=10_000, max_items=3, padded=True)) == 3
    # padded budget counts the longest item for every row; unpadded counts real tokens
    mixed = [10, 40, 10, 10]
    assert len(select_batch(mixed, token_budget=60, max_items=100, padded=False)) == 4 - 1
    assert select_batch([500, 1, 1], token_budget=100, max_items=8, padded=True) == [0]
    assert select_batch([], token_budget=100, max_items=8, padded=True) == []


@given(
    st.lists(st.integers(min_value=1, max_value=120), min_size=1, max_size=60),
    st.integers(min_value=1, max_value=2000),
    st.integers(min_value=1, max_value=64),
    st.booleans(),
)
def test_select_batch_properties(costs: list[int], budget: int, max_items: int, padded: bool) -> None:
    chosen = select_batch(costs, token_budget=budget, max_items=max_items, padded=padded)
    assert 0 in chosen, "the oldest item is always served (no starvation)"
    assert len(set(chosen)) == len(chosen) and 1 <= len(chosen) <= max_items
    picked = [costs[i] for i in chosen]
    used = max(picked) * len(picked) if padded else sum(picked)
    assert used <= budget or len(chosen) == 1
    # contiguous in length order: nothing left out lies strictly between the shortest and longest picked
    lo, hi = min(picked), max(picked)
    left_out_inside = [c for i, c in enumerate(costs) if i not in chosen and lo < c < hi]
    assert not left_out_inside


# ---------------------------------------------------------------- engine behaviour


def test_results_in_order_with_per_item_errors() -> None:
    async def main() -> None:
        scorer = RecordingScorer()
        async with AsyncEngine(scorer) as engine:
            assert scorer.warmed and engine.ready
            pairs = [
                AddressPair(ADDRESSES[0], ADDRESSES[0]),
                AddressPair(None, ADDRESSES[1]),
                AddressPair(ADDRESSES[3], ADDRESSES[4]),
                AddressPair(REJECT, ADDRESSES[2]),
                AddressPair(ADDRESSES[2], "   "),
                (ADDRESSES[5], ADDRESSES[2]),
            ]
            results = await engine.match_many(pairs)
            assert await engine.match_many([]) == []
            single = await engine.match(ADDRESSES[1], ADDRESSES[0])
        assert [r.label if isinstance(r, Match) else r.code for r in results] == [
            "exact_match",
            "missing",
            expected_label(ADDRESSES[3], ADDRESSES[4]),
            "rejected",
            "empty",
            "not_match",
        ]
        assert isinstance(single, Match) and single.label == expected_label(ADDRESSES[1], ADDRESSES[0])
        assert single.timings_ms is not None and "queue" in single.timings_ms
        # bad items never reached the model
        assert (REJECT, ADDRESSES[2]) not in scorer.seen_items
        assert engine.state == "closed"

    run(main())


def test_backlog_forms_one_batch_when_model_frees_up() -> None:
    """Work-conserving: the model starts at once on the first item; what arrives meanwhile rides the
    next batch, together, as soon as the model is free (no timer involved)."""

    async def main() -> None:
        scorer = RecordingScorer()
        scorer.hold.set()
        async with AsyncEngine(scorer, EngineConfig(token_budget=100_000)) as engine:
            first = asyncio.create_task(engine.match(ADDRESSES[0], ADDRESSES[1]))
            await wait_thread_event(scorer.entered)
            rest = [asyncio.create_task(engine.match(a, b)) for a in ADDRESSES for b in ADDRESSES[:3]]
            await until(lambda: engine.queue_depth == len(rest))
            scorer.hold.clear()
            scorer.release.set()
            await asyncio.gather(first, *rest)
        assert [len(b) for b in scorer.batches] == [1, len(rest)]
        assert engine.stats.batches == 2

    run(main())


def test_token_budget_caps_batches_and_length_sorting_limits_padding() -> None:
    async def main() -> None:
        scorer = RecordingScorer()
        scorer.hold.set()
        budget = 200
        short = [("上海市黄浦区", f"南京东路{i}号") for i in range(12)]  # cost 15-16
        long = [(ADDRESSES[4] + "A座", ADDRESSES[1] + f"{i}层") for i in range(12)]  # cost 42-43
        mixed = [p for pair in zip(short, long, strict=True) for p in pair]
        async with AsyncEngine(scorer, EngineConfig(token_budget=budget, padded=True)) as engine:
            blocker = asyncio.create_task(engine.match("阻塞", "请求"))
            await wait_thread_event(scorer.entered)
            tasks = [asyncio.create_task(engine.match(a, b)) for a, b in mixed]
            await until(lambda: engine.queue_depth == len(mixed))
            scorer.hold.clear()
            scorer.release.set()
            await asyncio.gather(blocker, *tasks)
        batches = scorer.batches[1:]
        assert sum(len(b) for b in batches) == len(mixed)
        costs = [[len(a) + len(b) + 3 for a, b in batch] for batch in batches]
        for batch_costs in costs:
            assert max(batch_costs) * len(batch_costs) <= budget
        # length-sorted windows: no batch mixes the short and the long population
        for batch_costs in costs:
            assert max(batch_costs) - min(batch_costs) <= 2
        assert engine.stats.batch_padded_tokens - engine.stats.batch_tokens <= 2 * engine.stats.batch_items

    run(main())


def test_overload_rejects_immediately_and_recovers() -> None:
    async def main() -> None:
        scorer = RecordingScorer()
        scorer.hold.set()
        async with AsyncEngine(scorer, EngineConfig(max_queue=4)) as engine:
            busy = asyncio.create_task(engine.match_many([(ADDRESSES[0], ADDRESSES[1])] * 3))
            await wait_thread_event(scorer.entered)
            one_more = asyncio.create_task(engine.match(ADDRESSES[2], ADDRESSES[3]))
            await until(lambda: engine.in_flight == 4)
            with pytest.raises(EngineOverloaded) as info:
                await engine.match(ADDRESSES[3], ADDRESSES[4], wait=False)
            assert info.value.retry_after_s >= 1 and info.value.code == "overloaded"
            with pytest.raises(EngineOverloaded):
                await engine.match_many([(ADDRESSES[0], ADDRESSES[0])] * 5, wait=False)
            # the library default waits for room instead (backpressure)
            waiting = asyncio.create_task(engine.match(ADDRESSES[4], ADDRESSES[4]))
            late = await engine.match(ADDRESSES[4], ADDRESSES[5], timeout=0.02)
            assert isinstance(late, ItemError) and late.code == "deadline_exceeded"
            scorer.hold.clear()
            scorer.release.set()
            assert all(isinstance(r, Match) for r in await busy)
            assert isinstance(await one_more, Match)
            assert isinstance(await waiting, Match)
            assert isinstance(await engine.match(ADDRESSES[3], ADDRESSES[4], wait=False), Match)
        assert engine.stats.rejected == 2
        assert (ADDRESSES[4], ADDRESSES[5]) not in scorer.seen_items

    run(main())


def test_calls_larger_than_the_queue_are_fed_through_it_in_order() -> None:
    async def main() -> None:
        scorer = RecordingScorer()
        config = EngineConfig(max_queue=4, max_batch_items=3)
        async with AsyncEngine(scorer, config) as engine:
            pairs = [(a, b) for a in ADDRESSES for b in ADDRESSES[:2]]  # 12 pairs, queue of 4
            results, other = await asyncio.gather(
                engine.match_many(pairs), engine.match_many(list(reversed(pairs)))
            )
            with pytest.raises(EngineOverloaded):
                await engine.match_many(pairs, wait=False)
        assert [r.label for r in results if isinstance(r, Match)] == [expected_label(a, b) for a, b in pairs]
        assert len(other) == len(pairs) and all(isinstance(r, Match) for r in other)
        assert max(len(batch) for batch in scorer.batches) <= 3

    run(main())


def test_waiting_calls_are_admitted_in_arrival_order() -> None:
    """A small call does not overtake a larger one already waiting for room (no starvation)."""

    async def main() -> None:
        scorer = RecordingScorer()
        scorer.hold.set()
        async with AsyncEngine(scorer, EngineConfig(max_queue=3)) as engine:
            busy = asyncio.create_task(engine.match_many([(ADDRESSES[0], ADDRESSES[1])] * 2))
            await wait_thread_event(scorer.entered)
            assert engine.in_flight == 2
            large = asyncio.create_task(
                engine.match_many([(ADDRESSES[2], ADDRESSES[3]), (ADDRESSES[3], "x")])
            )
            await until(lambda: len(engine._waiters) == 1)
            small = asyncio.create_task(engine.match(ADDRESSES[4], ADDRESSES[5]))  # would fit: 2 + 1 <= 3
            await until(lambda: len(engine._waiters) == 2)
            assert engine.in_flight == 2
            gone = asyncio.create_task(engine.match(ADDRESSES[5], "y"))
            await until(lambda: len(engine._waiters) == 3)
            gone.cancel()  # a waiter that leaves frees its place in line
            await until(lambda: len(engine._waiters) == 2)
            scorer.hold.clear()
            scorer.release.set()
            results = await asyncio.gather(busy, large, small)
        assert all(isinstance(r, Match) for part in results[:2] for r in part)
        assert isinstance(results[2], Match)
        assert (ADDRESSES[5], "y") not in scorer.seen_items

    run(main())


def test_deadline_expired_work_never_reaches_the_model() -> None:
    async def main() -> None:
        scorer = RecordingScorer()
        scorer.hold.set()
        async with AsyncEngine(scorer) as engine:
            busy = asyncio.create_task(engine.match(ADDRESSES[0], ADDRESSES[1]))
            await wait_thread_event(scorer.entered)
            late = await engine.match_many([(ADDRESSES[2], ADDRESSES[3]), (None, "x")], timeout=0.02)
            assert isinstance(late[0], ItemError) and late[0].code == "deadline_exceeded"
            assert isinstance(late[1], ItemError) and late[1].code == "missing"
            already = await engine.match(ADDRESSES[4], ADDRESSES[5], timeout=0)
            assert isinstance(already, ItemError) and already.code == "deadline_exceeded"
            scorer.hold.clear()
            scorer.release.set()
            await busy
            assert isinstance(await engine.match(ADDRESSES[5], ADDRESSES[5]), Match)
        assert (ADDRESSES[2], ADDRESSES[3]) not in scorer.seen_items
        assert (ADDRESSES[4], ADDRESSES[5]) not in scorer.seen_items
        assert engine.stats.deadline_exceeded == 2

    run(main())


def test_cancelled_caller_costs_no_compute() -> None:
    async def main() -> None:
        scorer = RecordingScorer()
        scorer.hold.set()
        async with AsyncEngine(scorer) as engine:
            busy = asyncio.create_task(engine.match(ADDRESSES[0], ADDRESSES[1]))
            await wait_thread_event(scorer.entered)
            left = [(ADDRESSES[2], ADDRESSES[4]), (ADDRESSES[2], ADDRESSES[5]), (ADDRESSES[3], ADDRESSES[4])]
            gone = asyncio.create_task(engine.match_many(left))
            await until(lambda: engine.queue_depth == 3)
            gone.cancel()
            with pytest.raises(asyncio.CancelledError):
                await gone
            assert engine.in_flight == 1
            scorer.hold.clear()
            scorer.release.set()
            await busy
            assert isinstance(await engine.match(ADDRESSES[5], ADDRESSES[5]), Match)
        assert not set(left) & set(scorer.seen_items)
        assert engine.stats.dropped_cancelled == 3

    run(main())


def test_drain_answers_everything_accepted_and_refuses_new_work() -> None:
    async def main() -> None:
        scorer = RecordingScorer()
        scorer.hold.set()
        engine = AsyncEngine(scorer)
        with pytest.raises(EngineUnavailable):
            await engine.match("a", "b")
        await engine.start()
        first = asyncio.create_task(engine.match(ADDRESSES[0], ADDRESSES[1]))
        await wait_thread_event(scorer.entered)
        accepted = [asyncio.create_task(engine.match(a, ADDRESSES[0])) for a in ADDRESSES * 5]
        await until(lambda: engine.queue_depth == len(accepted))
        drain = asyncio.create_task(engine.drain())
        second_drain = asyncio.create_task(engine.drain())
        await until(lambda: engine.state == "draining")
        with pytest.raises(EngineUnavailable) as info:
            await engine.match(ADDRESSES[2], ADDRESSES[3])
        assert info.value.state == "draining"
        assert not drain.done()
        scorer.hold.clear()
        scorer.release.set()
        results = await asyncio.gather(first, *accepted)
        await drain
        await second_drain
        assert engine.state == "closed"
        assert len(results) == 1 + len(accepted)
        assert all(isinstance(r, Match) for r in results)
        await engine.drain()  # idempotent

    run(main())


def test_model_crash_on_one_item_fails_only_that_item() -> None:
    async def main() -> None:
        scorer = RecordingScorer()
        scorer.hold.set()
        async with AsyncEngine(scorer) as engine:
            blocker = asyncio.create_task(engine.match("阻塞", "请求"))
            await wait_thread_event(scorer.entered)
            batch = asyncio.create_task(
                engine.match_many([(ADDRESSES[0], ADDRESSES[0]), (BOOM, ADDRESSES[1]), (ADDRESSES[2], "x")])
            )
            await until(lambda: engine.queue_depth == 3)
            scorer.hold.clear()
            scorer.release.set()
            await blocker
            results = await batch
        assert isinstance(results[0], Match) and results[0].label == "exact_match"
        assert isinstance(results[1], ItemError) and results[1].code == "scorer_error"
        assert isinstance(results[2], Match)
        assert engine.stats.scorer_failures == 1

    run(main())


def test_finish_overlaps_the_next_forward() -> None:
    """finish(batch N) is still running when run(batch N+1) starts: the stages are pipelined."""

    class SlowFinish(RecordingScorer):
        def __init__(self) -> None:
            super().__init__()
            self.second_forward = threading.Event()
            self.overlapped = False

        def run(self, prepared: Any) -> Raw:
            if len(self.batches) >= 1:
                self.second_forward.set()
            return super().run(prepared)

        def finish(self, raw: Raw) -> list[Result]:
            if not self.overlapped:
                # blocks until the next forward begins: would deadlock (and time out) without overlap
                self.overlapped = self.second_forward.wait(timeout=10)
            return super().finish(raw)

    async def main() -> None:
        scorer = SlowFinish()
        async with AsyncEngine(scorer) as engine:
            first = asyncio.create_task(engine.match(ADDRESSES[0], ADDRESSES[1]))
            await wait_thread_event(scorer.entered)
            second = asyncio.create_task(engine.match(ADDRESSES[2], ADDRESSES[3]))
            await asyncio.gather(first, second)
        assert scorer.overlapped

    run(main())


def test_prepare_runs_while_the_model_is_busy() -> None:
    async def main() -> None:
        scorer = RecordingScorer()
        scorer.hold.set()
        async with AsyncEngine(scorer) as engine:
            first = asyncio.create_task(engine.match(ADDRESSES[0], ADDRESSES[1]))
            await wait_thread_event(scorer.entered)
            second = asyncio.create_task(engine.match(ADDRESSES[2], ADDRESSES[3]))
            await until(lambda: engine.queue_depth == 1)  # prepared (and queued) during the forward
            assert scorer.prepare_calls == 2 and len(scorer.batches) == 1
            scorer.hold.clear()
            scorer.release.set()
            await asyncio.gather(first, second)

    run(main())


class GatedPrepare(RecordingScorer):
    """Its first ``prepare`` call blocks until released; records every call's size."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []
        self.prepare_entered = threading.Event()
        self.prepare_release = threading.Event()

    def prepare(self, pairs: Sequence[AddressPair]) -> Prepared:
        self.sizes.append(len(pairs))
        if len(self.sizes) == 1:
            self.prepare_entered.set()
            self.prepare_release.wait(timeout=30)
        return super().prepare(pairs)


def test_requests_that_wait_for_prepare_are_prepared_together() -> None:
    """One-pair requests arriving while ``prepare`` is busy are prepared in one call (a parser batch),
    each still gets its own answers, in order, with its own errors."""

    async def main() -> None:
        scorer = GatedPrepare()
        async with AsyncEngine(scorer) as engine:
            first = asyncio.create_task(engine.match(ADDRESSES[0], ADDRESSES[0]))
            await wait_thread_event(scorer.prepare_entered)
            pairs = [(ADDRESSES[i], ADDRESSES[i + 1]) for i in range(4)] + [("", ADDRESSES[0])]
            rest = [asyncio.create_task(engine.match_many([AddressPair(a, b)])) for a, b in pairs]
            await until(lambda: len(engine._prepare_waiting) == len(pairs))
            scorer.prepare_release.set()
            assert (await first).label == "exact_match"  # type: ignore[union-attr]
            answers = [(await task)[0] for task in rest]
        assert scorer.sizes == [1, len(pairs)]
        for (a, b), answer in zip(pairs[:4], answers[:4], strict=True):
            assert isinstance(answer, Match) and answer.label == expected_label(a, b)
        assert isinstance(answers[4], ItemError)

    run(main())


def test_cache_hits_cost_no_compute_and_keys_are_ordered() -> None:
    async def main() -> None:
        scorer = RecordingScorer()
        cache = MemoryLRU(100)
        async with AsyncEngine(scorer, cache=cache) as engine:
            first = await engine.match(ADDRESSES[0], ADDRESSES[1])
            n_seen = len(scorer.seen_items)
            # the same text after safe cleaning is the same key (the scorer saw the same thing)
            again = await engine.match("  " + ADDRESSES[0] + "\u200b", ADDRESSES[1])
            assert len(scorer.seen_items) == n_seen
            swapped = await engine.match(ADDRESSES[1], ADDRESSES[0])
            assert len(scorer.seen_items) == n_seen + 1
        assert isinstance(first, Match) and isinstance(again, Match) and isinstance(swapped, Match)
        assert again.label == first.label and again.probabilities == first.probabilities
        assert again.timings_ms is not None and set(again.timings_ms) == {"cache"}
        assert engine.stats.cache_hits == 1 and engine.stats.cache_misses == 2
        assert engine.stats.cache_hit_rate == pytest.approx(1 / 3)

    run(main())


def test_duplicates_within_a_call_are_computed_once() -> None:
    async def main() -> None:
        scorer = RecordingScorer()
        async with AsyncEngine(scorer) as engine:
            pairs = [(ADDRESSES[0], ADDRESSES[1]), (ADDRESSES[2], ADDRESSES[3])] * 3
            pairs.append((" " + ADDRESSES[0], ADDRESSES[1]))  # the same text after cleaning
            results = await engine.match_many(pairs)
        assert sorted(scorer.seen_items) == sorted(
            {(ADDRESSES[0], ADDRESSES[1]), (ADDRESSES[2], ADDRESSES[3])}
        )
        assert all(isinstance(r, Match) for r in results)
        assert [r.label for r in results if isinstance(r, Match)] == [
            expected_label(ADDRESSES[0], ADDRESSES[1]),
            expected_label(ADDRESSES[2], ADDRESSES[3]),
        ] * 3 + [expected_label(ADDRESSES[0], ADDRESSES[1])]
        assert results[0] is not results[2]  # independent objects per slot

    run(main())


def test_errors_are_not_cached_and_different_models_do_not_share_entries() -> None:
    async def main() -> None:
        cache = MemoryLRU(100)
        async with AsyncEngine(RecordingScorer(model_id="m1"), cache=cache) as engine:
            await engine.match(ADDRESSES[0], ADDRESSES[1])
            await engine.match(REJECT, ADDRESSES[1])
        assert len(cache) == 1
        other = RecordingScorer(model_id="m2")
        cache2 = MemoryLRU(100)
        cache2._data.update(cache._data)
        async with AsyncEngine(other, cache=cache2) as engine:
            await engine.match(ADDRESSES[0], ADDRESSES[1])
        assert other.seen_items == [(ADDRESSES[0], ADDRESSES[1])]

    run(main())


def test_a_failing_observer_never_stalls_the_engine() -> None:
    class Broken(EngineObserver):
        def batch(self, *args: Any) -> None:
            raise RuntimeError("metrics backend bug")

    async def main() -> None:
        async with AsyncEngine(RecordingScorer(), observer=Broken()) as engine:
            first = await engine.match(ADDRESSES[0], ADDRESSES[0])
            second = await engine.match(ADDRESSES[1], ADDRESSES[2])
        assert isinstance(first, Match) and isinstance(second, Match)

    run(main())


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="max_queue"):
        EngineConfig(max_queue=0)


# ---------------------------------------------------------------- sync wrapper


def test_sync_engine_from_threads_and_inside_a_running_loop() -> None:
    scorer = RecordingScorer()
    with SyncEngine(scorer, EngineConfig(max_queue=4)) as engine:
        many = engine.match_many([(a, b) for a in ADDRESSES for b in ADDRESSES])  # 36 > queue of 4
        assert len(many) == 36 and all(isinstance(r, Match) for r in many)
        assert engine.match(ADDRESSES[0], ADDRESSES[0]).label == "exact_match"  # type: ignore[union-attr]

        async def notebook_cell() -> list[Result]:
            # Jupyter: a loop is already running in this thread; the sync API must still work
            return engine.match_many([(ADDRESSES[1], ADDRESSES[2]), (None, ADDRESSES[2])])

        in_loop = asyncio.run(notebook_cell())
        assert isinstance(in_loop[0], Match) and isinstance(in_loop[1], ItemError)

        out: list[Result] = []
        threads = [
            threading.Thread(target=lambda a=a: out.append(engine.match(a, ADDRESSES[0]))) for a in ADDRESSES
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(out) == len(ADDRESSES) and all(isinstance(r, Match) for r in out)
        assert engine.stats.items == 36 + 1 + 2 + len(ADDRESSES)
    with pytest.raises(RuntimeError, match="closed"):
        engine.match("a", "b")
    engine.close()


def test_a_cut_address_and_the_same_text_typed_short_are_not_one_answer() -> None:
    """The answer for an address cut to --max-chars says so (explanation.truncated); the same text
    typed short does not: neither the in-call de-duplication nor the cache may hand one the other's."""
    from geoalign.address.clean import Cleaned, clean
    from geoalign.scorers.spec import ScorerSpec

    scorer = ScorerSpec(scorer="structured", max_chars=12).build()
    long_a = ADDRESSES[4]
    cleaned = clean(long_a, max_chars=12)
    assert isinstance(cleaned, Cleaned) and cleaned.truncated
    short_a, b = cleaned.text, ADDRESSES[3]

    def cut(result: Result) -> Any:
        """Where side a was cut (side b, longer than 12 characters too, is cut in every call)."""
        assert isinstance(result, Match)
        return ((result.explanation or {}).get("truncated") or {}).get("a")

    async def main() -> None:
        async with AsyncEngine(scorer) as engine:
            long_first = await engine.match_many([(long_a, b), (short_a, b)])
        assert cut(long_first[0]) is not None and cut(long_first[1]) is None
        cache = MemoryLRU(100)
        async with AsyncEngine(scorer, cache=cache) as engine:
            assert cut(await engine.match(long_a, b)) is not None
            assert cut(await engine.match(short_a, b)) is None
            assert cut(await engine.match(long_a, b)) is not None
        assert engine.stats.cache_hits == 1 and len(cache) == 2

    run(main())
