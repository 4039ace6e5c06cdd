"""The ``POST /v1/match`` fast path (``routes_match.MatchFastPath``) answers exactly as the FastAPI route
did: same status, same headers in the same order, same body bytes — for Match objects with explanations,
per-pair ItemErrors, every envelope error, 503 before ready and 429 on a full queue.

The route (``state.match_fast_path = False``) is the reference: it renders with Starlette's
``JSONResponse`` and answers errors through the app's exception handlers.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import pytest
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from tests.e2e.test_server import A, B, C, _embedded_scorer, in_thread, running, wait_until
from tests.fake_scorers import RecordingScorer

from geoalign.engine.dynamic import EngineConfig
from geoalign.server.app import ServerSettings, create_app
from geoalign.server.routes_match import encode_results
from geoalign.types import ComponentComparison, ItemError, Match

#: timings_ms are measured per request (they differ between any two answers); everything else is equal
_TIMINGS = re.compile(rb'"timings_ms":\{[^{}]*\}')


def _answer(client: TestClient, fast: bool, body: bytes, content_type: str = "application/json") -> Any:
    client.app.state.match_fast_path = fast  # type: ignore[attr-defined]
    headers = {"Content-Type": content_type, "X-Request-Id": "same-id-for-both"}
    return client.post("/v1/match", content=body, headers=headers)


def _same_answer(client: TestClient, body: bytes, content_type: str = "application/json") -> Any:
    route = _answer(client, False, body, content_type)
    fast = _answer(client, True, body, content_type)
    assert fast.status_code == route.status_code, body
    timed = b'"timings_ms":{' in route.content
    # all headers, in order (httpx keeps the raw list); ``date`` may tick between the two answers, and
    # the length differs with the measured timings
    skip = {b"date", b"content-length"} if timed else {b"date"}
    assert [h for h in fast.headers.raw if h[0] not in skip] == [
        h for h in route.headers.raw if h[0] not in skip
    ]
    if timed:
        assert _TIMINGS.sub(b"T", fast.content) == _TIMINGS.sub(b"T", route.content)
        # same keys in the same order: only the measured values differ
        for mine, theirs in zip(
            json.loads(fast.content)["results"], json.loads(route.content)["results"], strict=True
        ):
            assert list(mine) == list(theirs)
            assert list(mine.get("timings_ms") or ()) == list(theirs.get("timings_ms") or ())
        assert fast.headers["content-length"] == str(len(fast.content))
    else:
        assert fast.content == route.content, body
    return fast


def _match(**overrides: Any) -> Match:
    base: dict[str, Any] = {
        "label": "exact_match",
        "probabilities": {"exact_match": 0.1 + 0.2, "partial_match": 1e-05, "not_match": 0.7 - 1e-05},
        "scorer": "structured",
        "model": "structured-cd557273a6a9",
        "explanation": {
            "components": [
                ComponentComparison("prov", "浙江省", None, "only_a").to_dict(),
                ComponentComparison("roadno", "369", "369", "agree").to_dict(),
                ComponentComparison("poi", '东部"软件"园\\\n\t', "\u2028\x00😀", "similar").to_dict(),
            ],
            "rules": ["roadno_conflict", "admin_lift"],
            "truncated": {"a": {"by": "max_chars", "at_char": 256}},
        },
        "timings_ms": {"normalize": 928.8925620003283, "tokenize": 0.0, "forward": 1e16, "queue": 3e-07},
    }
    base.update(overrides)
    return Match(**base)


def test_encoder_bytes_equal_json_response() -> None:
    """The fast path's encoder against ``JSONResponse`` on what a response can hold: explanations with
    unicode, quotes, control characters and emoji, rules and truncation, awkward floats (1e-05, 1e16,
    0.30000000000000004), nulls, ItemErrors, nothing at all."""
    cases: list[list[Any]] = [
        [],
        [_match().to_dict()],
        [
            _match(explanation=None, timings_ms=None).to_dict(),
            ItemError("empty", "address 'a' is empty").to_dict(),
        ],
        [ItemError("not_a_pair", "unknown field(s) 'c' in a pair").to_dict()] * 3,
        [
            _match(
                label="not_match", probabilities={"exact_match": 0.0, "partial_match": 0.0, "not_match": 1.0}
            ).to_dict()
        ]
        * 50,
    ]
    for results in cases:
        reference = JSONResponse({"results": results})
        headers, body = encode_results(results)
        assert body == reference.body
        assert headers == reference.raw_headers


def test_fast_path_answers_like_the_route_with_the_embedded_matcher() -> None:
    scorer = _embedded_scorer()
    long = "浙江省杭州市西湖区文三路" + "9" * 300 + "号"
    with running(scorer, max_pairs=4, cache_items=0) as (client, _):
        pairs = [
            {"a": A, "b": B},
            {"a": "北京市朝阳区建国路88号", "b": C},
            {"a": long, "b": A},  # scored on its first 256 characters: explanation.truncated
            {"a": "", "b": B},
        ]
        answer = _same_answer(client, json.dumps({"pairs": pairs}, ensure_ascii=False).encode())
        results = answer.json()["results"]
        assert results[0]["explanation"]["components"] and results[2]["explanation"]["truncated"]
        assert results[3] == {"error": {"code": "empty", "message": results[3]["error"]["message"]}}
        for body in [
            {"pairs": [{"a": A, "b": A}, {"a": A, "b": A}]},  # the same pair twice: computed once
            {"pairs": [{"a": A}, {"a": 1, "b": B}, [A, B], {"a": A, "b": B, "c": 1}]},
            {"pairs": []},
            {"pairs": [{"a": A, "b": B}], "timeout_ms": 60000},
            {"pairs": [{"a": A, "b": B}], "timeout_ms": 2000.0},
        ]:
            _same_answer(client, json.dumps(body, ensure_ascii=False).encode())


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"\xff\xfe", "application/json"),
        (b"", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"pairs": {}}', "application/json"),
        (b'{"pairs": [], "extra": 1}', "application/json"),
        (b'{"timeout_ms": 5}', "application/json"),
        (json.dumps({"pairs": [{"a": A, "b": B}] * 3}).encode(), "application/json"),  # over max_pairs
        (b'{"pairs": [], "timeout_ms": 0}', "application/json"),
        (b'{"pairs": [], "timeout_ms": true}', "application/json"),
        (b'{"pairs": [], "timeout_ms": 1.5}', "application/json"),
        (b'{"pairs": []}', "application/vnd.api+json"),
        (b'{"pairs": []}', "text/plain"),  # refused by JsonOnly before either path
        (b"x" * 20000, "application/json"),  # over the body limit: BodyGuard
    ],
)
def test_envelope_errors_are_byte_identical(body: bytes, content_type: str) -> None:
    with running(RecordingScorer(), max_pairs=2) as (client, _):
        _same_answer(client, body, content_type)


def test_not_ready_and_full_queue_are_byte_identical() -> None:
    release = threading.Event()
    scorer = RecordingScorer()

    def slow_factory() -> RecordingScorer:
        release.wait(timeout=30)
        return scorer

    with running(factory=slow_factory, wait_ready=False) as (client, _):
        answer = _same_answer(client, json.dumps({"pairs": [{"a": A, "b": B}]}).encode())
        assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
        release.set()

    scorer = RecordingScorer()
    scorer.hold.set()
    with running(scorer, engine=EngineConfig(max_queue=2), max_pairs=2) as (client, _):
        engine = client.app.state.engine  # type: ignore[attr-defined]
        first, out = in_thread(lambda: client.post("/v1/match", json={"pairs": [{"a": A, "b": B}] * 2}))
        wait_until(lambda: engine.in_flight == 2, "two items in flight")
        # the Retry-After estimate is the same for both: nothing is computed while the model is held
        answer = _same_answer(client, json.dumps({"pairs": [{"a": A, "b": C}]}).encode())
        assert answer.status_code == 429
        scorer.hold.clear()
        scorer.release.set()
        first.join(timeout=20)
        assert out[0].status_code == 200


def test_api_key_and_metrics_hold_on_the_fast_path() -> None:
    """The guards outside the fast path still apply, and the counters count its answers as before."""
    app = create_app(RecordingScorer, ServerSettings(api_key="k3y"))
    with TestClient(app) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, "ready")
        body = {"pairs": [{"a": A, "b": B}, {"a": "", "b": B}]}
        assert client.post("/v1/match", json=body).status_code == 401
        auth = {"Authorization": "Bearer k3y"}
        for fast in (True, False):
            app.state.match_fast_path = fast
            assert client.post("/v1/match", json=body, headers=auth).status_code == 200
        text = client.get("/metrics").text
    assert 'geoalign_items_total{outcome="match"} 2.0' in text
    assert 'geoalign_items_total{outcome="error"} 2.0' in text
    assert 'geoalign_http_responses_total{status="200"} 2.0' in text
    assert 'geoalign_http_responses_total{status="401"}' not in text  # refused before the route, as before


def test_the_fast_path_serves_match_and_leaves_other_requests_to_fastapi(monkeypatch: Any) -> None:
    """With the route's own rendering broken, /v1/match still answers (the fast path served it); a
    trailing slash or another method still reaches FastAPI (its redirect, its 405)."""
    from geoalign.server import routes_match

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the FastAPI route answered /v1/match")

    monkeypatch.setattr(routes_match, "JSONResponse", broken)
    with running(RecordingScorer()) as (client, _):
        assert client.post("/v1/match", json={"pairs": [{"a": A, "b": B}]}).status_code == 200
        assert client.get("/v1/match").status_code == 405
        assert client.post("/v1/match/", json={"pairs": []}, follow_redirects=False).status_code == 307
