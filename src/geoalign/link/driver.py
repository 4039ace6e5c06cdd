"""The file driver of link and dedupe: read, index, stream query chunks through the core, write.

Memory stays bounded by the tables themselves, never by their product: the indexed table (right for
link, the whole table for dedupe) is held as records + an inverted key index; query records stream
past in chunks of ``RunFlags.chunk_size``; each query keeps at most ``max_candidates`` candidates.
Output goes through ``geoalign.io.resume.PartialOutput``: finished chunks are appended durably to
``OUT.partial``, a rerun of the same command continues after the last finished chunk, and the real
output appears atomically at the end. The decisions themselves are ``geoalign.link.core``'s.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from geoalign.errors import InputError
from geoalign.link.blocking import BlockingDiagnostics, parse_rules
from geoalign.link.candidates import (
    JudgeStats,
    Record,
    RecordAnalyzer,
    SamePlaceJudge,
    featurizer_of,
    place_guards,
)
from geoalign.link.cluster import Edge, build_clusters
from geoalign.link.core import (
    EDGE_COLUMNS,
    IndexedTable,
    blocking_report,
    dedupe_rows,
    edge_rows,
    guard_messages,
    index_analyzed,
)
from geoalign.link.rows import (
    JSON_TEXT_COLUMNS,
    dedupe_carried_names,
    dedupe_carry_notice,
    dedupe_columns,
    link_carry_notice,
    link_columns,
)
from geoalign.link.settings import LinkSettings, RunFlags, default_scorer, make_retriever
from geoalign.link.summary import DedupeSummary, LinkSummary, RunSummary, cluster_report
from geoalign.link.tables import (
    ADDRESS_COLUMN_NAMES,
    ID_COLUMN_NAMES,
    TableRecords,
    TableSpec,
    check_unique,
    chunks,
    iter_records,
)
from geoalign.link.truth import TruthTally
from geoalign.link.workers import DedupeChunks, LinkChunks, Totals, analyze_records, map_chunks
from geoalign.types import Scorer

Log = Callable[[str], None]


def _quiet(message: str) -> None:
    del message


class _Bar:
    """A tqdm progress bar on stderr, or nothing."""

    def __init__(self, enabled: bool, total: int | None, initial: int, desc: str) -> None:
        self.bar: Any = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, initial=initial, unit="rec", desc=desc, file=sys.stderr, smoothing=0.1
            )

    def update(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _index_table(records: list[Record], path: Any, run: _Run, label: str) -> IndexedTable:
    """Analyze and index ``records`` (ids checked unique first unless ``path`` is None: already done)."""
    if path is not None:
        check_unique(records, path)
    bar = _Bar(run.flags.progress, len(records), 0, label)
    try:
        # the parses spread over --workers processes too: before the chunk workers fork, this is the
        # run's serial part
        analyze_records(records, run.analyzer, run.flags.workers, tick=bar.update)
        return index_analyzed(records, run.settings.max_block_size)
    finally:
        bar.close()


def _fingerprint(path: Any, run: _Run, **fields: Any) -> dict[str, Any]:
    """What makes a partial output reusable by a rerun: the inputs, the columns and the settings."""
    from geoalign.io.resume import input_fingerprint

    return input_fingerprint(
        path,
        **fields,
        rules=list(run.rules),
        max_block_size=run.settings.max_block_size,
        max_candidates=run.settings.max_candidates,
        threshold=run.settings.threshold,
        model=run.scorer.model_id,
        ann=run.settings.ann,
        ann_k=run.settings.ann_k,
        ann_index=run.settings.ann_index,
        ann_pool=run.settings.ann_pool,
    )


def _start(partial: Any, run: _Run, what: str) -> int:
    """Open the partial output; the number of query records a previous run already finished."""
    done = int(partial.start(resume=run.flags.resume))
    if partial.stale_reason:
        run.say(partial.stale_reason)
    if done:
        run.say(f"resuming after {done} {what} already in {partial.path}")
    return done


@dataclass(slots=True)
class _Run:
    """What every file run sets up first: its settings, scorer, analyzer, log and clock."""

    settings: LinkSettings
    flags: RunFlags
    rules: tuple[str, ...]
    scorer: Scorer
    analyzer: RecordAnalyzer
    say: Log
    t0: float

    @classmethod
    def start(
        cls, scorer: Scorer | None, settings: LinkSettings | None, flags: RunFlags | None, log: Log | None
    ) -> _Run:
        t0 = time.perf_counter()
        settings = settings or LinkSettings()
        rules = parse_rules(settings.rules)
        scorer = scorer or default_scorer()
        analyzer = RecordAnalyzer(featurizer_of(scorer), rules)
        return cls(settings, flags or RunFlags(), rules, scorer, analyzer, log or _quiet, t0)

    def retriever(
        self,
        records: list[Record],
        output: str | Path,
        explain_only: bool,
        summary: RunSummary,
        also: Sequence[str | Path] = (),
    ) -> Any:
        """The ``--ann`` retriever over the indexed ``records`` (None without ``--ann``). Beside a
        resumable run its embeddings and its built index are kept in ``OUT.retrieval/``: a rerun loads
        the index when it indexes the same records (``retrieval.saved``); ``also`` are further job
        directories whose saved index may cover the first records (``dedupe --existing``)."""
        job_dir = None if explain_only else Path(f"{output}.retrieval")
        retriever = make_retriever(self.settings, job_dir)
        if retriever is not None:
            report = retriever.index_table(records, [job_dir, *also] if job_dir is not None else [])
            retriever.save()
            for reason in report.rejected:
                self.say(f"retrieval: saved index not used, rebuilding: {reason}")
            self.say(report.line())
            summary.retrieval = report.to_dict()
        return retriever

    def judge(self) -> SamePlaceJudge:
        return SamePlaceJudge(
            self.scorer, threshold=self.settings.threshold, batch_size=self.settings.batch_size
        )

    def finish(self, summary: RunSummary, totals: Totals, judged: bool) -> None:
        """The judge's and the cascade's counters summed over the chunks (when anything was judged)."""
        if judged:
            summary.judge = totals.judge or JudgeStats()
            summary.cascade = totals.cascade
        summary.workers = self.flags.workers if totals.chunks > 1 else 1  # one chunk never forks
        summary.seconds["total"] = time.perf_counter() - self.t0


def link(
    left: TableSpec,
    right: TableSpec,
    output: str | Path,
    *,
    scorer: Scorer | None = None,
    settings: LinkSettings | None = None,
    flags: RunFlags | None = None,
    output_format: str | None = None,
    explain_only: bool = False,
    true_pairs: Sequence[tuple[str, str]] | None = None,
    truth: Sequence[tuple[str, str]] | None = None,
    log: Log | None = None,
) -> LinkSummary:
    """Link ``left`` to ``right``: the best right record per left record (see ``geoalign.link.pipeline``).

    With ``explain_only`` nothing is scored or written: the blocking analysis is returned in
    ``summary.blocking`` (candidate pair count, largest and skipped blocks, and the recall of the
    blocking when ``true_pairs`` (left id, right id) are given). ``truth`` (left id, right id) also
    compares the written links with the true pairs (``summary.truth``, see ``link.truth``) and stands
    for ``true_pairs`` when those are not given.
    """
    from geoalign.io.formats import detect_format

    run = _Run.start(scorer, settings, flags, log)
    summary = LinkSummary()
    out_fmt = None if explain_only else detect_format(output, output_format)
    if true_pairs is None:
        true_pairs = truth
    tally = TruthTally.from_pairs(truth) if truth is not None and not explain_only else None
    # open the left table first: a missing column there should fail before the right table is indexed
    left_table = iter_records(left, count=run.flags.progress)
    right_table = iter_records(right)
    left_carry, left_rows, left_total = left_table.carry_names, left_table.records, left_table.total
    right_carry, right_rows = right_table.carry_names, right_table.records
    _say_columns(run, [(left, left_table), (right, right_table)])
    _say_renamed(run, link_carry_notice(left_carry, right_carry))
    indexed = _index_table(list(right_rows), right.path, run, "index right")
    summary.seconds["index_right"] = time.perf_counter() - run.t0
    summary.counts.right_records, summary.counts.right_unusable = len(indexed.records), indexed.unusable
    retriever = run.retriever(indexed.records, output, explain_only, summary)
    summary.seconds["retrieval_index"] = time.perf_counter() - run.t0 - summary.seconds["index_right"]
    diag = BlockingDiagnostics(indexed.index, ann_k=run.settings.ann_k if retriever else None)
    partial = (
        None
        if explain_only
        else _link_output(left, right, output, out_fmt, run, link_columns(left_carry, right_carry))
    )
    judge = None if partial is None else run.judge()
    done = 0 if partial is None else _start(partial, run, "left records")
    bar = _Bar(run.flags.progress, left_total, done, "explain" if explain_only else "link")
    job = LinkChunks(
        indexed,
        run.settings.max_candidates,
        dedupe=False,
        ann_k=diag.ann_k,
        remember=true_pairs is not None,
        retriever=retriever,
        judge=judge,
        analyzer=run.analyzer,
        truth=tally.truth if tally is not None else None,
        n_right_carry=len(right_carry),
        with_explanation=run.flags.with_explanation,
    )
    totals = Totals(diag, retriever, tally)
    seen_left: dict[str, int] = {}
    n_read = [0]

    def left_chunks() -> Iterator[list[Record]]:
        """The left records still to link, in chunks (ids checked unique in input order, here)."""
        for chunk in chunks(left_rows, run.flags.chunk_size):
            check_unique(chunk, left.path, seen_left)
            first_new = max(0, done - n_read[0])  # a resumed run skips the rows already written
            n_read[0] += len(chunk)
            if chunk[first_new:]:
                yield chunk[first_new:]

    t1 = time.perf_counter()
    try:
        for outcome in map_chunks(job, left_chunks(), run.flags.workers, scorer=run.scorer):
            totals.add(outcome)
            if partial is not None:
                partial.append(outcome.rows)
            bar.update(outcome.size)
    finally:
        bar.close()
    n_left = n_read[0]
    summary.counts.status = totals.status
    summary.seconds["blocking" if explain_only else "link"] = time.perf_counter() - t1
    if retriever is not None:
        retriever.save()  # the left records' embeddings too: a rerun embeds nothing twice
    summary.blocking = blocking_report(diag, run.settings, run.rules, indexed.usable, true_pairs)
    summary.counts.left_records, summary.counts.left_resumed = n_left, done
    if tally is not None:
        summary.truth = tally.report()
        if done:
            summary.messages.append(
                f"--truth covers only the {n_left - done:,} left records linked in this run"
            )
    if partial is not None:
        t2 = time.perf_counter()
        partial.finish()
        summary.seconds["write"] = time.perf_counter() - t2
    run.finish(summary, totals, judge is not None)
    return summary


def _link_output(
    left: TableSpec, right: TableSpec, output: str | Path, out_fmt: str | None, run: _Run, columns: list[str]
) -> Any:
    """The resumable output of a link run."""
    from geoalign.io.resume import PartialOutput, input_fingerprint

    fingerprint = _fingerprint(
        left.path,
        run,
        right=input_fingerprint(right.path),
        left_col=left.col,
        right_col=right.col,
        left_id=left.id_col,
        right_id=right.id_col,
        carry=[list(left.carry), list(right.carry)],
    )
    return PartialOutput(output, fingerprint, columns, fmt=out_fmt, json_columns=JSON_TEXT_COLUMNS)


@dataclass(slots=True)
class _DedupeInput:
    """The records of a dedupe run: those of ``--existing`` (with their clusters) first, then the new."""

    records: list[Record]
    n_old: int
    old_clusters: list[tuple[str, str]]
    carry_names: list[str]

    @property
    def new(self) -> list[Record]:
        return self.records[self.n_old :]


def _read_existing(
    existing: TableSpec, cluster_col: str, carried: Sequence[str] = ()
) -> tuple[list[Record], list[tuple[str, str]]]:
    """The records of an aligned table and their (id, cluster id) pairs, each carrying the columns
    ``carried`` (the new table's, under the names a dedupe output writes them) where the aligned table
    has them, as the previous run's output does: its records keep their 名称 in the new output."""
    probe = iter_records(replace(existing, carry=[cluster_col]))
    getattr(probe.records, "close", lambda: None)()  # only its columns were wanted: release the file
    present = [name for name in carried if name in probe.columns and name != cluster_col]
    spec = replace(existing, carry=[*present, cluster_col])
    old: list[Record] = []
    clusters: list[tuple[str, str]] = []
    for record in iter_records(spec).records:
        cid = record.carry.pop()
        if carried:
            held = dict(zip(present, record.carry, strict=True))
            record.carry[:] = [held.get(name) for name in carried]
        if record.error is None and (cid is None or str(cid).strip() == ""):
            raise InputError(f"{existing.path}: line {record.line}: empty {cluster_col!r}")
        old.append(record)
        if record.error is None:
            clusters.append((record.id, str(cid).strip()))
    return old, clusters


def _say_columns(run: _Run, tables: Sequence[tuple[TableSpec, TableRecords]]) -> None:
    """Tell the user where ids came from when no id column was named and the table has an ``id``
    column, and which column the addresses came from when none was named and it is not ``address``
    (地址, 收货地址 …): a report's ids and addresses are never a surprise."""
    for spec, table in tables:
        if spec.col is None and table.address_column.strip().casefold() != ADDRESS_COLUMN_NAMES[0]:
            run.say(f"{spec.path}: addresses from its column {table.address_column!r} (name one to choose)")
        if spec.id_col is None and table.id_column is not None:
            numbers = "an empty id column name numbers the rows"
            run.say(f"{spec.path}: ids from its column {table.id_column!r} ({numbers})")
        elif spec.id_col is None:  # an order number column (订单号) is not guessed: say how to use it
            named = ", ".join(ID_COLUMN_NAMES)
            run.say(f"{spec.path}: ids are row numbers (no column called {named}; name one to choose)")


def _say_renamed(run: _Run, notice: str | None) -> None:
    if notice is not None:
        run.say(notice)


def _dedupe_input(run: _Run, table: TableSpec, existing: TableSpec | None, cluster_col: str) -> _DedupeInput:
    opened = iter_records(table, count=False)
    carry_names = opened.carry_names
    written = dedupe_carried_names(carry_names)
    old, old_clusters = _read_existing(existing, cluster_col, written) if existing is not None else ([], [])
    _say_columns(run, [(table, opened)])
    _say_renamed(run, dedupe_carry_notice(carry_names))
    new = list(opened.records)
    seen = check_unique(old, existing.path if existing is not None else table.path)
    if existing is not None:
        check_unique(new, table.path, dict(seen), seen_in=existing.path)
    else:
        check_unique(new, table.path)
    return _DedupeInput(old + new, len(old), old_clusters, carry_names)


def dedupe(
    table: TableSpec,
    output: str | Path,
    *,
    scorer: Scorer | None = None,
    settings: LinkSettings | None = None,
    flags: RunFlags | None = None,
    output_format: str | None = None,
    existing: TableSpec | None = None,
    existing_cluster_col: str = "cluster_id",
    edges_output: str | Path | None = None,
    explain_only: bool = False,
    true_pairs: Sequence[tuple[str, str]] | None = None,
    log: Log | None = None,
) -> DedupeSummary:
    """Cluster the records of ``table`` that denote the same place (see ``geoalign.link.pipeline``).

    Incremental mode (``existing``: an aligned table with ids, addresses and ``existing_cluster_col``):
    new records are matched against the existing ones and each other, existing records are not
    re-compared among themselves, and existing cluster IDs are kept (on a merge the older ID survives).
    The output then holds the existing records followed by the new ones.
    """
    from geoalign.io.formats import detect_format

    run = _Run.start(scorer, settings, flags, log)
    summary = DedupeSummary()
    out_fmt = None if explain_only else detect_format(output, output_format)
    if edges_output is not None and not explain_only:
        detect_format(edges_output)
    data = _dedupe_input(run, table, existing, existing_cluster_col)
    indexed = _index_table(data.records, None, run, "indexing")
    summary.seconds["index"] = time.perf_counter() - run.t0
    counts = summary.counts
    counts.records, counts.existing_records, counts.new_records = len(data.records), data.n_old, len(data.new)
    counts.unusable = indexed.unusable
    # an --existing table written by an earlier dedupe keeps that run's index beside it: its records
    # come first here, so the index extends with the new ones instead of being rebuilt
    also = [Path(f"{existing.path}.retrieval")] if existing is not None else []
    retriever = run.retriever(indexed.records, output, explain_only, summary, also)
    diag = BlockingDiagnostics(indexed.index, dedupe=True, ann_k=run.settings.ann_k if retriever else None)
    partial = None if explain_only else _dedupe_output(table, existing, output, run)
    judge = None if partial is None else run.judge()
    done = 0 if partial is None else _start(partial, run, "records")
    bar = _Bar(run.flags.progress, len(data.new), done, "explain" if explain_only else "dedupe")
    job = DedupeChunks(
        indexed,
        run.settings.max_candidates,
        dedupe=True,
        ann_k=diag.ann_k,
        remember=true_pairs is not None,
        retriever=retriever,
        judge=judge,
        n_existing=data.n_old,
    )
    totals = Totals(diag, retriever)
    positions = chunks(range(data.n_old + done, len(data.records)), run.flags.chunk_size)
    t1 = time.perf_counter()
    try:
        for outcome in map_chunks(job, positions, run.flags.workers, scorer=run.scorer):
            totals.add(outcome)
            if partial is not None:
                partial.append(outcome.rows)
            bar.update(outcome.size)
    finally:
        bar.close()
    summary.seconds["blocking" if explain_only else "score"] = time.perf_counter() - t1
    summary.blocking = blocking_report(diag, run.settings, run.rules, indexed.usable, true_pairs)
    if partial is not None:
        _cluster_and_write(data, partial, run, summary, output, out_fmt, edges_output, existing is not None)
    run.finish(summary, totals, judge is not None)
    return summary


def _dedupe_output(table: TableSpec, existing: TableSpec | None, output: str | Path, run: _Run) -> Any:
    """The resumable sidecar of a dedupe run: one row per new record, its same-place edges (JSON);
    the clusters are built from all of them at the end."""
    from geoalign.io.resume import PartialOutput, input_fingerprint

    fingerprint = _fingerprint(
        table.path,
        run,
        existing=input_fingerprint(existing.path) if existing is not None else None,
        col=table.col,
        id=table.id_col,
    )
    return PartialOutput(f"{output}.edges", fingerprint, ["edges"])


def _cluster_and_write(
    data: _DedupeInput,
    partial: Any,
    run: _Run,
    summary: DedupeSummary,
    output: str | Path,
    out_fmt: str | None,
    edges_output: str | Path | None,
    incremental: bool,
) -> None:
    """Clusters from every edge in the sidecar, then the output (and the edges file) atomically."""
    from geoalign.io.writers import write_table

    t0 = time.perf_counter()
    records, n_old = data.records, data.n_old
    edges = [
        Edge(records[n_old + n].id, str(target), float(score))
        for n, row in enumerate(partial.rows())
        for target, score in json.loads(row[0])
    ]
    usable_new = [r.id for r in data.new if r.error is None]
    max_size = run.settings.max_cluster_size
    views = {r.id: r.view for r in records if r.view is not None}
    cannot_link, edge_check = place_guards(views, same_detail=run.settings.same_detail)
    clusters = build_clusters(
        usable_new,
        edges,
        max_cluster_size=max_size,
        existing=data.old_clusters,
        cannot_link=cannot_link,
        edge_check=edge_check,
    )
    summary.clusters = cluster_report(clusters, len(edges))
    for message in guard_messages(clusters):
        run.say(message)
    summary.seconds["cluster"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    n_carry = len(data.carry_names)
    rows = (row.values(n_carry) for row in dedupe_rows(records, n_old, incremental, clusters))
    write_table(output, dedupe_columns(data.carry_names), rows, out_fmt, json_columns=JSON_TEXT_COLUMNS)
    if edges_output is not None:
        write_table(edges_output, EDGE_COLUMNS, edge_rows(edges, clusters))
    partial.path.unlink()
    summary.seconds["write"] = time.perf_counter() - t1


__all__ = ["dedupe", "link"]
