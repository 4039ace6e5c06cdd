"""The async engine: work-conserving dynamic batching in front of any staged Scorer.

Design (after TEI's ``core/src/queue.rs`` and Infinity's ``batch_handler.py``, see ARCHITECTURE.md):

* **prepare | run | finish pipeline.** ``prepare`` (cleaning, parsing, tokenizing) runs in a thread
  pool as soon as the request arrives (requests that arrive while it is busy are prepared together in
  its next call: one parser batch for a burst of one-pair requests); ``run`` (the model) runs on one
  dedicated thread; ``finish`` runs on a third thread, so batch N is post-processed while batch N+1 is
  in the model and the model never waits for the tokenizer. Heavy stages release the GIL (tokenizers,
  torch, onnxruntime, numpy).
* **Work-conserving, no timer.** The forward loop pulls its next batch the moment the previous ``run``
  returns: if anything is queued the model starts at once; batches grow only from the backlog that built
  up while the model was busy. Nothing ever sleeps waiting for a batch to "fill".
* **Token budget, length-sorted window, no starvation.** A batch is cut from a window of the oldest
  queued items, sorted by cost (tokens, from ``PreparedItem.cost``) so padding stays low, and always
  contains the oldest item, so every item is served within a bounded number of batches.
* **Bounded admission.** At most ``max_queue`` items may be admitted and unanswered; beyond that a request
  fails at once with :class:`EngineOverloaded` (HTTP 429 + Retry-After) instead of queueing forever.
* **Deadlines and cancellation.** Items past their deadline, or whose caller was cancelled (an HTTP
  client that left), are dropped when the batch is formed: they cost no model compute.
* **Graceful drain.** :meth:`AsyncEngine.drain` refuses new work and returns once every admitted request
  has its answer.
* **Parallel batches.** A scorer that runs batches elsewhere (``ProcessPoolScorer``: worker processes,
  :class:`ParallelBatches`) gets that many batches in flight at once; a free slot takes an even share of
  the queue (queued items / free slots), so one batch does not take the whole backlog while the other
  workers idle. Other scorers keep one batch at a time (their runtimes use threads inside ``run``).
* **Cache.** Results are cached under (scorer name, model checksum, variant, rules version, the
  explanation switch, the exact text the scorer saw: ``engine.cache.ScorerKeys``); hits are answered
  without touching the model.

Per-item failures never fail neighbours: ``prepare``/``finish`` report ItemErrors in slots, and if ``run``
raises for a batch, its items are retried one by one so only the culprit gets an ItemError.

Over 500 lines on purpose: admission, the batching loop, delivery and drain share one piece of private
state (queue, admitted count, waiters, idle event) whose invariants are easiest to keep in one class.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from geoalign.engine.cache import ResultCache, ScorerKeys, decode_match, encode_match
from geoalign.errors import GeoalignError
from geoalign.types import (
    AddressPair,
    ItemError,
    Match,
    Prepared,
    PreparedItem,
    Raw,
    Result,
    Scorer,
    TokenBudgeted,
)

log = logging.getLogger(__name__)

State = Literal["new", "starting", "ready", "draining", "closed"]

#: a scorer whose ``prepare`` is cheap (``prepare_is_cheap``) prepares calls up to this many pairs on
#: the event loop itself; larger calls still go to the prepare thread, so the loop never stalls
_INLINE_PREPARE_MAX = 64
#: most pairs one coalesced ``prepare`` call takes from the requests waiting for it (bounds the wait of
#: a request that arrives behind a burst)
_COALESCE_MAX_PAIRS = 1024


@runtime_checkable
class ParallelBatches(Protocol):
    """A scorer whose ``run`` may be called from several threads at once, each batch running elsewhere
    (a worker process): the engine keeps up to ``parallel_batches`` batches in flight."""

    @property
    def parallel_batches(self) -> int: ...


@runtime_checkable
class Closes(Protocol):
    """A scorer holding resources outside this process (worker processes): ``warmup`` starts them and
    ``close`` stops them. The engine closes such a scorer when it drains, as it warmed it when it started."""

    def close(self) -> None: ...


class EngineOverloaded(GeoalignError):
    """The queue is full: retry later (HTTP 429 with Retry-After)."""

    code = "overloaded"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class EngineUnavailable(GeoalignError):
    """The engine is not started yet, warming up, draining or closed (HTTP 503)."""

    code = "unavailable"

    def __init__(self, message: str, state: str) -> None:
        super().__init__(message)
        self.state = state


@dataclass(slots=True)
class EngineConfig:
    """Knobs of the engine. Defaults suit a BERT-base pair model on CPU and the embedded matcher alike."""

    #: most tokens per model batch; padded (max cost x items) when ``padded`` is true, else sum of costs
    token_budget: int = 8192
    #: most items per model batch, whatever their cost
    max_batch_items: int = 256
    #: most items admitted and not yet answered; beyond it requests are rejected at once
    max_queue: int = 4096
    #: the length-sorted window spans this many batches' worth of the oldest items (Infinity uses 8)
    window_batches: int = 8
    #: budget batches as padded tensors (max cost x items) — right for padded backends, safe for all
    padded: bool = True
    #: threads running ``prepare`` concurrently (tokenizers release the GIL). Above 1 only for scorers
    #: whose ``prepare`` is thread-safe (the structured matcher's per-address LRU is not).
    prepare_threads: int = 1
    #: model batches in flight at once; None = the scorer's ``parallel_batches`` (a process pool: one per
    #: worker), else 1
    parallel_batches: int | None = None

    def __post_init__(self) -> None:
        for name in ("token_budget", "max_batch_items", "max_queue", "window_batches", "prepare_threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"EngineConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.parallel_batches is not None and self.parallel_batches < 1:
            raise ValueError(f"EngineConfig.parallel_batches must be >= 1, got {self.parallel_batches}")

    @classmethod
    def for_scorer(cls, scorer: Scorer, **overrides: Any) -> EngineConfig:
        """Defaults fitted to ``scorer``: a scorer that cuts its own batches by a token budget
        (:class:`~geoalign.types.TokenBudgeted`) gets engine batches of the same budget, so the engine's
        length-sorted batches are not re-cut inside ``run``; ``overrides`` win."""
        if isinstance(scorer, TokenBudgeted) and "token_budget" not in overrides:
            overrides["token_budget"] = scorer.max_tokens
        return cls(**overrides)


class EngineObserver:
    """Hooks for metrics (the server's Prometheus exporter overrides them). Default: do nothing.

    Called on the engine's event loop thread; implementations must be cheap and must not raise.
    """

    def prepared(self, n_items: int, seconds: float) -> None:
        """One request's ``prepare`` finished."""

    def batch(self, n_items: int, tokens: int, padded_tokens: int, forward_s: float, post_s: float) -> None:
        """One model batch finished (``run`` then ``finish``)."""

    def queue_wait(self, seconds: float) -> None:
        """An item left the queue for the model after waiting ``seconds``."""

    def cache(self, hits: int, misses: int) -> None:
        """A request's cache lookup."""

    def rejected(self, reason: str) -> None:
        """A request was refused (``overloaded`` or ``unavailable``)."""

    def dropped(self, reason: str, n_items: int) -> None:
        """Items were dropped before compute (``deadline`` or ``cancelled``)."""


@dataclass(slots=True)
class EngineStats:
    """Counters kept by every engine (also without a metrics exporter)."""

    requests: int = 0
    items: int = 0
    rejected: int = 0
    batches: int = 0
    batch_items: int = 0
    batch_tokens: int = 0
    batch_padded_tokens: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    dropped_deadline: int = 0
    dropped_cancelled: int = 0
    deadline_exceeded: int = 0
    scorer_failures: int = 0

    @property
    def cache_hit_rate(self) -> float:
        total = self.cache_hits + self.cache_misses
        return self.cache_hits / total if total else 0.0

    @property
    def mean_batch_items(self) -> float:
        return self.batch_items / self.batches if self.batches else 0.0


@dataclass(eq=False, slots=True)
class _Work:
    item: PreparedItem
    future: asyncio.Future[Result]
    deadline: float | None
    key: str | None
    enqueued: float


@dataclass(slots=True)
class _Done:
    batch: list[_Work]
    raw: Raw | None
    results: list[Result] | None
    tokens: int
    padded_tokens: int
    forward_s: float
    started: float = field(default=0.0)


def select_batch(costs: Sequence[int], *, token_budget: int, max_items: int, padded: bool) -> list[int]:
    """Pick the next batch from a FIFO window (``costs[0]`` is the oldest item); returns window indices.

    The window is sorted by cost and the batch is a contiguous run of that order around the oldest item,
    grown one neighbour at a time (the neighbour closest in cost first, so padding stays low) while it
    fits the budget. Containing the oldest item is what rules out starvation; an item over the budget
    on its own still forms a batch of one.
    """
    if not costs:
        return []
    order = sorted(range(len(costs)), key=lambda i: (costs[i], i))
    pos = order.index(0)
    lo, hi = pos, pos + 1
    total = costs[0]

    def fits(new_lo: int, new_hi: int, new_total: int) -> bool:
        n = new_hi - new_lo
        if n > max_items:
            return False
        used = costs[order[new_hi - 1]] * n if padded else new_total
        return used <= token_budget

    while True:
        below = costs[order[lo - 1]] if lo > 0 else None
        above = costs[order[hi]] if hi < len(order) else None
        top = costs[order[hi - 1]]
        candidates: list[tuple[int, str]] = []
        if below is not None:
            candidates.append((top - below, "below"))
        if above is not None:
            candidates.append((above - top, "above"))
        candidates.sort()
        grown = False
        for _, side in candidates:
            if side == "below" and below is not None and fits(lo - 1, hi, total + below):
                lo, total, grown = lo - 1, total + below, True
                break
            if side == "above" and above is not None and fits(lo, hi + 1, total + above):
                hi, total, grown = hi + 1, total + above, True
                break
        if not grown:
            return sorted(order[lo:hi])


class AsyncEngine:
    """Serve a staged Scorer with dynamic batching, a bounded queue, deadlines, a cache and a drain.

    Use from one event loop: ``await engine.start()``, then ``await engine.match(a, b)`` /
    ``await engine.match_many(pairs, timeout=...)`` from any number of tasks, and ``await engine.drain()``
    at the end (also ``async with AsyncEngine(...) as engine``). For scripts and notebooks see
    :class:`geoalign.engine.sync.SyncEngine`.
    """

    def __init__(
        self,
        scorer: Scorer,
        config: EngineConfig | None = None,
        *,
        cache: ResultCache | None = None,
        observer: EngineObserver | None = None,
    ) -> None:
        self.scorer = scorer
        self.config = config or EngineConfig()
        self.cache = cache
        self.observer = observer or EngineObserver()
        self.stats = EngineStats()
        self.state: State = "new"
        self.model_id = str(scorer.model_id)
        self.keys = ScorerKeys(scorer)
        self._queue: deque[_Work] = deque()
        self._admitted = 0
        #: calls inside match_many (admitted or waiting for room): drain waits for all of them
        self._callers = 0
        #: calls waiting for room, in arrival order: (items, grant)
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._closed = asyncio.Event()
        self._idle: asyncio.Event | None = None
        self._wakeup: asyncio.Event | None = None
        self._post_queue: asyncio.Queue[_Done] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        #: batches in the model right now (``_forward_batch`` tasks)
        self._running: set[asyncio.Task[None]] = set()
        self.parallel = self.config.parallel_batches or (
            max(1, scorer.parallel_batches) if isinstance(scorer, ParallelBatches) else 1
        )
        self._free_slots = self.parallel
        #: the scorer's ``prepare`` is only safe cleaning (its real work runs in ``run``, elsewhere)
        self._inline_prepare = bool(getattr(scorer, "prepare_is_cheap", False))
        self._cache_writes: set[asyncio.Task[None]] = set()
        #: requests waiting for the prepare thread, prepared together in one ``scorer.prepare`` call
        #: (with one prepare thread): a burst of one-pair requests parses its addresses in one batch,
        #: which the parser does at about half the cost per address of one call each
        self._prepare_waiting: deque[tuple[list[AddressPair], asyncio.Future[Prepared]]] = deque()
        self._preparing = False
        self._prepare_task: asyncio.Task[None] | None = None
        self._prepare_pool: ThreadPoolExecutor | None = None
        self._forward_pool: ThreadPoolExecutor | None = None
        self._post_pool: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: exponential moving average of model throughput (items/s), for Retry-After estimates
        self._items_per_s = 0.0

    # ------------------------------------------------------------------ lifecycle

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    @property
    def queue_depth(self) -> int:
        """Items waiting for the model (may include cancelled ones not yet skimmed off)."""
        return len(self._queue)

    @property
    def in_flight(self) -> int:
        """Items admitted and not yet answered (what ``max_queue`` bounds)."""
        return self._admitted

    async def start(self) -> None:
        """Start the worker threads and warm the scorer up; ready when this returns."""
        if self.state != "new":
            raise GeoalignError(f"engine cannot start from state {self.state!r}")
        self.state = "starting"
        self._loop = asyncio.get_running_loop()
        self._idle = asyncio.Event()
        self._idle.set()
        self._wakeup = asyncio.Event()
        # bounded: if finish falls behind, the forward loop waits instead of piling up raw outputs
        self._post_queue = asyncio.Queue(maxsize=2)
        self._prepare_pool = ThreadPoolExecutor(self.config.prepare_threads, "geoalign-prepare")
        self._forward_pool = ThreadPoolExecutor(self.parallel, "geoalign-forward")
        self._post_pool = ThreadPoolExecutor(1, "geoalign-post")
        try:
            # warm up on the forward thread: thread-local runtime state (torch, onnxruntime) lives there
            await self._loop.run_in_executor(self._forward_pool, self.scorer.warmup)
        except BaseException:
            self.state = "closed"
            self._shutdown_pools()
            await self._close_scorer()
            raise
        if self.state != "starting":  # drained while warming up: never become ready
            self._shutdown_pools()
            await self._close_scorer()
            return
        self._tasks = [
            asyncio.create_task(self._forward_loop(), name="geoalign-forward"),
            asyncio.create_task(self._post_loop(), name="geoalign-post"),
        ]
        self.state = "ready"

    async def drain(self) -> None:
        """Refuse new work, answer every call already accepted, then stop. Safe to call twice."""
        if self.state in ("closed", "new"):
            self.state = "closed"
            return
        if self.state == "draining":  # a second drain (two signals, two owners) waits for the first
            await self._closed.wait()
            return
        self.state = "draining"
        assert self._idle is not None
        await self._idle.wait()
        tasks = [*self._tasks, *self._running]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks = []
        self._shutdown_pools()
        await self._close_scorer()
        if self._cache_writes:
            await asyncio.gather(*self._cache_writes, return_exceptions=True)
        if self.cache is not None:
            await self.cache.close()
        self.state = "closed"
        self._closed.set()

    def _shutdown_pools(self) -> None:
        for pool in (self._prepare_pool, self._forward_pool, self._post_pool):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

    async def _close_scorer(self) -> None:
        """Stop what the scorer's ``warmup`` started (worker processes), off the event loop: joining
        processes blocks."""
        if isinstance(self.scorer, Closes):
            try:
                await asyncio.to_thread(self.scorer.close)
            except Exception:  # the drain must finish; say what went wrong
                log.exception("closing scorer %s failed", self.scorer.name)

    async def __aenter__(self) -> AsyncEngine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.drain()

    # ------------------------------------------------------------------ public API

    async def match(
        self,
        a: Any,
        b: Any,
        *,
        timeout: float | None = None,
        wait: bool = True,
        explain: bool | None = None,
    ) -> Result:
        """Score one pair: a Match, or an ItemError saying why it could not be scored."""
        results = await self.match_many([AddressPair(a, b)], timeout=timeout, wait=wait, explain=explain)
        return results[0]

    async def match_many(
        self,
        pairs: Sequence[AddressPair | tuple[Any, Any]],
        *,
        timeout: float | None = None,
        wait: bool = True,
        explain: bool | None = None,
    ) -> list[Result]:
        """Score pairs; results in input order, one Match or ItemError per pair.

        ``explain``: build explanations for this call (True/False) or leave it to the scorer (None);
        it travels with each item (``PreparedItem.explain``) and is part of the cache key.

        ``timeout`` (seconds) is this call's deadline: items not computed by then are answered with
        ItemError ``deadline_exceeded`` and, if still queued, never reach the model.

        ``wait`` chooses what a full queue means. True (the library default): backpressure — the call
        waits for room, and a call larger than the queue is fed through it in queue-sized chunks, so
        ``match_many`` of a million pairs just works. False (the HTTP service): fail fast with
        :class:`EngineOverloaded` before accepting anything. :class:`EngineUnavailable` is raised when
        the engine is not ready (starting, draining, closed).
        """
        if self.state != "ready":
            self.stats.rejected += 1
            self.observer.rejected("unavailable")
            raise EngineUnavailable(f"engine is {self.state}, not accepting work", self.state)
        items = [p if isinstance(p, AddressPair) else AddressPair(*p) for p in pairs]
        n = len(items)
        if n == 0:
            return []
        cap = self.config.max_queue
        if not wait and self._admitted + n > cap:
            self.stats.rejected += 1
            self.observer.rejected("overloaded")
            raise EngineOverloaded(
                f"queue full ({self._admitted} items in flight, limit {cap}; this request has {n}); "
                "retry later",
                self._retry_after_s(),
            )
        assert self._loop is not None and self._idle is not None
        deadline = None if timeout is None else self._loop.time() + max(0.0, timeout)
        # accepted from here on: drain waits for this call, including while it waits for room
        self._callers += 1
        self._idle.clear()
        self.stats.requests += 1
        self.stats.items += n
        try:
            if n <= cap:
                return await self._admit_and_serve(items, deadline, wait, explain)
            chunks = [items[i : i + cap] for i in range(0, n, cap)]
            parts = await asyncio.gather(*(self._admit_and_serve(c, deadline, wait, explain) for c in chunks))
            return [r for part in parts for r in part]
        finally:
            self._callers -= 1
            if self._callers == 0:
                self._idle.set()

    async def _admit_and_serve(
        self, items: list[AddressPair], deadline: float | None, wait: bool, explain: bool | None = None
    ) -> list[Result]:
        n = len(items)
        if not wait:
            self._admitted += n  # match_many checked the room synchronously, just before
        elif not await self._reserve(n, deadline):
            results: list[Result | None] = [None] * n
            self._expire(results, range(n))
            return _complete(results)
        try:
            return await self._serve(items, deadline, explain)
        finally:
            self._release(n)

    async def _reserve(self, n: int, deadline: float | None) -> bool:
        """Admit ``n`` items, waiting for room in arrival order (a large call is not starved by a stream
        of small ones); False if the deadline passes first."""
        if not self._waiters and self._admitted + n <= self.config.max_queue:
            self._admitted += n
            return True
        assert self._loop is not None
        grant: asyncio.Future[None] = self._loop.create_future()
        entry = (n, grant)
        self._waiters.append(entry)
        timeout = None if deadline is None else max(0.0, deadline - self._loop.time())
        try:
            await asyncio.wait({grant}, timeout=timeout)  # never cancels ``grant`` itself
        except BaseException:  # the caller was cancelled while waiting
            if grant.done():
                self._release(n)
            else:
                self._waiters.remove(entry)
                self._grant_waiters()
            raise
        if grant.done():
            return True
        self._waiters.remove(entry)
        self._grant_waiters()  # it may have been the head blocking smaller calls behind it
        return False

    def _release(self, n: int) -> None:
        self._admitted -= n
        self._grant_waiters()

    def _grant_waiters(self) -> None:
        while self._waiters and self._admitted + self._waiters[0][0] <= self.config.max_queue:
            n, grant = self._waiters.popleft()
            self._admitted += n
            grant.set_result(None)

    def _retry_after_s(self) -> int:
        """Whole seconds until the current backlog is likely gone (at least 1, at most 60)."""
        if self._items_per_s <= 0:
            return 1
        return int(min(60, max(1, round(self._admitted / self._items_per_s))))

    # ------------------------------------------------------------------ request path

    def _prepare(self, pairs: list[AddressPair]) -> Prepared:
        try:
            prepared = self.scorer.prepare(pairs)
        except Exception as exc:  # a scorer bug must not take the request down with an opaque 500
            log.exception("scorer %s: prepare raised", self.scorer.name)
            error = ItemError("scorer_error", f"prepare failed: {type(exc).__name__}: {exc}")
            return Prepared([error] * len(pairs))
        if len(prepared.items) != len(pairs):
            error = ItemError(
                "scorer_error", f"prepare returned {len(prepared.items)} items for {len(pairs)} pairs"
            )
            return Prepared([error] * len(pairs))
        return prepared

    async def _prepare_together(self, pairs: list[AddressPair]) -> Prepared:
        """``prepare`` on the prepare thread, together with the other requests waiting for it: while one
        call runs, the requests that arrive queue up and are prepared in the next call, as one batch
        (work-conserving: a lone request is prepared at once, nothing waits for a batch to fill)."""
        loop = self._loop
        assert loop is not None
        future: asyncio.Future[Prepared] = loop.create_future()
        self._prepare_waiting.append((pairs, future))
        if not self._preparing:
            self._preparing = True
            # held in an attribute: a task only the loop references may be collected mid-run
            self._prepare_task = loop.create_task(self._prepare_waiting_requests())
        return await future

    async def _prepare_waiting_requests(self) -> None:
        loop = self._loop
        assert loop is not None and self._prepare_pool is not None
        try:
            while self._prepare_waiting:
                group: list[tuple[list[AddressPair], asyncio.Future[Prepared]]] = []
                n_pairs = 0
                while self._prepare_waiting and (
                    not group or n_pairs + len(self._prepare_waiting[0][0]) <= _COALESCE_MAX_PAIRS
                ):
                    request = self._prepare_waiting.popleft()
                    group.append(request)
                    n_pairs += len(request[0])
                together = [pair for pairs, _ in group for pair in pairs]
                try:
                    prepared = await loop.run_in_executor(self._prepare_pool, self._prepare, together)
                except Exception as exc:  # the thread pool is gone (shutdown): every waiter hears it
                    for _, waiter in group:
                        if not waiter.done():
                            waiter.set_exception(exc)
                    continue
                start = 0
                for pairs, waiter in group:
                    if not waiter.done():  # a caller that left (cancelled) needs no answer
                        waiter.set_result(Prepared(prepared.items[start : start + len(pairs)]))
                    start += len(pairs)
        finally:
            self._preparing = False

    async def _serve(
        self, pairs: list[AddressPair], deadline: float | None, explain: bool | None = None
    ) -> list[Result]:
        loop = self._loop
        assert loop is not None and self._prepare_pool is not None and self._wakeup is not None
        t0 = time.perf_counter()
        if self._inline_prepare and len(pairs) <= _INLINE_PREPARE_MAX:
            prepared = self._prepare(pairs)  # a few µs a pair: cheaper than the hop to a thread
        elif self.config.prepare_threads == 1:
            prepared = await self._prepare_together(pairs)
        else:
            prepared = await loop.run_in_executor(self._prepare_pool, self._prepare, pairs)
        self.observer.prepared(len(pairs), time.perf_counter() - t0)

        results: list[Result | None] = [None] * len(pairs)
        todo: list[int] = []
        for i, item in enumerate(prepared.items):
            if isinstance(item, ItemError):
                results[i] = item
            else:
                if explain is not None:
                    item.explain = explain
                todo.append(i)

        keys: dict[int, str] = {}
        if self.cache is not None and todo:
            for i in todo:
                item = prepared.items[i]
                assert isinstance(item, PreparedItem)
                keys[i] = self.keys.key(item.seen, item.explain, item.cut)
            t1 = time.perf_counter()
            values = await self.cache.get_many([keys[i] for i in todo])
            lookup_ms = (time.perf_counter() - t1) * 1000
            missed: list[int] = []
            for i, value in zip(todo, values, strict=True):
                hit = self._decode_hit(value, lookup_ms) if value is not None else None
                if hit is None:
                    missed.append(i)
                else:
                    results[i] = hit
            hits = len(todo) - len(missed)
            self.stats.cache_hits += hits
            self.stats.cache_misses += len(missed)
            self.observer.cache(hits, len(missed))
            todo = missed

        if todo and deadline is not None and loop.time() >= deadline:
            self._expire(results, todo)
            return _complete(results)

        futures: dict[int, asyncio.Future[Result]] = {}
        #: the same text twice in one call (frequent in address tables) is computed once
        first_of: dict[tuple[str, str, bool, bool], int] = {}
        copies: list[tuple[int, int]] = []
        now = loop.time()
        for i in todo:
            item = prepared.items[i]
            assert isinstance(item, PreparedItem)
            first = first_of.setdefault(item.identity, i)
            if first != i:
                copies.append((i, first))
                continue
            future: asyncio.Future[Result] = loop.create_future()
            futures[i] = future
            self._queue.append(_Work(item, future, deadline, keys.get(i), now))
        if futures:
            self._wakeup.set()
            try:
                timeout = None if deadline is None else max(0.0, deadline - loop.time())
                await asyncio.wait(futures.values(), timeout=timeout)
            finally:
                # a cancelled caller (client gone) or a passed deadline: queued items are skipped later
                for future in futures.values():
                    if not future.done():
                        future.cancel()
            late = [i for i, f in futures.items() if f.cancelled()]
            for i, future in futures.items():
                if not future.cancelled():
                    results[i] = future.result()
            self._expire(results, late)
        for i, first in copies:
            result = results[first]
            results[i] = dataclasses.replace(result) if isinstance(result, Match) else result
        return _complete(results)

    def _decode_hit(self, value: str, lookup_ms: float) -> Match | None:
        try:
            match = decode_match(value)
        except Exception as exc:  # a corrupt entry is a miss, not an error
            log.warning("cache entry unreadable (%s); recomputing", exc)
            return None
        match.timings_ms = {"cache": lookup_ms}
        return match

    def _expire(self, results: list[Result | None], indices: Sequence[int]) -> None:
        if not indices:
            return
        self.stats.deadline_exceeded += len(indices)
        for i in indices:
            results[i] = ItemError("deadline_exceeded", "not scored before the request's deadline")

    # ------------------------------------------------------------------ batching loop

    def _take_batch(self, max_items: int | None = None) -> list[_Work]:
        """Skim dead items off the window of oldest items and cut the next batch (at most ``max_items``,
        default ``max_batch_items``) from it."""
        assert self._loop is not None
        cfg = self.config
        max_items = cfg.max_batch_items if max_items is None else min(max_items, cfg.max_batch_items)
        window_size = cfg.max_batch_items * cfg.window_batches
        now = self._loop.time()
        window: list[_Work] = []
        expired = cancelled = 0
        while self._queue and len(window) < window_size:
            work = self._queue.popleft()
            if work.deadline is not None and now >= work.deadline:
                work.future.cancel()  # the waiting request reports deadline_exceeded itself
                expired += 1
            elif work.future.done():  # cancelled: the caller left
                cancelled += 1
            else:
                window.append(work)
        if cancelled:
            self.stats.dropped_cancelled += cancelled
            self.observer.dropped("cancelled", cancelled)
        if expired:
            self.stats.dropped_deadline += expired
            self.observer.dropped("deadline", expired)
        if not window:
            return []
        chosen = select_batch(
            [w.item.cost for w in window],
            token_budget=cfg.token_budget,
            max_items=max_items,
            padded=cfg.padded,
        )
        chosen_set = set(chosen)
        rest = [w for i, w in enumerate(window) if i not in chosen_set]
        self._queue.extendleft(reversed(rest))  # back at the head, FIFO order kept
        return [window[i] for i in chosen]

    def _share(self) -> int | None:
        """Most items the next batch may take: with several batches in flight, an even share of the
        queue among the free slots (this one included), so the backlog is spread over the workers."""
        if self.parallel == 1:
            return None
        return max(1, -(-len(self._queue) // max(1, self._free_slots)))

    async def _forward_loop(self) -> None:
        assert self._wakeup is not None
        slot_free = asyncio.Event()
        slot_free.set()
        while True:
            if self._free_slots == 0:
                slot_free.clear()
                await slot_free.wait()
                continue
            batch = self._take_batch(self._share())
            if not batch:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            self._free_slots -= 1
            task = asyncio.create_task(self._forward_batch(batch), name="geoalign-batch")
            self._running.add(task)

            def done(task: asyncio.Task[None]) -> None:
                self._running.discard(task)
                self._free_slots += 1
                slot_free.set()

            task.add_done_callback(done)

    async def _forward_batch(self, batch: list[_Work]) -> None:
        """Run one batch on a forward thread and hand it to the post stage."""
        loop = self._loop
        assert loop is not None and self._post_queue is not None
        started = loop.time()
        for work in batch:
            self.observer.queue_wait(started - work.enqueued)
        costs = [w.item.cost for w in batch]
        t0 = time.perf_counter()
        try:
            raw, results = await loop.run_in_executor(self._forward_pool, self._run_isolated, batch)
        except Exception as exc:  # an engine bug must fail this batch, never stall the engine
            log.exception("forward stage failed")
            raw, results = None, [_internal_error(exc)] * len(batch)
        forward_s = time.perf_counter() - t0
        if forward_s > 0:
            rate = len(batch) * self.parallel / forward_s
            self._items_per_s = rate if self._items_per_s == 0 else 0.8 * self._items_per_s + 0.2 * rate
        await self._post_queue.put(
            _Done(batch, raw, results, sum(costs), max(costs) * len(costs), forward_s, started)
        )

    def _run_isolated(self, batch: list[_Work]) -> tuple[Raw | None, list[Result] | None]:
        """``run`` the batch; if it raises, score items one by one so only the culprit fails.

        Returns (raw, None) normally, or (None, results) when the fallback already produced results.
        Runs on the forward thread.
        """
        prepared = Prepared([w.item for w in batch])
        try:
            return self.scorer.run(prepared), None
        except Exception as exc:
            if len(batch) == 1:
                log.exception("scorer %s: run failed for one item", self.scorer.name)
                self.stats.scorer_failures += 1
                return None, [ItemError("scorer_error", f"model failed: {type(exc).__name__}: {exc}")]
            log.warning("scorer %s: run failed for a batch of %d; isolating", self.scorer.name, len(batch))
        results: list[Result] = []
        for work in batch:
            raw, single = self._run_isolated([work])
            if single is not None:
                results.extend(single)
                continue
            assert raw is not None
            results.extend(self._finish(raw, 1))
        return None, results

    def _finish(self, raw: Raw, n: int) -> list[Result]:
        try:
            results = self.scorer.finish(raw)
        except Exception as exc:
            log.exception("scorer %s: finish raised", self.scorer.name)
            self.stats.scorer_failures += 1
            return [ItemError("scorer_error", f"finish failed: {type(exc).__name__}: {exc}")] * n
        if len(results) != n:
            self.stats.scorer_failures += 1
            return [ItemError("scorer_error", f"finish returned {len(results)} results for {n} items")] * n
        return results

    async def _post_loop(self) -> None:
        loop = self._loop
        assert loop is not None and self._post_queue is not None
        while True:
            done = await self._post_queue.get()
            try:
                await self._deliver(done)
            except Exception as exc:  # an engine or observer bug must not leave callers waiting forever
                log.exception("post stage failed")
                for work in done.batch:
                    if not work.future.done():
                        work.future.set_result(_internal_error(exc))

    async def _deliver(self, done: _Done) -> None:
        """``finish`` a batch on the post thread, answer its callers, count it, cache its results."""
        loop = self._loop
        assert loop is not None
        t0 = time.perf_counter()
        if done.results is not None:
            results = done.results
        else:
            assert done.raw is not None
            results = await loop.run_in_executor(self._post_pool, self._finish, done.raw, len(done.batch))
        post_s = time.perf_counter() - t0
        to_cache: list[tuple[str, str]] = []
        for work, result in zip(done.batch, results, strict=True):
            if isinstance(result, Match):
                queue_ms = (done.started - work.enqueued) * 1000
                result.timings_ms = {**(result.timings_ms or {}), "queue": queue_ms}
                if work.key is not None:
                    to_cache.append((work.key, encode_match(result)))
            if not work.future.done():
                work.future.set_result(result)
        n = len(done.batch)
        self.stats.batches += 1
        self.stats.batch_items += n
        self.stats.batch_tokens += done.tokens
        self.stats.batch_padded_tokens += done.padded_tokens
        self.observer.batch(n, done.tokens, done.padded_tokens, done.forward_s, post_s)
        if to_cache and self.cache is not None:
            # stored even when the caller left: the compute is spent, the next asker benefits.
            # In the background, so a slow Redis never delays the next batch's answers.
            task = asyncio.create_task(self.cache.set_many(to_cache))
            self._cache_writes.add(task)
            task.add_done_callback(self._cache_writes.discard)


def _internal_error(exc: BaseException) -> ItemError:
    return ItemError("internal_error", f"engine failure: {type(exc).__name__}: {exc}")


def _complete(results: list[Result | None]) -> list[Result]:
    missing = [i for i, r in enumerate(results) if r is None]
    if missing:  # would be an engine bug; say so per item rather than crash the request
        for i in missing:
            results[i] = ItemError("internal_error", "no result was produced for this item")
    return [r for r in results if r is not None]
