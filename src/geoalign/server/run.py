"""Run the app on uvicorn with a shutdown that loses nothing, and timeouts a stalled client cannot beat.

On SIGTERM (what Kubernetes, systemd and ``docker stop`` send):

1. for ``drain_grace_s`` the server keeps accepting and answering, every answer carrying
   ``Connection: close`` and ``/readyz`` answering 503 ``draining``: load balancers take the instance
   out of rotation and keep-alive clients reconnect elsewhere, instead of losing the request they send
   in the moment the connection is closed under them;
2. then uvicorn stops listening, closes idle keep-alive connections, and waits (at most
   ``drain_timeout_s``) for accepted requests; the engine drains, so each of them gets its answer.

A second SIGTERM, or SIGINT (Ctrl-C: a person at a terminal), skips the grace.

Stalled clients: a connection that has not sent a complete request head ``header_timeout_s`` after it
opened (or after its last answer) is closed (slowloris); a body that stops arriving answers 408
(``BodyGuard`` in ``middleware.py``). So neither can hold a worker, nor the shutdown, forever.
"""

from __future__ import annotations

import asyncio
import signal
import time
from types import FrameType
from typing import Any

from geoalign._extras import require
from geoalign.server.app import ServerSettings


class _HeaderTimeout:
    """Mixed into uvicorn's HTTP protocol class: closes a connection with no request in progress when
    no complete request head arrived in time. (uvicorn's own keep-alive timer stops at the first byte,
    so a client that trickles a header a byte at a time would otherwise keep its connection forever.)"""

    header_timeout_s: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        super().connection_lost(exc)  # type: ignore[misc]

    def _arm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        loop: asyncio.AbstractEventLoop = self.loop  # type: ignore[attr-defined]
        self._header_timer = loop.call_later(self.header_timeout_s, self._header_timed_out)

    def _header_timed_out(self) -> None:
        transport = self.transport  # type: ignore[attr-defined]
        cycle = self.cycle  # type: ignore[attr-defined]
        if transport.is_closing():
            return
        if cycle is None or cycle.response_complete:
            transport.close()


def protocol_with_header_timeout(base: type, timeout_s: float) -> type:
    return type(f"HeaderTimeout{base.__name__}", (_HeaderTimeout, base), {"header_timeout_s": timeout_s})


def _server_class() -> type:
    uvicorn = require("uvicorn", "server", "geoalign serve")

    class DrainingServer(uvicorn.Server):  # type: ignore[misc,name-defined]
        """uvicorn's Server with a grace period between SIGTERM and closing the listener."""

        def __init__(self, config: Any, *, state: Any, grace_s: float) -> None:
            super().__init__(config)
            self.state = state
            self.grace_s = grace_s
            self.drain_deadline: float | None = None

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            self.state.draining = True
            if self.drain_deadline is None and self.grace_s > 0 and sig == signal.SIGTERM:
                self._captured_signals.append(sig)  # re-raised after shutdown, as uvicorn does
                self.drain_deadline = time.monotonic() + self.grace_s
                return
            super().handle_exit(sig, frame)

        async def on_tick(self, counter: int) -> bool:
            if self.drain_deadline is not None and time.monotonic() >= self.drain_deadline:
                self.should_exit = True
            return bool(await super().on_tick(counter))

    return DrainingServer


def build_server(app: Any, settings: ServerSettings, *, host: str, port: int, log_level: str) -> Any:
    """The uvicorn server for ``app`` (not started): ``server.run()`` serves until SIGTERM/SIGINT."""
    uvicorn = require("uvicorn", "server", "geoalign serve")
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        # geoalign.access logs every request with its X-Request-Id; uvicorn's line would repeat it
        access_log=False,
        timeout_graceful_shutdown=settings.drain_timeout_s,
    )
    config.load()  # resolves the HTTP protocol class ("auto": httptools if installed, else h11)
    config.http_protocol_class = protocol_with_header_timeout(
        config.http_protocol_class, settings.header_timeout_s
    )
    return _server_class()(config, state=app.state, grace_s=settings.drain_grace_s)
