"""Query chunks of a link or dedupe run, judged in this process or on forked worker processes.

Why: a local link run is otherwise one process. Blocking, the embedded matcher and the rule layer are
Python under one GIL, so on 2 cores only the neural stage's ONNX Runtime threads reached the second
core (session 9: 99 % CPU for the structured judge, 377 s for 100k x 100k with the default judge).
``--workers N`` fans the chunks out to N processes.

How: the driver builds everything a chunk needs first (the indexed table, the retriever, the judge),
then the workers are *forked*, so they share that memory copy-on-write instead of each re-reading and
re-indexing the table. ONNX Runtime sessions are reopened in each child with the cores divided among
the workers (``geoalign.forksafe``). Each chunk runs the same function in a worker as in-process
(``LinkChunks`` / ``DedupeChunks``) and returns a ``ChunkOutcome``: the rows to write plus the
chunk's counters. The parent merges outcomes strictly in chunk order (``Totals``), so a run with N
workers writes the same rows and reports the same counts as a run with one, and a resumed run
continues after the last chunk written, as before.

The pool starts only when there is a second chunk (a small table never forks), keeps at most
``2 x workers`` chunks in flight (memory stays bounded by the chunk size, not the table), and is torn
down on any error or interrupt. A worker that dies (the OOM killer) is an error naming the cause; the
chunks written so far stay in the partial output and a rerun resumes after them.

Indexing the right table (or dedupe's one table) comes before that fork and is the run's serial
part: parsing 100k addresses took ~25 of the ~35 s. ``analyze_records`` spreads those parses over
the same number of forked processes first (a short-lived pool of its own); the parent takes the
views back, caches them and indexes them, so the chunk workers forked afterwards inherit a table and
a parse cache equal to those one process would have built.
"""

from __future__ import annotations

import collections
import gc
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, TypeVar

from geoalign.cpus import resolve_workers
from geoalign.errors import GeoalignError, InputError
from geoalign.link.blocking import BlockingDiagnostics
from geoalign.link.candidates import Analysis, JudgeStats, Record, RecordAnalyzer, SamePlaceJudge
from geoalign.link.core import (
    ANALYZE_BLOCK,
    IndexedTable,
    Neighbours,
    find_candidates,
    judge_dedupe,
    judge_link,
    pair_once,
)
from geoalign.link.rows import link_values
from geoalign.link.summary import snapshot_stats
from geoalign.link.truth import TruthTally

if TYPE_CHECKING:
    from concurrent.futures import Future

T = TypeVar("T")
N = TypeVar("N")
R = TypeVar("R")


class LinkWorkerDied(GeoalignError):
    """A worker process of a link/dedupe run died (killed, or out of memory)."""

    code = "worker_died"


def _subtract(after: N, before: N) -> N:
    """``after - before``, field by field, for a dataclass of counters."""
    return replace(after, **{f.name: getattr(after, f.name) - getattr(before, f.name) for f in fields(after)})  # type: ignore[arg-type, type-var]


def _add(total: N, delta: N) -> N:
    return replace(total, **{f.name: getattr(total, f.name) + getattr(delta, f.name) for f in fields(total)})  # type: ignore[arg-type, type-var]


@dataclass(slots=True)
class ChunkOutcome:
    """What one chunk of query records produced: output rows and the chunk's counters."""

    size: int
    rows: list[list[Any]] = field(default_factory=list)
    status: dict[str, int] = field(default_factory=dict)
    blocking: dict[str, Any] = field(default_factory=dict)
    truth: TruthTally | None = None
    judge: JudgeStats | None = None
    cascade: Any = None
    #: texts the retriever embedded for this chunk and their vectors (kept by the parent's cache)
    embedded: tuple[list[str], Any] | None = None


@dataclass(slots=True)
class _ChunkJob:
    """What every chunk needs, built once before the workers fork."""

    indexed: IndexedTable
    max_candidates: int
    dedupe: bool
    ann_k: int | None
    remember: bool
    retriever: Any
    judge: SamePlaceJudge | None

    def _diagnostics(self) -> BlockingDiagnostics:
        return BlockingDiagnostics(self.indexed.index, dedupe=self.dedupe, ann_k=self.ann_k)

    def _start(self) -> tuple[JudgeStats | None, Any, int | None]:
        judge, mark = self.judge, None
        if self.retriever is not None:
            mark = self.retriever.cache.mark()
        if judge is None:
            return None, None, mark
        return replace(judge.stats), snapshot_stats(judge.scorer), mark

    def _finish(
        self, outcome: ChunkOutcome, start: tuple[JudgeStats | None, Any, int | None]
    ) -> ChunkOutcome:
        judge_before, cascade_before, mark = start
        if self.judge is not None and judge_before is not None:
            outcome.judge = _subtract(self.judge.stats, judge_before)
            cascade_after = snapshot_stats(self.judge.scorer)
            if cascade_after is not None and cascade_before is not None:
                outcome.cascade = _subtract(cascade_after, cascade_before)
        if mark is not None:
            outcome.embedded = self.retriever.cache.since(mark)
        return outcome

    def _neighbours(self) -> Neighbours | None:
        return self.retriever  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class AnalyzeBlocks:
    """A block of records analyzed in a worker (``RecordAnalyzer.analyze_block``)."""

    analyzer: RecordAnalyzer

    def __call__(self, block: list[Record]) -> list[Analysis]:
        return self.analyzer.analyze_block(block)


def analyze_records(
    records: list[Record], analyzer: RecordAnalyzer, workers: int, *, tick: Callable[[], Any] | None = None
) -> None:
    """Analyze ``records`` in place as ``core.index_records`` does, in blocks spread over ``workers``
    forked processes (in this process with one worker or one block); the views come back to this
    process and into its parse cache (``RecordAnalyzer.adopt``). No scorer runs in these workers (the
    parse is numpy and the CRF tables), so a PyTorch stage is no reason to stay in one process here."""
    blocks = [records[start : start + ANALYZE_BLOCK] for start in range(0, len(records), ANALYZE_BLOCK)]
    job = AnalyzeBlocks(analyzer)
    for block, analyses in zip(blocks, map_chunks(job, blocks, workers), strict=True):
        analyzer.adopt(block, analyses)
        if tick is not None:
            for _ in block:
                tick()


@dataclass(slots=True)
class LinkChunks(_ChunkJob):
    """One chunk of left records -> its link rows (``rows.link_values``) and counters."""

    analyzer: Any = None
    truth: dict[str, set[str]] | None = None
    n_right_carry: int = 0
    with_explanation: bool = True

    def __call__(self, chunk: list[Record]) -> ChunkOutcome:
        start = self._start()
        outcome = ChunkOutcome(len(chunk))
        self.analyzer.analyze_many(chunk)
        diag = self._diagnostics()
        found = find_candidates(
            chunk,
            self.indexed,
            self.max_candidates,
            diag=diag,
            remember=self.remember,
            retriever=self._neighbours(),
        )
        outcome.blocking = diag.tallies()
        if self.judge is not None:
            results = judge_link(chunk, found, self.judge)
            if self.truth is not None:
                tally = TruthTally(self.truth)
                tally.observe(results, found)
                outcome.truth = tally.counts_only()
            for result in results:
                outcome.status[result.status.value] = outcome.status.get(result.status.value, 0) + 1
            outcome.rows = [link_values(r, self.n_right_carry, self.with_explanation) for r in results]
        return self._finish(outcome, start)


@dataclass(slots=True)
class DedupeChunks(_ChunkJob):
    """One chunk of record positions -> one row per record: its same-place edges as JSON."""

    n_existing: int = 0

    def __call__(self, positions: list[int]) -> ChunkOutcome:
        import json

        start = self._start()
        outcome = ChunkOutcome(len(positions))
        queries = [self.indexed.records[q] for q in positions]
        diag = self._diagnostics()
        found = find_candidates(
            queries,
            self.indexed,
            self.max_candidates,
            diag=diag,
            remember=self.remember,
            accept=pair_once(positions, self.n_existing),
            retriever=self._neighbours(),
        )
        outcome.blocking = diag.tallies()
        if self.judge is not None:
            edges = judge_dedupe(queries, found, self.judge)
            outcome.rows = [[json.dumps([[e.b, e.score] for e in q], ensure_ascii=False)] for q in edges]
        return self._finish(outcome, start)


@dataclass(slots=True)
class Totals:
    """The outcomes of a run's chunks, merged in chunk order into the parent's diagnostics and tallies."""

    diag: BlockingDiagnostics
    retriever: Any = None
    truth: TruthTally | None = None
    status: dict[str, int] = field(default_factory=dict)
    judge: JudgeStats | None = None
    cascade: Any = None
    chunks: int = 0

    def add(self, outcome: ChunkOutcome) -> None:
        self.chunks += 1
        self.diag.absorb(outcome.blocking)
        for status, n in outcome.status.items():
            self.status[status] = self.status.get(status, 0) + n
        if self.truth is not None and outcome.truth is not None:
            self.truth.merge(outcome.truth)
        if outcome.judge is not None:
            self.judge = outcome.judge if self.judge is None else _add(self.judge, outcome.judge)
        if outcome.cascade is not None:
            self.cascade = outcome.cascade if self.cascade is None else _add(self.cascade, outcome.cascade)
        if outcome.embedded is not None and self.retriever is not None:
            self.retriever.cache.absorb(*outcome.embedded)


def uses_torch(scorer: Any) -> bool:
    """Whether a stage of ``scorer`` runs on PyTorch (its OpenMP pool is not safe to fork after use)."""
    stack, seen = [scorer], set()
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if getattr(getattr(item, "backend", None), "name", None) == "torch":
            return True
        stack.extend(getattr(item, attr, None) for attr in ("inner", "structured", "neural", "classifier"))
    return False


def map_chunks(job: Callable[[T], R], items: Iterable[T], workers: int, *, scorer: Any = None) -> Iterator[R]:
    """``job(item)`` for each item, in order: in this process with one worker or a single chunk, else
    on ``workers`` forked processes (module docstring)."""
    stream = iter(items)
    first = next(stream, None)
    if first is None:
        return
    second = next(stream, None)
    if workers <= 1 or second is None:
        yield job(first)
        if second is not None:
            yield job(second)
            for item in stream:
                yield job(item)
        return
    if "fork" not in _start_methods():
        raise InputError("--workers needs the 'fork' start method (Linux/macOS); use --workers 1 here")
    if scorer is not None and uses_torch(scorer):
        raise InputError(
            "--workers N forks the scoring processes, and a PyTorch neural stage cannot be forked safely: "
            "export the model to ONNX (`geoalign export`) and pass that directory as --model, "
            "or use --workers 1"
        )
    yield from _forked(job, _chain(first, second, stream), workers)


def _start_methods() -> list[str]:
    import multiprocessing

    return multiprocessing.get_all_start_methods()


def _chain(first: T, second: T, rest: Iterator[T]) -> Iterator[T]:
    yield first
    yield second
    yield from rest


#: The job of the current forked run: set in the parent just before the fork, so every worker has it
#: (with the indexed table, the models and the judge) without pickling any of it.
_job: Callable[[Any], Any] | None = None


def _worker_init(threads: int, parent: int) -> None:
    from geoalign import forksafe
    from geoalign.engine.pool import watch_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the pool
    forksafe.set_child_threads(threads)
    watch_parent(parent)


def _worker_run(item: Any) -> Any:
    if _job is None:  # only if the pool was not forked from a run (cannot happen with 'fork')
        raise GeoalignError("link worker started without a job")
    return _job(item)


def _forked(job: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    global _job
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from geoalign.cpus import cpu_share

    threads = cpu_share(workers)
    # Hugging Face tokenizers warns at every fork after it used its own threads; the children then run
    # it single-threaded anyway, which is what a worker holding 1/N of the cores wants
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _job = job
    # objects made before the fork are never scanned by the children's collector: fewer pages of the
    # shared table are touched (and copied) in each worker
    gc.freeze()
    context = multiprocessing.get_context("fork")
    executor = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_worker_init, initargs=(threads, os.getpid())
    )
    pending: collections.deque[Future[R]] = collections.deque()
    try:
        for item in items:
            pending.append(executor.submit(_worker_run, item))
            if len(pending) >= 2 * workers:
                yield _result(pending.popleft())
        while pending:
            yield _result(pending.popleft())
    finally:
        for future in pending:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)
        _job = None
        gc.unfreeze()


def _result(future: Future[R]) -> R:
    from concurrent.futures.process import BrokenProcessPool

    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise LinkWorkerDied(
            "a worker process died (killed, or out of memory: try fewer --workers or a smaller "
            "--chunk-size); the chunks written so far are kept, rerun the command to resume"
        ) from exc


__all__ = [
    "AnalyzeBlocks",
    "ChunkOutcome",
    "DedupeChunks",
    "LinkChunks",
    "LinkWorkerDied",
    "Totals",
    "analyze_records",
    "map_chunks",
    "resolve_workers",
    "uses_torch",
]
