"""Prometheus metrics: queue depth, batch sizes and tokens, per-stage latency, cache, rejections.

Stage histograms follow TEI's split (tokenization / queue / inference), as prepare / queue / forward /
post here. Each app gets its own registry, so several apps in one process (tests) never collide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from geoalign._extras import require
from geoalign.engine.dynamic import EngineObserver
from geoalign.engine.pool import ProcessPoolScorer

if TYPE_CHECKING:
    from geoalign.engine.dynamic import AsyncEngine

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_TOKEN_BUCKETS = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)


class Metrics(EngineObserver):
    """The engine observer that feeds Prometheus collectors, plus the HTTP-level metrics."""

    def __init__(self) -> None:
        prom = require("prometheus_client", "server", "the /metrics endpoint")
        self._prom = prom
        self.registry = prom.CollectorRegistry()
        r = self.registry
        self.queue_depth = prom.Gauge("geoalign_queue_depth", "items waiting for the model", registry=r)
        self.in_flight = prom.Gauge(
            "geoalign_in_flight_items", "items admitted and not yet answered", registry=r
        )
        self.batch_items = prom.Histogram(
            "geoalign_batch_items", "items per model batch", buckets=_SIZE_BUCKETS, registry=r
        )
        self.batch_tokens = prom.Histogram(
            "geoalign_batch_tokens", "real tokens per model batch", buckets=_TOKEN_BUCKETS, registry=r
        )
        self.batch_padded_tokens = prom.Histogram(
            "geoalign_batch_padded_tokens",
            "padded tokens per model batch (longest x items)",
            buckets=_TOKEN_BUCKETS,
            registry=r,
        )
        self.stage_seconds = prom.Histogram(
            "geoalign_stage_seconds",
            "time per stage: prepare (per request), queue (per item), forward and post (per batch)",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.request_seconds = prom.Histogram(
            "geoalign_request_seconds", "POST /v1/match latency", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.responses = prom.Counter(
            "geoalign_http_responses", "HTTP responses of /v1/match by status", ["status"], registry=r
        )
        self.items = prom.Counter("geoalign_items", "pairs answered, by outcome", ["outcome"], registry=r)
        #: the labelled children the request path increments, looked up once each (``labels()`` takes
        #: a lock and hashes its label values on every call); created on first use, as before, so a
        #: series appears in /metrics only once it counted something
        self._item_outcomes: dict[str, Any] = {}
        self._responses_by_status: dict[int, Any] = {}
        self.cache_hits = prom.Counter("geoalign_cache_hits", "cache hits (no model compute)", registry=r)
        self.cache_misses = prom.Counter("geoalign_cache_misses", "cache misses", registry=r)
        self.cache_errors = prom.Gauge(
            "geoalign_cache_backend_errors", "cache backend failures (answered as misses)", registry=r
        )
        self.cache_skipped = prom.Gauge(
            "geoalign_cache_backend_skipped",
            "cache calls skipped while the circuit breaker was open",
            registry=r,
        )
        self.rejections = prom.Counter("geoalign_rejected", "requests refused", ["reason"], registry=r)
        self.drops = prom.Counter(
            "geoalign_dropped_items", "items dropped before compute", ["reason"], registry=r
        )
        self.ready = prom.Gauge("geoalign_ready", "1 when the model is loaded and warmed", registry=r)
        self.worker_restarts = prom.Gauge(
            "geoalign_worker_restarts",
            "scorer worker pools replaced after a worker process died (--workers)",
            registry=r,
        )

    def item_outcome(self, outcome: str) -> Any:
        """The ``geoalign_items`` counter of one outcome, ``match`` or ``error`` (cached child)."""
        child = self._item_outcomes.get(outcome)
        if child is None:
            child = self._item_outcomes[outcome] = self.items.labels(outcome)
        return child

    def response_status(self, status: int) -> Any:
        """The ``geoalign_http_responses`` counter of one status (cached child)."""
        child = self._responses_by_status.get(status)
        if child is None:
            child = self._responses_by_status[status] = self.responses.labels(str(status))
        return child

    def bind(self, engine: AsyncEngine) -> None:
        """Read live values from the engine at scrape time (no bookkeeping on the hot path)."""
        self.queue_depth.set_function(lambda: engine.queue_depth)
        self.in_flight.set_function(lambda: engine.in_flight)
        self.ready.set_function(lambda: 1.0 if engine.ready else 0.0)
        scorer = engine.scorer
        if isinstance(scorer, ProcessPoolScorer):
            self.worker_restarts.set_function(lambda: scorer.restarts)
        cache = engine.cache
        if cache is not None:
            self.cache_errors.set_function(lambda: cache.stats.errors)
            self.cache_skipped.set_function(lambda: cache.stats.skipped)

    def render(self) -> tuple[bytes, str]:
        return self._prom.generate_latest(self.registry), self._prom.CONTENT_TYPE_LATEST

    # EngineObserver hooks

    def prepared(self, n_items: int, seconds: float) -> None:
        self.stage_seconds.labels("prepare").observe(seconds)

    def batch(self, n_items: int, tokens: int, padded_tokens: int, forward_s: float, post_s: float) -> None:
        self.batch_items.observe(n_items)
        self.batch_tokens.observe(tokens)
        self.batch_padded_tokens.observe(padded_tokens)
        self.stage_seconds.labels("forward").observe(forward_s)
        self.stage_seconds.labels("post").observe(post_s)

    def queue_wait(self, seconds: float) -> None:
        self.stage_seconds.labels("queue").observe(seconds)

    def cache(self, hits: int, misses: int) -> None:
        if hits:
            self.cache_hits.inc(hits)
        if misses:
            self.cache_misses.inc(misses)

    def rejected(self, reason: str) -> None:
        self.rejections.labels(reason).inc()

    def dropped(self, reason: str, n_items: int) -> None:
        self.drops.labels(reason).inc(n_items)
