"""Operator endpoints: liveness (``/healthz``, alias ``/health``), readiness (``/readyz``), what this
server runs (``/info``: version, scorer, model checksum, limits; TEI/Infinity habit) and ``/metrics``.
None needs the API key: probes and scrapers carry none, and none of them reveals request data."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from geoalign import __version__
from geoalign.engine.dynamic import AsyncEngine
from geoalign.server.errors import error_body
from geoalign.server.schemas import ErrorResponse, InfoResponse, StatusResponse

router = APIRouter()


@router.get("/healthz", response_model=StatusResponse, summary="liveness: the process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health", response_model=StatusResponse, summary="liveness (alias of /healthz)")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=StatusResponse,
    responses={503: {"model": ErrorResponse, "description": "loading, warming up, failed or draining"}},
    summary="readiness: the model is loaded and warmed and the engine accepts work",
)
async def readyz(request: Request) -> Response:
    state = request.app.state
    engine: AsyncEngine | None = state.engine
    if getattr(state, "draining", False):
        # SIGTERM: still answering during --drain-grace, but load balancers must stop sending
        return JSONResponse(
            error_body(503, "draining", "shutting down: finishing accepted requests"),
            status_code=503,
            headers={"Retry-After": "1"},
        )
    if engine is not None and engine.ready:
        return JSONResponse({"status": "ready"})
    if state.load_error:
        return JSONResponse(error_body(503, "load_failed", state.load_error), status_code=503)
    engine_state = engine.state if engine is not None else "loading"
    code = "draining" if engine_state in ("draining", "closed") else "not_ready"
    return JSONResponse(
        error_body(503, code, f"engine is {engine_state}"), status_code=503, headers={"Retry-After": "1"}
    )


@router.get("/info", response_model=InfoResponse, summary="version, scorer, model checksum and limits")
async def info(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    engine: AsyncEngine | None = request.app.state.engine
    return {
        "version": __version__,
        "scorer": engine.scorer.name if engine is not None else None,
        "model": engine.model_id if engine is not None else None,
        "ready": bool(engine is not None and engine.ready),
        "auth_required": bool(settings.api_key),
        "limits": {
            "max_pairs": settings.max_pairs,
            "max_chars": settings.max_chars,
            "max_body_bytes": settings.max_body_bytes,
            "max_queue": settings.engine.max_queue,
            "token_budget": (engine.config if engine is not None else settings.engine).token_budget,
            "default_timeout_ms": settings.default_timeout_ms,
            "body_timeout_s": settings.body_timeout_s,
        },
    }


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus(request: Request) -> Response:
    payload, content_type = request.app.state.metrics.render()
    return Response(payload, media_type=content_type)
