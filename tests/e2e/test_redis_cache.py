"""The HTTP service with a real redis-server (started per test on a spare port): shared hits across
servers, Redis absent from the start, and Redis killed mid-run. Redis trouble is logged and counted,
never surfaced: every request is still answered."""

from __future__ import annotations

import logging
import re

import pytest
from tests.e2e.test_server import A, B, C, running, wait_until
from tests.fake_scorers import RecordingScorer
from tests.servers import free_port, redis_server


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.M)
    assert match, f"{name} not exported"
    return float(match.group(1))


PAIRS = {"pairs": [{"a": A, "b": B}, {"a": A, "b": C}]}


def test_redis_shares_results_between_servers() -> None:
    with redis_server() as redis:
        first = RecordingScorer()
        with running(first, redis_url=redis.url, cache_items=0) as (client, _):
            answer = client.post("/v1/match", json=PAIRS)
            assert answer.status_code == 200
            wait_until(lambda: redis.client().dbsize() == 2, "both results stored in Redis")
        second = RecordingScorer()  # another replica, empty memory: only Redis can answer
        with running(second, redis_url=redis.url, cache_items=0) as (client, _):
            again = client.post("/v1/match", json=PAIRS)
            text = client.get("/metrics").text
    assert len(first.seen_items) == 2 and second.seen_items == []
    strip = [{k: v for k, v in r.items() if k != "timings_ms"} for r in answer.json()["results"]]
    assert [{k: v for k, v in r.items() if k != "timings_ms"} for r in again.json()["results"]] == strip
    assert all(set(r["timings_ms"]) == {"cache"} for r in again.json()["results"])
    assert metric(text, "geoalign_cache_hits_total") == 2
    assert metric(text, "geoalign_cache_backend_errors") == 0


def test_redis_down_from_the_start_degrades_to_no_cache(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="geoalign.engine.cache")
    scorer = RecordingScorer()
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with running(scorer, redis_url=dead, cache_items=0) as (client, _):
        answers = [client.post("/v1/match", json=PAIRS) for _ in range(6)]

        def backend_calls() -> float:
            text = client.get("/metrics").text
            return metric(text, "geoalign_cache_backend_errors") + metric(
                text, "geoalign_cache_backend_skipped"
            )

        # 6 lookups + 6 stores (stores run in the background, after the answers)
        wait_until(lambda: backend_calls() == 12, "every cache call accounted for")
        text = client.get("/metrics").text
    assert [a.status_code for a in answers] == [200] * 6
    assert all("label" in r for a in answers for r in a.json()["results"])
    assert len(scorer.seen_items) == 12  # nothing cached, everything computed
    errors = metric(text, "geoalign_cache_backend_errors")
    skipped = metric(text, "geoalign_cache_backend_skipped")
    # after 3 failures the breaker skips Redis (one probe per 5 s cooldown)
    assert errors >= 3 and skipped >= 1, "the circuit breaker stops retrying a dead Redis"
    assert any("redis cache" in record.getMessage() for record in caplog.records)


def test_redis_killed_mid_run_keeps_answering(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="geoalign.engine.cache")
    scorer = RecordingScorer()
    with redis_server() as redis, running(scorer, redis_url=redis.url, cache_items=0) as (client, _):
        assert client.post("/v1/match", json=PAIRS).status_code == 200
        wait_until(lambda: redis.client().dbsize() == 2, "results stored in Redis")
        hit = client.post("/v1/match", json=PAIRS)
        assert all(set(r["timings_ms"]) == {"cache"} for r in hit.json()["results"])
        assert len(scorer.seen_items) == 2

        redis.kill()
        answers = [client.post("/v1/match", json={"pairs": [{"a": A, "b": f"{B}{i}"}]}) for i in range(8)]
        answers.append(client.post("/v1/match", json=PAIRS))
        text = client.get("/metrics").text
    assert [a.status_code for a in answers] == [200] * 9
    assert all("label" in r for a in answers for r in a.json()["results"])
    assert len(scorer.seen_items) == 2 + 8 + 2  # Redis gone: the old pairs are recomputed, not errors
    assert metric(text, "geoalign_cache_backend_errors") >= 1
    assert metric(text, "geoalign_cache_backend_skipped") >= 1
    assert metric(text, "geoalign_cache_hits_total") == 2
    assert any("redis cache" in record.getMessage() for record in caplog.records)


def test_missing_server_binary_skips_visibly_but_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from tests.servers import require_binary

    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y redis-server"):
        require_binary("redis-server", "redis-server")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_binary("redis-server", "redis-server")


def test_frozen_redis_does_not_hang_requests() -> None:
    """A Redis that accepts connections but never answers (SIGSTOP) costs a short timeout a few times,
    then the circuit breaker skips it: requests are answered, not stuck."""
    import signal

    scorer = RecordingScorer()
    with redis_server() as redis, running(scorer, redis_url=redis.url, cache_items=0) as (client, _):
        assert client.post("/v1/match", json=PAIRS).status_code == 200
        assert redis.proc is not None
        redis.proc.send_signal(signal.SIGSTOP)
        try:
            answers = [client.post("/v1/match", json={"pairs": [{"a": A, "b": f"{C}{i}"}]}) for i in range(6)]
            text = client.get("/metrics").text
        finally:
            redis.proc.send_signal(signal.SIGCONT)
    assert [a.status_code for a in answers] == [200] * 6
    assert all("label" in a.json()["results"][0] for a in answers)
    assert metric(text, "geoalign_cache_backend_errors") >= 1
    assert metric(text, "geoalign_cache_backend_skipped") >= 1
