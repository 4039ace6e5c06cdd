"""``POST /v1/match`` and ``GET /v1/models``.

The request body is read and checked here rather than by a pydantic model, so that the contract holds:
only a malformed *envelope* (not JSON, not an object, no ``pairs`` list, a bad ``timeout_ms``, more
pairs than ``--max-pairs``) is a 4xx; one bad pair among fifty is an ``ItemError`` in its own slot
(``missing``, ``not_a_string``, ``not_a_pair``...), exactly as the CLI and Python API answer it. The
pair count is checked right after the (C-speed) JSON parse, before any per-pair work.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from geoalign.engine.dynamic import AsyncEngine, EngineUnavailable
from geoalign.server.errors import ApiError
from geoalign.server.schemas import ErrorResponse, MatchResponse, ModelsResponse
from geoalign.types import AddressPair, ItemError, Match, Result

router = APIRouter()

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in {
        400: "malformed JSON",
        401: "missing or wrong API key",
        408: "the request body stopped arriving",
        413: "too many pairs, or body too large",
        415: "the body is not declared as JSON",
        422: "the envelope does not match the schema (pairs missing or not a list, bad timeout_ms)",
        429: "queue full: retry after Retry-After seconds",
        503: "not ready (loading/warming) or draining: retry after Retry-After seconds",
    }.items()
}

_TIMEOUT_MS_MAX = 600_000


def engine_of(request: Request) -> AsyncEngine:
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


async def read_json(request: Request) -> Any:
    """The body as JSON, or 400 ``malformed_json`` with what is wrong."""
    raw = await request.body()
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise ApiError(400, "malformed_json", f"request body is not UTF-8: {exc.reason}") from exc
    except json.JSONDecodeError as exc:
        raise ApiError(
            400,
            "malformed_json",
            f"request body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
        ) from exc


def _envelope(body: Any, max_pairs: int) -> tuple[list[Any], int | None]:
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_request", f"body must be a JSON object, not {_json_type(body)}")
    unknown = sorted(set(body) - {"pairs", "timeout_ms"})
    if unknown:
        raise ApiError(422, "invalid_request", f"unknown field(s) {', '.join(map(repr, unknown))}")
    if "pairs" not in body:
        raise ApiError(422, "invalid_request", "pairs: field required")
    pairs = body["pairs"]
    if not isinstance(pairs, list):
        raise ApiError(422, "invalid_request", f"pairs must be a list, not {_json_type(pairs)}")
    if len(pairs) > max_pairs:
        raise ApiError(413, "too_many_pairs", f"{len(pairs)} pairs in one request; the limit is {max_pairs}")
    timeout_ms = body.get("timeout_ms")
    if isinstance(timeout_ms, float) and timeout_ms.is_integer():
        timeout_ms = int(timeout_ms)  # JSON has one number type: 2000.0 is 2000
    if timeout_ms is not None and (
        isinstance(timeout_ms, bool)
        or not isinstance(timeout_ms, int)
        or not 1 <= timeout_ms <= _TIMEOUT_MS_MAX
    ):
        raise ApiError(
            422,
            "invalid_request",
            f"timeout_ms must be an integer in 1..{_TIMEOUT_MS_MAX}, got {timeout_ms!r}",
        )
    return pairs, timeout_ms


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list"}.get(
        type(value), "an object"
    )


def _pair(item: Any) -> AddressPair | ItemError:
    """One pair of the request, or the ItemError for its slot. Missing / non-string sides keep the
    codes the scorers' safe cleaning uses (``missing``, ``not_a_string``)."""
    if not isinstance(item, dict):
        return ItemError("not_a_pair", f'a pair is an object {{"a": ..., "b": ...}}, not {_json_type(item)}')
    unknown = sorted(set(item) - {"a", "b"})
    if unknown:
        return ItemError("not_a_pair", f"unknown field(s) {', '.join(map(repr, unknown))} in a pair")
    for side in ("a", "b"):
        value = item.get(side)
        if value is None:
            return ItemError("missing", f"address {side!r} is missing")
        if not isinstance(value, str):
            return ItemError("not_a_string", f"address {side!r} must be a string, not {_json_type(value)}")
    # an address over --max-chars is scored on its truncated text, flagged in explanation.truncated by
    # the scorer (the one length policy of the CLI, Python and HTTP), never refused
    return AddressPair(item["a"], item["b"])


@router.post(
    "/v1/match",
    response_model=MatchResponse,
    responses=ERRORS,
    summary="compare address pairs",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/MatchRequest"}}},
        }
    },
)
async def match(request: Request) -> Response:
    started = time.perf_counter()
    settings = request.app.state.settings
    metrics = request.app.state.metrics
    status = 500
    try:
        try:
            body = await read_json(request)
        except ClientDisconnect:
            status = 499
            return Response(status_code=499)
        items, timeout_ms = _envelope(body, settings.max_pairs)
        engine = engine_of(request)
        results: list[Result | None] = [None] * len(items)
        todo: list[int] = []
        pairs: list[AddressPair] = []
        for i, item in enumerate(items):
            pair = _pair(item)
            if isinstance(pair, ItemError):
                results[i] = pair
            else:
                todo.append(i)
                pairs.append(pair)
        if timeout_ms is None:
            timeout_ms = settings.default_timeout_ms
        work = asyncio.ensure_future(
            engine.match_many(
                pairs,
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


@router.get("/v1/models", response_model=ModelsResponse, responses=ERRORS)
async def models(request: Request) -> dict[str, Any]:
    engine: AsyncEngine | None = request.app.state.engine
    if engine is None:
        raise EngineUnavailable("model not loaded yet", "loading")
    describe = getattr(engine.scorer, "describe", None)
    details = describe() if callable(describe) else None
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
                    "parallel_batches": engine.parallel,
                },
            }
        ]
    }
