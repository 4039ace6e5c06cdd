"""``geoalign dedupe INPUT --col C -o OUT``: cluster the records that denote the same place.

Clusters are built only from same-place edges (exact_match both ways, no conflicting house numbers) and
get stable IDs (the smallest record id when created; on a merge the older ID survives). ``--existing
ALIGNED`` matches new records against an already clustered table and keeps its cluster IDs.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from geoalign.cli.link import add_table_options
    from geoalign.io.formats import FORMATS

    parser.add_argument("input", help="table of records (CSV / TSV / JSONL / Parquet / XLSX)")
    parser.add_argument(
        "--col",
        default=None,
        help="address column (name or 1-based; default: the column named address, 地址, 详细地址, "
        "收货地址 or another usual name)",
    )
    parser.add_argument(
        "--id",
        dest="id_col",
        help="id column (default: one named id, 编号 or 序号, else the row number; '': row number)",
    )
    parser.add_argument(
        "--carry",
        help="columns to copy into the output (comma-separated; '*': every column but the address and id)",
    )
    parser.add_argument("--format", choices=sorted(FORMATS), help="input format (default: suffix)")
    from geoalign.link.settings import DEFAULT_MAX_CLUSTER_SIZE

    parser.add_argument(
        "--max-cluster-size",
        type=int,
        default=DEFAULT_MAX_CLUSTER_SIZE,
        help="a merge that would make a cluster larger than this is refused and reported",
    )
    parser.add_argument(
        "--same-detail",
        action="store_true",
        help="records join one cluster only where they state the same levels below the door (building, "
        "unit, floor, room): a register's record of a tower and one of its 12th floor stay apart, though "
        "the judge calls an order on the 12th floor relevant to the tower's record (default: off)",
    )
    parser.add_argument(
        "--existing",
        metavar="ALIGNED",
        help="incremental mode: an aligned table (a previous dedupe output) whose cluster IDs are kept",
    )
    parser.add_argument(
        "--existing-cluster-col", default="cluster_id", help="cluster id column of --existing"
    )
    parser.add_argument(
        "--existing-col", default=None, help="address column of --existing (default: as --col)"
    )
    parser.add_argument("--existing-id", default="id", help="id column of --existing")
    parser.add_argument(
        "--edges",
        metavar="FILE",
        help="also write the same-place edges (a_id, b_id, score, outcome: merged, redundant, "
        "refused_size, refused_different_places)",
    )
    add_table_options(parser)


def run(args: argparse.Namespace) -> int:
    from geoalign.cli.link import (
        flags_from_args,
        report_summary,
        scorer_from_args,
        settings_from_args,
        split_list,
    )
    from geoalign.errors import InputError
    from geoalign.link.pipeline import TableSpec, dedupe, read_true_pairs

    if not args.explain_blocking and not args.output:
        raise InputError("-o/--output is required (or use --explain-blocking)")
    if args.max_cluster_size < 2:
        raise InputError("--max-cluster-size must be >= 2")
    if args.engine == "ray":
        from geoalign.cli.link_ray import run_cli

        return run_cli("dedupe", args)
    if not args.explain_blocking:
        from geoalign.io.formats import output_format
        from geoalign.io.paths import check_output

        inputs = [args.input, args.existing, args.labels]
        check_output(args.output, inputs)
        output_format(args.output, args.output_format)
        if args.edges:
            check_output(args.edges, [*inputs, args.output], option="--edges")
            output_format(args.edges, option=None)
    table = TableSpec(
        args.input, args.col, args.id_col, split_list(args.carry), args.format, args.header, args.encoding
    )
    existing = None
    if args.existing:
        existing = TableSpec(
            args.existing, args.existing_col, args.existing_id, (), None, args.header, args.encoding
        )
    summary = dedupe(
        table,
        args.output or "-",
        scorer=scorer_from_args(args),
        settings=settings_from_args(args),
        flags=flags_from_args(args),
        output_format=args.output_format,
        existing=existing,
        existing_cluster_col=args.existing_cluster_col,
        edges_output=args.edges,
        explain_only=args.explain_blocking,
        true_pairs=read_true_pairs(args.labels) if args.labels else None,
        log=lambda message: print(f"geoalign dedupe: {message}", file=sys.stderr),
    )
    report_summary("dedupe", summary, args, args.output)
    return 0
