"""``geoalign export``: a checkpoint -> an ONNX directory (fp32 / fused / int8 / fp16) that needs no torch.

The export checks itself against torch and refuses a graph that misses its tolerance (exit 1, no
manifest) unless ``--force``; the measured parity is printed and written to the manifest either way.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from typing import Any

from geoalign.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        help="model directory (ModelScope MGeo or Hugging Face *ForSequenceClassification), "
        "or random-init:PRESET",
    )
    parser.add_argument(
        "--random-init",
        metavar="PRESET",
        help="export random weights of a preset's shape (mgeo-base, tiny): for speed work only",
    )
    parser.add_argument("--out", required=True, help="output directory (created; earlier exports replaced)")
    parser.add_argument(
        "--optimize",
        action="store_true",
        help="also write the fused graph (ORT transformer optimizer): the GPU default; on CPUs the plain "
        "fp32 graph measured as fast or faster",
    )
    parser.add_argument(
        "--int8",
        action="store_true",
        help="also write a dynamic int8 graph for CPUs (quantizes the fused one)",
    )
    parser.add_argument("--fp16", action="store_true", help="also write an fp16 graph for GPUs")
    parser.add_argument("--per-channel", action="store_true", help="int8: per-channel weight scales")
    parser.add_argument("--max-length", type=int, help="longest pair in tokens (default: the model's)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    parser.add_argument(
        "--parity-pairs",
        metavar="FILE",
        help="address pairs (first two columns) to check parity on instead of the built-in sample",
    )
    parser.add_argument("--parity-limit", type=int, default=512, help="at most this many pairs from FILE")
    parser.add_argument("--fp32-atol", type=float, default=1e-4, help="fp32/fused max |logit diff|")
    parser.add_argument("--int8-min-agreement", type=float, default=0.95, help="int8 label agreement")
    parser.add_argument("--int8-max-prob-diff", type=float, default=0.1, help="int8 max |probability diff|")
    parser.add_argument("--force", action="store_true", help="keep an export that fails parity (recorded)")
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON")


def _read_pairs(path: str, limit: int) -> list[tuple[str, str]]:
    from geoalign.io.tables import read_table

    table = read_table(path)
    pairs = []
    for row in itertools.islice((r for r in table.rows if r.error is None), limit):
        a, b = row.values[0], row.values[1] if len(row.values) > 1 else None
        if isinstance(a, str) and isinstance(b, str) and a.strip() and b.strip():
            pairs.append((a, b))
    if len(pairs) < 2:
        raise InputError(f"{path}: need at least 2 address pairs in the first two columns for parity")
    return pairs


def run(args: argparse.Namespace) -> int:
    from geoalign.scorers.export_onnx import ExportOptions, export_checkpoint

    if bool(args.model) == bool(args.random_init):
        raise InputError("give exactly one of --model DIR or --random-init PRESET")
    spec = args.model or f"random-init:{args.random_init}"
    options = ExportOptions(
        optimize=args.optimize,
        int8=args.int8,
        fp16=args.fp16,
        per_channel=args.per_channel,
        opset=args.opset,
        max_length=args.max_length,
        force=args.force,
        fp32_atol=args.fp32_atol,
        int8_min_agreement=args.int8_min_agreement,
        int8_max_prob_diff=args.int8_max_prob_diff,
    )
    pairs = _read_pairs(args.parity_pairs, args.parity_limit) if args.parity_pairs else None

    def echo(line: str) -> None:
        print(line, file=sys.stderr)

    report = export_checkpoint(spec, args.out, options, parity_pairs=pairs, echo=echo)
    manifest = report.manifest
    if args.json:
        print(json.dumps(manifest.to_dict(), ensure_ascii=False, indent=2))
    else:
        lines: list[Any] = [f"exported {spec} -> {report.directory}"]
        for name, variant in manifest.variants.items():
            lines.append(
                f"  {name:<6} {variant.file:<18} {variant.model_id}  parity {variant.parity['status']}"
            )
        if manifest.source.get("random_weights"):
            lines.append("  WARNING: random weights: outputs are not predictions (speed work only)")
        if report.refused:
            lines.append("  WARNING: parity FAILED but kept (--force): " + "; ".join(report.refused))
        print("\n".join(lines))
    return 0
