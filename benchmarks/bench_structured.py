"""Throughput of the embedded structured matcher, end to end (``geoalign score``) and per stage.

Two workloads, because the cost is dominated by per-*address* work (normalize + parse), which the
scorer does once per distinct address:

* ``linkage`` (default, synthetic, no data needed): a table-alignment workload: every address appears
  in ``--fanout`` candidate pairs (a query against its blocked candidates), so there are
  ``pairs / fanout * 2`` distinct addresses.
* ``--pairs FILE``: a real pairs file as given (e.g. the CCKS slice, where almost every candidate is a
  distinct address: the worst case for the per-address cache).

For each workload it prints: end-to-end ``geoalign score`` wall and CPU time (a subprocess: start-up,
reading, scoring, writing, atomic rename all included), and an in-process stage breakdown in CPU time
(prepare = clean + normalize + parse per distinct address; run = features + one booster call per
batch; finish = Match objects) for a cold and a warm address cache. Results go to docs/benchmarks.md under
``## Embedded matcher``.

    python benchmarks/bench_structured.py [--pairs FILE] [--n 20000] [--fanout 10] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROVINCES = [
    ("浙江省", "杭州市", ["西湖区", "拱墅区", "滨江区"]),
    ("江苏省", "南京市", ["鼓楼区", "玄武区", "江宁区"]),
    ("广东省", "深圳市", ["南山区", "福田区", "宝安区"]),
    ("四川省", "成都市", ["武侯区", "锦江区", "青羊区"]),
]
ROADS = [
    "文三路",
    "中山北路",
    "科苑路",
    "人民南路",
    "解放大道",
    "建设东路",
    "学院路",
    "长江路",
    "滨江大道",
    "和平街",
]
POIS = [
    "阳光花园",
    "金色家园",
    "科技园",
    "国际中心",
    "幸福小区",
    "翠苑",
    "世纪广场",
    "新城大厦",
    "绿城公寓",
    "商务中心",
]


def synthetic_address(rng: random.Random) -> str:
    prov, city, districts = rng.choice(PROVINCES)
    parts = []
    if rng.random() < 0.6:
        parts.append(prov)
    if rng.random() < 0.8:
        parts.append(city)
    parts.append(rng.choice(districts))
    parts.append(f"{rng.choice(ROADS)}{rng.randint(1, 999)}号")
    if rng.random() < 0.7:
        parts.append(rng.choice(POIS))
    if rng.random() < 0.6:
        parts.append(f"{rng.randint(1, 30)}{rng.choice(['栋', '号楼', '幢'])}")
    if rng.random() < 0.4:
        parts.append(f"{rng.randint(1, 6)}单元{rng.randint(1, 30)}{rng.randint(1, 4):02d}室")
    return "".join(parts)


def linkage_pairs(n: int, fanout: int, seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    distinct = max(n // fanout, 1)
    queries = [synthetic_address(rng) for _ in range(distinct)]
    records = [synthetic_address(rng) for _ in range(distinct)]
    return [(queries[i % distinct], records[(i * 7 + i // distinct) % distinct]) for i in range(n)]


def read_pairs(path: Path, n: int | None) -> list[tuple[str, str]]:
    out = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            cells = line.rstrip("\n").split("\t")
            if len(cells) >= 2:
                out.append((cells[0], cells[1]))
            if n and len(out) >= n:
                break
    return out


def end_to_end(pairs: list[tuple[str, str]], workdir: Path, workers: int = 1) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, CPU seconds of start-up alone) of ``geoalign score`` in a subprocess.

    CPU time is reported beside wall time because the benchmark machine is shared: on a busy machine
    wall time measures the neighbours. The pipeline is single-threaded (the booster runs on one
    thread), so CPU time is what the job takes on an idle core.
    """
    source, target = workdir / "in.tsv", workdir / "out.tsv"
    source.write_text("".join(f"{a}\t{b}\n" for a, b in pairs), encoding="utf-8")
    # --scorer structured: the embedded matcher alone (no flag would run the default judge, which adds the
    # neural stage for uncertain pairs: benchmarks/bench_neural.py measures that one)
    cmd = [sys.executable, "-m", "geoalign", "score", str(source), "-o", str(target), "--no-progress"]
    cmd += ["--scorer", "structured"]
    cmd += ["--workers", str(workers)]
    before = _child_cpu()
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.perf_counter() - start
    cpu = _child_cpu() - before
    before = _child_cpu()
    load = "import geoalign.scorers.structured as s; s.StructuredScorer().warmup()"
    subprocess.run([sys.executable, "-c", load], check=True)
    return wall, cpu, _child_cpu() - before


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def stages(pairs: list[tuple[str, str]], batch: int = 4096) -> dict[str, dict[str, float]]:
    """CPU seconds per stage for a cold and then a warm address cache (explanations off, as in score)."""
    from geoalign.scorers.structured import StructuredScorer
    from geoalign.types import AddressPair

    scorer = StructuredScorer(explain=False)
    scorer.warmup()
    items = [AddressPair(a, b) for a, b in pairs]
    out: dict[str, dict[str, float]] = {}
    for cache in ("cold", "warm"):
        totals = {"prepare": 0.0, "run": 0.0, "finish": 0.0}
        for i in range(0, len(items), batch):
            chunk = items[i : i + batch]
            t0 = time.process_time()
            prepared = scorer.prepare(chunk)
            t1 = time.process_time()
            raw = scorer.run(prepared)
            t2 = time.process_time()
            scorer.finish(raw)
            t3 = time.process_time()
            totals["prepare"] += t1 - t0
            totals["run"] += t2 - t1
            totals["finish"] += t3 - t2
        out[cache] = totals
    return out


def machine() -> str:
    import lightgbm
    import numpy
    import rapidfuzz

    cpu = platform.processor() or "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{os.cpu_count()} cores ({cpu}), load average at start {load:.1f}; "
        f"Python {platform.python_version()}, "
        f"lightgbm {lightgbm.__version__}, rapidfuzz {rapidfuzz.__version__}, numpy {numpy.__version__}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--pairs", type=Path, help="a TSV pairs file (first two columns) instead of synthetic pairs"
    )
    parser.add_argument("--n", type=int, default=20000, help="number of pairs")
    parser.add_argument("--fanout", type=int, default=10, help="synthetic: pairs per distinct address")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="`geoalign score --workers` values"
    )
    args = parser.parse_args()
    if args.pairs:
        pairs = read_pairs(args.pairs, args.n)
        name = f"{args.pairs.name} ({len(pairs)} pairs)"
    else:
        pairs = linkage_pairs(args.n, args.fanout)
        name = f"synthetic linkage, {len(pairs)} pairs, fan-out {args.fanout}"
    distinct = len({a for a, _ in pairs} | {b for _, b in pairs})
    print(f"machine: {machine()}")
    print(f"workload: {name}; {distinct} distinct addresses ({distinct / len(pairs):.2f} per pair)")
    n = len(pairs)
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            wall, cpu, startup = end_to_end(pairs, Path(tmp), workers)
        # With W > 1 workers the CPU is spread over W + 1 processes (the parent reads and writes); on an
        # idle machine they share min(W + 1, cores) cores, so the job takes about CPU / that.
        usable = min(workers if workers == 1 else workers + 1, os.cpu_count() or 1)
        print(
            f"end to end `geoalign score --workers {workers}`: wall {wall:.2f} s = {n / wall:,.0f} pairs/s "
            f"on this (shared) machine; CPU {cpu:.2f} s in all (start-up + model load {startup:.2f} s per "
            f"process); idle-machine estimate n / (CPU / {usable} cores) = {n * usable / cpu:,.0f} pairs/s"
        )
    for cache, totals in stages(pairs).items():
        total = sum(totals.values())
        per = {k: v / n * 1e6 for k, v in totals.items()}
        print(
            f"in-process, {cache} address cache (CPU time): {n / total:,.0f} pairs/s; per pair: "
            + ", ".join(f"{k} {v:.1f} us" for k, v in per.items())
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
