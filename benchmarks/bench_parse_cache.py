"""Memory of the parsed-address cache: bytes per cached address, and the RSS of a scoring job.

The structured scorer (and the rule layer over any scorer) parses each distinct address once and keeps
its analyzed view in an LRU (``--parse-cache ENTRIES``). A long job over many distinct addresses, or a
service, fills it: its size per entry times its bound is the memory the user signs up for. This script
measures, for one or more source trees side by side (``--src``, e.g. main's and a branch's):

* ``bytes/entry``: tracemalloc's growth while ``--n`` distinct addresses are analyzed into a cache that
  holds them all, divided by ``--n`` (views, keys and the cache's own bookkeeping);
* ``RSS``: a structured scoring job over ``--n`` pairs of distinct addresses (``2 * n`` addresses), in
  a fresh process per tree and cache size: RSS after loading, peak RSS after scoring, and the entries
  the cache holds at the end (``--judge default``: the default judge, as ``serve`` loads it);
* ``features us/pair``: ``pair_features`` over warm views (the compact views compute their character
  sets per pair; this is that cost), CPU time.

Addresses are generated (``gen_tables.py``: real divisions, our own roads and POIs), or read from
``--file`` (one address per line, e.g. a private corpus; nothing is written back).

    python benchmarks/bench_parse_cache.py --src /path/to/main/src src --n 5000 --cache 0 50000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def addresses(n: int, file: str | None) -> list[str]:
    """``n`` distinct addresses: the first ones of ``file``, else generated (canonical + variants)."""
    if file:
        out: dict[str, None] = {}
        with open(file, encoding="utf-8") as handle:
            for line in handle:
                text = line.strip()
                if text:
                    out[text] = None
                if len(out) >= n:
                    break
        return list(out)
    sys.path.insert(0, str(HERE))
    from gen_tables import generate, variant

    places, rng = generate(n, 7)
    seen: dict[str, None] = {}
    for place in places:
        seen[place.canonical()] = None
        seen[variant(place, rng, None)] = None
    for place in places:  # more variants until n distinct
        if len(seen) >= n:
            break
        seen[variant(place, rng, None)] = None
    return list(seen)[:n]


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child_entry(args: argparse.Namespace) -> dict[str, float]:
    """tracemalloc bytes per cached view, and pair_features time over warm views."""
    import gc
    import tracemalloc

    from geoalign.address.analyze import ViewCache
    from geoalign.scorers.features import pair_features

    texts = addresses(args.n, args.file)
    cache = ViewCache(len(texts) + 1)
    cache.view(texts[0])  # loads the parser and the gazetteer outside the measurement
    cache.data.clear()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for text in texts:
        cache.view(text)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    views = [cache.view(t) for t in texts]
    pairs = [(views[i], views[(i * 7 + 1) % len(views)]) for i in range(min(len(views), 4000))]
    start = time.process_time()
    for a, b in pairs:
        pair_features(a, b)  # type: ignore[arg-type]
    features_us = (time.process_time() - start) * 1e6 / len(pairs)
    return {
        "addresses": len(texts),
        "mean_chars": sum(map(len, texts)) / len(texts),
        "bytes_per_entry": (after - before) / len(texts),
        "features_us_per_pair": features_us,
    }


def child_rss(args: argparse.Namespace) -> dict[str, float]:
    """A structured scoring job over ``n`` pairs of distinct addresses, with a parse cache of ``cache``."""
    from geoalign.scorers.structured import StructuredScorer
    from geoalign.types import AddressPair

    texts = addresses(2 * args.n, args.file)
    scorer: Any
    if args.judge == "default":
        # what ``serve`` loads with no option: the cascade (structured + shipped ONNX) under the rules
        from geoalign.scorers.spec import ScorerSpec

        scorer = ScorerSpec(explain=False, **({} if args.cache < 0 else {"parse_cache": args.cache})).build()
    else:
        # what ``score --scorer structured --parse-cache N`` builds (the rule layer shares this cache)
        scorer = StructuredScorer(explain=False, **({} if args.cache < 0 else {"cache_size": args.cache}))
    scorer.warmup()
    loaded = rss_mb()
    pairs = [AddressPair(texts[2 * i], texts[2 * i + 1]) for i in range(len(texts) // 2)]
    start = time.perf_counter()
    for i in range(0, len(pairs), 2048):
        scorer.score(pairs[i : i + 2048])
    seconds = time.perf_counter() - start
    structured = getattr(scorer, "structured", scorer)  # the cascade's first stage
    cache = getattr(structured.featurizer, "_cache", None)
    return {
        "pairs": len(pairs),
        "cache_bound": float(cache.size) if cache is not None else -1.0,
        "cache_entries": float(len(cache.data)) if cache is not None else -1.0,
        "rss_loaded_mb": loaded,
        "rss_end_mb": rss_mb(),
        "rss_peak_mb": peak_mb(),
        "pairs_per_s": len(pairs) / seconds,
    }


def run_child(src: str, mode: str, args: argparse.Namespace, cache: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(src).resolve()), str(HERE.parent)]))
    argv = [sys.executable, __file__, "--child", mode, "--n", str(args.n), "--cache-one", str(cache)]
    argv += ["--judge", args.judge]
    if args.file:
        argv += ["--file", args.file]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"child failed ({src}, {mode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--src", nargs="+", default=[str(HERE.parent / "src")], help="source trees to compare"
    )
    parser.add_argument("--n", type=int, default=5000, help="distinct addresses (RSS job: pairs)")
    parser.add_argument("--file", default=None, help="addresses, one a line (default: generated)")
    parser.add_argument(
        "--cache", type=int, nargs="*", default=[-1], help="parse-cache sizes for the RSS job (-1: default)"
    )
    parser.add_argument("--skip-rss", action="store_true", help="only bytes/entry and feature time")
    parser.add_argument("--skip-entry", action="store_true", help="only the RSS job")
    parser.add_argument(
        "--judge",
        choices=["structured", "default"],
        default="structured",
        help="RSS job scorer: the embedded matcher, or the default judge as serve loads it",
    )
    parser.add_argument("--child", choices=["entry", "rss"], default=None, help=argparse.SUPPRESS)
    parser.add_argument("--cache-one", type=int, default=-1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        args.cache = args.cache_one
        result = child_entry(args) if args.child == "entry" else child_rss(args)
        print(json.dumps(result))
        return
    print(
        f"# bench_parse_cache: n={args.n}, file={args.file or 'generated'}, python {sys.version.split()[0]}"
    )
    print("| tree | addresses | mean chars | bytes/entry | features us/pair |")
    print("|---|---|---|---|---|")
    for src in [] if args.skip_entry else args.src:
        r = run_child(src, "entry", args, -1)
        print(
            f"| {src} | {r['addresses']:.0f} | {r['mean_chars']:.1f} | {r['bytes_per_entry']:.0f} "
            f"| {r['features_us_per_pair']:.1f} |",
            flush=True,
        )
    if args.skip_rss:
        return
    print()
    print("| tree | --parse-cache | pairs | cache bound | entries at end | RSS loaded MB | RSS end MB "
          "| peak RSS MB | pairs/s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for cache in args.cache:
        for src in args.src:
            r = run_child(src, "rss", args, cache)
            print(
                f"| {src} | {'default' if cache < 0 else cache} | {r['pairs']:.0f} | {r['cache_bound']:.0f} "
                f"| {r['cache_entries']:.0f} | {r['rss_loaded_mb']:.0f} | {r['rss_end_mb']:.0f} "
                f"| {r['rss_peak_mb']:.0f} | {r['pairs_per_s']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
