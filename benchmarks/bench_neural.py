"""geoalign's shipped neural matcher and the default judge: throughput and latency, side by side.

Rows, in one run on the same machine (synthetic address pairs: no data needed; ``--pairs FILE`` for real
ones):

* ``neural shipped batched``: the shipped ONNX model (static int8 graph since session 6;
  ``src/geoalign/models/neural``) through the pair-classifier scorer, every pair distinct, batched
  under the scorer's token budget; pairs/s.
* ``neural shipped 1 pair``: one pair per call, p50 / p95 latency in ms (after warm-up).
* ``structured``: the embedded matcher alone (``--scorer structured``), batched; pairs/s.
* ``default judge``: structured + the neural matcher on the uncertain band + stack + rules (what
  ``geoalign score`` runs with no ``--scorer``); pairs/s and the share of pairs the neural stage saw.

Goals it reports against (issue 14; set for an int8 graph): neural batched >= 1,000 pairs/s on 2 cores,
single pair p50 <= 5 ms, default judge end to end >= 2,000 pairs/s.

    python benchmarks/bench_neural.py [--n 4000] [--threads 2] [--pairs FILE]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_structured import linkage_pairs, read_pairs
from geoalign.scorers.cascade import SHIPPED_NEURAL
from geoalign.scorers.spec import ScorerSpec
from geoalign.types import AddressPair


def rate(scorer: object, pairs: list[AddressPair], chunk: int = 1024) -> float:
    start = time.perf_counter()
    for i in range(0, len(pairs), chunk):
        scorer.score(pairs[i : i + chunk])  # type: ignore[attr-defined]
    return len(pairs) / (time.perf_counter() - start)


def neural_row(
    model: Path, pairs: list[AddressPair], threads: int, single: int
) -> tuple[float, float, float]:
    """(batched pairs/s, single-pair p50 ms, p95 ms) of a neural model directory, rules off."""
    neural = ScorerSpec(scorer="onnx", model=str(model), threads=threads, rules=False, explain=False).build()
    neural.warmup()
    batched = rate(neural, pairs)
    lat = []
    for pair in pairs[:single]:
        start = time.perf_counter()
        neural.score([pair])
        lat.append((time.perf_counter() - start) * 1000.0)
    return batched, statistics.median(lat), sorted(lat)[int(0.95 * (len(lat) - 1))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--single", type=int, default=200, help="single-pair calls for the latency row")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--pairs", type=Path, default=None, help="TSV a<TAB>b[...] instead of synthetic pairs")
    ap.add_argument(
        "--candidate",
        type=Path,
        default=None,
        help="another neural model directory (e.g. ship_neural.py --out) measured in the same run",
    )
    args = ap.parse_args()
    from geoalign.collector import pace_for_long_runs

    pace_for_long_runs()  # as `geoalign score` runs (geoalign.cli.main)

    raw = read_pairs(args.pairs, args.n) if args.pairs else linkage_pairs(args.n, fanout=1, seed=11)
    pairs = [AddressPair(a, b) for a, b in raw][: args.n]
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {os.cpu_count()} CPUs; python {platform.python_version()}")
    import onnxruntime

    print(f"onnxruntime {onnxruntime.__version__}; threads {args.threads}; {len(pairs)} pairs")

    neural_rate, p50, p95 = neural_row(SHIPPED_NEURAL, pairs, args.threads, args.single)
    candidate = neural_row(args.candidate, pairs, args.threads, args.single) if args.candidate else None

    structured = ScorerSpec(scorer="structured", explain=False).build()
    structured.warmup()
    structured_rate = rate(structured, pairs)

    judge = ScorerSpec(explain=False).build()
    judge.warmup()
    judge_rate = rate(judge, pairs)
    inner = getattr(judge, "inner", judge)
    stats = getattr(inner, "stats", None)
    share = (
        (stats.neural_decided + stats.neural_errors) / max(1, stats.pairs)
        if stats is not None
        else float("nan")
    )

    print(f"neural shipped batched   {neural_rate:8.0f} pairs/s   (goal >= 1,000)")
    print(f"neural shipped 1 pair    p50 {p50:.2f} ms, p95 {p95:.2f} ms   (goal p50 <= 5 ms)")
    if candidate is not None:
        c_rate, c_p50, c_p95 = candidate
        print(
            f"candidate {args.candidate}: batched {c_rate:.0f} pairs/s "
            f"({c_rate / neural_rate:.2f}x shipped), 1 pair p50 {c_p50:.2f} ms, p95 {c_p95:.2f} ms"
        )
    print(f"structured               {structured_rate:8.0f} pairs/s")
    print(
        f"default judge            {judge_rate:8.0f} pairs/s   (goal >= 2,000); neural stage saw {share:.1%}"
    )
    print(
        f"ratios: default judge / structured = {judge_rate / structured_rate:.2f}; "
        f"neural batched / structured = {neural_rate / structured_rate:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
