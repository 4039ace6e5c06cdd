"""`geoalign score` with the default judge: one process against N worker processes, side by side.

Each configuration runs the real command in a subprocess (start-up, model loads and the output file
included) on the same pairs, and the configurations are alternated round by round, so a noisy spell of
a shared machine touches them all alike. Ratios are against the first configuration.

    python benchmarks/bench_score_workers.py --pairs round1_slice.tsv --n 19251 --rounds 3 \\
        --config "--workers 1" --config "--workers 2 --threads 2" --config "--workers 2"

(`--workers 2 --threads 2` is what `--workers 2` meant before session 39 on 2 cores: every worker's
neural stage took every core.)
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_structured import read_pairs


def run(source: Path, target: Path, config: str) -> float:
    cmd = [sys.executable, "-m", "geoalign", "score", str(source), "-o", str(target), "--no-progress"]
    cmd += shlex.split(config)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=Path, required=True, help="a TSV pairs file (first two columns)")
    parser.add_argument("--n", type=int, default=None, help="first N pairs (default: all)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--config",
        action="append",
        help='extra `geoalign score` options of one configuration (repeat; default "--workers 1" and '
        '"--workers 2")',
    )
    args = parser.parse_args()
    configs = args.config or ["--workers 1", "--workers 2"]
    pairs = read_pairs(args.pairs, args.n)
    import geoalign

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
        f"python {platform.python_version()}; geoalign {geoalign.__version__}"
    )
    print(
        f"workload: {args.pairs.name}, {len(pairs)} pairs; the default judge; "
        f"{args.rounds} rounds, alternated"
    )
    walls: dict[str, list[float]] = {c: [] for c in configs}
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.tsv"
        source.write_text("".join(f"{a}\t{b}\n" for a, b in pairs), encoding="utf-8")
        for _ in range(args.rounds):
            for config in configs:
                walls[config].append(run(source, Path(tmp) / "out.jsonl", config))
    base = statistics.median(walls[configs[0]])
    print("| `geoalign score` options | wall s (each round) | median pairs/s | vs first |")
    print("|---|---|---:|---:|")
    for config in configs:
        median = statistics.median(walls[config])
        rounds = ", ".join(f"{w:.2f}" for w in walls[config])
        print(f"| `{config}` | {rounds} | {len(pairs) / median:,.0f} | {base / median:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
