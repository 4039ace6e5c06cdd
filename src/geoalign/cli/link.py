"""``geoalign link LEFT RIGHT --left-col C --right-col C -o OUT``: the best right record per left record.

Blocking finds candidates (``--explain-blocking`` shows what it costs and misses before any scoring),
the embedded matcher scores them (``--model DIR`` adds a neural stage for the uncertain band), and a
candidate is a match only when it is the same place both ways with no conflicting house numbers. The
output has one row per left record, unmatched ones included (see ``geoalign.link.pipeline``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the pipeline is imported lazily so `geoalign link --help` stays instant
    from geoalign.link.pipeline import TableSpec


def add_table_options(parser: argparse.ArgumentParser) -> None:
    """Blocking, scoring and execution options shared by ``link`` and ``dedupe``."""
    from geoalign.io.formats import FORMATS
    from geoalign.link.blocking import DEFAULT_MAX_BLOCK_SIZE, DEFAULT_MAX_CANDIDATES, RULES
    from geoalign.link.candidates import SAME_PLACE_THRESHOLD
    from geoalign.scorers.cascade import CASCADE_CONFIDENCE_THRESHOLD

    parser.add_argument("-o", "--output", help="output file (format from its suffix)")
    parser.add_argument("--output-format", choices=sorted(FORMATS), help="output format (default: suffix)")
    parser.add_argument(
        "--header",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="whether CSV/TSV/XLSX inputs have a header row (default: detect)",
    )
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
    score = parser.add_argument_group("scoring")
    score.add_argument(
        "--threshold",
        type=float,
        default=SAME_PLACE_THRESHOLD,
        help="exact_match probability needed in each direction for a same-place match",
    )
    score.add_argument("--model", metavar="DIR", help="neural model for the cascade's uncertain band")
    score.add_argument(
        "--cascade-threshold",
        type=float,
        default=CASCADE_CONFIDENCE_THRESHOLD,
        help="pairs whose top structured probability is below this go to --model",
    )
    score.add_argument("--structured-model", metavar="DIR", help="another embedded (structured) model")
    score.add_argument("--device", default=None, help="torch --model: cpu (default) or cuda[:N]")
    score.add_argument("--provider", default=None, help="onnx --model: auto (default), cpu, cuda, ...")
    run_ = parser.add_argument_group("execution")
    run_.add_argument("--batch-size", type=int, default=4096, help="pairs per scoring batch")
    run_.add_argument("--chunk-size", type=int, default=2000, help="records per chunk and per checkpoint")
    run_.add_argument("--no-explanation", action="store_true", help="leave the explanation column empty")
    run_.add_argument("--no-progress", action="store_true", help="no progress bar")
    run_.add_argument("--restart", action="store_true", help="ignore an existing partial output")
    run_.add_argument("--json", action="store_true", help="print the run summary as JSON on stdout")
    run_.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process; ray: a Ray cluster, writing a Parquet dataset (extra 'ray', docs/ray.md)",
    )
    run_.add_argument("--ray-address", help="--engine ray: cluster address (default: start a local Ray)")
    run_.add_argument("--ray-actors", type=int, default=2, help="--engine ray: scoring actors (at most)")
    run_.add_argument("--ray-gpus-per-actor", type=float, default=0.0, help="--engine ray: GPUs per actor")


def split_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def options_from_args(args: argparse.Namespace) -> Any:
    from geoalign.link.pipeline import Options

    return Options(
        rules=args.rules,
        max_block_size=args.max_block_size,
        max_candidates=args.max_candidates,
        threshold=args.threshold,
        batch_size=args.batch_size,
        chunk_size=args.chunk_size,
        max_cluster_size=getattr(args, "max_cluster_size", 1000),
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
        )

    return spec("left"), spec("right")


def scorer_from_args(args: argparse.Namespace) -> Any:
    from geoalign.link.pipeline import default_scorer

    neural: dict[str, Any] = {}
    if args.device:
        neural["device"] = args.device
    if args.provider:
        neural["provider"] = args.provider
    return default_scorer(
        args.model,
        cascade_threshold=args.cascade_threshold,
        structured_model=args.structured_model,
        **neural,
    )


def report_summary(command: str, summary: Any, args: argparse.Namespace, output: str | None) -> None:
    """The run summary: human text on stderr, JSON on stdout with --json."""
    from geoalign.link.blocking import format_report

    if args.json:
        print(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2, default=str))
    if args.explain_blocking:
        if not args.json:
            print(format_report(summary.blocking))
        return
    blocking = summary.blocking
    lines = [f"geoalign {command}: -> {output}"]
    lines.append(
        f"  blocking: {blocking['candidate_pairs']:,} candidate pairs "
        f"(full comparison {blocking['full_comparison_pairs']:,}); "
        f"{blocking['skipped_blocks']:,} oversized blocks skipped"
    )
    judge = summary.judge
    if judge:  # the Ray engine's summary has no judge counters (they live in its actors)
        lines.append(
            f"  scored: {judge['forward_pairs']:,} pairs forward "
            f"({judge['skipped_hard_numbers']:,} candidates not scored: conflicting house numbers), "
            f"{judge['reverse_pairs']:,} reverse; {judge['same_place']:,} same-place; "
            f"{judge['refused_by_hard_numbers']:,} refused by hard numbers"
        )
    cascade = summary.cascade
    if cascade:
        neural = (
            f"neural decided {cascade['neural_decided']:,} in {cascade['neural_ms'] / 1000:.1f}s"
            if args.model
            else f"uncertain band left to structured (no --model): {cascade['uncertain_kept']:,}"
        )
        lines.append(
            f"  cascade: structured decided {cascade['structured_decided']:,} in "
            f"{cascade['structured_ms'] / 1000:.1f}s; {neural}; errors {cascade['errors']:,}"
        )
    if summary.counts.get("status"):
        lines.append(
            "  left records: " + ", ".join(f"{k} {v:,}" for k, v in summary.counts["status"].items())
        )
    if summary.clusters:
        c = summary.clusters
        lines.append(
            f"  clusters: {c['clusters']:,} over {c['records']:,} records (largest {c['largest_cluster']}); "
            f"{c['refused_edges']:,} edges refused by the giant-cluster guard"
        )
    lines.append(f"  time: {summary.seconds.get('total', 0.0):.1f}s")
    for message in summary.messages:
        lines.append(f"  {message}")
    print("\n".join(lines), file=sys.stderr)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from geoalign.io.formats import FORMATS

    parser.add_argument("left", help="left table (CSV / TSV / JSONL / Parquet / XLSX)")
    parser.add_argument("right", help="right table (the records matched against)")
    parser.add_argument("--left-col", required=True, help="address column of LEFT (name or 1-based)")
    parser.add_argument("--right-col", required=True, help="address column of RIGHT (name or 1-based)")
    parser.add_argument("--left-id", help="id column of LEFT (default: row number)")
    parser.add_argument("--right-id", help="id column of RIGHT (default: row number)")
    parser.add_argument("--carry-left", help="LEFT columns to copy into the output (comma-separated)")
    parser.add_argument("--carry-right", help="RIGHT columns to copy into the output (comma-separated)")
    parser.add_argument("--left-format", choices=sorted(FORMATS), help="LEFT format (default: suffix)")
    parser.add_argument("--right-format", choices=sorted(FORMATS), help="RIGHT format (default: suffix)")
    add_table_options(parser)


def run(args: argparse.Namespace) -> int:
    from geoalign.errors import InputError
    from geoalign.link.pipeline import link, read_true_pairs

    if getattr(args, "engine", "local") == "ray":
        from geoalign.link.ray_engine import run_cli

        return run_cli("link", args)
    if not args.explain_blocking and not args.output:
        raise InputError("-o/--output is required (or use --explain-blocking)")
    left, right = tables_from_args(args)
    true_pairs = read_true_pairs(args.labels) if args.labels else None
    summary = link(
        left,
        right,
        args.output or "-",
        scorer=scorer_from_args(args),
        options=options_from_args(args),
        output_format=args.output_format,
        explain_only=args.explain_blocking,
        true_pairs=true_pairs,
        log=lambda message: print(f"geoalign link: {message}", file=sys.stderr),
    )
    report_summary("link", summary, args, args.output)
    return 0
