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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from geoalign.errors import InputError
from geoalign.link.blocking import BlockingDiagnostics, parse_rules
from geoalign.link.candidates import Record, RecordAnalyzer, SamePlaceJudge, featurizer_of
from geoalign.link.cluster import Edge, build_clusters
from geoalign.link.core import (
    IndexedTable,
    blocking_report,
    dedupe_rows,
    find_candidates,
    index_records,
    judge_dedupe,
    judge_link,
    pair_once,
    refused_message,
)
from geoalign.link.rows import dedupe_columns, link_columns, link_values
from geoalign.link.settings import LinkSettings, RunFlags, default_scorer
from geoalign.link.summary import DedupeSummary, LinkSummary, cluster_report, snapshot_stats
from geoalign.link.tables import TableSpec, check_unique, chunks, iter_records
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


def _index_table(
    records: list[Record],
    path: Any,
    analyzer: RecordAnalyzer,
    settings: LinkSettings,
    flags: RunFlags,
    label: str,
) -> IndexedTable:
    check_unique(records, path)
    bar = _Bar(flags.progress, len(records), 0, label)
    try:
        return index_records(records, analyzer, settings.max_block_size, tick=bar.update)
    finally:
        bar.close()


def _fingerprint(
    path: Any, *, scorer: Scorer, settings: LinkSettings, rules: Sequence[str], **fields: Any
) -> dict[str, Any]:
    """What makes a partial output reusable by a rerun: the inputs, the columns and the settings."""
    from geoalign.io.resume import input_fingerprint

    return input_fingerprint(
        path,
        **fields,
        rules=list(rules),
        max_block_size=settings.max_block_size,
        max_candidates=settings.max_candidates,
        threshold=settings.threshold,
        model=scorer.model_id,
    )


def _start(partial: Any, resume: bool, say: Log, what: str) -> int:
    done = int(partial.start(resume=resume))
    if partial.stale_reason:
        say(partial.stale_reason)
    if done:
        say(f"resuming after {done} {what} already in {partial.path}")
    return done


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
    log: Log | None = None,
) -> LinkSummary:
    """Link ``left`` to ``right``: the best right record per left record (see ``geoalign.link.pipeline``).

    With ``explain_only`` nothing is scored or written: the blocking analysis is returned in
    ``summary.blocking`` (candidate pair count, largest and skipped blocks, and the recall of the
    blocking when ``true_pairs`` (left id, right id) are given).
    """
    from geoalign.io.formats import detect_format
    from geoalign.io.resume import PartialOutput, input_fingerprint

    settings, flags, say = settings or LinkSettings(), flags or RunFlags(), log or _quiet
    rules = parse_rules(settings.rules)
    summary = LinkSummary()
    t0 = time.perf_counter()
    scorer = scorer or default_scorer()
    analyzer = RecordAnalyzer(featurizer_of(scorer), rules)
    out_fmt = None if explain_only else detect_format(output, output_format)
    # open the left table first: a missing column there should fail before the right table is indexed
    left_carry, left_rows, left_total = iter_records(left, count=flags.progress)
    right_carry, right_rows, _total = iter_records(right)
    indexed = _index_table(list(right_rows), right.path, analyzer, settings, flags, "index right")
    summary.seconds["index_right"] = time.perf_counter() - t0
    summary.counts.right_records = len(indexed.records)
    summary.counts.right_unusable = indexed.unusable
    diag = BlockingDiagnostics(indexed.index)

    partial = judge = None
    done = 0
    if not explain_only:
        fingerprint = _fingerprint(
            left.path,
            scorer=scorer,
            settings=settings,
            rules=rules,
            right=input_fingerprint(right.path),
            left_col=left.col,
            right_col=right.col,
            left_id=left.id_col,
            right_id=right.id_col,
            carry=[list(left.carry), list(right.carry)],
        )
        partial = PartialOutput(output, fingerprint, link_columns(left_carry, right_carry))
        done = _start(partial, flags.resume, say, "left records")
        judge = SamePlaceJudge(scorer, threshold=settings.threshold, batch_size=settings.batch_size)
    bar = _Bar(flags.progress, left_total, done, "explain" if explain_only else "link")
    seen_left: dict[str, int] = {}
    status = summary.counts.status
    t1 = time.perf_counter()
    n_left = 0
    try:
        for chunk in chunks(left_rows, flags.chunk_size):
            check_unique(chunk, left.path, seen_left)
            first_new = max(0, done - n_left)
            n_left += len(chunk)
            chunk = chunk[first_new:]
            for record in chunk:
                analyzer.analyze(record)
            candidates = find_candidates(
                chunk, indexed, settings.max_candidates, diag=diag, remember=true_pairs is not None
            )
            if partial is not None and judge is not None:
                results = judge_link(chunk, candidates, judge)
                for result in results:
                    status[result.status.value] = status.get(result.status.value, 0) + 1
                partial.append([link_values(r, len(right_carry), flags.with_explanation) for r in results])
            bar.update(len(chunk))
    finally:
        bar.close()
    summary.seconds["link" if not explain_only else "blocking"] = time.perf_counter() - t1
    summary.blocking = blocking_report(diag, settings, rules, indexed.usable, true_pairs)
    summary.counts.left_records = n_left
    summary.counts.left_resumed = done
    if partial is not None and judge is not None:
        t2 = time.perf_counter()
        partial.finish(out_fmt)
        summary.seconds["write"] = time.perf_counter() - t2
        summary.judge = judge.stats
        summary.cascade = snapshot_stats(scorer)
    summary.seconds["total"] = time.perf_counter() - t0
    return summary


def _read_existing(existing: TableSpec, cluster_col: str) -> tuple[list[Record], list[tuple[str, str]]]:
    """The records of an aligned table and their (id, cluster id) pairs."""
    spec = TableSpec(
        existing.path,
        existing.col,
        existing.id_col,
        [*existing.carry, cluster_col],
        existing.fmt,
        existing.header,
    )
    old: list[Record] = []
    clusters: list[tuple[str, str]] = []
    _names, stream, _total = iter_records(spec)
    for record in stream:
        cid = record.carry.pop()
        if record.error is None and (cid is None or str(cid).strip() == ""):
            raise InputError(f"{existing.path}: line {record.line}: empty {cluster_col!r}")
        old.append(record)
        if record.error is None:
            clusters.append((record.id, str(cid).strip()))
    return old, clusters


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
    from geoalign.io.resume import PartialOutput, input_fingerprint
    from geoalign.io.writers import write_table

    settings, flags, say = settings or LinkSettings(), flags or RunFlags(), log or _quiet
    rules = parse_rules(settings.rules)
    summary = DedupeSummary()
    t0 = time.perf_counter()
    scorer = scorer or default_scorer()
    analyzer = RecordAnalyzer(featurizer_of(scorer), rules)
    out_fmt = None if explain_only else detect_format(output, output_format)
    if edges_output is not None and not explain_only:
        detect_format(edges_output)

    old, old_clusters = _read_existing(existing, existing_cluster_col) if existing is not None else ([], [])
    carry_names, stream, _total = iter_records(table, count=False)
    new = list(stream)
    seen = check_unique(old, existing.path if existing is not None else table.path)
    check_unique(new, table.path, dict(seen) if existing is not None else None)
    n_old = len(old)
    bar = _Bar(flags.progress, n_old + len(new), 0, "indexing")
    try:
        indexed = index_records(old + new, analyzer, settings.max_block_size, tick=bar.update)
    finally:
        bar.close()
    records = indexed.records
    summary.seconds["index"] = time.perf_counter() - t0
    summary.counts.records = len(records)
    summary.counts.existing_records = n_old
    summary.counts.new_records = len(new)
    summary.counts.unusable = indexed.unusable
    diag = BlockingDiagnostics(indexed.index, dedupe=True)

    partial = judge = None
    done = 0
    if not explain_only:
        fingerprint = _fingerprint(
            table.path,
            scorer=scorer,
            settings=settings,
            rules=rules,
            existing=input_fingerprint(existing.path) if existing is not None else None,
            col=table.col,
            id=table.id_col,
        )
        # the sidecar holds one row per new record: its same-place edges (JSON); clusters come at the end
        partial = PartialOutput(f"{output}.edges", fingerprint, ["edges"])
        done = _start(partial, flags.resume, say, "records")
        judge = SamePlaceJudge(scorer, threshold=settings.threshold, batch_size=settings.batch_size)
    bar = _Bar(flags.progress, len(new), done, "explain" if explain_only else "dedupe")
    t1 = time.perf_counter()
    try:
        for positions in chunks(range(n_old + done, len(records)), flags.chunk_size):
            queries = [records[q] for q in positions]
            candidates = find_candidates(
                queries,
                indexed,
                settings.max_candidates,
                diag=diag,
                remember=true_pairs is not None,
                accept=pair_once(positions, n_old),
            )
            if partial is not None and judge is not None:
                edges = judge_dedupe(queries, candidates, judge)
                partial.append([[json.dumps([[e.b, e.score] for e in q], ensure_ascii=False)] for q in edges])
            bar.update(len(positions))
    finally:
        bar.close()
    summary.seconds["blocking" if explain_only else "score"] = time.perf_counter() - t1
    summary.blocking = blocking_report(diag, settings, rules, indexed.usable, true_pairs)
    if partial is None or judge is None:
        summary.seconds["total"] = time.perf_counter() - t0
        return summary

    t2 = time.perf_counter()
    all_edges = [
        Edge(records[n_old + n].id, str(target), float(score))
        for n, row in enumerate(partial.rows())
        for target, score in json.loads(row[0])
    ]
    usable_new = [r.id for r in new if r.error is None]
    clusters = build_clusters(
        usable_new, all_edges, max_cluster_size=settings.max_cluster_size, existing=old_clusters
    )
    summary.clusters = cluster_report(clusters, len(all_edges))
    if clusters.refused:
        say(refused_message(len(clusters.refused), settings.max_cluster_size))
    summary.seconds["cluster"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    rows = dedupe_rows(records, n_old, existing is not None, clusters)
    write_table(output, dedupe_columns(carry_names), (row.values(len(carry_names)) for row in rows), out_fmt)
    if edges_output is not None:
        write_table(edges_output, ["a_id", "b_id", "score"], ([e.a, e.b, e.score] for e in all_edges))
    partial.path.unlink()
    summary.seconds["write"] = time.perf_counter() - t3
    summary.judge = judge.stats
    summary.cascade = snapshot_stats(scorer)
    summary.seconds["total"] = time.perf_counter() - t0
    return summary


__all__ = ["dedupe", "link"]
