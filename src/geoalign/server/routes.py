"""HTTP routes: POST /v1/match, GET /v1/models, /healthz, /readyz, /metrics."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from geoalign.engine.dynamic import AsyncEngine, EngineUnavailable
from geoalign.server.auth import check_api_key
from geoalign.server.errors import ApiError
from geoalign.server.schemas import (
    ErrorResponse,
    MatchRequest,
    MatchResponse,
    ModelsResponse,
    StatusResponse,
)
from geoalign.types import AddressPair, Describes, ItemError, Match, Result

router = APIRouter()

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in {
        400: "malformed JSON",
        401: "missing or wrong API key",
        413: "too many pairs, or body too large",
        422: "request does not match the schema",
        429: "queue full: retry after Retry-After seconds",
        503: "not ready (loading/warming) or draining: retry after Retry-After seconds",
    }.items()
}


def _engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine | None = request.app.state.engine
    if engine is None or not engine.ready:
        state = "failed" if request.app.state.load_error else (engine.state if engine else "loading")
        raise EngineUnavailable(f"model not ready ({state})", state)
    return engine


async def _until_disconnected(request: Request) -> None:
    """Returns when the client goes away (the body is already read, so receive() only reports that)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


@router.post(
    "/v1/match",
    response_model=MatchResponse,
    responses=_ERRORS,
    dependencies=[Depends(check_api_key)],
    summary="compare address pairs",
)
async def match(body: MatchRequest, request: Request) -> Response:
    started = time.perf_counter()
    settings = request.app.state.settings
    metrics = request.app.state.metrics
    status = 500
    try:
        if len(body.pairs) > settings.max_pairs:
            raise ApiError(
                413,
                "too_many_pairs",
                f"{len(body.pairs)} pairs in one request; the limit is {settings.max_pairs}",
            )
        engine = _engine(request)
        results: list[Result | None] = [None] * len(body.pairs)
        todo: list[int] = []
        for i, pair in enumerate(body.pairs):
            longest = max(len(pair.a), len(pair.b))
            if longest > settings.max_chars:
                results[i] = ItemError(
                    "too_long", f"address of {longest} characters; the limit is {settings.max_chars}"
                )
            else:
                todo.append(i)
        timeout_ms = body.timeout_ms if body.timeout_ms is not None else settings.default_timeout_ms
        work = asyncio.ensure_future(
            engine.match_many(
                [AddressPair(body.pairs[i].a, body.pairs[i].b) for i in todo],
                timeout=None if timeout_ms is None else timeout_ms / 1000,
                wait=False,  # a full queue answers 429 at once; clients retry after Retry-After
            )
        )
        watch = asyncio.ensure_future(_until_disconnected(request))
        try:
            await asyncio.wait({work, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watch.cancel()
        if not work.done():
            # the client left: cancelling frees its queued items before they reach the model
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
            status = 499
            return Response(status_code=499)
        for i, answer in zip(todo, work.result(), strict=True):
            results[i] = answer
        out = []
        for result in results:
            assert result is not None
            metrics.items.labels("match" if isinstance(result, Match) else "error").inc()
            out.append(result.to_dict())
        status = 200
        return JSONResponse({"results": out})
    except ApiError as exc:
        status = exc.status
        raise
    except EngineUnavailable:
        status = 503
        raise
    except Exception as exc:
        status = 429 if getattr(exc, "code", "") == "overloaded" else 500
        raise
    finally:
        metrics.responses.labels(str(status)).inc()
        metrics.request_seconds.observe(time.perf_counter() - started)


@router.get(
    "/v1/models", response_model=ModelsResponse, responses=_ERRORS, dependencies=[Depends(check_api_key)]
)
async def models(request: Request) -> dict[str, Any]:
    engine: AsyncEngine | None = request.app.state.engine
    if engine is None:
        raise EngineUnavailable("model not loaded yet", "loading")
    details = engine.scorer.describe() if isinstance(engine.scorer, Describes) else None
    config = engine.config
    return {
        "models": [
            {
                "scorer": engine.scorer.name,
                "model": engine.model_id,
                "ready": engine.ready,
                "details": details,
                "engine": {
                    "token_budget": config.token_budget,
                    "max_batch_items": config.max_batch_items,
                    "max_queue": config.max_queue,
                    "padded": config.padded,
                },
            }
        ]
    }


@router.get("/healthz", response_model=StatusResponse, summary="liveness: the process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=StatusResponse,
    responses={503: {"model": ErrorResponse, "description": "loading, warming up, failed or draining"}},
    summary="readiness: the model is loaded and warmed and the engine accepts work",
)
async def readyz(request: Request) -> Response:
    engine: AsyncEngine | None = request.app.state.engine
    if engine is not None and engine.ready:
        return JSONResponse({"status": "ready"})
    error = request.app.state.load_error
    if error:
        return JSONResponse({"error": {"code": "load_failed", "message": error}}, status_code=503)
    state = engine.state if engine is not None else "loading"
    return JSONResponse(
        {"error": {"code": "not_ready", "message": f"engine is {state}"}},
        status_code=503,
        headers={"Retry-After": "1"},
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus(request: Request) -> Response:
    payload, content_type = request.app.state.metrics.render()
    return Response(payload, media_type=content_type)
