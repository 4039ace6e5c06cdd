"""ASGI middleware: everything decided from the request line and headers, before a route reads the body.

Order, outermost first (``install``): request id + access log + ``Connection: close`` while draining →
unexpected errors → Host allow-list → API key → JSON content type → body size and read timeout → the
``POST /v1/match`` fast path (``routes_match.MatchFastPath``) → FastAPI's routes.
So a request with a wrong key, host or content type, or a body over the limit, is refused without a byte
of its body parsed (a 5.9 MB body used to cost 1.4 s of CPU before its 413), and a stalled body cannot
hold a worker (or shutdown) forever.
"""

from __future__ import annotations

import asyncio
import contextvars
import hmac
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from geoalign.server.errors import send_error

log = logging.getLogger("geoalign.server")
access_log = logging.getLogger("geoalign.access")

#: the id of the request being handled (for log lines written deep inside a route)
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("geoalign_request_id", default="-")

#: a client's own id is echoed only if it is short and plain (it lands in logs and headers)
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")

#: paths under the API key besides /v1/*: none; /v1/web/info is what the page reads before it has a key
_OPEN_V1 = frozenset({"/v1/web/info"})


def _header(scope: Any, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestContext:
    """A request id for every request (the client's ``X-Request-Id`` if it sent a plain one, else a
    new one), echoed in the response header and in the access log line; ``Connection: close`` on every
    answer while the server drains, so keep-alive clients reconnect elsewhere instead of losing a request
    sent just as the connection is closed."""

    def __init__(self, app: Any, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        rid = given if given is not None and _CLIENT_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        token = REQUEST_ID.set(rid)
        started = time.perf_counter()
        status = 0

        async def tagged_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", rid.encode()))
                if getattr(self.state, "draining", False) and not any(
                    k.lower() == b"connection" for k, _ in headers
                ):
                    headers.append((b"connection", b"close"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, tagged_send)
        finally:
            access_log.info(
                "%s %s %s %d %.1fms",
                rid,
                scope.get("method", "-"),
                scope.get("path", "-"),
                status,
                1000 * (time.perf_counter() - started),
            )
            REQUEST_ID.reset(token)


class InternalErrors:
    """A bug in a route answers a clean JSON 500 that closes the connection. (Starlette's catch-all
    handler re-raises after answering; the server then drops the connection without ``Connection:
    close``, so a keep-alive client that reuses it loses its next request.)"""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception as exc:
            log.exception("request %s: unhandled error", REQUEST_ID.get())
            if started:
                raise  # half an answer is out: only dropping the connection tells the client
            await send_error(
                send,
                500,
                "internal_error",
                f"internal error: {type(exc).__name__} (request id {REQUEST_ID.get()})",
                {"Connection": "close"},
            )


def host_of(header: str) -> str:
    """``example.org:8000`` -> ``example.org``; ``[::1]:8000`` -> ``[::1]``."""
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        return header[: end + 1] if end > 0 else header
    return header.split(":", 1)[0]


class HostCheck:
    """Host-header allow-list (Starlette's TrustedHost idea, in our error shape): a web page on another
    origin that rebinds its DNS name to 127.0.0.1 sends its own name as Host, and is refused, so it can
    neither read answers nor write labels through the victim's browser."""

    def __init__(self, app: Any, allowed: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = {h.lower() for h in allowed}
        self.any = "*" in self.allowed

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.any:
            await self.app(scope, receive, send)
            return
        host = host_of(_header(scope, b"host") or "")
        if host in self.allowed or any(h.startswith("*.") and host.endswith(h[1:]) for h in self.allowed):
            await self.app(scope, receive, send)
            return
        await send_error(
            send,
            400,
            "invalid_host",
            f"Host {host!r} is not served here (allowed: {', '.join(sorted(self.allowed))}; "
            "see `geoalign serve --allowed-hosts`)",
            {"Connection": "close"},
        )


class ApiKeyGate:
    """``Authorization: Bearer <key>`` on /v1/* (except the page's /v1/web/info), checked from the
    headers alone: a request without the key is refused before its body is read (constant-time
    comparison)."""

    def __init__(self, app: Any, key_of: Callable[[], str | None]) -> None:
        self.app = app
        self.key_of = key_of

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        expected = self.key_of()
        path = scope.get("path", "")
        if scope["type"] != "http" or not expected or not path.startswith("/v1/") or path in _OPEN_V1:
            await self.app(scope, receive, send)
            return
        scheme, _, token = (_header(scope, b"authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode()):
            await self.app(scope, receive, send)
            return
        await send_error(
            send,
            401,
            "unauthorized",
            "missing or wrong API key: send 'Authorization: Bearer <key>'",
            {"WWW-Authenticate": "Bearer"},
        )


class JsonOnly:
    """Every endpoint that takes a body takes JSON: any other declared content type (text/plain, a
    form) is a 415 with a sentence, instead of a schema-validation dump about a string body. A request
    without a Content-Type is read as JSON (what FastAPI does)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-type")
        media = (declared or "").split(";", 1)[0].strip().lower()
        if declared is None or media == "application/json" or media.endswith("+json"):
            await self.app(scope, receive, send)
            return
        await send_error(
            send,
            415,
            "unsupported_media_type",
            f"this endpoint reads JSON: send the body with 'Content-Type: application/json' "
            f"(this request said {media or 'nothing'!r})",
            {"Connection": "close"},
        )


class BodyGuard:
    """413 for request bodies over ``limit`` bytes, declared or streamed, before any of it is parsed
    (a huge body must not cost memory or a JSON parse); 408 when the body stops arriving for
    ``timeout_s`` (a stalled or slowloris client must not hold its request open, nor shutdown, forever).
    Once the whole body is in, ``receive`` only reports a disconnect and is not timed."""

    def __init__(self, app: Any, limit_of: Callable[[], int], timeout_s: float | None = None) -> None:
        self.app = app
        self.limit_of = limit_of
        self.timeout_s = timeout_s

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_of()
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_413(send, limit)
            return
        seen = 0
        body_done = False
        refused = False  # our 413/408 went out: the app's own answer is dropped
        started = False  # the app already answers (it did not wait for the body): too late for ours

        async def refuse(status: int) -> None:
            nonlocal refused
            if not started:
                refused = True
                if status == 413:
                    await _send_413(send, limit)
                else:
                    await send_error(
                        send,
                        408,
                        "body_timeout",
                        f"no request body data for {self.timeout_s:g} s",
                        {"Connection": "close"},
                    )

        async def guarded_receive() -> Any:
            nonlocal seen, body_done
            if refused:
                return {"type": "http.disconnect"}
            if body_done or self.timeout_s is None:
                message = await receive()
            else:
                try:
                    # asyncio.timeout, not wait_for: wait_for wraps receive() in a new task on every
                    # call (3.11), a measurable share of a one-pair request's CPU under load
                    async with asyncio.timeout(self.timeout_s):
                        message = await receive()
                except TimeoutError:
                    # Answer now and tell the app the client left, so it stops reading. (Raising here
                    # would not work: FastAPI turns any body-read error into its own 400.)
                    await refuse(408)
                    return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if not message.get("more_body", False):
                    body_done = True
                if seen > limit:
                    await refuse(413)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Any) -> None:
            nonlocal started
            if not refused:
                started = True
                await send(message)

        await self.app(scope, guarded_receive, guarded_send)


async def _send_413(send: Any, limit: int) -> None:
    # Connection: close: the rest of an oversized body is never read, so the connection cannot be reused
    await send_error(
        send, 413, "payload_too_large", f"request body over {limit} bytes", {"Connection": "close"}
    )
