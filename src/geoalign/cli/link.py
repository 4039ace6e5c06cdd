"""``geoalign link LEFT RIGHT --left-col C --right-col C -o OUT``: the best right record per left record.

Blocking finds candidates (``--explain-blocking`` shows what it costs and misses before any scoring),
the default judge of ``geoalign match`` scores them (the embedded matcher, and the shipped neural stage
for the pairs it is unsure of; ``--model DIR`` your own; ``--judge structured`` the embedded matcher
alone, the fast path),
and a candidate is a match only when it is the same place both ways with no conflicting house numbers.
The output has one row per left record, unmatched and unusable ones included (see
``geoalign.link.pipeline``). ``--engine ray`` runs the same on a Ray cluster (``geoalign.cli.link_ray``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the pipeline is imported lazily so `geoalign link --help` stays instant
    from geoalign.link.pipeline import LinkSettings, RunFlags, RunSummary, TableSpec


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """``--help`` shows each option's default where it has one worth showing (not None, not off), and
    where its help does not already say it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if "default" in text or default is None or default is False or default == argparse.SUPPRESS:
            return text
        return f"{text} (default: %(default)s)"


def add_table_options(parser: argparse.ArgumentParser) -> None:
    """Blocking, scoring and execution options shared by ``link`` and ``dedupe``."""
    from geoalign.io.formats import FORMATS
    from geoalign.link.blocking import DEFAULT_MAX_BLOCK_SIZE, DEFAULT_MAX_CANDIDATES, RULES
    from geoalign.link.candidates import SAME_PLACE_THRESHOLD
    from geoalign.link.settings import DEFAULT_ANN_K, DEFAULT_ANN_POOL, DEFAULT_BATCH_SIZE, DEFAULT_CHUNK_SIZE
    from geoalign.retrieval.index import BACKENDS, DEFAULT_BACKEND
    from geoalign.scorers.spec import TABLE_FIELDS, ScorerSpec

    parser.formatter_class = DefaultsHelpFormatter
    parser.add_argument("-o", "--output", help="output file (format from its suffix)")
    parser.add_argument("--output-format", choices=sorted(FORMATS), help="output format (default: suffix)")
    parser.add_argument(
        "--header",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="whether CSV/TSV/XLSX inputs have a header row (default: detect)",
    )
    from geoalign.cli.options import add_encoding_option

    add_encoding_option(parser)
    block = parser.add_argument_group("blocking")
    block.add_argument(
        "--rules", default=None, help=f"comma-separated blocking rules (default: all of {', '.join(RULES)})"
    )
    block.add_argument(
        "--max-block-size",
        type=int,
        default=DEFAULT_MAX_BLOCK_SIZE,
        help="skip (and report) blocks with more indexed records than this",
    )
    block.add_argument(
        "--max-candidates",
        type=int,
        default=DEFAULT_MAX_CANDIDATES,
        help="candidates kept per record, best-ranked first",
    )
    block.add_argument(
        "--explain-blocking",
        action="store_true",
        help="report candidate pairs, largest/skipped blocks (and recall with --labels); score nothing",
    )
    block.add_argument(
        "--labels", metavar="FILE", help="known true pairs (id, id) for the blocking recall in the report"
    )
    block.add_argument(
        "--ann",
        nargs="?",
        const="shipped",
        default=None,
        metavar="MODEL",
        help="add each record's --ann-k nearest neighbours by a learned address embedding to the rule "
        "candidates (MODEL: a retrieval model directory; without it the shipped one; index: extra 'ann')",
    )
    block.add_argument(
        "--ann-k", type=int, default=DEFAULT_ANN_K, help="--ann: nearest neighbours added per record"
    )
    block.add_argument(
        "--ann-index",
        choices=BACKENDS,
        default=DEFAULT_BACKEND,
        help="--ann: hnsw (usearch, extra 'ann') or exact (numpy; small tables)",
    )
    block.add_argument(
        "--ann-pool",
        type=int,
        default=DEFAULT_ANN_POOL,
        help="--ann: neighbours fetched per record before the --ann-k best by embedding + spelling are "
        "kept (larger finds more true records and costs index search time: docs/linking.md; "
        "<= --ann-k: embedding order alone)",
    )
    score = parser.add_argument_group("scoring")
    score.add_argument(
        "--threshold",
        type=float,
        default=SAME_PLACE_THRESHOLD,
        help="exact_match probability needed in each direction for a same-place match",
    )
    score.add_argument(
        "--judge",
        choices=("structured", "default"),
        default=None,
        help="default (the default): the default judge of `geoalign match`, the shipped neural matcher for "
        "the pairs the embedded one is unsure of (better on real data: docs/linking.md); structured: the "
        "embedded matcher alone (the fast path, about twice as fast). --model DIR: your own neural stage",
    )
    ScorerSpec.add_arguments(score, TABLE_FIELDS)
    run_ = parser.add_argument_group("execution")
    run_.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="pairs per scoring batch")
    run_.add_argument(
        "--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, help="records per chunk and per checkpoint"
    )
    run_.add_argument(
        "--workers",
        type=int,
        default=0,
        help="processes that parse the indexed table, then judge chunks of the other (0: one per usable CPU, "
        "a container's CPU quota included; 1: this process alone; a table of one chunk always runs here). "
        "Output is the same for any number",
    )
    run_.add_argument("--no-explanation", action="store_true", help="leave the explanation column empty")
    run_.add_argument("--no-progress", action="store_true", help="no progress bar")
    run_.add_argument("--restart", action="store_true", help="ignore an existing partial output")
    run_.add_argument("--json", action="store_true", help="print the run summary as JSON on stdout")
    run_.add_argument(
        "--engine",
        choices=("local", "ray"),
        help="local: this process; ray: a Ray cluster, writing a Parquet dataset (extra 'ray', docs/ray.md)",
        default="local",
    )
    run_.add_argument("--ray-address", help="--engine ray: cluster address (default: start a local Ray)")
    run_.add_argument("--ray-actors", type=int, default=2, help="--engine ray: scoring actors (at most)")
    run_.add_argument("--ray-gpus-per-actor", type=float, default=0.0, help="--engine ray: GPUs per actor")


def split_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def settings_from_args(args: argparse.Namespace) -> LinkSettings:
    """What decides the answer (``geoalign.link.settings``)."""
    from geoalign.link.settings import DEFAULT_MAX_CLUSTER_SIZE, LinkSettings

    return LinkSettings(
        rules=args.rules,
        max_block_size=args.max_block_size,
        max_candidates=args.max_candidates,
        threshold=args.threshold,
        batch_size=args.batch_size,
        max_cluster_size=getattr(args, "max_cluster_size", DEFAULT_MAX_CLUSTER_SIZE),
        same_detail=getattr(args, "same_detail", False),
        ann=args.ann,
        ann_k=args.ann_k,
        ann_index=args.ann_index,
        ann_pool=args.ann_pool,
    )


def flags_from_args(args: argparse.Namespace) -> RunFlags:
    """How the run behaves (chunks, resume, progress bar, explanation column)."""
    from geoalign.link.settings import RunFlags
    from geoalign.link.workers import resolve_workers

    return RunFlags(
        workers=resolve_workers(args.workers),
        chunk_size=args.chunk_size,
        resume=not args.restart,
        progress=not args.no_progress and sys.stderr.isatty(),
        with_explanation=not args.no_explanation,
    )


def tables_from_args(args: argparse.Namespace) -> tuple[TableSpec, TableSpec]:
    """The LEFT and RIGHT TableSpecs of ``geoalign link`` (local and Ray engines alike)."""
    from geoalign.link.pipeline import TableSpec

    def spec(side: str) -> TableSpec:
        return TableSpec(
            getattr(args, side),
            getattr(args, f"{side}_col"),
            getattr(args, f"{side}_id"),
            split_list(getattr(args, f"carry_{side}")),
            getattr(args, f"{side}_format"),
            args.header,
            args.encoding,
        )

    return spec("left"), spec("right")


def scorer_recipe(args: argparse.Namespace) -> Any:
    """The scorer the options ask for, as a picklable recipe (call it to build the scorer): the local
    engine builds it once, each Ray actor builds its own. The one place link/dedupe build a scorer."""
    from geoalign.scorers.spec import ScorerSpec

    return ScorerSpec.for_tables(args).build


def scorer_from_args(args: argparse.Namespace) -> Any:
    return scorer_recipe(args)()


def _scoring_lines(summary: RunSummary, neural: bool) -> list[str]:
    """What was compared and by whom, in the words of the options the user gave."""
    lines = []
    judge = summary.judge
    if judge is not None:  # the Ray engine's summary has no judge counters (they live in its actors)
        lines.append(
            f"  compared: {judge.forward_pairs:,} candidate pairs "
            f"(not compared: {judge.skipped_hard_numbers:,} with different house numbers, "
            f"{judge.skipped_conflicting:,} on another road or district, compared only to rank a "
            "link that has no same-place candidate), "
            f"{judge.reverse_pairs:,} checked the other way round; {judge.same_place:,} same place, "
            f"{judge.refused_by_hard_numbers:,} rejected for different house numbers"
        )
    cascade = summary.cascade
    if cascade is not None and neural:
        # most pairs never reach the whole cascade: the judge's cheap first pass (the embedded matcher
        # under the rules) answers those it is sure of, and those whose answer the rules fix
        first = judge.first_stage_decided if judge is not None else 0
        first_s = judge.first_stage_s if judge is not None else 0.0
        fixed = judge.neural_not_needed if judge is not None else 0
        lines.append(
            f"  models: the embedded matcher decided {cascade.structured_decided + first:,} pairs in "
            f"{cascade.structured_ms / 1000 + first_s:.1f}s, the neural stage decided "
            f"{cascade.neural_decided:,} in {cascade.neural_ms / 1000:.1f}s"
            + (f", the address rules {fixed:,} more without it" if fixed else "")
            + f"; {cascade.errors:,} errors"
        )
    elif cascade is not None:
        lines.append(
            f"  model: the embedded matcher scored {cascade.pairs:,} pairs in "
            f"{cascade.structured_ms / 1000:.1f}s; {cascade.errors:,} errors"
        )
    return lines


def _no_candidate_hint(no_candidates: int, args: argparse.Namespace) -> list[str]:
    """What to try when rule blocking found nothing for some records and learned retrieval was off:
    records written differently (no district, another spelling of the road, a POI without its road)
    share no rule key, and ``--ann`` is the tool made for them (docs/linking.md)."""
    if not no_candidates or args.ann is not None:
        return []
    return [
        f"  {no_candidates:,} left records found no candidate by the rule keys (admin, road + number, POI "
        "names); --ann also proposes each record's nearest neighbours by a learned address embedding, "
        "which finds records written differently"
    ]


def report_summary(command: str, summary: RunSummary, args: argparse.Namespace, output: str | None) -> None:
    """The run summary: human text on stderr, JSON on stdout with --json."""
    from geoalign.link.blocking import format_report
    from geoalign.link.summary import DedupeSummary, LinkSummary

    if args.json:
        print(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2, default=str))
    if args.explain_blocking:
        if not args.json:
            print(format_report(summary.blocking))
        return
    truth = getattr(summary, "truth", None)
    blocking = summary.blocking
    lines = [f"geoalign {command}: -> {output}"]
    lines.append(
        f"  blocking: {blocking['candidate_pairs']:,} candidate pairs "
        f"(full comparison {blocking['full_comparison_pairs']:,}); "
        f"{blocking['skipped_blocks']:,} oversized blocks skipped"
    )
    lines += _scoring_lines(summary, neural=getattr(args, "judge", None) != "structured")
    if isinstance(summary, LinkSummary) and summary.counts.status:
        statuses = ", ".join(f"{k} {v:,}" for k, v in summary.counts.status.items())
        lines.append(f"  left records: {statuses}")
        lines += _no_candidate_hint(summary.counts.status.get("no_candidates", 0), args)
    if isinstance(summary, DedupeSummary) and summary.clusters is not None:
        c = summary.clusters
        lines.append(
            f"  clusters: {c.clusters:,} over {c.records:,} records (largest {c.largest_cluster}); "
            f"{c.refused_edges:,} merges refused by --max-cluster-size, {c.separated_edges:,} because they "
            "would put records of different places into one cluster"
        )
        if summary.counts.unusable:
            lines.append(f"  records that cannot take part (status error): {summary.counts.unusable:,}")
    if truth is not None:
        from geoalign.link.truth import format_truth

        lines.append(format_truth(truth))
    workers = f" ({summary.workers} worker processes)" if summary.workers > 1 else ""
    lines.append(f"  time: {summary.seconds.get('total', 0.0):.1f}s{workers}")
    for message in summary.messages:
        lines.append(f"  {message}")
    print("\n".join(lines), file=sys.stderr)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from geoalign.io.formats import FORMATS

    parser.add_argument("left", help="left table (CSV / TSV / JSONL / Parquet / XLSX)")
    parser.add_argument("right", help="right table (the records matched against)")
    parser.add_argument(
        "--left-col",
        default=None,
        help="address column of LEFT (name or 1-based; default: the column named address, 地址, 详细地址, "
        "收货地址 or another usual name)",
    )
    parser.add_argument(
        "--right-col", default=None, help="address column of RIGHT (name or 1-based; default: as --left-col)"
    )
    parser.add_argument(
        "--left-id",
        help="id column of LEFT (default: one named id, 编号 or 序号, else the row number; '': row number)",
    )
    parser.add_argument(
        "--right-id",
        help="id column of RIGHT (default: one named id, 编号 or 序号, else the row number; '': row number)",
    )
    parser.add_argument(
        "--carry-left",
        help="LEFT columns to copy into the output (comma-separated; '*': all but address and id)",
    )
    parser.add_argument(
        "--carry-right",
        help="RIGHT columns to copy into the output (comma-separated; '*': all but address and id)",
    )
    parser.add_argument("--left-format", choices=sorted(FORMATS), help="LEFT format (default: suffix)")
    parser.add_argument("--right-format", choices=sorted(FORMATS), help="RIGHT format (default: suffix)")
    parser.add_argument(
        "--truth",
        metavar="FILE",
        help="known true pairs (left id, right id): report top-1, precision/recall of the written links "
        "and where the others were lost (blocking, ranking, threshold); also gives the blocking recall",
    )
    add_table_options(parser)


def run(args: argparse.Namespace) -> int:
    from geoalign.errors import InputError
    from geoalign.link.pipeline import link, read_true_pairs

    if args.engine == "ray":
        from geoalign.cli.link_ray import run_cli

        return run_cli("link", args)
    if not args.explain_blocking and not args.output:
        raise InputError("-o/--output is required (or use --explain-blocking)")
    if not args.explain_blocking:
        from geoalign.io.formats import output_format
        from geoalign.io.paths import check_output

        check_output(args.output, [args.left, args.right, args.labels])
        output_format(args.output, args.output_format)
    left, right = tables_from_args(args)
    summary = link(
        left,
        right,
        args.output or "-",
        scorer=scorer_from_args(args),
        settings=settings_from_args(args),
        flags=flags_from_args(args),
        output_format=args.output_format,
        explain_only=args.explain_blocking,
        true_pairs=read_true_pairs(args.labels) if args.labels else None,
        truth=read_true_pairs(args.truth) if args.truth else None,
        log=lambda message: print(f"geoalign link: {message}", file=sys.stderr),
    )
    report_summary("link", summary, args, args.output)
    return 0
