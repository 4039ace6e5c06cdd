"""Link two address tables, or deduplicate one, end to end: read, block, score, decide, write.

Memory stays bounded by the tables themselves, never by their product: the indexed table (right for
link, the whole table for dedupe) is held as records + an inverted key index; query records stream
past in chunks of ``chunk_size``; each query keeps at most ``max_candidates`` candidates. Output goes
through ``geoalign.io.resume.PartialOutput``: finished chunks are appended durably to ``OUT.partial``,
a rerun of the same command continues after the last finished chunk, and the real output appears
atomically at the end.

Link output (one row per left record, unmatched and unusable ones included)::

    left_id, left_address, [left_<carried>...], status, right_id, right_address, [right_<carried>...],
    label, p_exact_match, p_partial_match, p_not_match, p_exact_reverse, same_place, margin,
    second_right_id, n_candidates, explanation, error

``status`` is ``match`` (the best candidate is the same place), ``no_match`` (candidates, none the same
place; the best one is still shown), ``no_candidates`` (blocking found nothing) or ``error``.
``margin`` is the best candidate's score minus the second best's (score = the exact_match probability,
the smaller of both directions where both were scored): a small margin means "look at this one".

Dedupe output (one row per record): ``id, address, [carried...], cluster_id, cluster_size, status,
error`` where status is ``existing`` / ``new`` in incremental mode, ``record`` otherwise.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geoalign.errors import InputError
from geoalign.link.blocking import (
    DEFAULT_MAX_BLOCK_SIZE,
    DEFAULT_MAX_CANDIDATES,
    BlockIndex,
    BlockingDiagnostics,
    parse_rules,
    remember_pairs,
)
from geoalign.link.candidates import (
    SAME_PLACE_THRESHOLD,
    Judged,
    Record,
    RecordAnalyzer,
    SamePlaceJudge,
    featurizer_of,
    probabilities_of,
)
from geoalign.link.cluster import Clusters, Edge, build_clusters
from geoalign.types import ItemError, Match, Scorer

LINK_RESULT_COLUMNS = (
    "status",
    "label",
    "p_exact_match",
    "p_partial_match",
    "p_not_match",
    "p_exact_reverse",
    "same_place",
    "margin",
    "second_right_id",
    "n_candidates",
    "explanation",
    "error",
)


@dataclass(slots=True)
class TableSpec:
    """Where a table's records are: file, address column, id column (None: the 1-based row number),
    carried columns, format and header options."""

    path: str | Path
    col: str
    id_col: str | None = None
    carry: Sequence[str] = ()
    fmt: str | None = None
    header: bool | None = None


@dataclass(slots=True)
class Options:
    """Blocking, scoring and execution options shared by link and dedupe."""

    rules: Sequence[str] | str | None = None
    max_block_size: int = DEFAULT_MAX_BLOCK_SIZE
    max_candidates: int = DEFAULT_MAX_CANDIDATES
    threshold: float = SAME_PLACE_THRESHOLD
    batch_size: int = 4096
    chunk_size: int = 2000
    max_cluster_size: int = 1000
    resume: bool = True
    progress: bool = False
    with_explanation: bool = True

    def check(self) -> None:
        for name in ("max_block_size", "max_candidates", "batch_size", "chunk_size"):
            if getattr(self, name) < 1:
                raise InputError(f"{name.replace('_', '-')} must be >= 1")


@dataclass(slots=True)
class RunSummary:
    """What a run did, for the report: counts and seconds per phase, blocking and cascade numbers."""

    counts: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    blocking: dict[str, Any] = field(default_factory=dict)
    judge: dict[str, Any] = field(default_factory=dict)
    cascade: dict[str, Any] | None = None
    clusters: dict[str, Any] | None = None
    messages: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "blocking": self.blocking,
            "judge": self.judge,
            "cascade": self.cascade,
            "clusters": self.clusters,
            "messages": self.messages,
        }


def default_scorer(
    model: str | Path | None = None,
    *,
    cascade_threshold: float | None = None,
    structured_model: str | Path | None = None,
    **neural_options: Any,
) -> Scorer:
    """The scorer for table alignment: always a cascade (so per-stage counts are reported), with a
    neural second stage only when ``model`` is given."""
    from geoalign.scorers.cascade import CASCADE_CONFIDENCE_THRESHOLD, CascadeScorer, build_cascade
    from geoalign.scorers.structured import StructuredScorer

    threshold = CASCADE_CONFIDENCE_THRESHOLD if cascade_threshold is None else cascade_threshold
    if model is not None:
        return build_cascade(model, threshold=threshold, structured_model=structured_model, **neural_options)
    return CascadeScorer(StructuredScorer(structured_model), None, threshold=threshold)


# ----------------------------------------------------------------------------------------- reading


def _column(columns: Sequence[str], spec: str, what: str, path: Any) -> int:
    from geoalign.io.tables import resolve_column

    try:
        return resolve_column(columns, spec)
    except InputError as exc:
        raise InputError(f"{path}: {what}: {exc}") from exc


def iter_records(spec: TableSpec, *, count: bool = False) -> tuple[list[str], Iterator[Record], int | None]:
    """Open a table and stream its rows as Records (not yet analyzed). Errors for a missing column or
    an empty file are raised here, before any work; duplicate ids are caught by ``check_unique``."""
    from geoalign.io.tables import read_table

    table = read_table(spec.path, spec.fmt, header=spec.header, count=count)
    if not table.columns:
        raise InputError(f"{spec.path}: the file is empty (no header, no rows)")
    i_addr = _column(table.columns, spec.col, "address column", spec.path)
    i_id = _column(table.columns, spec.id_col, "id column", spec.path) if spec.id_col else None
    i_carry = [_column(table.columns, c, "carried column", spec.path) for c in spec.carry]
    carry_names = [table.columns[i] for i in i_carry]

    def rows() -> Iterator[Record]:
        for n, row in enumerate(table.rows, start=1):
            rid = row.values[i_id] if i_id is not None else n
            record = Record(
                id="" if rid is None else str(rid).strip(),
                address=row.values[i_addr],
                carry=[row.values[i] for i in i_carry],
                line=row.line,
                error=row.error,
            )
            if record.error is None and not record.id:
                record.error = ItemError("missing_id", f"line {row.line}: the id column is empty")
            yield record

    return carry_names, rows(), table.total


def check_unique(records: Iterable[Record], path: Any, seen: dict[str, int] | None = None) -> dict[str, int]:
    """Map id -> line, raising InputError on the first duplicate (ids must name one record each)."""
    seen = {} if seen is None else seen
    for record in records:
        if not record.id:
            continue
        if record.id in seen:
            raise InputError(
                f"{path}: duplicate id {record.id!r} (lines {seen[record.id]} and {record.line}); "
                "ids must be unique"
            )
        seen[record.id] = record.line
    return seen


def _chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _bar(enabled: bool, total: int | None, initial: int, unit: str, desc: str) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit=unit, desc=desc, file=sys.stderr, smoothing=0.1)


def read_true_pairs(path: str | Path) -> list[tuple[str, str]]:
    """Labelled true pairs for the blocking recall: the first two columns are (left id, right id)."""
    from geoalign.io.tables import read_table

    table = read_table(path)
    if len(table.columns) < 2:
        raise InputError(f"{path}: a labelled-pairs file needs two columns (left id, right id)")
    out = []
    for row in table.rows:
        if row.error is None and row.values[0] is not None and row.values[1] is not None:
            out.append((str(row.values[0]).strip(), str(row.values[1]).strip()))
    return out


# ------------------------------------------------------------------------------------------- index


@dataclass(slots=True)
class IndexedTable:
    records: list[Record]
    carry_names: list[str]
    index: BlockIndex
    unusable: int


def build_index(
    spec: TableSpec,
    analyzer: RecordAnalyzer,
    options: Options,
    *,
    records: list[Record] | None = None,
    label: str = "indexing",
) -> IndexedTable:
    """Read (unless given), analyze and index a whole table."""
    carry_names: list[str] = []
    total: int | None = None
    if records is None:
        carry_names, stream, total = iter_records(spec, count=options.progress)
        records = []
        bar = _bar(options.progress, total, 0, "rec", label)
        for record in stream:
            records.append(analyzer.analyze(record))
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
    else:
        bar = _bar(options.progress, len(records), 0, "rec", label)
        for record in records:
            analyzer.analyze(record)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
    check_unique(records, spec.path)
    index = BlockIndex(options.max_block_size)
    unusable = 0
    for n, record in enumerate(records):
        if record.error is None:
            index.add(n, record.keys)
        else:
            unusable += 1
    return IndexedTable(records, carry_names, index, unusable)


# -------------------------------------------------------------------------------------------- link


def _link_row(
    left: Record,
    right: list[Record],
    judged: list[Judged],
    n_candidates: int,
    n_right_carry: int,
    with_explanation: bool,
) -> list[Any]:
    base = [left.id, left.address, *left.carry]
    empty_right = [None, None, *([None] * n_right_carry)]
    if left.error is not None:
        error = json.dumps(left.error.to_dict()["error"], ensure_ascii=False)
        return [*base, "error", *empty_right, *([None] * 8), 0, None, error]
    usable = [j for j in judged if isinstance(j.forward, Match)]
    if not usable:
        errors = [j.forward for j in judged if isinstance(j.forward, ItemError)]
        first_error = json.dumps(errors[0].to_dict()["error"], ensure_ascii=False) if errors else None
        status = "error" if errors else "no_candidates"
        return [*base, status, *empty_right, *([None] * 8), n_candidates, None, first_error]
    usable.sort(key=lambda j: j.rank, reverse=True)
    best = usable[0]
    second = usable[1] if len(usable) > 1 else None
    margin = best.score - (second.score if second is not None else 0.0)
    target = right[best.c]
    forward = best.forward
    assert isinstance(forward, Match)
    explanation = None
    if with_explanation:
        explanation = dict(forward.explanation or {})
        if best.conflicts:
            explanation["hard_number_conflicts"] = best.conflicts
        if isinstance(best.reverse, Match):
            explanation["reverse_label"] = best.reverse.label
        if best.identical:
            explanation["decided_by"] = "identical_normalized_text"
    reverse = best.p_reverse
    return [
        *base,
        "match" if best.same_place else "no_match",
        target.id,
        target.address,
        *target.carry,
        forward.label,
        *probabilities_of(forward),
        None if reverse is None else round(reverse, 6),
        best.same_place,
        round(margin, 6),
        right[second.c].id if second is not None else None,
        n_candidates,
        json.dumps(explanation, ensure_ascii=False) if explanation is not None else None,
        None,
    ]


def link(
    left: TableSpec,
    right: TableSpec,
    output: str | Path,
    *,
    scorer: Scorer | None = None,
    options: Options | None = None,
    output_format: str | None = None,
    explain_only: bool = False,
    true_pairs: Sequence[tuple[str, str]] | None = None,
    log: Callable[[str], None] | None = None,
) -> RunSummary:
    """Link ``left`` to ``right``: the best right record per left record (see the module docstring).

    With ``explain_only`` nothing is scored or written: the blocking analysis is returned in
    ``summary.blocking`` (candidate pair count, largest and skipped blocks, and the recall of the
    blocking when ``true_pairs`` (left id, right id) are given).
    """
    from geoalign.io.formats import detect_format
    from geoalign.io.resume import PartialOutput, input_fingerprint

    options = options or Options()
    options.check()
    say = log or (lambda message: None)
    rules = parse_rules(options.rules)
    summary = RunSummary()
    t0 = time.perf_counter()
    scorer = scorer or default_scorer()
    analyzer = RecordAnalyzer(featurizer_of(scorer), rules)
    out_fmt = None if explain_only else detect_format(output, output_format)
    # open the left table first: a missing column there should fail before the right table is indexed
    left_carry, left_rows, left_total = iter_records(left, count=options.progress)
    indexed = build_index(right, analyzer, options, label="index right")
    summary.seconds["index_right"] = time.perf_counter() - t0
    summary.counts["right_records"] = len(indexed.records)
    summary.counts["right_unusable"] = indexed.unusable
    right_records = indexed.records
    diag = BlockingDiagnostics(indexed.index)
    collect = true_pairs is not None

    columns = [
        "left_id",
        "left_address",
        *(f"left_{c}" for c in left_carry),
        "status",
        "right_id",
        "right_address",
        *(f"right_{c}" for c in indexed.carry_names),
        *LINK_RESULT_COLUMNS[1:],
    ]
    partial = None
    done = 0
    if not explain_only:
        fingerprint = input_fingerprint(
            left.path,
            right=input_fingerprint(right.path),
            left_col=left.col,
            right_col=right.col,
            left_id=left.id_col,
            right_id=right.id_col,
            carry=[list(left.carry), list(right.carry)],
            rules=list(rules),
            max_block_size=options.max_block_size,
            max_candidates=options.max_candidates,
            threshold=options.threshold,
            model=scorer.model_id,
        )
        partial = PartialOutput(output, fingerprint, columns)
        done = partial.start(resume=options.resume)
        if partial.stale_reason:
            say(partial.stale_reason)
        if done:
            say(f"resuming after {done} left records already in {partial.path}")
    judge = SamePlaceJudge(scorer, threshold=options.threshold, batch_size=options.batch_size)
    bar = _bar(options.progress, left_total, done, "rec", "explain" if explain_only else "link")
    seen_left: dict[str, int] = {}
    status_counts: dict[str, int] = {}
    t1 = time.perf_counter()
    n_left = 0
    try:
        for chunk in _chunks(left_rows, options.chunk_size):
            check_unique(chunk, left.path, seen_left)
            first_new = max(0, done - n_left)
            n_left += len(chunk)
            if first_new >= len(chunk) and not explain_only:
                if bar is not None:
                    bar.update(0)
                continue
            chunk = chunk[first_new:] if not explain_only else chunk
            for record in chunk:
                analyzer.analyze(record)
            pairs: list[tuple[int, int]] = []
            n_cands: list[int] = []
            for q, record in enumerate(chunk):
                if record.error is not None:
                    n_cands.append(0)
                    diag.observe([], 0, 0)
                    continue
                best, total = indexed.index.candidates(record.keys, max_candidates=options.max_candidates)
                diag.observe(record.keys, total, len(best))
                if collect:
                    remember_pairs(diag, record.id, (right_records[c].id for c in best))
                n_cands.append(len(best))
                pairs.extend((q, c) for c in best)
            if not explain_only:
                assert partial is not None
                judged = judge.judge(chunk, right_records, pairs)
                by_query: dict[int, list[Judged]] = {}
                for item in judged:
                    by_query.setdefault(item.q, []).append(item)
                rows = []
                for q, record in enumerate(chunk):
                    row = _link_row(
                        record,
                        right_records,
                        by_query.get(q, []),
                        n_cands[q],
                        len(indexed.carry_names),
                        options.with_explanation,
                    )
                    status = row[2 + len(left_carry)]
                    status_counts[status] = status_counts.get(status, 0) + 1
                    rows.append(row)
                partial.append(rows)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    summary.seconds["link" if not explain_only else "blocking"] = time.perf_counter() - t1
    report = diag.report(true_pairs=true_pairs, n_index=len(right_records) - indexed.unusable)
    report["max_candidates"] = options.max_candidates
    report["rules_used"] = list(rules)
    summary.blocking = report
    summary.counts["left_records"] = n_left
    summary.counts["left_resumed"] = done
    if not explain_only:
        assert partial is not None
        t2 = time.perf_counter()
        partial.finish(out_fmt)
        summary.seconds["write"] = time.perf_counter() - t2
        summary.counts["status"] = status_counts
        summary.judge = {k: getattr(judge.stats, k) for k in judge.stats.__slots__}  # type: ignore[attr-defined]
        stats = getattr(scorer, "stats", None)
        summary.cascade = stats.to_dict() if stats is not None else None
    summary.seconds["total"] = time.perf_counter() - t0
    return summary


# ------------------------------------------------------------------------------------------ dedupe


def dedupe(
    table: TableSpec,
    output: str | Path,
    *,
    scorer: Scorer | None = None,
    options: Options | None = None,
    output_format: str | None = None,
    existing: TableSpec | None = None,
    existing_cluster_col: str = "cluster_id",
    edges_output: str | Path | None = None,
    explain_only: bool = False,
    true_pairs: Sequence[tuple[str, str]] | None = None,
    log: Callable[[str], None] | None = None,
) -> RunSummary:
    """Cluster the records of ``table`` that denote the same place (see the module docstring).

    Incremental mode (``existing``: an aligned table with ids, addresses and ``existing_cluster_col``):
    new records are matched against the existing ones and each other, existing records are not
    re-compared among themselves, and existing cluster IDs are kept (on a merge the older ID survives).
    The output then holds the existing records followed by the new ones.
    """
    from geoalign.io.formats import detect_format
    from geoalign.io.resume import PartialOutput, input_fingerprint
    from geoalign.io.writers import write_table

    options = options or Options()
    options.check()
    say = log or (lambda message: None)
    rules = parse_rules(options.rules)
    summary = RunSummary()
    t0 = time.perf_counter()
    scorer = scorer or default_scorer()
    analyzer = RecordAnalyzer(featurizer_of(scorer), rules)
    out_fmt = None if explain_only else detect_format(output, output_format)
    if edges_output is not None and not explain_only:
        detect_format(edges_output)

    old: list[Record] = []
    old_clusters: list[tuple[str, str]] = []
    if existing is not None:
        spec = TableSpec(
            existing.path,
            existing.col,
            existing.id_col,
            [*existing.carry, existing_cluster_col],
            existing.fmt,
            existing.header,
        )
        _names, stream, _total = iter_records(spec)
        for record in stream:
            cid = record.carry.pop()
            if record.error is None and (cid is None or str(cid).strip() == ""):
                raise InputError(f"{existing.path}: line {record.line}: empty {existing_cluster_col!r}")
            old.append(record)
            if record.error is None:
                old_clusters.append((record.id, str(cid).strip()))
    carry_names, stream, _total = iter_records(table, count=False)
    new = list(stream)
    seen = check_unique(old, existing.path if existing is not None else table.path)
    check_unique(new, table.path, dict(seen) if existing is not None else None)
    records = old + new
    n_old = len(old)
    indexed = build_index(table, analyzer, options, records=records)
    summary.seconds["index"] = time.perf_counter() - t0
    summary.counts.update(existing_records=n_old, new_records=len(new), unusable=indexed.unusable)
    diag = BlockingDiagnostics(indexed.index, dedupe=True)
    collect = true_pairs is not None
    judge = SamePlaceJudge(scorer, threshold=options.threshold, batch_size=options.batch_size)

    partial = None
    done = 0
    if not explain_only:
        fingerprint = input_fingerprint(
            table.path,
            existing=input_fingerprint(existing.path) if existing is not None else None,
            col=table.col,
            id=table.id_col,
            rules=list(rules),
            max_block_size=options.max_block_size,
            max_candidates=options.max_candidates,
            threshold=options.threshold,
            model=scorer.model_id,
        )
        # the sidecar holds one row per new record: its same-place edges (JSON); clusters come at the end
        partial = PartialOutput(f"{output}.edges", fingerprint, ["edges"])
        done = partial.start(resume=options.resume)
        if partial.stale_reason:
            say(partial.stale_reason)
        if done:
            say(f"resuming after {done} records already in {partial.path}")
    bar = _bar(options.progress, len(new), done, "rec", "explain" if explain_only else "dedupe")
    t1 = time.perf_counter()
    positions = range(n_old + (0 if explain_only else done), len(records))
    try:
        for chunk_positions in _chunks(iter(positions), options.chunk_size):
            pairs: list[tuple[int, int]] = []
            for q in chunk_positions:
                record = records[q]
                if record.error is not None:
                    diag.observe([], 0, 0)
                    continue
                best, total = indexed.index.candidates(
                    record.keys,
                    max_candidates=options.max_candidates,
                    accept=lambda c, q=q: c > q or c < n_old,  # type: ignore[misc]
                )
                diag.observe(record.keys, total, len(best))
                if collect:
                    remember_pairs(diag, record.id, (records[c].id for c in best))
                pairs.extend((q, c) for c in best)
            if not explain_only:
                assert partial is not None
                edges: dict[int, list[list[Any]]] = {}
                for item in judge.judge(records, records, pairs):
                    if item.same_place:
                        edges.setdefault(item.q, []).append([records[item.c].id, round(item.score, 6)])
                partial.append([[json.dumps(edges.get(q, []), ensure_ascii=False)] for q in chunk_positions])
            if bar is not None:
                bar.update(len(chunk_positions))
    finally:
        if bar is not None:
            bar.close()
    summary.seconds["blocking" if explain_only else "score"] = time.perf_counter() - t1
    report = diag.report(true_pairs=true_pairs, n_index=len(records) - indexed.unusable)
    report["max_candidates"] = options.max_candidates
    report["rules_used"] = list(rules)
    summary.blocking = report
    if explain_only:
        summary.seconds["total"] = time.perf_counter() - t0
        return summary
    assert partial is not None
    t2 = time.perf_counter()
    all_edges: list[Edge] = []
    for n, row in enumerate(partial.rows()):
        source = records[n_old + n].id
        for target, score in json.loads(row[0]):
            all_edges.append(Edge(source, str(target), float(score)))
    usable_new = [r.id for r in new if r.error is None]
    clusters = build_clusters(
        usable_new, all_edges, max_cluster_size=options.max_cluster_size, existing=old_clusters
    )
    summary.clusters = cluster_report(clusters, len(all_edges))
    if clusters.refused:
        say(
            f"giant-cluster guard: {len(clusters.refused)} same-place edges refused "
            f"(clusters would exceed --max-cluster-size {options.max_cluster_size})"
        )
    summary.seconds["cluster"] = time.perf_counter() - t2
    incremental = existing is not None
    columns = ["id", "address", *carry_names, "cluster_id", "cluster_size", "status", "error"]

    def out_rows() -> Iterator[list[Any]]:
        for n, record in enumerate(records):
            status = ("existing" if n < n_old else "new") if incremental else "record"
            # existing rows carry the same columns when their table has them
            carry = record.carry if len(record.carry) == len(carry_names) else [None] * len(carry_names)
            if record.error is not None:
                error = json.dumps(record.error.to_dict()["error"], ensure_ascii=False)
                yield [record.id, record.address, *carry, None, None, status, error]
                continue
            yield [
                record.id,
                record.address,
                *carry,
                clusters.cluster_id(record.id),
                clusters.size(record.id),
                status,
                None,
            ]

    t3 = time.perf_counter()
    write_table(output, columns, out_rows(), out_fmt)
    if edges_output is not None:
        write_table(
            edges_output,
            ["a_id", "b_id", "score"],
            ([e.a, e.b, e.score] for e in all_edges),
        )
    partial.path.unlink()
    summary.seconds["write"] = time.perf_counter() - t3
    summary.judge = {k: getattr(judge.stats, k) for k in judge.stats.__slots__}  # type: ignore[attr-defined]
    cascade_stats = getattr(scorer, "stats", None)
    summary.cascade = cascade_stats.to_dict() if cascade_stats is not None else None
    summary.seconds["total"] = time.perf_counter() - t0
    return summary


# ------------------------------------------------------------------------------------ in-memory API


def cluster_report(clusters: Clusters, n_edges: int, *, singletons: int = 0) -> dict[str, Any]:
    """The ``summary.clusters`` report of a clustering (local and Ray engines alike).

    ``singletons`` counts usable records that are not in ``clusters`` at all (the Ray engine clusters
    only the records its edges touch); each is a cluster of its own.
    """
    stats = clusters.stats()
    return {
        "records": stats.records + singletons,
        "clusters": stats.clusters + singletons,
        "largest_cluster": max(stats.largest_cluster, 1 if singletons else 0),
        "edges": n_edges,
        "merged_edges": stats.merged_edges,
        "redundant_edges": stats.redundant_edges,
        "refused_edges": stats.refused_edges,
        "refused": [
            {"a": r.edge.a, "b": r.edge.b, "score": r.edge.score, "sizes": [r.size_a, r.size_b]}
            for r in clusters.refused[:20]
        ],
        "retired_ids": stats.retired_ids[:20],
        "retired_ids_total": len(stats.retired_ids),
    }


def _records_table(directory: Path, name: str, records: Iterable[Any]) -> Path:
    """Write (id, address) pairs or mappings with "id" and "address" to a JSONL file."""
    from geoalign.io.writers import write_table

    rows: list[list[Any]] = []
    for item in records:
        if isinstance(item, dict):
            if "address" not in item:
                raise InputError(f"{name}: a record mapping needs an 'address' key, got {sorted(item)}")
            rows.append([item.get("id", len(rows) + 1), item["address"]])
        elif isinstance(item, tuple | list) and len(item) == 2:
            rows.append([item[0], item[1]])
        else:
            raise InputError(
                f"{name}: a record is (id, address) or {{'id':..., 'address':...}}, got {item!r}"
            )
    if not rows:
        raise InputError(f"{name}: no records")
    path = directory / f"{name}.jsonl"
    write_table(path, ["id", "address"], rows)
    return path


def link_records(
    left: Iterable[Any],
    right: Iterable[Any],
    *,
    scorer: Scorer | None = None,
    options: Options | None = None,
) -> tuple[list[dict[str, Any]], RunSummary]:
    """``link`` for records in memory: (id, address) pairs or ``{"id", "address"}`` mappings in, one
    output row (a dict with the columns of the module docstring) per left record out.

    It goes through the same file pipeline (JSONL in a temporary directory), so the in-memory and the
    file results can never drift apart; for large tables use ``link`` on files, which streams.
    """
    import tempfile

    options = options or Options()
    options.resume = False
    with tempfile.TemporaryDirectory(prefix="geoalign-link-") as tmp:
        root = Path(tmp)
        lp, rp = _records_table(root, "left", left), _records_table(root, "right", right)
        out = root / "out.jsonl"
        summary = link(
            TableSpec(lp, "address", "id"),
            TableSpec(rp, "address", "id"),
            out,
            scorer=scorer,
            options=options,
        )
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return rows, summary


def dedupe_records(
    records: Iterable[Any], *, scorer: Scorer | None = None, options: Options | None = None
) -> tuple[list[dict[str, Any]], RunSummary]:
    """``dedupe`` for records in memory (see ``link_records``): one row per record with its cluster."""
    import tempfile

    options = options or Options()
    options.resume = False
    with tempfile.TemporaryDirectory(prefix="geoalign-dedupe-") as tmp:
        root = Path(tmp)
        path = _records_table(root, "records", records)
        out = root / "out.jsonl"
        summary = dedupe(TableSpec(path, "address", "id"), out, scorer=scorer, options=options)
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return rows, summary


__all__ = [
    "LINK_RESULT_COLUMNS",
    "Options",
    "RunSummary",
    "TableSpec",
    "dedupe",
    "dedupe_records",
    "default_scorer",
    "link",
    "link_records",
    "read_true_pairs",
]
