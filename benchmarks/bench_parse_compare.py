"""Two parser models side by side in one process: single-address latency and batched throughput.

    git show main:src/geoalign/models/parser/crf.model > artifacts/crf/crf.model   # (and parser.json)
    .venv/bin/python benchmarks/bench_parse_compare.py --baseline artifacts/crf \\
        --data ../shared/data/naacl2019-address-parsing/dev.txt --limit 2000 [--e2e-baseline-src DIR]

Measures, for the shipped model (``--model``, default ``models/parser``) and a baseline model directory
(e.g. the v1 CRF), each on the same distinct addresses:

- ``parse(one)``: ``Parser.parse`` called once per address (the HTTP path and ``analyze`` of a single
  address; what a user waits for), microseconds of process CPU time per address;
- ``parse_many``: all addresses in one call (``geoalign parse --file``, the structured scorer's batch);
- with ``--e2e-baseline-src``: ``geoalign parse --file`` as a subprocess, this checkout against another
  source tree (e.g. an export of main, whose shipped model is the baseline), start-up included.

The two models are timed in alternating rounds and the best round of each is kept, so a busy machine
disturbs both alike: the *ratios* are what this reports reliably; absolute numbers need a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from geoalign.address.parse import DEFAULT_MODEL_DIR, Parser
from geoalign.address.schemes import read_labelled


def _cpu(fn: Callable[[], object]) -> float:
    c0 = time.process_time()
    fn()
    return time.process_time() - c0


def _e2e(src: Path, path: Path, n: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(src))
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "geoalign", "parse", "--file", str(path)],
        capture_output=True,
        env=env,
        check=False,
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0 or proc.stdout.count(b"\n") != n:
        raise SystemExit(f"geoalign parse --file failed under {src}: {proc.stderr.decode()[-500:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, type=Path, help="labelled file (naacl, ccks or supermap format)")
    ap.add_argument(
        "--model", type=Path, default=DEFAULT_MODEL_DIR, help="model directory (default: shipped)"
    )
    ap.add_argument("--baseline", required=True, type=Path, help="model directory to compare with")
    ap.add_argument("--limit", type=int, default=2000, help="distinct addresses used")
    ap.add_argument("--single", type=int, default=300, help="addresses parsed one at a time per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--e2e-baseline-src", type=Path, help="src/ folder of the baseline checkout for parse --file"
    )
    args = ap.parse_args(argv)

    texts = list(dict.fromkeys(ex.text for ex in read_labelled(args.data)))[: args.limit]
    parsers = {"model": Parser(args.model), "baseline": Parser(args.baseline)}
    for p in parsers.values():
        p.parse_many(texts[:50])  # load and warm: lazy tables, caches
    one = texts[: args.single]
    best_one = {k: float("inf") for k in parsers}
    best_many = {k: float("inf") for k in parsers}
    for _ in range(args.rounds):
        for name, p in parsers.items():
            best_one[name] = min(best_one[name], _cpu(lambda p=p: [p.parse(t) for t in one]) / len(one))
            best_many[name] = min(best_many[name], _cpu(lambda p=p: p.parse_many(texts)) / len(texts))
    print(f"{len(texts)} distinct addresses of {args.data.name}, {len(one)} parsed one at a time")
    print(f"{'':10} {'parse(one) us':>14} {'parse_many us/addr':>19}")
    for name in parsers:
        print(f"{name:10} {best_one[name] * 1e6:14.0f} {best_many[name] * 1e6:19.1f}")
    print(
        f"{'ratio':10} {best_one['model'] / best_one['baseline']:14.2f} "
        f"{best_many['model'] / best_many['baseline']:19.2f}   (model / baseline; < 1 = model faster)"
    )
    if args.e2e_baseline_src:
        here = Path(__file__).resolve().parent.parent / "src"
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "addresses.txt"
            path.write_text("\n".join(texts) + "\n", encoding="utf-8")
            walls = {"model": float("inf"), "baseline": float("inf")}
            for _ in range(max(1, args.rounds // 2)):
                walls["model"] = min(walls["model"], _e2e(here, path, len(texts)))
                walls["baseline"] = min(walls["baseline"], _e2e(args.e2e_baseline_src, path, len(texts)))
        print(
            f"parse --file (wall, start-up included): model {len(texts) / walls['model']:.0f} addr/s, "
            f"baseline {len(texts) / walls['baseline']:.0f} addr/s, "
            f"speed-up {walls['baseline'] / walls['model']:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
