"""Parser throughput on one core: addresses per second for ``parse`` and its stages.

    .venv/bin/python benchmarks/bench_parse.py --data ../shared/data/naacl2019-address-parsing/dev.txt

The addresses are the raw texts of a NAACL-2019 style file (or one address per line with ``--lines``).
The process is pinned to one CPU where the OS allows it (``os.sched_setaffinity``), the model is loaded
and warmed before timing, and each measurement is the best of ``--repeat`` passes over all addresses
(the minimum is the least disturbed by other processes on a shared machine), as process CPU time and
as wall time. Stages timed separately:
tokenize + features, CRF tagging, normalizer, and the whole ``parse`` (which does all of them).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path


def _best(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best wall time and best process CPU time over ``repeat`` runs.

    On a shared machine the wall time includes waiting for the core; the CPU time (what this process
    actually ran) is the better estimate of one free core. Both are reported.
    """
    wall = cpu = float("inf")
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, help="NAACL-2019 style labelled file (its raw texts are used)")
    src.add_argument("--lines", type=Path, help="one address per line")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N addresses")
    args = ap.parse_args(argv)

    pinned = "no"
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        pinned = f"cpu {cpu}"

    import pycrfsuite  # noqa: F401  (version below)

    from geoalign.address.normalize import normalize
    from geoalign.address.parse import default_parser
    from geoalign.address.tagger import read_bio_file, token_features, tokenize

    if args.data is not None:
        texts = [text for text, _, _, _ in read_bio_file(args.data)]
    else:
        texts = [line.strip() for line in args.lines.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.limit:
        texts = texts[: args.limit]
    parser = default_parser()
    tagger = parser._tagger()  # load + warm outside the timed region
    for text in texts[:50]:
        parser.parse(text)

    prepared = [[t for t in tokenize(text) if t.kind != "s"] for text in texts]
    feats = [token_features(toks, text) for toks, text in zip(prepared, texts, strict=True)]
    stage1 = tagger._tagger
    results = {
        "tokenize+features": _best(
            lambda: [token_features([t for t in tokenize(x) if t.kind != "s"], x) for x in texts], args.repeat
        ),
        "crf stage 1 (tag)": _best(lambda: [stage1.tag(f) for f in feats], args.repeat),
        "normalize": _best(lambda: [normalize(x) for x in texts], args.repeat),
        "parse (all stages)": _best(lambda: [parser.parse(x) for x in texts], args.repeat),
    }
    n = len(texts)
    chars = sum(len(x) for x in texts) / n
    from importlib.metadata import version

    print(f"addresses: {n} (mean {chars:.1f} chars), best of {args.repeat}, pinned: {pinned}")
    crf_version = version("python-crfsuite")
    print(f"python {platform.python_version()}, python-crfsuite {crf_version}, {platform.machine()}")
    print(f"cpu: {_cpu_name()}, model: {parser.model_dir.name}/ stages={len(_stages(parser))}")
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f}")
    print(f"{'stage':<22} {'addr/s cpu':>11} {'us/addr cpu':>12} {'addr/s wall':>12}")
    for name, (wall_s, cpu_s) in results.items():
        print(f"{name:<22} {n / cpu_s:>11,.0f} {cpu_s / n * 1e6:>12.1f} {n / wall_s:>12,.0f}")
    return 0


def _stages(parser: object) -> list[str]:
    import json

    manifest = json.loads((parser.model_dir / "parser.json").read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    return list(manifest["stages"])


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    sys.exit(main())
