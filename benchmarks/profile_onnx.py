#!/usr/bin/env python
"""Where an exported graph spends its time: ONNX Runtime's own profiler, summed by operator type.

    python benchmarks/profile_onnx.py --export-dir DIR [--variant int8] [--n 256] [--threads 2]
    python benchmarks/profile_onnx.py --spec random-init:mgeo-base --export-dir DIR   # export first

Runs the deployed path (``OnnxScorer``: tokenizer.json, pair assembly, token-budget batches) on
``bench_torch.realistic_pairs`` with ORT's profiler on, then prints each operator type's share of the
summed node time, the fusions present in the graph, and the session's wall time per pair. Shares move far
less with other processes' load than absolute times, so this is the one ONNX measurement worth taking on a
busy machine (label it so). ``--compare-attention`` also exports the int8 graph with the attention MatMuls
quantized (``ExportOptions.int8_attention_matmuls``) from the same source and profiles both.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

from bench_torch import realistic_pairs
from geoalign.scorers.export_onnx import ExportOptions, export_checkpoint
from geoalign.scorers.manifest import is_export_dir, read_manifest
from geoalign.scorers.mgeo_onnx import OnnxScorer


def profile(directory: Path, variant: str, pairs: list[Any], threads: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="geoalign-ortprof-") as tmp:
        scorer = OnnxScorer(
            directory, variant=variant, provider="cpu", threads=threads, profile_prefix=f"{tmp}/ort"
        )
        scorer.warmup()
        t0 = time.perf_counter()
        results = scorer.score(pairs)
        wall = time.perf_counter() - t0
        trace = json.loads(Path(scorer.onnx.end_profiling()).read_text(encoding="utf-8"))
    by_op: Counter[str] = Counter()
    for event in trace:
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            by_op[event.get("args", {}).get("op_name", "?")] += int(event.get("dur", 0))
    total = sum(by_op.values()) or 1
    ops = read_manifest(directory, verify_files=False).variants[variant].parity.get("ops", {})
    return {
        "variant": variant,
        "pairs": len(pairs),
        "errors": sum(1 for r in results if not hasattr(r, "label")),
        "wall_s": round(wall, 3),
        "pairs_per_s": round(len(pairs) / wall, 2),
        "share": {op: round(us / total, 4) for op, us in by_op.most_common()},
        "graph_ops": ops,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--export-dir", type=Path, required=True)
    parser.add_argument("--spec", default="random-init:mgeo-base", help="exported when the dir has none")
    parser.add_argument("--variant", default="int8")
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compare-attention", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not is_export_dir(args.export_dir):
            export_checkpoint(args.spec, args.export_dir, ExportOptions(optimize=True, int8=True))
    pairs = realistic_pairs(args.n, seed=1)
    rows = [profile(args.export_dir, args.variant, pairs, args.threads)]
    if args.compare_attention:
        other = args.export_dir.with_name(args.export_dir.name + "-int8-attn")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not is_export_dir(other):
                options = ExportOptions(int8=True, int8_attention_matmuls=True)
                export_checkpoint(args.spec, other, options)
        rows.append({**profile(other, "int8", pairs, args.threads), "variant": "int8 (attention matmuls)"})
    for row in rows:
        print(f"{row['variant']}: {row['pairs_per_s']} pairs/s over {row['pairs']} pairs ({row['wall_s']} s)")
        for op, share in list(row["share"].items())[:12]:
            print(f"  {op:32s} {share:6.1%}")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
