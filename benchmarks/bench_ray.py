"""Ray engine: the driver's peak memory as the input grows, and throughput vs scoring actors.

    python benchmarks/bench_ray.py --places 1000 5000 --actors 1 2 --out /tmp/bench_ray

For each size it generates tables (``gen_tables.py``), writes them as Parquet (row groups of 500 rows,
so the reads are parallel tasks), and runs ``link`` in a fresh process per measurement:

* ``local`` — the single-machine engine (``geoalign.link.pipeline.link``): holds the right table and
  its index in memory, so its peak grows with the input;
* ``ray`` — ``geoalign.link.ray_engine.link_ray`` on a local Ray (``num_cpus=2``): the driver's peak
  RSS (``ru_maxrss``) should stay flat while the input grows, because no table passes through it.

Each child reports its RSS after imports (+ ``ray.init``) and its peak, wall seconds and rows written;
the table goes to stdout as Markdown (paste into docs/benchmarks.md and docs/ray.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(mode: str, data: Path, out: Path, actors: int) -> None:
    """One measurement in this (fresh) process; prints one JSON line. Both engines judge with the
    embedded matcher alone (`--judge structured`): what this measures is the engines, not the judge."""
    import functools

    from geoalign.link.pipeline import RunFlags, TableSpec, default_scorer, link

    structured = functools.partial(default_scorer, neural=False)

    left = TableSpec(data / "left.parquet", "address", "id")
    right = TableSpec(data / "right.parquet", "address", "id")
    flags = RunFlags(progress=False)
    if mode == "ray":
        import ray

        from geoalign.link.ray_engine import RayOptions, link_ray

        os.environ["RAY_DISABLE_USAGE_STATS"] = "1"
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=512 << 20)
        ray.data.DataContext.get_current().enable_progress_bars = False
        base = rss_mb()
        start = time.perf_counter()
        summary = link_ray(
            left,
            right,
            out,
            scorer_factory=structured,
            flags=flags,
            ray_options=RayOptions(actors=(actors, actors)),
        )
        rows = sum(summary.counts.status.values())
    else:
        scorer = structured()
        scorer.warmup()
        base = rss_mb()
        start = time.perf_counter()
        summary = link(left, right, out, scorer=scorer, flags=flags)
        rows = summary.counts.left_records
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "mode": mode,
                "actors": actors if mode == "ray" else None,
                "base_mb": round(base, 1),
                "peak_mb": round(peak_mb(), 1),
                "seconds": round(seconds, 1),
                "rows": rows,
                "candidate_pairs": summary.blocking.get("candidate_pairs"),
            }
        )
    )


def prepare(places: int, root: Path) -> Path:
    import csv

    import pyarrow as pa
    import pyarrow.parquet as pq

    data = root / f"p{places}"
    if not (data / "left.parquet").exists():
        data.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, str(HERE / "gen_tables.py"), "--places", str(places), "--out", str(data)],
            check=True,
            capture_output=True,
        )
        for name in ("left", "right"):
            with open(data / f"{name}.csv", encoding="utf-8", newline="") as handle:
                rows = list(csv.DictReader(handle))
            table = pa.table({"id": [r["id"] for r in rows], "address": [r["address"] for r in rows]})
            pq.write_table(table, data / f"{name}.parquet", row_group_size=500)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--places", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--actors", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_ray"))
    parser.add_argument("--child", nargs=4, metavar=("MODE", "DATA", "OUT", "ACTORS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, data, out, actors = args.child
        child(mode, Path(data), Path(out), int(actors))
        return
    import ray

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs; "
        f"python {platform.python_version()}; ray {ray.__version__}"
    )
    print(f"command: python benchmarks/bench_ray.py {' '.join(sys.argv[1:])}\n")
    print(
        "| places | input (Parquet, MB) | engine | actors | left rows | candidate pairs | seconds | rows/s "
        "| RSS after start (MB) | peak RSS (MB) | peak - start (MB) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for places in args.places:
        data = prepare(places, args.out)
        size = sum((data / f"{n}.parquet").stat().st_size for n in ("left", "right")) / 1e6
        runs = [("local", 1)] + [("ray", a) for a in args.actors]
        for mode, actors in runs:
            out = args.out / f"out_{places}_{mode}_{actors}.parquet"
            proc = subprocess.run(
                [sys.executable, __file__, "--child", mode, str(data), str(out), str(actors)],
                capture_output=True,
                text=True,
                check=False,
            )
            lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
            if proc.returncode != 0 or not lines:
                print(f"| {places} | {size:.2f} | {mode} | {actors} | FAILED: {proc.stderr[-300:]!r} |")
                continue
            r = json.loads(lines[-1])
            rate = r["rows"] / r["seconds"] if r["seconds"] else float("nan")
            print(
                f"| {places:,} | {size:.2f} | {mode} | {r['actors'] or '-'} | {r['rows']:,} | "
                f"{r['candidate_pairs']:,} | {r['seconds']:.1f} | {rate:.1f} | {r['base_mb']:.0f} | "
                f"{r['peak_mb']:.0f} | {r['peak_mb'] - r['base_mb']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
