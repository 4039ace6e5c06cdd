"""Normalizer throughput on one core: addresses per second for ``normalize`` (with and without admin
completion) and for the gazetteer's ``resolve`` alone.

    .venv/bin/python benchmarks/bench_normalize.py                     # 20,000 generated addresses
    .venv/bin/python benchmarks/bench_normalize.py \
        --ccks ../shared/data/ccks2021-address-relevance/round1_slice.tsv

Generated addresses (seeded, reproducible) are built from the shipped gazetteer: a random township's
admin path with levels dropped or shortened at random, a road and number, building/unit/floor/room
written in Arabic or Chinese numerals with assorted synonyms, and — in a fraction of them — the noise
the normalizer removes (phone numbers, recipient names, bracketed notes), full-width characters and
traditional characters. ``--ccks`` uses the distinct query and candidate texts of a CCKS-2021 TSV
(query, candidate, label) instead. The process is pinned to one CPU where the OS allows it, the
gazetteer and OpenCC are loaded before timing, and each number is the best of ``--repeat`` passes.
Both wall-clock and process CPU time are reported: on a shared machine (other jobs on the same cores)
the wall-clock rate understates what one free core does, and the CPU-time rate is the better estimate;
the load average is printed so the reader can judge.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

_ROADS = ("文三路", "建国路", "人民路", "中山东路", "解放街", "科技园路", "文一西路", "长安街", "十里河路")
_POIS = ("望京SOHO", "万达广场", "阳光小区", "国贸大厦", "幸福里", "华润城", "星海花园", "软件园")
_CN = "零一二三四五六七八九"


def _cn_number(n: int) -> str:
    """A Chinese positional numeral for 1-99 (enough for buildings, units and floors)."""
    tens, ones = divmod(n, 10)
    return ("" if tens == 0 else ("十" if tens == 1 else _CN[tens] + "十")) + (_CN[ones] if ones else "")


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def generate(n: int, seed: int = 20251231) -> list[str]:
    from geoalign.address import gazetteer

    rng = random.Random(seed)
    data = gazetteer._data()
    towns = sorted(c for c, d in data.by_code.items() if d.level == "town")
    out = []
    for _ in range(n):
        path = gazetteer.path(rng.choice(towns))
        parts = []
        for d in path:
            r = rng.random()
            if r < 0.2:
                continue  # level left out
            parts.append(d.short_name if r < 0.45 and d.level != "town" else d.name)
        parts.append(rng.choice(_ROADS))
        parts.append(f"{rng.randint(1, 999)}号")
        if rng.random() < 0.6:
            parts.append(rng.choice(_POIS))
        b, u, f = rng.randint(1, 30), rng.randint(1, 6), rng.randint(1, 33)
        room = f * 100 + rng.randint(1, 12)
        parts.append(
            rng.choice(
                [f"{b}号楼", f"{_cn_number(b)}号楼", f"{b}幢", f"{b}栋", f"塔{_cn_number(b)}", f"T{b}"]
            )
        )
        parts.append(rng.choice([f"{u}单元", f"{_cn_number(u)}单元", ""]))
        parts.append(rng.choice([f"{f}层", f"{_cn_number(f)}层", f"{f}F", ""]))
        parts.append(rng.choice([f"{room}室", "".join(_CN[int(c)] for c in str(room)) + "室", f"{room}房"]))
        text = "".join(parts)
        r = rng.random()
        if r < 0.1:
            text = f"张{rng.choice('伟敏静丽强')} 1{rng.randint(3, 9)}{rng.randint(0, 999999999):09d} {text}"
        elif r < 0.2:
            text += rng.choice(["（近地铁站）", "【送货前请电话联系】", "(东门)"])
        elif r < 0.25:
            text = _fullwidth(text)
        elif r < 0.3:
            text = text.replace("区", "區").replace("号", "號").replace("东", "東").replace("门", "門")
        if rng.random() < 0.2:
            text = text.replace("市", "市 ", 1)
        out.append(text)
    return out


def read_ccks(path: Path) -> list[str]:
    texts: dict[str, None] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if len(cols) >= 2:
            texts.setdefault(cols[0], None)
            texts.setdefault(cols[1], None)
    return list(texts)


def _best(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best wall-clock and best CPU seconds over ``repeat`` passes."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ccks", type=Path, help="CCKS-2021 TSV (query, candidate, label); default: generated")
    ap.add_argument("-n", type=int, default=20_000, help="generated addresses (default 20,000)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    pinned = "no"
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        pinned = f"cpu {cpu}"

    import opencc

    from geoalign import __version__
    from geoalign.address import gazetteer
    from geoalign.address.normalize import normalize

    t0 = time.perf_counter()
    gazetteer._data()
    load_s = time.perf_counter() - t0
    texts = read_ccks(args.ccks) if args.ccks else generate(args.n)
    source = f"CCKS {args.ccks.name}" if args.ccks else f"generated (seed 20251231, n={args.n})"
    for text in texts[:200]:  # warm OpenCC, the t2s table and the numeral-name index
        normalize(text, complete_admin=True)

    def run(**kw: bool) -> None:
        for text in texts:
            normalize(text, **kw)

    def run_resolve() -> None:
        for text in texts:
            gazetteer.resolve(text)

    rows = [
        ("normalize", _best(run, args.repeat)),
        ("normalize(complete_admin=True)", _best(lambda: run(complete_admin=True), args.repeat)),
        ("gazetteer.resolve", _best(run_resolve, args.repeat)),
    ]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.machine()} {_cpu_model()}, {os.cpu_count()} CPUs, pinned: {pinned}")
    print(f"load average (1 min) at the end: {load:.2f}")
    opencc_version = getattr(opencc, "__version__", "?")
    print(f"python {platform.python_version()}, geoalign {__version__}, opencc {opencc_version}")
    print(f"gazetteer: {gazetteer.data_version()} (load {load_s * 1000:.0f} ms)")
    print(f"addresses: {len(texts)} from {source}, mean {sum(map(len, texts)) / len(texts):.1f} chars")
    print(f"best of {args.repeat} passes, one core:")
    print(f"  {'stage':32s} {'addr/s wall':>12s} {'addr/s cpu':>11s} {'us/addr cpu':>12s}")
    n = len(texts)
    for name, (wall_s, cpu_s) in rows:
        print(f"  {name:32s} {n / wall_s:12,.0f} {n / cpu_s:11,.0f} {cpu_s / n * 1e6:12.1f}")
    print("examples:")
    for text in texts[:3]:
        print(f"  {text} -> {normalize(text, complete_admin=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
