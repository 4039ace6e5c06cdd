"""Load benchmark of the HTTP service, side by side with the same scorer offline, and their ratio.

For each scorer and each worker count (``--workers``: scoring processes, as ``geoalign serve --workers``;
only the embedded matcher, ``structured``, takes them, other scorers run with 0 = in the server process),
in one run:

* **offline**: the best the same scorer does without HTTP with the same workers — the ceiling HTTP is
  compared with. 0 workers: ``scorer.score`` over all pairs in chunks of 256 in this process (the batch
  CLI's path). W workers: the same chunks scored by W worker processes at once (``ProcessPoolScorer``,
  the pool the server runs, fed by W threads; as ``geoalign score --workers W`` does, warm workers,
  answers with explanations pickled back as the server gets them);
* **thread pool** (0 workers only): the usual script recipe,
  ``ThreadPoolExecutor(8).map(lambda p: scorer.score([p]))``, one pair per call;
* **HTTP, cache hits** (``--cache-pairs N``, instead of the above): the same server with its result
  cache ON, sent the same N pairs over and over, so after a first pass no pair is scored: the request
  path's own ceiling, to compare with the offline rate (can HTTP reach 0.90 of offline at all here?);
* **HTTP**: ``geoalign``'s server (real uvicorn, separate process, result cache OFF so every pair is
  computed, ``--workers W``) under a bounded closed-loop load generator on loopback: 1, 8 and 64
  concurrent clients, each sending its next request when the previous answer arrives, until
  ``--requests`` requests or ``--seconds`` seconds. Throughput (pairs/s), p50/p99 request latency,
  mean model batch size (from /metrics).

Every row also has its CPU time per pair (this process and its workers offline; the server process and
its workers over HTTP, not the load generator; Linux /proc): on a shared machine wall-clock rates move
with the load of the moment, while CPU per pair shows what the request path costs whatever else runs.

At the end a side-by-side table gives, per scorer and worker count, offline pairs/s beside each HTTP
level and their ratio (issue 17 point 8: >= 0.90 at 64 clients x 1 pair), and for W > 0 the ratio to
the in-process offline row as well. The load generator (a minimal asyncio HTTP/1.1 keep-alive client)
runs on the same machine and shares its cores with the server and its workers. Pairs are synthetic
Chinese addresses generated here (no dataset needed).

    python benchmarks/bench_server_load.py --scorers structured,cascade --workers 0,2 --per-request 1
    python benchmarks/bench_server_load.py --scorers torch:random-init:mgeo-base --torch-threads 1
    python benchmarks/bench_server_load.py --scorers structured --workers 0 --per-request 1 --cache-pairs 64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from geoalign.engine.pool import usable_cpus  # noqa: E402  (after the path: runs from a checkout)

PROVINCES = [("浙江省", "杭州市", ["西湖区", "拱墅区", "滨江区"]), ("江苏省", "南京市", ["玄武区", "鼓楼区"]),
             ("广东省", "深圳市", ["南山区", "福田区"]), ("北京市", "北京市", ["朝阳区", "海淀区"]),
             ("四川省", "成都市", ["武侯区", "锦江区"])]  # fmt: skip
ROADS = ["文三路", "学院路", "建国路", "人民路", "解放大道", "中山北路", "科技园南路", "天府大道"]
POIS = ["东部软件园", "阳光小区", "万达广场", "第一人民医院", "华润大厦", "湖畔花园", "创业大厦"]


def synth_pair(i: int, seed: int = 0) -> tuple[str, str]:
    """Pair number ``i`` of an endless deterministic stream: the same place written differently, near
    misses, and unrelated ones. Every measurement below takes fresh pairs from the stream, so neither
    the result cache nor a scorer's per-address cache ever sees a repeat (compute is measured)."""
    rng = random.Random(seed * 1_000_003 + i)
    prov, city, districts = rng.choice(PROVINCES)
    district, road, poi = rng.choice(districts), rng.choice(ROADS), rng.choice(POIS)
    no, building, room = rng.randint(1, 9999), rng.randint(1, 99), rng.randint(101, 2805)
    a = f"{prov}{city}{district}{road}{no}号{poi}{building}幢{room}室"
    kind = rng.random()
    if kind < 0.4:
        b = f"{city}{road}{no}号{poi}{building}幢"
    elif kind < 0.7:
        b = f"{district}{road}{no + rng.randint(1, 9)}号{poi}{rng.randint(1, 99)}幢"
    else:
        prov2, city2, districts2 = rng.choice(PROVINCES)
        b = f"{prov2}{city2}{rng.choice(districts2)}{rng.choice(ROADS)}{rng.randint(1, 9999)}号"
    return a, b


class PairFeed:
    """Hands out consecutive, never-repeated pairs; with ``distinct`` > 0, the first ``distinct`` pairs
    over and over (``--cache-pairs``: every answer a cache hit once they were seen)."""

    def __init__(self, seed: int = 0, distinct: int = 0) -> None:
        self.seed = seed
        self.cursor = 0
        self.distinct = distinct

    def take(self, n: int) -> list[tuple[str, str]]:
        start, self.cursor = self.cursor, self.cursor + n
        if self.distinct:
            return [synth_pair(i % self.distinct, self.seed) for i in range(start, start + n)]
        return [synth_pair(i, self.seed) for i in range(start, start + n)]


def scorer_spec(spec: str) -> Any:
    """``NAME`` or ``NAME:MODEL`` as ``--scorer NAME --model MODEL`` (the ScorerSpec the CLI builds)."""
    from geoalign.scorers.spec import ScorerSpec

    name, _, model = spec.partition(":")
    return ScorerSpec(scorer=name, model=model or None)


def build_scorer(spec: str, torch_threads: int | None = None, workers: int = 0) -> Any:
    """``structured`` (embedded matcher), ``cascade`` (the default judge), ``torch:random-init:tiny``,
    ``onnx:/path/to/export`` ...; ``workers`` > 0 puts it behind the server's process pool."""
    name, _, model = spec.partition(":")
    if name == "torch":
        from geoalign.scorers.mgeo_torch import build_torch_scorer

        if workers:
            raise SystemExit("--workers applies to the structured scorer only")
        return build_torch_scorer(model, threads=torch_threads)
    from geoalign.engine.pool import ProcessPoolScorer, resolve_workers

    full = scorer_spec(spec)
    resolve_workers(workers, full.backend)  # refuses a pool for a scorer that does not take one
    scorer = full.build()
    return ProcessPoolScorer(full, workers, local=scorer) if workers > 1 else scorer


def engine_config_for(scorer: Any) -> Any:
    from geoalign.engine.dynamic import EngineConfig

    max_tokens = getattr(scorer, "max_tokens", None)
    if max_tokens:  # a neural scorer: budget engine batches like the scorer's own batches
        return EngineConfig(
            token_budget=max_tokens, max_batch_items=getattr(scorer, "max_batch", 64), max_queue=100_000
        )
    return EngineConfig(max_queue=100_000)


# ------------------------------------------------------------------------------ the server process


def serve(spec: str, port: int, torch_threads: int | None, workers: int, cache_items: int = 0) -> None:
    import uvicorn

    from geoalign.server.app import ServerSettings, create_app

    scorer = build_scorer(spec, torch_threads, workers)
    settings = ServerSettings(max_pairs=1000, cache_items=cache_items, engine=engine_config_for(scorer))
    app = create_app(lambda: scorer, settings)
    uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")).run()


# ------------------------------------------------------------------------------ measurements


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of a process and its live descendants, from /proc (Linux; else None).
    The machine is shared (the load generator, other jobs), so wall-clock rates move with its load; CPU
    time per pair is what the request path adds, whatever else runs."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / tick
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += cpu_seconds(int(child)) or 0.0
        return total
    except (OSError, ValueError, IndexError):
        return None


def cpu_us_per_pair(before: float | None, after: float | None, pairs: int) -> float | None:
    return None if before is None or after is None or not pairs else 1e6 * (after - before) / pairs


def offline(scorer: Any, pairs: list[tuple[str, str]], chunk: int = 256, workers: int = 0) -> float:
    """Pairs/s of ``scorer.score`` over ``pairs`` in chunks; with a process pool (``workers`` > 1),
    ``workers`` chunks in flight at once, one per worker (threads only wait for the workers)."""
    from geoalign.types import AddressPair

    items = [AddressPair(a, b) for a, b in pairs]
    if workers > 1:  # enough chunks to keep every worker busy to the end
        chunk = max(16, min(chunk, len(items) // (4 * workers)))
    chunks = [items[i : i + chunk] for i in range(0, len(items), chunk)]
    t0 = time.perf_counter()
    if workers > 1:
        with ThreadPoolExecutor(workers) as threads:
            list(threads.map(scorer.score, chunks))
    else:
        for part in chunks:
            scorer.score(part)
    return len(items) / (time.perf_counter() - t0)


def thread_pool(scorer: Any, pairs: list[tuple[str, str]], workers: int = 8) -> tuple[float, int]:
    from geoalign.types import AddressPair, ItemError

    errors = 0

    def one(pair: tuple[str, str]) -> bool:
        try:
            return not isinstance(scorer.score([AddressPair(*pair)])[0], ItemError)
        except Exception:
            return False

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        errors = sum(1 for ok in pool.map(one, pairs) if not ok)
    return len(pairs) / (time.perf_counter() - t0), errors


class RawHttpClient:
    """A minimal keep-alive HTTP/1.1 client on asyncio streams. The load generator shares the cores
    with the server, so it must be cheap: httpx measured ~4x slower than the server itself at 64
    connections on 2 cores (even GET /healthz collapsed), which would benchmark the client."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post_json(self, path: str, payload: Any) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        body = json.dumps(payload, ensure_ascii=False).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def load(
    base: str, feed: PairFeed, *, clients: int, per_request: int, requests: int, seconds: float
) -> dict[str, Any]:
    host, port = base.removeprefix("http://").split(":")
    latencies: list[float] = []
    failures = 0
    sent = 0
    deadline = time.perf_counter() + seconds

    async def client(k: int) -> None:
        nonlocal sent, failures
        http = RawHttpClient(host, int(port))
        try:
            while sent < requests and time.perf_counter() < deadline:
                sent += 1
                body = {"pairs": [{"a": a, "b": b} for a, b in feed.take(per_request)]}
                t0 = time.perf_counter()
                status, raw = await http.post_json("/v1/match", body)
                latencies.append(time.perf_counter() - t0)
                if status != 200 or any("error" in r for r in json.loads(raw)["results"]):
                    failures += 1
        finally:
            await http.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    wall = time.perf_counter() - t0
    latencies.sort()
    return {
        "requests": len(latencies),
        "failures": failures,
        "pairs_per_s": len(latencies) * per_request / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000,
    }


def batch_stats(base: str) -> tuple[float, float]:
    import httpx

    text = httpx.get(base + "/metrics").text

    def value(name: str) -> float:
        found = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.M)
        return float(found.group(1)) if found else 0.0

    return value("geoalign_batch_items_sum"), value("geoalign_batch_items_count")


def wait_ready(base: str, timeout_s: float) -> None:
    """Poll /readyz until 200 (the model and any worker processes loaded and warm)."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=30).status_code == 200:
                return
        except httpx.HTTPError:
            pass  # a busy machine: the server may answer late while it loads
        time.sleep(0.1)
    raise SystemExit(f"the server at {base} was not ready after {timeout_s:.0f} s")


def bench_scorer(spec: str, workers: int, args: argparse.Namespace) -> list[dict[str, Any]]:

    sys.path.insert(0, str(ROOT))
    from tests.servers import free_port, wait_for_port

    feed = PairFeed()
    scorer = build_scorer(spec, args.torch_threads, workers)
    scorer.warmup()  # a pool: every worker loaded and warm before the clock starts
    label = spec if workers <= 1 else f"{spec} ({workers} workers)"
    rows: list[dict[str, Any]] = []
    cpu_before = cpu_seconds(os.getpid())
    rate = offline(scorer, feed.take(args.offline_pairs), workers=workers)
    cpu = cpu_us_per_pair(cpu_before, cpu_seconds(os.getpid()), args.offline_pairs)
    where = "in-process" if workers <= 1 else f"{workers} worker processes"
    rows.append(
        {"scorer": label, "workers": workers, "mode": f"offline score(), chunks of 256, {where}",
         "pairs_per_s": rate, "cpu_us_per_pair": cpu}
    )  # fmt: skip
    print(json.dumps(rows[-1], ensure_ascii=False), file=sys.stderr)
    if workers <= 1 and args.thread_pool:
        rate, errors = thread_pool(scorer, feed.take(max(64, args.offline_pairs // 4)))
        rows.append(
            {"scorer": label, "workers": workers, "mode": "thread pool (8) x score([pair])",
             "pairs_per_s": rate, "failures": errors}
        )  # fmt: skip
        print(json.dumps(rows[-1], ensure_ascii=False), file=sys.stderr)
    close = getattr(scorer, "close", None)
    if callable(close):
        close()
    del scorer

    port = free_port()
    cmd = [sys.executable, __file__, "--serve", spec, "--port", str(port), "--serve-workers", str(workers)]
    if args.cache_pairs:
        cmd += ["--serve-cache", "100000"]
    if args.torch_threads:
        cmd += ["--torch-threads", str(args.torch_threads)]
    proc = subprocess.Popen(cmd, cwd=ROOT)
    try:
        wait_for_port(port, timeout_s=300, proc=proc)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, timeout_s=600)
        if args.cache_pairs:  # the loads below see only cache hits
            feed = PairFeed(distinct=args.cache_pairs)
            asyncio.run(load(base, feed, clients=8, per_request=1, requests=args.cache_pairs, seconds=600))
        for per_request in args.per_request:
            for clients in args.clients:
                before = batch_stats(base)
                cpu_before = cpu_seconds(proc.pid)
                result = asyncio.run(
                    load(
                        base,
                        feed,
                        clients=clients,
                        per_request=per_request,
                        requests=args.requests,
                        seconds=args.seconds,
                    )
                )
                cpu_after = cpu_seconds(proc.pid)
                after = batch_stats(base)
                batches = after[1] - before[1]
                result["mean_batch"] = (after[0] - before[0]) / batches if batches else 0.0
                # the server process and its workers, not the load generator
                result["cpu_us_per_pair"] = cpu_us_per_pair(
                    cpu_before, cpu_after, result["requests"] * per_request
                )
                rows.append(
                    {
                        "scorer": label,
                        "workers": workers,
                        "mode": f"HTTP {clients} clients x {per_request} pairs/request"
                        + (f" (cache on, {args.cache_pairs} pairs repeated)" if args.cache_pairs else ""),
                        "clients": clients,
                        "per_request": per_request,
                        **result,
                    }
                )
                print(json.dumps(rows[-1], ensure_ascii=False), file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return rows


def ratios(rows: list[dict[str, Any]]) -> str:
    """Offline beside HTTP, per scorer and worker count, and HTTP / offline (same workers); for a pool,
    also HTTP / the same scorer's in-process offline row when the run measured one."""
    offline_rows = {
        (r["scorer"].split(" (")[0], r["workers"]): r for r in rows if r["mode"].startswith("offline")
    }
    lines = [
        "| scorer | workers | load | offline pairs/s (same workers) | HTTP pairs/s | HTTP / offline | "
        "HTTP / offline in-process | CPU µs/pair offline | CPU µs/pair HTTP | CPU offline / HTTP |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "clients" not in r:
            continue
        name = r["scorer"].split(" (")[0]
        same = offline_rows.get((name, r["workers"]))
        alone = offline_rows.get((name, 0)) or offline_rows.get((name, 1))
        if same is None:
            continue
        ratio = r["pairs_per_s"] / same["pairs_per_s"]
        hits = " (cache hits)" if "cache on" in r["mode"] else ""
        vs_alone = f"{r['pairs_per_s'] / alone['pairs_per_s']:.2f}" if alone and r["workers"] > 1 else ""
        lines.append(
            f"| {name} | {r['workers']} | {r['clients']} clients x {r['per_request']}{hits} | "
            f"{same['pairs_per_s']:.1f} | {r['pairs_per_s']:.1f} | **{ratio:.2f}** | {vs_alone} | "
            + _cpu_cells(same.get("cpu_us_per_pair"), r.get("cpu_us_per_pair"))
        )
    return "\n".join(lines)


def _cpu_cells(offline_us: float | None, http_us: float | None) -> str:
    """CPU per pair offline, over HTTP (server + workers), and their ratio: the load-independent view."""
    if offline_us is None or http_us is None:
        return " | | |"
    return f"{offline_us:.0f} | {http_us:.0f} | {offline_us / http_us:.2f} |"


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| scorer | mode | pairs/s | CPU µs/pair | p50 ms | p99 ms | mean batch | requests | failures |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cells = [
            format(r[key], fmt) if r.get(key) is not None else ""
            for key, fmt in (
                ("pairs_per_s", ".1f"),
                ("cpu_us_per_pair", ".0f"),
                ("p50_ms", ".1f"),
                ("p99_ms", ".1f"),
                ("mean_batch", ".1f"),
                ("requests", "d"),
                ("failures", "d"),
            )
        ]
        lines.append(f"| {r['scorer']} | {r['mode']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--scorers",
        default="structured,cascade",
        help="comma-separated NAME[:MODEL] (default: the embedded matcher and the default judge)",
    )
    parser.add_argument(
        "--workers",
        default=f"0,{usable_cpus()}",
        type=lambda s: [int(x) for x in s.split(",")],
        help="worker counts to measure for the structured scorer (0: in the server process; default "
        "0 and one per usable CPU, as `geoalign serve` defaults to); other scorers always run with 0",
    )
    parser.add_argument(
        "--no-thread-pool", dest="thread_pool", action="store_false", help="skip the thread-pool row"
    )
    parser.add_argument("--clients", default="1,8,64", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--per-request", default="1,32", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--requests", type=int, default=2000, help="most requests per load level")
    parser.add_argument("--seconds", type=float, default=8.0, help="most seconds per load level")
    parser.add_argument(
        "--torch-threads", type=int, default=None, help="intra-op threads of torch scorers (default: theirs)"
    )
    parser.add_argument("--offline-pairs", type=int, default=2000)
    parser.add_argument("--serve", default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--cache-pairs",
        type=int,
        default=0,
        help="the HTTP path's own ceiling: serve with the result cache ON and send only this many "
        "distinct pairs, over and over (after a first pass every answer is a cache hit and every address "
        "a parse-cache hit, so scoring costs ~nothing); compare its rate with the offline row",
    )
    parser.add_argument("--serve-workers", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--serve-cache", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    # both processes run as `geoalign serve` and `geoalign score` do (geoalign.cli.main): the server, and
    # this one, whose offline rows stand for `score`
    from geoalign.collector import pace_for_long_runs

    pace_for_long_runs()
    if args.serve:
        serve(args.serve, args.port, args.torch_threads, args.serve_workers, args.serve_cache)
        return
    import fastapi
    import uvicorn

    from geoalign.engine.pool import POOLABLE

    rows = []
    for spec in args.scorers.split(","):
        pooled = scorer_spec(spec).backend in POOLABLE if not spec.startswith("torch") else False
        for workers in args.workers if pooled else [0]:
            rows.extend(bench_scorer(spec, workers, args))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
        f"python {platform.python_version()}; fastapi {fastapi.__version__}, uvicorn {uvicorn.__version__}"
    )
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(markdown(rows))
    print()
    print(ratios(rows))


if __name__ == "__main__":
    main()
