"""Every error the service returns has one JSON shape, ``{"error": {"code", "type", "message"}}``, and the
right status — including the ones FastAPI/Starlette or our ASGI middleware would otherwise answer in their
own formats (malformed JSON, validation failures, unknown routes, oversized bodies, wrong content types).

``code`` is the precise machine-readable reason (``malformed_json``, ``too_many_pairs``...); ``type`` is the
coarse class a client branches on (TEI / OpenAI habit): retry later (``overloaded``, ``unavailable``), fix
the request (``invalid_request``), fix the credentials (``authentication``), or report a bug (``internal``).
Per-pair errors inside ``results`` stay ``{"error": {"code", "message"}}`` (the ItemError contract).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from geoalign.engine.dynamic import EngineOverloaded, EngineUnavailable
from geoalign.errors import GeoalignError, InputError

log = logging.getLogger(__name__)

#: status -> error.type
ERROR_TYPES: dict[int, str] = {
    400: "invalid_request",
    401: "authentication",
    404: "not_found",
    405: "not_found",
    408: "timeout",
    409: "conflict",
    413: "invalid_request",
    415: "invalid_request",
    422: "invalid_request",
    429: "overloaded",
    500: "internal",
    503: "unavailable",
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "internal" if status >= 500 else "invalid_request")


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "type": error_type(status), "message": message}}


class ApiError(Exception):
    """An HTTP error with a machine-readable code."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(status, code, message), status_code=status, headers=headers)


async def send_error(
    send: Any,
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Answer from ASGI middleware (before any route runs) in the same JSON shape."""
    body = json.dumps(error_body(status, code, message), ensure_ascii=False).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _describe_validation(errors: list[Any]) -> str:
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def install_error_handlers(app: FastAPI) -> None:
    """Handlers for errors raised inside routes. Errors no handler knows are answered by the
    ``InternalErrors`` middleware (a clean 500 that closes the connection), not here: Starlette re-raises
    after its catch-all handler, which would leave a keep-alive connection half-closed."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if any(err.get("type") == "json_invalid" for err in errors):
            return error_response(
                400, "malformed_json", "request body is not valid JSON: " + _describe_validation(errors)
            )
        return error_response(422, "invalid_request", _describe_validation(errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    # the engine's and geoalign's own errors: one mapping (``error_response_for``), shared with the
    # /v1/match fast path (``routes_match.MatchFastPath``), which answers without the router
    for cls in ROUTE_ERRORS:

        async def _route_error(request: Request, exc: Exception) -> JSONResponse:
            response = error_response_for(exc, request_id_of(request))
            assert response is not None  # registered for ROUTE_ERRORS only
            return response

        app.add_exception_handler(cls, _route_error)


def _overloaded(exc: EngineOverloaded, request_id: str) -> JSONResponse:
    return error_response(429, exc.code, str(exc), {"Retry-After": str(exc.retry_after_s)})


def _unavailable(exc: EngineUnavailable, request_id: str) -> JSONResponse:
    code = "draining" if exc.state in ("draining", "closed") else "not_ready"
    return error_response(503, code, str(exc), {"Retry-After": "1"})


def _input(exc: InputError, request_id: str) -> JSONResponse:
    return error_response(422, exc.code, str(exc))


def _geoalign(exc: GeoalignError, request_id: str) -> JSONResponse:
    log.error("request %s failed: %s", request_id, exc)
    return error_response(500, exc.code, str(exc))


def _api(exc: ApiError, request_id: str) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, exc.headers)


#: errors a route raises on purpose, and their answers (looked up along the exception's MRO, as
#: Starlette looks up exception handlers, so the most specific class wins)
ROUTE_ERRORS: dict[type[Exception], Callable[[Any, str], JSONResponse]] = {
    ApiError: _api,
    EngineOverloaded: _overloaded,
    EngineUnavailable: _unavailable,
    InputError: _input,
    GeoalignError: _geoalign,
}


def error_response_for(exc: BaseException, request_id: str) -> JSONResponse | None:
    """The answer to an error a route raised (``ROUTE_ERRORS``), or None for one no handler knows
    (a bug: the ``InternalErrors`` middleware answers it)."""
    for cls in type(exc).__mro__:
        handler = ROUTE_ERRORS.get(cls)
        if handler is not None:
            return handler(exc, request_id)
    return None


def request_id_of(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", "-"))
