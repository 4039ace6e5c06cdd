"""``geoalign link|dedupe ... --engine ray``: the same options as the local engine, run on Ray.

The command line's side of the Ray engine (``geoalign.link.ray_engine``): it refuses the options the
engine cannot honour, turns the arguments into the engine's settings, and prints the usual summary.
"""

from __future__ import annotations

import argparse
import sys

from geoalign.errors import InputError


def _unsupported(args: argparse.Namespace, command: str) -> None:
    refused = [
        (getattr(args, "explain_blocking", False), "--explain-blocking"),
        (getattr(args, "labels", None), "--labels"),
        (getattr(args, "existing", None), "--existing"),
        (getattr(args, "truth", None), "--truth"),
    ]
    for given, flag in refused:
        if given:
            raise InputError(f"{command} --engine ray does not support {flag}; use --engine local for it")


def run_cli(command: str, args: argparse.Namespace) -> int:
    """Run ``command`` (link or dedupe) on Ray with the parsed arguments of the local command."""
    from geoalign.cli.link import (
        flags_from_args,
        report_summary,
        scorer_recipe,
        settings_from_args,
        split_list,
    )
    from geoalign.link.pipeline import RunSummary, TableSpec
    from geoalign.link.ray_engine import RayOptions, dedupe_ray, link_ray

    _unsupported(args, command)
    if not args.output:
        raise InputError("-o/--output is required")
    ropts = RayOptions(
        address=args.ray_address,
        actors=(1, max(1, int(args.ray_actors or 2))),
        num_gpus=float(args.ray_gpus_per_actor or 0.0),
    )
    factory = scorer_recipe(args)  # a picklable recipe: each actor builds (and loads) its own scorer
    settings = settings_from_args(args)

    def log(message: str) -> None:
        print(f"geoalign {command}: {message}", file=sys.stderr)

    summary: RunSummary
    if command == "link":
        from geoalign.cli.link import tables_from_args

        summary = link_ray(
            *tables_from_args(args),
            args.output,
            scorer_factory=factory,
            settings=settings,
            flags=flags_from_args(args),
            ray_options=ropts,
            output_format=args.output_format,
            log=log,
        )
    else:
        summary = dedupe_ray(
            TableSpec(args.input, args.col, args.id_col, split_list(args.carry), args.format, args.header),
            args.output,
            scorer_factory=factory,
            settings=settings,
            ray_options=ropts,
            output_format=args.output_format,
            edges_output=args.edges,
            log=log,
        )
    report_summary(f"{command} (ray)", summary, args, f"{args.output} (Parquet dataset)")
    return 0
