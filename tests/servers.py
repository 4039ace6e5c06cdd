"""Real servers for tests: a redis-server on a spare port, and an ASGI app on a real uvicorn.

A test that needs a server binary starts its own (so it can kill it). Where the binary is missing the
test is skipped with a visible reason — except under CI (``CI=true``), where a missing binary is a
broken CI image and the test fails instead.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it). Racy by nature: the port is free
    again until the server binds it. In-process servers get a bound socket instead (``bound_socket``);
    subprocess servers are started through ``spawn_listening``, which retries on another port when
    the process dies before listening (another test took the port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bound_socket() -> socket.socket:
    """A listening-ready loopback socket on a port the OS picked, kept bound: no window for a race."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def spawn_listening(
    command_for_port: Callable[[int], list[str]],
    *,
    tries: int = 3,
    timeout_s: float = 20.0,
    **popen: Any,
) -> tuple[subprocess.Popen[Any], int]:
    """Start a server process on a free port and wait until it listens; if it exits first (the port
    was taken between ``free_port`` and its bind), try again on another port. Other start-up failures
    raise with the process's stderr (when captured)."""
    last = ""
    for _ in range(tries):
        port = free_port()
        proc: subprocess.Popen[Any] = subprocess.Popen(command_for_port(port), **popen)
        try:
            wait_for_port(port, timeout_s=timeout_s, proc=proc)
            return proc, port
        except RuntimeError as exc:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
            err = proc.stderr.read() if proc.stderr is not None else b""
            last = f"{exc}: {err.decode() if isinstance(err, bytes) else err}"
            if "address already in use" not in last.lower():
                raise RuntimeError(last) from exc
    raise RuntimeError(f"no free port after {tries} tries: {last}")


def require_binary(name: str, package: str) -> str:
    """Path of ``name``; skip the test (fail under CI=true) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not installed (Debian package {package!r}): apt-get install -y {package}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    return path


def require_module(name: str, extra: str) -> Any:
    """Import ``name``; skip the test (fail under CI=true) when the optional extra is not installed.

    The twin of :func:`require_binary` for Python packages: ``pytest.importorskip`` alone would let a
    broken CI install pass silently by skipping every test that needs the extra.
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        message = f"{name} not importable ({exc}): pip install 'geoalign[{extra}]'"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message, allow_module_level=True)  # also at a test module's top


def wait_for_port(port: int, *, timeout_s: float = 20.0, proc: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port} after {timeout_s} s")


class RedisServer:
    """A throwaway redis-server (no persistence) on a spare loopback port."""

    def __init__(self) -> None:
        self.binary = require_binary("redis-server", "redis-server")
        self.port = free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="geoalign-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", self._dir.name, "--daemonize", "no"]
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, proc=self.proc)
        return self

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-run, connections drop without goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._dir.cleanup()

    def client(self) -> Any:
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def uvicorn_thread(app: Any) -> Iterator[str]:
    """Serve ``app`` on a real uvicorn (own event loop, background thread); yields the base URL.
    Exits by setting ``should_exit`` — what SIGTERM does — so the app drains on the way out."""
    import uvicorn

    sock = bound_socket()  # bound before the server starts: no other test can take the port meanwhile
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn-test", daemon=True)
    thread.start()
    wait_for_port(port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def app_dir() -> Path:
    return Path(__file__).resolve().parent
