"""A scorer over worker processes: whole batches of the embedded matcher (alone, or as the default
judge's first stage) scored off the server's GIL.

Why: the embedded (structured) matcher is pure-Python CPU work — clean, normalize, parse each address
(~90% of its time), then features and one booster call. In the HTTP server all of it ran on the event
loop's process under one GIL, so the service reached about half of what the same scorer does offline.
:class:`ProcessPoolScorer` keeps the engine's batching in the server process and sends each *batch*
to one of ``workers`` processes that build the same scorer from the picklable
:class:`~geoalign.scorers.spec.ScorerSpec` and run ``prepare -> run -> finish`` there.

Why whole batches and not ``prepare`` alone (measured on the structured scorer, per pair, one batch of
600 fresh pairs): ``prepare`` 2,264 µs, ``run`` 191 µs, ``finish`` 79 µs; the parsed views ``prepare``
makes pickle to 2.3 KB a pair and cost 112 µs to dump and 151 µs to load, against 0.4 KB and ~10 µs
each way for the finished ``Match``. Sending back parsed views would leave ~420 µs a pair (unpickling,
features, booster, finish, rule layer) on the server's one GIL; sending back answers leaves ~25 µs
(clean for the cache key, unpickling the Match).

What stays in the server process: safe cleaning of both sides (``prepare`` here), so the cache key is
exactly the text the scorer sees and missing/empty/not-a-string inputs answer without a round trip. The
worker is sent the raw text and cleans it again itself (cleaning is idempotent), so whatever the scorer
records about its input (truncation) is recorded by the scorer.

Failures: an exception inside a worker reaches ``run``'s caller as itself (the engine then scores that
batch's items one by one so only the culprit gets an ItemError). A worker that *dies* (a crash, the OOM
killer) breaks the whole :class:`~concurrent.futures.ProcessPoolExecutor` (``BrokenProcessPool``): the
pool is replaced by a fresh one (one replacement per broken pool, however many threads saw it break)
and the batch is sent once more to the new pool (it may have been a bystander of another worker's
death). If that breaks too, ``run`` raises :class:`WorkerDied` and the engine retries the items one by
one: neighbours are answered, an input that kills its worker every time ends as an ItemError. A worker
that never answers (a deadlock, a stopped process) is treated the same way after ``batch_timeout_s``
(``serve --worker-timeout``): the pool's processes are killed and the pool replaced. Restarts of a
pool that never finished a batch are spaced ``restart_interval_s`` apart, so a pool that cannot start
(out of memory) costs one attempt a second, never a fork storm.

Workers ignore SIGINT: Ctrl-C at a terminal reaches the whole process group, and shutdown belongs to
the server, which drains (every accepted request answered) and then closes the pool. SIGTERM keeps its
default (the executor terminates the workers of a broken pool with it); a SIGTERM sent to the whole
group (systemd's control-group kill) costs a pool restart, and the batches in flight are retried on the
new pool. A worker whose parent has gone (``kill -9`` of the server) exits by itself.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from geoalign.address.clean import DEFAULT_MAX_CHARS, Cleaned, clean
from geoalign.cpus import usable_cpus
from geoalign.errors import GeoalignError, InputError
from geoalign.types import AddressPair, ItemError, Match, Prepared, PreparedItem, Raw, Result, Scorer

if TYPE_CHECKING:
    from geoalign.scorers.spec import ScorerSpec

log = logging.getLogger(__name__)

#: the scorers with CPU work under the GIL worth a pool: the embedded matcher, and the default judge
#: (cascade), whose structured stage is about half of its CPU time. Each worker's neural stage gets its
#: share of the cores (``ScorerSpec.for_workers``): two workers on two cores served the default judge
#: 1.32-1.46x the pairs/s of one process at 64 clients x 1 pair, +0.6 ms p50 for a lone pair and about
#: 200 MB more memory (docs/benchmarks.md, session 39). Pure neural scorers (torch, onnx) keep batching in
#: the server process: their runtimes release the GIL and already use every core through intra-op threads.
POOLABLE = frozenset({"structured", "cascade"})
#: Longest a worker may take over one batch before it counts as hung (a batch of the embedded matcher
#: takes well under a second; this leaves room for a loaded machine and the largest batches).
DEFAULT_BATCH_TIMEOUT_S = 120.0


class WorkerDied(GeoalignError):
    """A scorer worker process died (or hung past the batch timeout) while scoring a batch; the pool has
    been replaced."""

    code = "worker_died"


def resolve_workers(requested: int | None, backend: str) -> int:
    """How many worker processes ``geoalign serve`` runs for ``backend``; 0 = score in-process.

    ``requested`` None (the default) means one per usable CPU for a poolable scorer and in-process for
    the others; 0 or 1 means in-process; N > 1 asks for N workers and is refused for a scorer that is
    not poolable (the option would do nothing, and saying nothing would hide that).
    """
    if requested is not None and requested < 0:
        raise InputError(f"--workers must be 0 or more, got {requested}")
    if requested is None:
        return usable_cpus() if backend in POOLABLE else 0
    if requested <= 1:
        return 0
    if backend not in POOLABLE:
        raise InputError(
            f"--workers {requested}: worker processes are for the embedded matcher and the default judge; "
            f"the {backend!r} scorer batches in the server process and uses threads "
            "(give --threads instead, or --workers 0)"
        )
    return requested


# ------------------------------------------------------------------------------ inside a worker

_worker_scorer: Scorer | None = None


def _worker_init(spec: ScorerSpec, barrier: Any, start_timeout_s: float) -> None:
    """Build and warm the scorer, then wait until every worker of the pool has done the same (so the
    pool is either wholly ready or reported as failed, never half-warm)."""
    global _worker_scorer
    from geoalign.collector import pace_for_long_runs
    from geoalign.quick_exit import freeze_heap_at_exit

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch_parent(os.getppid())
    freeze_heap_at_exit()  # a drain or a restart waits for each worker's exit
    pace_for_long_runs()  # spawned: the parent's collector settings are not inherited
    scorer = spec.build()
    scorer.warmup()
    _worker_scorer = scorer
    # a sibling that failed breaks the barrier: the parent sees the broken pool and reports it
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait(timeout=start_timeout_s)


def watch_parent(parent: int) -> None:
    """Exit when the parent is gone: a worker blocked on its task queue would otherwise outlive a
    server killed with SIGKILL (the queue's pipe never reports end of file to its own writers)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="geoalign-parent-watch", daemon=True).start()


def _worker_ready() -> int:
    return os.getpid()


def _worker_score(pairs: list[tuple[Any, Any]], explain: list[bool]) -> list[Result]:
    scorer = _worker_scorer
    if scorer is None:  # the initializer failed; the pool is broken and this never runs
        raise GeoalignError("scorer worker has no scorer")
    prepared = scorer.prepare([AddressPair(a, b) for a, b in pairs])
    for item, wanted in zip(prepared.items, explain, strict=True):
        if isinstance(item, PreparedItem):
            item.explain = wanted
    return scorer.finish(scorer.run(prepared))


# ------------------------------------------------------------------------------ in the server


class ProcessPoolScorer:
    """The Scorer protocol over ``workers`` processes that each build ``spec`` (module docstring).

    ``prepare`` (safe cleaning) runs in the caller's process, ``run`` sends the batch to a worker and
    waits, ``finish`` hands back the worker's answers. ``run`` is thread-safe: an engine runs up to
    ``parallel_batches`` batches at once, one per worker. ``warmup`` starts the pool (every worker
    loaded and warm when it returns); ``close`` stops it. Identity (name, model id, rules version, the
    explanation default, ``describe``) comes from ``local``, the same spec built in this process.
    """

    def __init__(
        self,
        spec: ScorerSpec,
        workers: int,
        *,
        local: Scorer | None = None,
        start_timeout_s: float = 300.0,
        restart_interval_s: float = 1.0,
        batch_timeout_s: float = DEFAULT_BATCH_TIMEOUT_S,
    ) -> None:
        if workers < 1:
            raise ValueError(f"a process pool needs at least one worker, got {workers}")
        self.spec = spec
        self.workers = workers
        self.local: Scorer = local if local is not None else spec.build()
        self.name = self.local.name
        self.max_chars = spec.max_chars or DEFAULT_MAX_CHARS
        self.start_timeout_s = start_timeout_s
        self.restart_interval_s = restart_interval_s
        if batch_timeout_s <= 0:
            raise ValueError(f"a worker's batch timeout must be positive, got {batch_timeout_s}")
        self.batch_timeout_s = batch_timeout_s
        #: pools replaced after a worker died (reported by ``describe`` and the server's metrics)
        self.restarts = 0
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._generation = 0
        self._served = False  # the current pool has finished at least one batch
        self._started_at = 0.0
        self._pings: list[Future[int]] = []  # the current pool's start-up pings, one per worker
        self._closed = False

    #: ``prepare`` is only safe cleaning (a few µs a pair): the engine runs it on its event loop for
    #: small calls instead of paying a hop to its prepare thread per request
    prepare_is_cheap = True

    # ---------------------------------------------------------------- identity (from the local scorer)

    @property
    def model_id(self) -> str:
        return str(self.local.model_id)

    @property
    def parallel_batches(self) -> int:
        """Batches the engine may have in flight at once: one per worker."""
        return self.workers

    @property
    def explain(self) -> bool:
        return bool(getattr(self.local, "explain", True))

    @explain.setter
    def explain(self, value: bool) -> None:
        if hasattr(self.local, "explain"):
            self.local.explain = value  # type: ignore[attr-defined]

    def describe(self) -> dict[str, Any]:
        describe = getattr(self.local, "describe", None)
        details = dict(describe()) if callable(describe) else {}
        details["workers"] = {"processes": self.workers, "restarts": self.restarts}
        return details

    def __getattr__(self, name: str) -> Any:
        # only for attributes not defined here: the local scorer's optional features (rules_version...)
        if name in ("local", "_lock", "_executor"):
            raise AttributeError(name)
        return getattr(self.local, name)

    def __repr__(self) -> str:
        return f"ProcessPoolScorer({self.name!r}, model={self.model_id!r}, workers={self.workers})"

    # ---------------------------------------------------------------- the Scorer protocol

    def prepare(self, pairs: Sequence[AddressPair]) -> Prepared:
        items: list[PreparedItem | ItemError] = []
        for pair in pairs:
            side_a = _clean_side(pair.a, "a", self.max_chars)
            if isinstance(side_a, ItemError):
                items.append(side_a)
                continue
            side_b = _clean_side(pair.b, "b", self.max_chars)
            if isinstance(side_b, ItemError):
                items.append(side_b)
                continue
            (text_a, cut_a), (text_b, cut_b) = side_a, side_b
            items.append(PreparedItem(1, (text_a, text_b), (pair.a, pair.b), cut=(cut_a, cut_b)))
        return Prepared(items)

    def run(self, prepared: Prepared) -> Raw:
        ok = [i for i, item in enumerate(prepared.items) if isinstance(item, PreparedItem)]
        outputs: list[Any] = [None] * len(prepared.items)
        if ok:
            default = self.explain
            pairs, explain = [], []
            for i in ok:
                item = prepared.items[i]
                assert isinstance(item, PreparedItem)
                pairs.append(item.data)
                explain.append(default if item.explain is None else bool(item.explain))
            results = self._call(pairs, explain)
            if len(results) != len(ok):
                raise GeoalignError(f"a scorer worker returned {len(results)} results for {len(ok)} pairs")
            for i, result in zip(ok, results, strict=True):
                outputs[i] = result
        return Raw(prepared, outputs)

    def finish(self, raw: Raw) -> list[Result]:
        results: list[Result] = []
        for item, output in zip(raw.prepared.items, raw.outputs, strict=True):
            if isinstance(item, ItemError):
                results.append(item)
            elif isinstance(output, Match | ItemError):
                results.append(output)
            else:
                results.append(ItemError("scorer_error", f"a scorer worker answered {type(output).__name__}"))
        return results

    def score(self, pairs: Sequence[AddressPair]) -> list[Result]:
        return self.finish(self.run(self.prepare(pairs)))

    def warmup(self) -> None:
        """Start the pool (again, after ``close``) and return once every worker is loaded and warm."""
        with self._lock:
            self._closed = False
            if self._executor is None:
                self._executor = self._new_executor()
            pings = self._pings  # queued when the pool started: answered once every worker is warm
        try:
            for ping in pings:
                ping.result(timeout=self.start_timeout_s)
        except BrokenProcessPool as exc:
            self._stop(wait=False)
            raise GeoalignError(
                f"the {self.workers} scorer worker processes failed to start ({exc}); "
                "the worker's own error is in the log above"
            ) from None
        except TimeoutError:
            self._stop(wait=False)  # workers stuck in start-up would not take the stop signal
            raise GeoalignError(
                f"the scorer worker processes were not ready after {self.start_timeout_s:.0f} s"
            ) from None

    def close(self) -> None:
        """Stop the workers after the batches they are running, and wait for them. Safe to call twice."""
        self._stop(wait=True)

    def _stop(self, *, wait: bool) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
            self._closed = True
        if executor is not None:
            executor.shutdown(wait=wait, cancel_futures=True)

    def pids(self) -> list[int]:
        """Process ids of the current pool's workers (for operators' tools and tests)."""
        with self._lock:
            executor = self._executor
        return sorted(_worker_processes(executor))

    # ---------------------------------------------------------------- the pool

    def _new_executor(self) -> ProcessPoolExecutor:
        """A fresh pool whose ``workers`` processes start now (called with the lock held).

        Spawned, not forked: a fork of a server process with running threads (the event loop, the
        engine's threads, OpenMP's) can deadlock the child. ``ProcessPoolExecutor`` starts processes
        on demand, so ``workers`` no-op tasks are queued at once: each finds no idle worker and starts
        one; the barrier in the initializer then holds every worker until all are warm.
        """
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(self.workers)
        executor = ProcessPoolExecutor(
            self.workers,
            mp_context=context,
            initializer=_worker_init,
            initargs=(self.spec.for_workers(self.workers), barrier, self.start_timeout_s),
        )
        self._pings = [executor.submit(_worker_ready) for _ in range(self.workers)]
        self._served = False
        self._started_at = time.monotonic()
        return executor

    def _call(self, pairs: list[tuple[Any, Any]], explain: list[bool]) -> list[Result]:
        """Score on a worker; if the pool breaks under the batch, or no answer comes within
        ``batch_timeout_s`` (a hung worker: its processes are killed, which breaks the pool), once more on
        the fresh pool (the batch may have been an innocent bystander), then raise WorkerDied."""
        broken: Exception | None = None
        for _ in range(2):
            with self._lock:
                if self._closed:
                    raise GeoalignError("the scorer's worker pool is closed")
                if self._executor is None:
                    self._executor = self._new_executor()
                executor, generation, pings = self._executor, self._generation, self._pings
            try:
                # a fresh pool (first batch, or the retry after a restart) first loads its model: that
                # is start-up, governed by start_timeout_s; only then does the batch timeout run
                for ping in pings:
                    ping.result(timeout=self.start_timeout_s)
                future: Future[list[Result]] = executor.submit(_worker_score, pairs, explain)
                results = future.result(timeout=self.batch_timeout_s)
            except BrokenProcessPool as exc:
                self._restart(generation, "died")
                broken = exc
                continue
            except TimeoutError:
                # a worker that never answers (a deadlock, a stopped process) would hold its batch, and
                # every request waiting on it, forever: kill the pool's processes and start a new one
                _kill_processes(executor)
                self._restart(generation, f"gave no answer in {self.batch_timeout_s:g} s")
                broken = TimeoutError(f"no answer in {self.batch_timeout_s:g} s")
                continue
            except CancelledError:  # queued when close() cancelled what had not started
                raise GeoalignError("the scorer's worker pool was closed before this batch ran") from None
            except RuntimeError as exc:  # submit after close(): the server is shutting down
                if self._closed:
                    raise GeoalignError("the scorer's worker pool is closed") from None
                raise GeoalignError(f"the scorer's worker pool refused a batch: {exc}") from None
            with self._lock:
                if generation == self._generation:
                    self._served = True
            return results
        raise WorkerDied(
            f"a scorer worker process died or hung while scoring a batch of {len(pairs)} pairs, twice "
            f"({broken}); the worker pool was restarted"
        )

    def _restart(self, generation: int, what: str) -> None:
        """Replace the pool of ``generation`` if it is still the current one (the first thread to see a
        broken pool replaces it; the others find it replaced already)."""
        with self._lock:
            if self._closed or generation != self._generation:
                return
            if not self._served:  # it broke before finishing anything: do not restart in a tight loop
                wait = self._started_at + self.restart_interval_s - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            old = self._executor
            self._generation += 1
            self.restarts += 1
            log.warning(
                "a scorer worker process %s; restarting the pool of %d workers (restart %d)",
                what,
                self.workers,
                self.restarts,
            )
            self._executor = self._new_executor()
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)


def _worker_processes(executor: ProcessPoolExecutor | None) -> dict[int, Any]:
    """pid -> process of ``executor``'s workers: its process table, the one place the executor keeps
    them (empty for no pool)."""
    return dict(getattr(executor, "_processes", None) or {})


def _kill_processes(executor: ProcessPoolExecutor) -> None:
    """SIGKILL every worker of ``executor``: a hung worker takes no stop signal, and a killed one breaks
    the pool so the executor lets go of it."""
    for process in _worker_processes(executor).values():
        with contextlib.suppress(Exception):  # already gone
            process.kill()


def _clean_side(value: Any, which: str, max_chars: int) -> tuple[str, bool] | ItemError:
    """(clean text, whether it was cut) of one side, with the structured scorer's error wording
    (``address a: ...``): a pooled scorer answers a bad input exactly as the in-process one does."""
    cleaned = clean(value, max_chars=max_chars)
    if isinstance(cleaned, ItemError):
        return ItemError(cleaned.code, f"address {which}: {cleaned.message}")
    assert isinstance(cleaned, Cleaned)
    return cleaned.text, cleaned.truncated


__all__ = [
    "DEFAULT_BATCH_TIMEOUT_S",
    "POOLABLE",
    "ProcessPoolScorer",
    "WorkerDied",
    "resolve_workers",
    "usable_cpus",
    "watch_parent",
]
