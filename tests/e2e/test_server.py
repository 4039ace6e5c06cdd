"""The HTTP service end to end: the real FastAPI app (TestClient, or a real uvicorn process for SIGTERM
drain and client disconnects) with a fake staged scorer, and with the embedded matcher.

No timing assertions: the fake scorer's model can be held (an event in-process, a file for a
subprocess) so a backlog builds deterministically.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.fake_scorers import RecordingScorer
from tests.servers import spawn_listening

from geoalign.engine.dynamic import EngineConfig
from geoalign.server.app import ServerSettings, create_app

A = "浙江省杭州市西湖区文三路369号"
B = "杭州市西湖区文三路369号东部软件园"
C = "上海市浦东新区世纪大道100号"


def wait_until(predicate: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    """Poll a condition (bounded, so a broken build fails instead of hanging)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(0.005)


@contextlib.contextmanager
def running(
    scorer: Any = None, *, factory: Callable[[], Any] | None = None, wait_ready: bool = True, **settings: Any
) -> Iterator[tuple[TestClient, Any]]:
    scorer = scorer if scorer is not None else RecordingScorer()
    app = create_app(factory or (lambda: scorer), ServerSettings(**settings))
    with TestClient(app) as client:
        if wait_ready:
            wait_until(lambda: client.get("/readyz").status_code == 200, "ready")
        yield client, scorer


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    return thread, out


def metric(text: str, name: str) -> float:
    """Sum of the samples of ``name``, e.g. 'geoalign_rejected_total{reason="overloaded"}'."""
    total = 0.0
    pattern = re.compile(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+-]+)$", re.M)
    for value in pattern.findall(text):
        total += float(value)
    return total


# ---------------------------------------------------------------- contract


def test_match_answers_in_request_order_with_item_errors() -> None:
    with running(max_chars=40) as (client, scorer):
        body = {"pairs": [{"a": A, "b": A}, {"a": "  ", "b": B}, {"a": A, "b": "号" * 41}, {"a": A, "b": C}]}
        response = client.post("/v1/match", json=body)
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 4
    assert set(results[0]) == {"label", "probabilities", "scorer", "model", "explanation", "timings_ms"}
    assert results[0]["label"] == "exact_match" and results[0]["scorer"] == "fake"
    assert list(results[0]["probabilities"]) == ["exact_match", "partial_match", "not_match"]
    assert results[1] == {"error": {"code": "empty", "message": results[1]["error"]["message"]}}
    # over the length limit: scored (the scorer cuts it and says so), never refused by HTTP (17.5)
    assert "label" in results[2]
    assert results[3]["label"] == "not_match"
    # only the empty pair stays out of the model; the long one is scored (the scorer cuts it)
    assert all(len(batch) <= 3 for batch in scorer.batches)
    assert ("号" * 41) in {b for _, b in scorer.seen_items}


def _chunks(parts: list[bytes]) -> Iterator[bytes]:
    """A body streamed without Content-Length (chunked): the size limit must hold without it."""
    yield from parts


def test_bad_requests_get_the_error_shape_and_right_status() -> None:
    """Only a malformed envelope is a 4xx (bad pairs are ItemErrors in their slots: see
    test_server_http.py)."""
    with running(max_pairs=3, max_chars=50) as (client, _):
        cases = [
            (
                client.post(
                    "/v1/match", content=b'{"pairs": [', headers={"content-type": "application/json"}
                ),
                400,
            ),
            (client.post("/v1/match", json={"pairs": [], "extra": 1}), 422),
            (client.post("/v1/match", json={"pairs": [], "timeout_ms": 0}), 422),
            (client.post("/v1/match", json=[1, 2]), 422),
            (client.post("/v1/match", json={"pairs": [{"a": "x", "b": "y"}] * 4}), 413),
            (client.post("/v1/match", content=b"{" + b" " * 10_000_000 + b"}"), 413),
            (
                client.post(
                    "/v1/match", content=_chunks([b'{"pairs": ['] + [b'{"a": "x", "b": "y"},'] * 99_999)
                ),
                413,
            ),
            (client.get("/v1/nothing"), 404),
            (client.get("/v1/match"), 405),
        ]
        for response, status in cases:
            assert response.status_code == status, response.text
            error = response.json()["error"]
            assert set(error) == {"code", "type", "message"} and error["message"]
        assert cases[0][0].json()["error"]["code"] == "malformed_json"
        assert cases[4][0].json()["error"]["code"] == "too_many_pairs"
        assert cases[5][0].json()["error"]["code"] == "payload_too_large"
        assert cases[6][0].json()["error"]["code"] == "payload_too_large"
        assert client.post("/v1/match", json={"pairs": []}).json() == {"results": []}


def test_api_key_guards_v1_only() -> None:
    with running(api_key="s3cret") as (client, _):
        body = {"pairs": [{"a": A, "b": B}]}
        missing = client.post("/v1/match", json=body)
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert missing.json()["error"]["code"] == "unauthorized"
        wrong = client.post("/v1/match", json=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert client.get("/v1/models").status_code == 401
        ok = client.post("/v1/match", json=body, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200


def test_not_ready_until_warmed_then_ready() -> None:
    class SlowWarmup(RecordingScorer):
        def __init__(self) -> None:
            super().__init__()
            self.go = threading.Event()

        def warmup(self) -> None:
            assert self.go.wait(timeout=20)
            super().warmup()

    scorer = SlowWarmup()
    with running(scorer, wait_ready=False) as (client, _):
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["error"]["code"] == "not_ready"
        busy = client.post("/v1/match", json={"pairs": [{"a": A, "b": B}]})
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        assert busy.json()["error"]["code"] == "not_ready"
        scorer.go.set()
        wait_until(lambda: client.get("/readyz").status_code == 200, "ready after warm-up")
        assert client.post("/v1/match", json={"pairs": [{"a": A, "b": B}]}).status_code == 200
        models = client.get("/v1/models").json()["models"]
        assert len(models) == 1
        assert {k: models[0][k] for k in ("scorer", "model", "ready", "details")} == {
            "scorer": "fake",
            "model": "fake-v1",
            "ready": True,
            "details": None,
        }
        assert models[0]["engine"]["max_queue"] == EngineConfig().max_queue


def test_load_failure_is_reported_not_hidden() -> None:
    def broken() -> Any:
        raise RuntimeError("weights file is corrupt")

    with running(factory=broken, wait_ready=False) as (client, _):
        wait_until(lambda: client.get("/readyz").json()["error"]["code"] == "load_failed", "load failure")
        assert "corrupt" in client.get("/readyz").json()["error"]["message"]
        assert client.post("/v1/match", json={"pairs": [{"a": A, "b": B}]}).status_code == 503


def test_full_queue_answers_429_with_retry_after() -> None:
    scorer = RecordingScorer()
    scorer.hold.set()
    with running(scorer, engine=EngineConfig(max_queue=2), max_pairs=2) as (client, _):
        engine = client.app.state.engine  # type: ignore[attr-defined]
        first, out = in_thread(lambda: client.post("/v1/match", json={"pairs": [{"a": A, "b": B}] * 2}))
        wait_until(lambda: engine.in_flight == 2, "two items in flight")
        rejected = client.post("/v1/match", json={"pairs": [{"a": A, "b": C}]})
        assert rejected.status_code == 429
        assert int(rejected.headers["retry-after"]) >= 1
        assert rejected.json()["error"]["code"] == "overloaded"
        scorer.hold.clear()
        scorer.release.set()
        first.join(timeout=20)
        assert out[0].status_code == 200
        assert client.post("/v1/match", json={"pairs": [{"a": A, "b": C}]}).status_code == 200
        text = client.get("/metrics").text
    assert metric(text, 'geoalign_rejected_total{reason="overloaded"}') == 1
    assert metric(text, 'geoalign_http_responses_total{status="429"}') == 1


def test_deadline_answers_in_the_slot_and_skips_compute() -> None:
    scorer = RecordingScorer()
    scorer.hold.set()
    with running(scorer) as (client, _):
        first, out = in_thread(lambda: client.post("/v1/match", json={"pairs": [{"a": A, "b": B}]}))
        assert scorer.entered.wait(timeout=20)
        late = client.post(
            "/v1/match", json={"pairs": [{"a": C, "b": B}, {"a": "", "b": B}], "timeout_ms": 20}
        )
        assert late.status_code == 200
        codes = [r["error"]["code"] for r in late.json()["results"]]
        assert codes == ["deadline_exceeded", "empty"]
        scorer.hold.clear()
        scorer.release.set()
        first.join(timeout=20)
        assert out[0].status_code == 200
        client.post("/v1/match", json={"pairs": [{"a": A, "b": A}]})  # flushes the queue
        text = client.get("/metrics").text
    assert (C, B) not in scorer.seen_items
    assert metric(text, 'geoalign_dropped_items_total{reason="deadline"}') == 1


def test_metrics_cover_queue_batches_stages_and_cache() -> None:
    with running() as (client, _):
        body = {"pairs": [{"a": A, "b": B}, {"a": A, "b": C}]}
        client.post("/v1/match", json=body)
        client.post("/v1/match", json=body)  # both items are now cache hits
        text = client.get("/metrics").text
    for family in ("geoalign_queue_depth", "geoalign_in_flight_items", "geoalign_ready"):
        assert re.search(rf"^{family} ", text, re.M), family
    assert metric(text, "geoalign_batch_items_count") == 1
    assert metric(text, "geoalign_batch_items_sum") == 2
    assert metric(text, "geoalign_batch_tokens_sum") > 0
    for stage in ("prepare", "queue", "forward", "post"):
        assert metric(text, f'geoalign_stage_seconds_count{{stage="{stage}"}}') >= 1, stage
    assert metric(text, "geoalign_cache_hits_total") == 2
    assert metric(text, "geoalign_cache_misses_total") == 2
    assert metric(text, 'geoalign_items_total{outcome="match"}') == 4


def test_openapi_spec_documents_the_contract() -> None:
    with running() as (client, _):
        spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/v1/match"]["post"]
    assert {"200", "400", "401", "413", "422", "429", "503"} <= set(operation["responses"])
    assert set(spec["paths"]) >= {"/v1/match", "/v1/models", "/healthz", "/readyz", "/metrics"}


def _embedded_scorer() -> Any:
    from geoalign.errors import GeoalignError
    from geoalign.scorers.registry import build_scorer

    try:
        return build_scorer()
    except GeoalignError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: the embedded matcher does not load: {exc}")
        pytest.skip(f"embedded matcher not available in this checkout: {exc}")


def test_embedded_matcher_over_http() -> None:
    scorer = _embedded_scorer()
    with running(scorer) as (client, _):
        body = {
            "pairs": [
                {"a": "浙江省杭州市西湖区文三路369号", "b": "杭州市西湖区文三路369号"},
                {"a": "北京市朝阳区建国路88号", "b": "上海市浦东新区世纪大道100号"},
                {"a": "", "b": "北京市"},
            ]
        }
        response = client.post("/v1/match", json=body)
        again = client.post("/v1/match", json=body)
        models = client.get("/v1/models").json()["models"]
    assert response.status_code == 200
    first, second, third = response.json()["results"]
    assert first["scorer"] == "structured" and first["label"] in ("exact_match", "partial_match")
    assert second["label"] == "not_match"
    assert third["error"]["code"] == "empty"
    assert [r.get("label") for r in again.json()["results"]] == [first["label"], "not_match", None]
    assert models[0]["scorer"] == "structured"


# ---------------------------------------------------------------- real process: SIGTERM drain, disconnects


@contextlib.contextmanager
def server_process(tmp_path: Path, **options: Any) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    hold = tmp_path / "hold"
    hold.touch()
    script = Path(__file__).with_name("fake_server_main.py")

    def command(port: int) -> list[str]:
        cmd = [sys.executable, str(script), "--port", str(port), "--hold-file", str(hold)]
        for key, value in options.items():
            cmd += [f"--{key.replace('_', '-')}", str(value)]
        return cmd

    proc, port = spawn_listening(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(base + "/readyz").status_code == 200, "ready")
        yield base, hold, proc
    finally:
        hold.unlink(missing_ok=True)
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=20)


def scrape(base: str, name: str) -> float:
    return metric(httpx.get(base + "/metrics").text, name)


def test_sigterm_drains_every_accepted_request(tmp_path: Path) -> None:
    n_requests = 24
    with server_process(tmp_path) as (base, hold, proc):
        answers: list[httpx.Response | Exception] = []
        lock = threading.Lock()

        def client(i: int) -> None:
            try:
                body = {"pairs": [{"a": f"{A}{i}", "b": B}, {"a": C, "b": f"{C}{i}"}]}
                response: httpx.Response | Exception = httpx.post(base + "/v1/match", json=body, timeout=60)
            except Exception as exc:
                response = exc
            with lock:
                answers.append(response)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(n_requests)]
        for thread in threads:
            thread.start()
        # every request accepted and in the engine (the model is held, so none can finish yet)
        wait_until(lambda: scrape(base, "geoalign_in_flight_items") == 2 * n_requests, "all accepted")
        proc.send_signal(signal.SIGTERM)

        def refuses_new_connections() -> bool:
            try:
                socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=1).close()
            except OSError:
                return True
            return False

        wait_until(refuses_new_connections, "listener closed after SIGTERM")
        assert proc.poll() is None, "exited with accepted requests unanswered"
        hold.unlink()  # the model runs again: the backlog drains
        for thread in threads:
            thread.join(timeout=60)
        # uvicorn re-raises the captured SIGTERM after its graceful shutdown (exit by that signal)
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM), proc.stderr.read() if proc.stderr else ""
    assert len(answers) == n_requests, "every request sent got an answer"
    statuses = [a.status_code if isinstance(a, httpx.Response) else repr(a) for a in answers]
    assert statuses == [200] * n_requests
    for answer in answers:
        assert isinstance(answer, httpx.Response)
        assert [r["label"] for r in answer.json()["results"]] == ["not_match", "partial_match"]


def test_client_that_disconnects_costs_no_compute(tmp_path: Path) -> None:
    with server_process(tmp_path) as (base, hold, _):
        port = int(base.rsplit(":", 1)[1])
        blocker, out = in_thread(lambda: httpx.post(base + "/v1/match", json={"pairs": [{"a": A, "b": B}]}))
        wait_until(lambda: scrape(base, "geoalign_in_flight_items") == 1, "model busy")
        body = b'{"pairs": [{"a": "gone-1", "b": "gone-2"}, {"a": "gone-3", "b": "gone-4"}]}'
        raw = socket.create_connection(("127.0.0.1", port))
        raw.sendall(
            b"POST /v1/match HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        wait_until(lambda: scrape(base, "geoalign_queue_depth") == 2, "the leaver's items queued")
        raw.close()
        wait_until(lambda: scrape(base, "geoalign_in_flight_items") == 1, "the leaver's request cancelled")
        hold.unlink()
        blocker.join(timeout=30)
        assert out[0].status_code == 200
        httpx.post(base + "/v1/match", json={"pairs": [{"a": C, "b": C}]})  # a batch after: skims the queue
        text = httpx.get(base + "/metrics").text
    assert metric(text, 'geoalign_dropped_items_total{reason="cancelled"}') == 2
    assert metric(text, "geoalign_batch_items_sum") == 2  # the blocker and the last request, nothing else


# ---------------------------------------------------------------- the CLI


def test_geoalign_serve_starts_on_the_embedded_default_with_one_command(tmp_path: Path) -> None:
    _embedded_scorer()  # skip (or fail under CI) with the reason when the embedded model is missing
    env = {**os.environ, "GEOALIGN_API_KEY": "k3y"}
    proc, port = spawn_listening(
        lambda port: [sys.executable, "-m", "geoalign", "serve", "--port", str(port), "--log-level", "error"],
        timeout_s=120,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(base + "/readyz").status_code == 200, "ready", timeout_s=120)
        body = {"pairs": [{"a": A, "b": "杭州市西湖区文三路369号"}]}
        assert httpx.post(base + "/v1/match", json=body).status_code == 401  # key from the environment
        answer = httpx.post(base + "/v1/match", json=body, headers={"Authorization": "Bearer k3y"})
        assert answer.status_code == 200 and answer.json()["results"][0]["scorer"].startswith("cascade")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.torch
def test_geoalign_serve_torch_model_uses_the_scorers_token_budget(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    cmd = [sys.executable, "-m", "geoalign", "serve", "--scorer", "torch", "--model", "random-init:tiny"]
    cmd += ["--log-level", "warning"]
    proc, port = spawn_listening(
        lambda port: [*cmd, "--port", str(port)],
        timeout_s=180,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(base + "/readyz").status_code == 200, "ready", timeout_s=180)
        model = httpx.get(base + "/v1/models").json()["models"][0]
        assert model["scorer"] == "torch" and model["details"]["random_weights"] is True
        assert model["engine"]["token_budget"] == model["details"]["max_tokens"]
        answer = httpx.post(base + "/v1/match", json={"pairs": [{"a": A, "b": B}]}, timeout=60)
        assert answer.status_code == 200 and answer.json()["results"][0]["scorer"] == "torch"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_geoalign_serve_rejects_bad_options_clearly() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "geoalign", "serve", "--max-queue", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "--max-queue must be at least 1" in result.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "geoalign", "serve", "--model", "/nonexistent/model-dir"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    too_big = subprocess.run(
        [sys.executable, "-m", "geoalign", "serve", "--max-queue", "10", "--max-pairs", "11"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert too_big.returncode == 2 and "cannot exceed the queue size" in too_big.stderr
    assert missing.returncode != 0 and "nonexistent" in missing.stderr
    assert "Traceback" not in missing.stderr


# ---------------------------------------------------------------- a neural scorer (tiny random torch model)


@pytest.mark.torch
def test_torch_scorer_served_with_token_budget_batches() -> None:
    pytest.importorskip("torch")
    import warnings

    from geoalign.scorers.mgeo_torch import build_torch_scorer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights warn; the outputs are not checked for meaning
        scorer = build_torch_scorer("random-init:tiny", threads=1)
    budget = 256
    with running(scorer, engine=EngineConfig(token_budget=budget)) as (client, _):
        body = {"pairs": [{"a": f"{A}{i}", "b": f"{B}{i}"} for i in range(12)] + [{"a": "", "b": B}]}
        answer = client.post("/v1/match", json=body)
        text = client.get("/metrics").text
    results = answer.json()["results"]
    assert answer.status_code == 200 and len(results) == 13
    assert all(r["scorer"] == "torch" and r["model"] == "random-init:tiny" for r in results[:12])
    assert all(abs(sum(r["probabilities"].values()) - 1) < 1e-4 for r in results[:12])
    assert {"tokenize", "forward", "queue"} <= set(results[0]["timings_ms"])
    assert results[12]["error"]["code"] == "empty"
    # 12 pairs of ~35 tokens cannot share one 256-token (padded) batch: the budget split them
    batches = metric(text, "geoalign_batch_items_count")
    assert batches >= 2 and metric(text, "geoalign_batch_items_sum") == 12
    padded = metric(text, "geoalign_batch_padded_tokens_sum")
    assert padded <= budget * batches
