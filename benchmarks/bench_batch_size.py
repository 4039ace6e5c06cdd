"""CPU per pair of the embedded structured matcher by batch size, cold address cache.

What a caller that cannot batch pays: ``geoalign match``, the HTTP service under one-pair clients (its
engine forms batches of ~20-30), the link judge's last chunks. Each batch size scores its own copy of
the pairs with a suffix that makes every address new, so no size profits from another's parses
(normalize + parse per distinct address is most of the cost). CPU time of this process (one thread: the
structured scorer does not use more), so the figure does not move with what else runs as much as wall
time does; still alternate trees when comparing two commits (docs/benchmarks.md, "Session 13").

    python benchmarks/bench_batch_size.py [--sizes 1 16 256] [--n 1200]
    PYTHONPATH=OTHER_TREE/src python benchmarks/bench_batch_size.py   # the same on another commit
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_structured import linkage_pairs
from geoalign.scorers.spec import ScorerSpec
from geoalign.types import AddressPair


def cpu_us_per_pair(scorer: object, pairs: list[AddressPair], batch_size: int) -> float:
    start = time.process_time()
    for i in range(0, len(pairs), batch_size):
        scorer.score(pairs[i : i + batch_size])  # type: ignore[attr-defined]
    return (time.process_time() - start) / len(pairs) * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 16, 256])
    ap.add_argument("--n", type=int, default=1200, help="pairs per batch size (batch size 1: half of them)")
    args = ap.parse_args()
    base = [AddressPair(a, b) for a, b in linkage_pairs(args.n, fanout=1, seed=11)][: args.n]
    scorer = ScorerSpec(scorer="structured", explain=False).build()
    scorer.warmup()
    cells = []
    for size in args.sizes:
        n = args.n // 2 if size == 1 else args.n
        fresh = [AddressPair(f"{p.a}{size}号", f"{p.b}{size}号") for p in base[:n]]
        cells.append(f"batch {size}: {cpu_us_per_pair(scorer, fresh, size):,.0f}")
    print("structured, µs CPU per pair, cold cache — " + "; ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
