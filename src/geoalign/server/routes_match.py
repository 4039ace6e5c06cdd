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
from collections.abc import Awaitable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive

from geoalign.engine.dynamic import AsyncEngine, EngineUnavailable
from geoalign.server.errors import ApiError, error_response_for
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
    return _ready_engine(request.app.state)


def _ready_engine(state: Any) -> AsyncEngine:
    engine: AsyncEngine | None = state.engine
    if engine is None or not engine.ready:
        status = "failed" if state.load_error else (engine.state if engine else "loading")
        raise EngineUnavailable(f"model not ready ({status})", status)
    return engine


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body (as ``Request.body()`` reads it), or None if the client left first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        elif message["type"] == "http.disconnect":
            return None


def parse_json(raw: bytes) -> Any:
    """The body as JSON, or 400 ``malformed_json`` with what is wrong."""
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
    """The documented route. Served by ``MatchFastPath`` (same answers, byte for byte, without the
    router's per-request machinery) unless that is switched off; both run ``answer_match``."""
    results = await answer_match(request.app.state, request.receive)
    if results is None:
        return Response(status_code=499)
    return JSONResponse({"results": results})


async def answer_match(state: Any, receive: Receive) -> list[dict[str, Any]] | None:
    """The work of ``POST /v1/match``: the results' JSON objects in request order, or None when the
    client left (answered 499). Envelope and engine errors are raised (``errors.ROUTE_ERRORS``)."""
    started = time.perf_counter()
    settings = state.settings
    metrics = state.metrics
    status = 500
    try:
        raw = await _read_body(receive)
        if raw is None:
            status = 499
            return None
        items, timeout_ms = _envelope(parse_json(raw), settings.max_pairs)
        engine = _ready_engine(state)
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
        answers = await _unless_client_leaves(
            engine.match_many(
                pairs,
                timeout=None if timeout_ms is None else timeout_ms / 1000,
                wait=False,  # a full queue answers 429 at once; clients retry after Retry-After
            ),
            receive,
        )
        if answers is None:
            status = 499
            return None
        for i, answer in zip(todo, answers, strict=True):
            results[i] = answer
        out = []
        n_matches = 0
        for result in results:
            assert result is not None
            n_matches += isinstance(result, Match)
            out.append(result.to_dict())
        if n_matches:
            metrics.item_outcome("match").inc(n_matches)
        if len(out) > n_matches:
            metrics.item_outcome("error").inc(len(out) - n_matches)
        status = 200
        return out
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
        metrics.response_status(status).inc()
        metrics.request_seconds.observe(time.perf_counter() - started)


async def _unless_client_leaves(work: Awaitable[list[Result]], receive: Receive) -> list[Result] | None:
    """Await ``work`` in this task while a watcher waits for the client to disconnect (the body is
    already read, so ``receive`` only reports that); if it does, ``work`` is cancelled — its queued
    items are dropped before they reach the model — and None is returned. One extra task per request
    (the watcher), not two plus an ``asyncio.wait``."""
    task = asyncio.current_task()
    assert task is not None
    left = False

    async def watch() -> None:
        nonlocal left
        while (await receive())["type"] != "http.disconnect":
            pass
        left = True
        task.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        return await work
    except asyncio.CancelledError:
        if not left:
            raise  # cancelled from outside (shutdown): not ours to swallow
        task.uncancel()
        return None
    finally:
        watcher.cancel()


#: what ``JSONResponse.render`` does (``json.dumps`` with these options), built once
_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))


def encode_results(results: list[dict[str, Any]]) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Headers and body of the 200 answer, exactly as ``JSONResponse({"results": results})`` has them."""
    body = _JSON.encode({"results": results}).encode("utf-8")
    return [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")], body


class MatchFastPath:
    """Pure ASGI answer to ``POST /v1/match``, placed innermost of our middleware (after the Host, key,
    content-type and body guards, which stay in force): the same ``answer_match`` as the route, the
    same bytes and headers as the route's ``JSONResponse``, and errors answered by the same handlers
    (``errors.error_response_for``); unknown errors propagate to ``InternalErrors`` as from the route.

    Why: the router's per-request machinery (routing, ``Request``, exit stacks, dependency solving,
    the exception-handling wrappers, the response object) cost more of the server process's CPU per
    one-pair request than scoring the pair with the embedded matcher (docs/benchmarks.md, session 6).
    Any other path, method, or a mounted app (``root_path``) goes to FastAPI as before; so does
    everything when ``state.match_fast_path`` is false (the tests compare both answers byte for byte).
    """

    def __init__(self, app: Any, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Any, receive: Receive, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != "/v1/match"
            or scope["method"] != "POST"
            or scope.get("root_path")
            or not getattr(self.state, "match_fast_path", True)
        ):
            await self.app(scope, receive, send)
            return
        try:
            results = await answer_match(self.state, receive)
        except Exception as exc:
            response = error_response_for(exc, str(scope.get("state", {}).get("request_id", "-")))
            if response is None:
                raise
            await response(scope, receive, send)
            return
        if results is None:
            await Response(status_code=499)(scope, receive, send)
            return
        headers, body = encode_results(results)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


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
