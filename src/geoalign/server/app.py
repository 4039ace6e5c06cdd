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
from geoalign.address.clean import DEFAULT_MAX_CHARS
from geoalign.engine.cache import build_cache
from geoalign.engine.dynamic import AsyncEngine, EngineConfig
from geoalign.errors import InputError
from geoalign.types import Scorer

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ServerSettings:
    """What ``geoalign serve`` configures; defaults are safe for a public-facing deployment."""

    #: ``Authorization: Bearer`` key on /v1/*; None = open. An empty key is refused (it would read as
    #: "auth on" to the operator and as "auth off" to the code).
    api_key: str | None = None
    #: most pairs in one POST /v1/match (413 above)
    max_pairs: int = 1000
    #: longest address accepted; longer ones answer ItemError ``too_long`` in their slot. Defaults to
    #: the scorers' own cleaning limit, so HTTP refuses exactly what a scorer would cut.
    max_chars: int = DEFAULT_MAX_CHARS
    #: applied when a request gives no timeout_ms (None = no deadline)
    default_timeout_ms: int | None = None
    engine: EngineConfig = field(default_factory=EngineConfig)
    #: in-memory LRU entries (0 disables it)
    cache_items: int = 100_000
    redis_url: str | None = None
    #: where the web page's review labels are saved (None: the page cannot save labels). Writing to
    #: the server's disk is the operator's choice: ``geoalign serve`` sets it only when asked to.
    labels_dir: str | None = None
    #: Host headers served (DNS-rebinding guard); ``("*",)`` = any. ``geoalign serve`` narrows it to
    #: the loopback names when it binds loopback.
    allowed_hosts: tuple[str, ...] = ("*",)
    #: a request body that stops arriving for this long answers 408 and closes (slowloris guard)
    body_timeout_s: float | None = 30.0
    #: a connection that has not sent a complete request head this long after opening (or after its
    #: last answer) is closed; applied by ``geoalign.server.run``
    header_timeout_s: float = 10.0
    #: after SIGTERM, keep answering (with ``Connection: close``, /readyz 503) this long before closing
    #: the listener, so load balancers move clients away without a lost request
    drain_grace_s: float = 0.0
    #: after the grace, wait at most this long for accepted requests (None: forever)
    drain_timeout_s: float | None = 60.0

    def __post_init__(self) -> None:
        if self.api_key is not None and not self.api_key.strip():
            raise InputError(
                "the API key is empty: give a real key (--api-key / GEOALIGN_API_KEY), "
                "or none at all for an open server"
            )
        for name in ("max_pairs", "max_chars"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.drain_grace_s < 0:
            raise InputError(f"the drain grace cannot be negative, got {self.drain_grace_s}")
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


def create_app(scorer_factory: Callable[[], Scorer], settings: ServerSettings | None = None) -> Any:
    """Build the app. ``scorer_factory`` runs in a worker thread during startup (it may load a model)."""
    require("fastapi", "server", "the HTTP service")
    from geoalign.server.errors import install_error_handlers
    from geoalign.server.metrics import Metrics

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

    app = _new_app(lifespan)
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.engine = None
    app.state.load_error = None
    app.state.draining = False
    app.state.labels = _label_store(settings)
    install_error_handlers(app)
    _include_routes(app)
    _document(app, settings)
    _install_middleware(app, settings)
    return app


def _new_app(lifespan: Any) -> Any:
    """The FastAPI app, with ``/docs`` and ``/redoc`` served from assets vendored by ``fastapi-offline``
    (extra ``server``): the interactive docs work on a machine without internet, as the page does."""
    from fastapi_offline import FastAPIOffline

    return FastAPIOffline(
        title="geoalign",
        version=__version__,
        description=(
            "Decide whether two Chinese addresses denote the same place. Errors always have the shape "
            '{"error": {"code", "type", "message"}}; per-pair failures stand in their pair\'s slot as '
            '{"error": {"code", "message"}}. Every answer carries an X-Request-Id header.'
        ),
        lifespan=lifespan,
    )


def _include_routes(app: Any) -> None:
    from geoalign.server import routes_health, routes_labels, routes_match, routes_page, routes_parse

    for module in (routes_match, routes_health, routes_parse, routes_labels, routes_page):
        app.include_router(module.router)


def _label_store(settings: ServerSettings) -> Any:
    from geoalign.io.label_store import LabelStore

    return LabelStore(settings.labels_dir) if settings.labels_dir is not None else None


def _install_middleware(app: Any, settings: ServerSettings) -> None:
    """Added innermost first (Starlette wraps each new one around the previous): see
    ``server/middleware.py`` for why this order."""
    from geoalign.server import middleware as mw
    from geoalign.server.routes_match import MatchFastPath

    app.add_middleware(MatchFastPath, state=app.state)
    app.add_middleware(
        mw.BodyGuard, limit_of=lambda: settings.max_body_bytes, timeout_s=settings.body_timeout_s
    )
    app.add_middleware(mw.JsonOnly)
    app.add_middleware(mw.ApiKeyGate, key_of=lambda: settings.api_key)
    app.add_middleware(mw.HostCheck, allowed=settings.allowed_hosts)
    app.add_middleware(mw.InternalErrors)
    app.add_middleware(mw.RequestContext, state=app.state)


def _document(app: Any, settings: ServerSettings) -> None:
    """Put this server's configured limits into its OpenAPI spec (they are settings, not constants, so
    the static pydantic models cannot carry them): clients and fuzzers see ``maxItems`` on ``pairs``.
    ``/v1/match`` reads its body by hand (one bad pair is an ItemError, not a 422), so the request
    model is added to the spec's components here."""
    from geoalign.server.schemas import MatchRequest

    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            request = MatchRequest.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(request.pop("$defs", {}))
            request["properties"]["pairs"]["maxItems"] = settings.max_pairs
            schemas["MatchRequest"] = request
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
