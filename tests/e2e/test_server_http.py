"""HTTP conventions and the fault battery's findings (issue 17: 4, 6, 7, 18-22; issue 12's untested error
paths): per-pair ItemErrors, offline docs, request ids, /health and /info, error types, 415, the key
checked before the body, the Host allow-list, surrogates, clean 500s, 503 draining, SIGTERM drain grace
on keep-alive connections and stalled clients, empty API keys.

The in-process tests use TestClient; connection behaviour (keep-alive, Connection: close, timeouts,
SIGTERM) needs a real uvicorn: a thread (``uvicorn_thread``) or a process (``fake_server_main.py``).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.servers import require_module

require_module("fastapi", "server")
import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from tests.fake_scorers import RecordingScorer  # noqa: E402
from tests.servers import spawn_listening, uvicorn_thread  # noqa: E402

from geoalign import __version__  # noqa: E402
from geoalign.errors import InputError, ModelLoadError  # noqa: E402
from geoalign.server.app import ServerSettings, create_app  # noqa: E402

A = "浙江省杭州市西湖区文三路369号"
B = "杭州市西湖区文三路369号东部软件园"


def wait_until(predicate: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(0.005)


@contextlib.contextmanager
def running(scorer: Any = None, **settings: Any) -> Iterator[TestClient]:
    scorer = scorer if scorer is not None else RecordingScorer()
    with TestClient(create_app(lambda: scorer, ServerSettings(**settings))) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, "ready")
        yield client


# ---------------------------------------------------------------- 17.4: one bad pair is an ItemError


def test_bad_pairs_in_a_50_pair_request_are_item_errors_in_their_slots() -> None:
    pairs: list[Any] = [{"a": f"{A}{i}", "b": B} for i in range(50)]
    pairs[3] = {"a": A}  # b missing
    pairs[7] = {"a": None, "b": B}
    pairs[11] = {"a": 17, "b": B}
    pairs[19] = {"a": A, "b": ["x"]}
    pairs[23] = "not a pair"
    pairs[29] = {"a": A, "b": B, "c": 1}
    with running() as client:
        r = client.post("/v1/match", json={"pairs": pairs})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == 50
    codes = {i: res["error"]["code"] for i, res in enumerate(results) if "error" in res}
    assert codes == {
        3: "missing",
        7: "missing",
        11: "not_a_string",
        19: "not_a_string",
        23: "not_a_pair",
        29: "not_a_pair",
    }
    assert "'b'" in results[3]["error"]["message"] and "a number" in results[11]["error"]["message"]
    assert all(results[i]["label"] == "not_match" for i in range(50) if i not in codes)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"[1, 2]", 422, "invalid_request"),
        (b'{"pairs": {"a": "x"}}', 422, "invalid_request"),
        (b"{}", 422, "invalid_request"),
        (b'{"pairs": [], "timeout_ms": "soon"}', 422, "invalid_request"),
        (b'{"pairs": [], "timeout_ms": true}', 422, "invalid_request"),
        (b'{"pairs": [', 400, "malformed_json"),
        (b'{"pairs": ["\xff"]}', 400, "malformed_json"),
    ],
)
def test_only_a_malformed_envelope_is_4xx(body: bytes, status: int, code: str) -> None:
    with running() as client:
        r = client.post("/v1/match", content=body, headers={"content-type": "application/json"})
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
    assert r.json()["error"]["type"] == "invalid_request"


def test_timeout_ms_as_an_integral_float_is_accepted() -> None:
    with running() as client:
        r = client.post("/v1/match", json={"pairs": [{"a": A, "b": A}], "timeout_ms": 2000.0})
    assert r.status_code == 200 and r.json()["results"][0]["label"] == "exact_match"


# ---------------------------------------------------------------- 17.5: one length limit (validated)


def test_the_http_length_limit_is_the_scorers_and_a_longer_address_is_cut_and_flagged() -> None:
    """``serve --max-chars N`` is the scorer's one limit (ScorerSpec), the same as ``score`` and
    ``Matcher(max_chars=N)``: over it an address is scored on its first N characters and flagged."""
    import argparse

    from geoalign.address.clean import DEFAULT_MAX_CHARS
    from geoalign.cli import serve

    assert ServerSettings().max_chars == DEFAULT_MAX_CHARS
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    args = parser.parse_args(["--scorer", "structured", "--max-chars", "20"])
    settings, scorer = serve.build_settings(args), serve.build_scorer(args)
    assert settings.max_chars == 20 and scorer.featurizer.max_chars == 20
    over_limit = A + "东部软件园" * 10
    at_limit = over_limit[:20]  # what the scorer keeps of it
    # two requests, no result cache: both pairs show the scorer the same text (the engine keys its cache
    # and its in-batch dedup by that text, so the truncation flag would be shared with the shorter pair)
    with running(scorer, max_chars=settings.max_chars, cache_items=0) as client:
        (ok,) = client.post("/v1/match", json={"pairs": [{"a": at_limit, "b": B}]}).json()["results"]
        (over,) = client.post("/v1/match", json={"pairs": [{"a": over_limit, "b": B}]}).json()["results"]
        assert client.get("/info").json()["limits"]["max_chars"] == 20
    assert "truncated" not in ok["explanation"]
    assert over["explanation"]["truncated"] == {"a": {"by": "max_chars", "at_char": 20}}
    assert over["label"] == ok["label"] and over["probabilities"] == ok["probabilities"]


# ---------------------------------------------------------------- 17.6: /docs offline


def test_docs_and_redoc_are_served_from_this_server() -> None:
    with running() as client:
        for path in ("/docs", "/redoc"):
            page = client.get(path)
            assert page.status_code == 200
            scripts = [part.split('"', 1)[0] for part in page.text.split('src="')[1:]]
            links = [part.split('"', 1)[0] for part in page.text.split('href="')[1:]]
            assert scripts, path
            for url in scripts + links:
                assert url.startswith("/"), f"{path} loads {url} from elsewhere"
                assert client.get(url).status_code == 200, url
            assert "cdn" not in page.text.lower() and "fonts.googleapis" not in page.text


# ---------------------------------------------------------------- 17.7: request ids, /health, /info, types


def test_request_id_is_echoed_or_made_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with running() as client, caplog.at_level(logging.INFO, logger="geoalign.access"):
        mine = client.get("/healthz", headers={"X-Request-Id": "job-42.7"})
        made = client.post("/v1/match", json={"pairs": [{"a": A, "b": B}]})
        hostile = client.get("/healthz", headers={"X-Request-Id": "x" * 200})
        error = client.post("/v1/match", content=b"{", headers={"content-type": "application/json"})
    assert mine.headers["x-request-id"] == "job-42.7"
    assert len(made.headers["x-request-id"]) == 32
    assert hostile.headers["x-request-id"] != "x" * 200
    assert error.headers["x-request-id"]
    lines = [record.getMessage() for record in caplog.records if record.name == "geoalign.access"]
    assert any(line.startswith("job-42.7 GET /healthz 200") for line in lines), lines
    assert any(line.startswith(f"{made.headers['x-request-id']} POST /v1/match 200") for line in lines)


def test_health_alias_and_info() -> None:
    with running(api_key="k3y", max_pairs=7) as client:
        assert client.get("/health").json() == {"status": "ok"}
        info = client.get("/info").json()
    assert info["version"] == __version__
    assert (info["scorer"], info["model"], info["ready"], info["auth_required"]) == (
        "fake",
        "fake-v1",
        True,
        True,
    )
    assert info["limits"]["max_pairs"] == 7
    assert set(info["limits"]) >= {"max_chars", "max_body_bytes", "max_queue", "token_budget"}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b'{"pairs": []}'),
        ("application/x-www-form-urlencoded", b"pairs=1"),
        ("multipart/form-data; boundary=x", b"--x--"),
    ],
)
def test_a_body_that_is_not_json_is_a_415_with_a_sentence(content_type: str, body: bytes) -> None:
    with running() as client:
        for path in ("/v1/match", "/v1/parse", "/v1/labels"):
            r = client.post(path, content=body, headers={"content-type": content_type})
            assert r.status_code == 415, (path, r.text)
            error = r.json()["error"]
            assert (error["code"], error["type"]) == ("unsupported_media_type", "invalid_request")
            assert "Content-Type: application/json" in error["message"]
            assert content_type.split(";")[0] in error["message"]
            assert "loc" not in r.text  # no pydantic dump


def test_every_error_has_a_type() -> None:
    with running(api_key="k3y") as client:
        assert client.post("/v1/match", json={"pairs": []}).json()["error"]["type"] == "authentication"
        assert client.get("/nope").json()["error"]["type"] == "not_found"


# ---------------------------------------------------------------- 17.22: key and size before the body


def test_the_key_is_checked_before_the_body_is_read() -> None:
    """A request without the key is refused on its headers: its body (here not even JSON, and over the
    size limit) is never read or parsed."""
    with running(api_key="k3y", max_pairs=2) as client:
        for body in (b"{", b"x" * 10_000_000):
            r = client.post("/v1/match", content=body, headers={"content-type": "application/json"})
            assert (r.status_code, r.json()["error"]["code"]) == (401, "unauthorized")


def test_too_many_pairs_is_answered_before_any_pair_is_looked_at() -> None:
    class Counting(RecordingScorer):
        pass

    scorer = Counting()
    with running(scorer, max_pairs=5) as client:
        r = client.post("/v1/match", json={"pairs": [{"a": A, "b": B}] * 6})
    assert (r.status_code, r.json()["error"]["code"]) == (413, "too_many_pairs")
    assert scorer.prepare_calls == 0


def test_input_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        ServerSettings(api_key="")
    assert issubclass(InputError, ValueError)


# ---------------------------------------------------------------- 17.19: surrogates


def test_a_lone_surrogate_is_a_4xx_on_parse_and_labels_and_an_item_error_never_a_500(tmp_path: Path) -> None:
    lone = b'"\\ud800abc"'
    with running(labels_dir=str(tmp_path)) as client:
        parse = client.post(
            "/v1/parse",
            content=b'{"addresses": ["' + A.encode() + b'", ' + lone + b"]}",
            headers={"content-type": "application/json"},
        )
        labels = client.post(
            "/v1/labels",
            content=b'{"labels": [{"a": ' + lone + b', "b": "x", "label": "exact_match"}]}',
            headers={"content-type": "application/json"},
        )
        match = client.post(
            "/v1/match",
            content=b'{"pairs": [{"a": ' + lone + b', "b": "abc"}]}',
            headers={"content-type": "application/json"},
        )
    assert (parse.status_code, parse.json()["error"]["code"]) == (422, "invalid_text")
    assert "addresses[1]" in parse.json()["error"]["message"]
    assert (labels.status_code, labels.json()["error"]["code"]) == (422, "invalid_request")
    assert "unicode" in labels.json()["error"]["message"]
    assert match.status_code == 200  # safe cleaning drops the surrogate, as in the CLI
    assert not any(tmp_path.iterdir())


def test_parse_over_the_length_limit_parses_the_prefix_and_says_so() -> None:
    """One length policy: /v1/parse cuts at --max-chars like /v1/match, flags it, keeps valid offsets."""
    long_text = "浙江省杭州市西湖区文三路369号" + "东" * 40
    with running(max_chars=20) as client:
        reply = client.post("/v1/parse", json={"addresses": [long_text, "杭州市西湖区文三路369号"]})
    assert reply.status_code == 200
    cut, whole = reply.json()["results"]
    assert cut["truncated"] == {"by": "max_chars", "at_char": 20}
    assert cut["raw"] == long_text
    assert cut["components"] and all(c["end"] <= 20 for c in cut["components"])
    assert all(long_text[c["start"] : c["end"]] == c["text"] for c in cut["components"])
    assert "truncated" not in whole


# ---------------------------------------------------------------- 17.21: labels, hosts


@pytest.mark.parametrize("name", ["abc\n", "abc\r", "abc.", ".abc", "a" * 65, "a b", "ab/c", "élan"])
def test_set_names_are_validated_with_a_full_match(tmp_path: Path, name: str) -> None:
    with running(labels_dir=str(tmp_path)) as client:
        r = client.post("/v1/labels", json={"set": name, "labels": [{"a": A, "b": B, "label": 2}]})
        got = client.get("/v1/labels", params={"set": name})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_set")
    assert (got.status_code, got.json()["error"]["code"]) == (422, "invalid_set")
    assert not any(tmp_path.iterdir())


def test_serve_writes_labels_only_when_asked_or_keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from geoalign.cli import serve

    monkeypatch.delenv("GEOALIGN_API_KEY", raising=False)
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    assert serve.build_settings(parser.parse_args([])).labels_dir is None
    assert serve.build_settings(parser.parse_args(["--api-key", "k"])).labels_dir == "geoalign-labels"
    assert serve.build_settings(parser.parse_args(["--labels-dir", "L"])).labels_dir == "L"
    with TestClient(create_app(RecordingScorer, ServerSettings())) as client:
        r = client.post("/v1/labels", json={"labels": [{"a": A, "b": B, "label": 2}]})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "labels_disabled")


def test_host_allow_list_refuses_a_rebound_name(tmp_path: Path) -> None:
    settings = ServerSettings(allowed_hosts=("127.0.0.1", "localhost", "[::1]"), labels_dir=str(tmp_path))
    app = create_app(RecordingScorer, settings)
    with TestClient(app, base_url="http://localhost:8000") as client:
        assert client.get("/healthz").status_code == 200
        for host in ("127.0.0.1:8000", "[::1]:8000", "LOCALHOST"):
            assert client.get("/healthz", headers={"host": host}).status_code == 200, host
        evil = client.post(
            "/v1/labels",
            json={"labels": [{"a": A, "b": B, "label": 2}]},
            headers={"host": "attacker.example:8000"},
        )
    assert (evil.status_code, evil.json()["error"]["code"]) == (400, "invalid_host")
    assert not any(tmp_path.iterdir())


def test_serve_allows_only_loopback_names_when_bound_to_loopback() -> None:
    from geoalign.cli.serve import allowed_hosts

    assert "localhost" in allowed_hosts("127.0.0.1", None) and "*" not in allowed_hosts("127.0.0.1", None)
    assert allowed_hosts("0.0.0.0", None) == ("*",)
    assert allowed_hosts("127.0.0.1", "geo.internal, localhost") == ("geo.internal", "localhost")
    with pytest.raises(InputError):
        allowed_hosts("127.0.0.1", " , ")


# ---------------------------------------------------------------- 17.20: empty keys


@pytest.mark.parametrize(("args", "env"), [(["--api-key", ""], None), (["--api-key", "  "], None), ([], "")])
def test_an_empty_api_key_refuses_to_start(args: list[str], env: str | None, tmp_path: Path) -> None:
    import os

    environ = {k: v for k, v in os.environ.items() if k != "GEOALIGN_API_KEY"}
    if env is not None:
        environ["GEOALIGN_API_KEY"] = env
    done = subprocess.run(
        [sys.executable, "-m", "geoalign", "serve", "--port", "1", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environ,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert "API key is empty" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------- issue 12 audit: 500s and 503 draining


class Broken(RecordingScorer):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def describe(self) -> dict[str, Any]:
        raise self.error


def test_an_unexpected_error_is_a_clean_500_that_closes_the_connection() -> None:
    app = create_app(lambda: Broken(RuntimeError("bug")), ServerSettings())
    with uvicorn_thread(app) as base:
        wait_until(lambda: httpx.get(base + "/readyz").status_code == 200, "ready")
        with httpx.Client(base_url=base) as client:
            r = client.get("/v1/models", headers={"X-Request-Id": "r-500"})
            assert r.status_code == 500
            assert r.json()["error"] == {
                "code": "internal_error",
                "type": "internal",
                "message": "internal error: RuntimeError (request id r-500)",
            }
            assert r.headers["connection"] == "close"
            assert client.get("/healthz").status_code == 200  # the client reconnects cleanly
        # on a raw keep-alive connection: the answer is complete, then the server closes
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.sendall(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            data = b""
            while chunk := raw.recv(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 500") and b"connection: close" in head.lower()
    assert b"internal_error" in body


def test_a_geoalign_error_in_a_route_is_a_500_with_its_code() -> None:
    with running(Broken(ModelLoadError("weights vanished"))) as client:
        r = client.get("/v1/models")
    assert r.status_code == 500
    assert r.json()["error"] == {
        "code": "model_load_error",
        "type": "internal",
        "message": "weights vanished",
    }


def test_draining_answers_503_over_http_while_accepted_work_finishes() -> None:
    scorer = RecordingScorer()
    scorer.hold.set()
    with running(scorer) as client:
        engine = client.app.state.engine  # type: ignore[attr-defined]
        out: list[Any] = []
        first = threading.Thread(
            target=lambda: out.append(client.post("/v1/match", json={"pairs": [{"a": A, "b": B}]}))
        )
        first.start()
        assert scorer.entered.wait(timeout=20)
        client.portal.start_task_soon(engine.drain)  # type: ignore[union-attr]
        wait_until(lambda: engine.state == "draining", "draining")
        late = client.post("/v1/match", json={"pairs": [{"a": A, "b": B}]})
        ready = client.get("/readyz")
        scorer.hold.clear()
        scorer.release.set()
        first.join(timeout=20)
    assert (late.status_code, late.json()["error"]["code"], late.headers["retry-after"]) == (
        503,
        "draining",
        "1",
    )
    assert late.json()["error"]["type"] == "unavailable"
    assert (ready.status_code, ready.json()["error"]["code"]) == (503, "draining")
    assert out[0].status_code == 200


# ---------------------------------------------------------------- 17.18: SIGTERM, keep-alive, stalled clients


@contextlib.contextmanager
def fake_server(tmp_path: Path, *options: str) -> Iterator[tuple[str, int, subprocess.Popen[bytes]]]:
    hold = tmp_path / "hold"  # never created: the model runs freely
    script = Path(__file__).with_name("fake_server_main.py")
    proc, port = spawn_listening(
        lambda port: [sys.executable, str(script), "--port", str(port), "--hold-file", str(hold), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(base + "/readyz").status_code == 200, "ready")
        yield base, port, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=20)


def test_sigterm_grace_loses_no_request_on_keep_alive_connections(tmp_path: Path) -> None:
    """8 clients on keep-alive connections send requests back to back across SIGTERM: during the grace
    every answer says Connection: close (the client reconnects), /readyz says draining, and no request
    fails. The clients stop once readiness has said draining for a while (a load balancer taking the
    instance out); after the grace the listener closes and the process exits."""
    with fake_server(tmp_path, "--drain-grace", "4") as (base, _, proc):
        stop = threading.Event()
        failures: list[str] = []
        answered: list[int] = []
        closes = []
        lock = threading.Lock()

        def client(i: int) -> None:
            with httpx.Client(base_url=base, timeout=30) as c:
                while not stop.is_set():
                    try:
                        r = c.post("/v1/match", json={"pairs": [{"a": f"{A}{i}", "b": B}]})
                    except httpx.ConnectError:
                        return  # the listener is closed: the grace is over (the load balancer moved on)
                    except httpx.HTTPError as exc:
                        with lock:
                            failures.append(repr(exc))
                        return
                    with lock:
                        answered.append(r.status_code)
                        closes.append(r.headers.get("connection") == "close")

        threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        wait_until(lambda: len(answered) >= 40, "traffic flowing")
        proc.send_signal(signal.SIGTERM)
        wait_until(lambda: httpx.get(base + "/readyz").status_code == 503, "readyz draining", timeout_s=5)
        assert httpx.get(base + "/readyz").json()["error"]["code"] == "draining"
        n_before = len(answered)
        wait_until(lambda: len(answered) >= n_before + 40, "still serving in the grace", timeout_s=5)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        assert proc.poll() is None, "the grace (4 s) is not over yet"
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    assert failures == []
    assert set(answered) == {200}
    assert any(closes) and not all(closes)


def test_a_stalled_header_or_body_cannot_hold_a_connection_nor_shutdown(tmp_path: Path) -> None:
    with fake_server(tmp_path, "--header-timeout", "0.5", "--body-timeout", "0.5") as (_, port, proc):
        # slowloris: a request head that never completes is closed after the header timeout
        loris = socket.create_connection(("127.0.0.1", port), timeout=10)
        loris.sendall(b"POST /v1/match HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        assert loris.recv(1024) == b""
        assert time.monotonic() - started < 5
        # a body that stops arriving: 408 after the body timeout, and the connection closes
        stalled = socket.create_connection(("127.0.0.1", port), timeout=10)
        stalled.sendall(
            b"POST /v1/match HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"pairs": ['
        )
        data = b""
        while chunk := stalled.recv(65536):
            data += chunk
        assert data.startswith(b"HTTP/1.1 408") and b"body_timeout" in data
        # and a stalled client does not hold up shutdown
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)
        idle.sendall(b"GET /healthz HTTP/1.1\r\n")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) in (0, -signal.SIGTERM)
        for sock in (loris, stalled, idle):
            sock.close()
