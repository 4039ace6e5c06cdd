"""App factory: ``create_app(scorer_factory, settings)`` builds the FastAPI app around one AsyncEngine.

The lifespan starts loading and warming the scorer in the background, so the process answers
``/healthz`` at once and ``/readyz`` turns 200 only when the model is loaded and warmed (load balancers
and Kubernetes probes see the truth). On shutdown (SIGTERM: uvicorn stops accepting connections and
waits for in-flight requests) the engine drains, so every accepted request gets its answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from geoalign import __version__
from geoalign._extras import require
from geoalign.engine.cache import build_cache
from geoalign.engine.dynamic import AsyncEngine, EngineConfig
from geoalign.errors import InputError
from geoalign.types import Scorer

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ServerSettings:
    """What ``geoalign serve`` configures; defaults are safe for a public-facing deployment."""

    api_key: str | None = None
    #: most pairs in one POST /v1/match (413 above)
    max_pairs: int = 1000
    #: longest address accepted; longer ones answer ItemError ``too_long`` in their slot
    max_chars: int = 512
    #: applied when a request gives no timeout_ms (None = no deadline)
    default_timeout_ms: int | None = None
    engine: EngineConfig = field(default_factory=EngineConfig)
    #: in-memory LRU entries (0 disables it)
    cache_items: int = 100_000
    redis_url: str | None = None
    #: where the web page's review labels are saved (None: the page cannot save labels)
    labels_dir: str | None = None

    def __post_init__(self) -> None:
        if self.max_pairs > self.engine.max_queue:
            # such a request could never be admitted: it would get 429 forever
            raise InputError(
                f"max pairs per request ({self.max_pairs}) cannot exceed "
                f"the queue size ({self.engine.max_queue})"
            )

    @property
    def max_body_bytes(self) -> int:
        """Bodies above this are refused (413) before JSON parsing: a pair at the limits, UTF-8
        (3 bytes/char) plus JSON overhead, times max_pairs, with slack for escaping."""
        return 1024 + self.max_pairs * (2 * self.max_chars * 6 + 64)


class BodyLimit:
    """ASGI middleware: 413 for request bodies over ``limit`` bytes, declared or streamed, before any
    of it is parsed (a huge body must not cost memory or a JSON parse)."""

    def __init__(self, app: Any, limit_of: Callable[[], int]) -> None:
        self.app = app
        self.limit_of = limit_of

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_of()
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _send_413(send, limit)
                return
        seen = 0
        refused = False  # our 413 went out: the app's own answer is dropped
        started = False  # the app already answers (it did not wait for the body): too late for 413

        async def limited_receive() -> Any:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Answer 413 now and tell the app the client left, so it stops reading. (Raising
                    # here would not work: FastAPI turns any body-read error into its own 400.)
                    if not started:
                        refused = True
                        await _send_413(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Any) -> None:
            nonlocal started
            if not refused:
                started = True
                await send(message)

        await self.app(scope, limited_receive, guarded_send)


async def _send_413(send: Any, limit: int) -> None:
    import json

    body = json.dumps(
        {"error": {"code": "payload_too_large", "message": f"request body over {limit} bytes"}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app(scorer_factory: Callable[[], Scorer], settings: ServerSettings | None = None) -> Any:
    """Build the app. ``scorer_factory`` runs in a worker thread during startup (it may load a model)."""
    fastapi = require("fastapi", "server", "the HTTP service")
    from geoalign.server.errors import install_error_handlers
    from geoalign.server.metrics import Metrics
    from geoalign.server.routes import router
    from geoalign.server.web import router as web_router

    settings = settings or ServerSettings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        app.state.engine = None
        app.state.load_error = None
        loader = asyncio.create_task(_load(app, scorer_factory, settings, metrics))
        try:
            yield
        finally:
            if not loader.done():
                loader.cancel()
                await asyncio.gather(loader, return_exceptions=True)
            engine: AsyncEngine | None = app.state.engine
            if engine is not None:
                log.info("draining: %d items in flight", engine.in_flight)
                await engine.drain()
                stats = engine.stats
                log.info(
                    "drained: %d requests, %d pairs, %d batches (mean %.1f pairs), cache hit rate %.1f%%",
                    stats.requests,
                    stats.items,
                    stats.batches,
                    stats.mean_batch_items,
                    100 * stats.cache_hit_rate,
                )

    app = fastapi.FastAPI(
        title="geoalign",
        version=__version__,
        description=(
            "Decide whether two Chinese addresses denote the same place. Errors always have the shape "
            '{"error": {"code", "message"}}; per-pair failures stand in their pair\'s slot.'
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.engine = None
    app.state.load_error = None
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(web_router)
    _document_limits(app, settings)
    app.add_middleware(BodyLimit, limit_of=lambda: settings.max_body_bytes)
    return app


def _document_limits(app: Any, settings: ServerSettings) -> None:
    """Put this server's configured limits into its OpenAPI spec (they are settings, not constants, so
    the static pydantic models cannot carry them): clients and fuzzers see ``maxItems`` on ``pairs``."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            pairs = spec["components"]["schemas"]["MatchRequest"]["properties"]["pairs"]
            pairs["maxItems"] = settings.max_pairs
            app.openapi_schema = spec
        return app.openapi_schema  # type: ignore[no-any-return]

    app.openapi = openapi


async def _load(
    app: Any, scorer_factory: Callable[[], Scorer], settings: ServerSettings, metrics: Any
) -> None:
    try:
        scorer = await asyncio.to_thread(scorer_factory)
        cache = build_cache(memory_items=settings.cache_items, redis_url=settings.redis_url)
        engine = AsyncEngine(scorer, settings.engine, cache=cache, observer=metrics)
        metrics.bind(engine)
        app.state.engine = engine  # visible as "starting" while warming up
        await engine.start()
        log.info("ready: scorer %s, model %s", scorer.name, engine.model_id)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.exception("loading the scorer failed")
        app.state.load_error = f"{type(exc).__name__}: {exc}"
