"""``geoalign serve``: the HTTP service (FastAPI + uvicorn, extra ``server``).

Starts on the embedded default matcher with no arguments. Binds 127.0.0.1 unless ``--host`` says
otherwise. SIGTERM drains gracefully (``geoalign.server.run``): ``--drain-grace`` seconds of answers with
``Connection: close`` and /readyz 503, then uvicorn stops accepting connections, every accepted request is
answered, and the process exits. Ctrl-C skips the grace.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from geoalign.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from geoalign.engine.dynamic import EngineConfig
    from geoalign.engine.pool import DEFAULT_BATCH_TIMEOUT_S, usable_cpus
    from geoalign.scorers.spec import ScorerSpec
    from geoalign.server.app import ServerSettings

    defaults = ServerSettings()
    engine = EngineConfig()
    ScorerSpec.add_arguments(parser.add_argument_group("scorer"))
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument(
        "--api-key",
        default=None,
        help="require 'Authorization: Bearer KEY' on /v1/* (default: env GEOALIGN_API_KEY, else open)",
    )
    parser.add_argument(
        "--redis-url", default=None, help="shared result cache, e.g. redis://localhost:6379/0"
    )
    parser.add_argument(
        "--cache-size", type=int, default=defaults.cache_items, help="in-memory LRU entries (0: off)"
    )
    parser.add_argument(
        "--max-queue",
        type=int,
        default=engine.max_queue,
        help="most pairs in flight; beyond it requests get 429 + Retry-After",
    )
    parser.add_argument(
        "--token-budget",
        type=int,
        default=None,
        help=f"most padded tokens per model batch (default: the scorer's own, else {engine.token_budget})",
    )
    parser.add_argument(
        "--max-batch-items", type=int, default=engine.max_batch_items, help="most pairs per batch"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="scoring processes for the default judge and the embedded matcher (--scorer structured): "
        "each loads the models and scores whole batches, so normalizing and parsing use N cores instead "
        "of the server's one, and each neural stage gets its share of the cores unless --threads "
        f"(default: one per usable CPU, here {usable_cpus()}; 0 or 1: in the server process). Neural "
        "scorers alone (--scorer onnx/torch) always batch in the server process (their runtime uses "
        "threads)",
    )
    parser.add_argument(
        "--worker-timeout",
        type=float,
        default=DEFAULT_BATCH_TIMEOUT_S,
        metavar="SECONDS",
        help="a scoring process that takes longer over one batch counts as hung: the processes are "
        "replaced and the batch retried (default: %(default)g)",
    )
    parser.add_argument("--max-pairs", type=int, default=defaults.max_pairs, help="most pairs per request")
    parser.add_argument(
        "--timeout-ms", type=int, default=None, help="default per-request deadline when a request sets none"
    )
    parser.add_argument(
        "--labels-dir",
        default=None,
        metavar="DIR",
        help="save labels from the web page's review as DIR/SET.tsv (default: off, or "
        "./geoalign-labels when an API key is set: an open server writes nothing to disk)",
    )
    add_http_arguments(parser)
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )


def add_http_arguments(parser: argparse.ArgumentParser) -> None:
    """Connection handling: shutdown drain and the Host allow-list (``geoalign.server.run``)."""
    parser.add_argument(
        "--drain-grace",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="after SIGTERM keep answering this long (Connection: close, /readyz 503) before closing "
        "the listener (default: 5)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="then wait at most this long for accepted requests (default: 60)",
    )
    parser.add_argument(
        "--allowed-hosts",
        default=None,
        metavar="H1,H2",
        help="Host headers served (DNS-rebinding guard; '*' = any). Default: the loopback names when "
        "binding loopback, else the --host address plus any name",
    )


def allowed_hosts(host: str, given: str | None) -> tuple[str, ...]:
    if given is not None:
        hosts = tuple(h.strip() for h in given.split(",") if h.strip())
        if not hosts:
            raise InputError("--allowed-hosts is empty: name at least one host, or '*'")
        return hosts
    if host in ("127.0.0.1", "localhost", "::1"):
        return ("127.0.0.1", "localhost", "[::1]", "::1")
    return ("*",)


def build_settings(args: argparse.Namespace) -> Any:
    from geoalign.address.clean import DEFAULT_MAX_CHARS
    from geoalign.engine.dynamic import EngineConfig
    from geoalign.server.app import ServerSettings

    for name in ("max_queue", "token_budget", "max_batch_items", "max_pairs"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1")
    if not 0 <= args.port <= 65535:
        raise InputError(f"--port must be in 0..65535, got {args.port}")
    if args.cache_size < 0:
        raise InputError("--cache-size must be >= 0")
    # an empty key (--api-key "" or GEOALIGN_API_KEY=) is refused by ServerSettings, never read as "open"
    api_key = args.api_key if args.api_key is not None else os.environ.get("GEOALIGN_API_KEY")
    labels_dir = args.labels_dir
    if labels_dir is None and api_key:
        labels_dir = "geoalign-labels"
    return ServerSettings(
        api_key=api_key,
        max_pairs=args.max_pairs,
        # the scorer's --max-chars (ScorerSpec): one length limit for HTTP, the CLI and Python
        max_chars=args.max_chars if args.max_chars is not None else DEFAULT_MAX_CHARS,
        default_timeout_ms=args.timeout_ms,
        engine=EngineConfig(
            token_budget=args.token_budget or EngineConfig().token_budget,
            max_batch_items=args.max_batch_items,
            max_queue=args.max_queue,
        ),
        cache_items=args.cache_size,
        redis_url=args.redis_url,
        labels_dir=labels_dir,
        allowed_hosts=allowed_hosts(args.host, args.allowed_hosts),
        drain_grace_s=args.drain_grace,
        drain_timeout_s=args.drain_timeout if args.drain_timeout > 0 else None,
    )


def build_scorer(args: argparse.Namespace) -> Any:
    """The scorer the server runs: the spec built here, behind a process pool of ``--workers`` when the
    scorer is the embedded matcher or the default judge (the pool's workers build the same spec, each
    with its share of the cores; started by the engine's warm-up, stopped when it drains)."""
    from geoalign.engine.pool import DEFAULT_BATCH_TIMEOUT_S, ProcessPoolScorer, resolve_workers
    from geoalign.scorers.spec import ScorerSpec

    spec = ScorerSpec.from_args(args)
    workers = resolve_workers(getattr(args, "workers", None), spec.backend)
    scorer = spec.build()
    if workers:
        timeout = getattr(args, "worker_timeout", DEFAULT_BATCH_TIMEOUT_S)
        return ProcessPoolScorer(spec, workers, local=scorer, batch_timeout_s=timeout)
    return scorer


def run(args: argparse.Namespace) -> int:
    from geoalign._extras import require

    require("fastapi", "server", "geoalign serve")
    require("uvicorn", "server", "geoalign serve")
    from geoalign.server.app import create_app
    from geoalign.server.run import build_server

    settings = build_settings(args)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Build (load) the scorer before binding, so a wrong --model fails with one clear line and exit 1;
    # warm-up still happens in the background while /readyz says 503.
    scorer = build_scorer(args)
    from geoalign.types import TokenBudgeted

    if args.token_budget is None and isinstance(scorer, TokenBudgeted) and scorer.max_tokens > 0:
        # a neural scorer splits batches by its own token budget: engine batches of the same size
        # keep the length-sorted window's padding savings instead of being re-cut inside ``run``
        settings.engine.token_budget = scorer.max_tokens
    app = create_app(lambda: scorer, settings)
    if args.host not in ("127.0.0.1", "localhost", "::1") and not settings.api_key:
        logging.getLogger("geoalign.serve").warning("binding %s without an API key", args.host)
    server = build_server(app, settings, host=args.host, port=args.port, log_level=args.log_level)
    server.run()
    return 0 if server.started else 1
