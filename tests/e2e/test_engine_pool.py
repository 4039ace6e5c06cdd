"""The embedded matcher and the default judge over worker processes (``geoalign serve --workers N``,
issue 17 point 8).

Real processes (spawned, each loading the shipped structured model): a pool of two serves requests with
the same answers as the in-process scorer, survives a worker killed with SIGKILL (the pool is rebuilt,
the request answered), and shuts down without hanging, leaving no process behind; then the real
``geoalign serve`` with ``--workers 2`` answers over HTTP and exits on SIGTERM with its workers gone.
Start-up timeouts are generous: each worker imports geoalign and loads the model.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.servers import require_module, spawn_listening

from geoalign.engine.dynamic import EngineConfig
from geoalign.engine.pool import POOLABLE, ProcessPoolScorer, resolve_workers, usable_cpus
from geoalign.engine.sync import SyncEngine
from geoalign.errors import GeoalignError, InputError
from geoalign.scorers.spec import ScorerSpec
from geoalign.types import AddressPair, ItemError, Match

START_S = 300.0
PAIRS = [
    AddressPair("浙江省杭州市西湖区文三路369号", "杭州市文三路369号"),
    AddressPair("北京市朝阳区建国路88号", "上海市浦东新区世纪大道100号"),
    AddressPair("", "杭州市"),  # empty: answered in the server process, as the in-process scorer words it
    AddressPair("杭州市\x00西湖区\u200b文三路1号", "杭州市西湖区文三路1号"),  # control characters dropped
    AddressPair(None, "杭州市"),
]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) counts as gone
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as handle:
        return handle.read().split(") ", 1)[1][0] != "Z"
    return True


def wait_until(predicate: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(0.02)


@pytest.fixture(scope="module")
def spec() -> ScorerSpec:
    spec = ScorerSpec(scorer="structured")
    try:
        spec.build()
    except GeoalignError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: the embedded matcher does not load: {exc}")
        pytest.skip(f"embedded matcher not available in this checkout: {exc}")
    return spec


def _same(pooled: list[Any], local: list[Any]) -> None:
    assert len(pooled) == len(local)
    for got, want in zip(pooled, local, strict=True):
        assert type(got) is type(want), (got, want)
        if isinstance(want, ItemError):
            assert got == want
        else:
            assert isinstance(got, Match)
            assert got.label == want.label
            assert got.probabilities == pytest.approx(want.probabilities, abs=1e-9)
            assert got.explanation == want.explanation


def test_pool_of_two_answers_as_the_in_process_scorer_and_rebuilds_after_a_crash(spec: ScorerSpec) -> None:
    pool = ProcessPoolScorer(spec, 2, start_timeout_s=START_S)
    local = spec.build()
    with SyncEngine(pool, EngineConfig(max_batch_items=8)) as engine:
        assert engine.engine.parallel == 2
        pids = pool.pids()
        assert len(pids) == 2 and os.getpid() not in pids
        _same(engine.match_many(PAIRS), local.score(PAIRS))
        # the cache key is the text the scorer saw: the same cleaning as the in-process scorer
        for pair in PAIRS[:2] + PAIRS[3:4]:
            seen = pool.prepare([pair]).items[0]
            assert not isinstance(seen, ItemError)
            assert seen.seen == local.prepare([pair]).items[0].seen  # type: ignore[union-attr]

        # a worker dies (the OOM killer, a segfault): the pool is replaced and the request answered
        os.kill(pids[0], signal.SIGKILL)
        wait_until(lambda: not _alive(pids[0]), "the killed worker is gone")
        # every request is answered; the pool is replaced once the executor has noticed the death (a
        # batch sent before that is run by the surviving worker)
        fresh = [AddressPair("杭州市西湖区文三路100号", "杭州市文三路100号"), PAIRS[1]]
        for _ in range(60):
            _same(engine.match_many(fresh, timeout=START_S), local.score(fresh))
            if pool.restarts:
                break
            time.sleep(0.5)
        assert pool.restarts == 1
        new_pids = pool.pids()
        assert len(new_pids) == 2 and not set(new_pids) & set(pids)
        _same(engine.match_many(PAIRS), local.score(PAIRS))
        assert not any(_alive(pid) for pid in pids), "the broken pool's other worker is stopped too"
    # drain closed the pool: no worker left behind, and a closed pool refuses work with a clear error
    assert pool.pids() == []
    wait_until(lambda: not any(_alive(pid) for pid in new_pids), "workers exit after close")
    with pytest.raises(GeoalignError, match="worker pool is closed"):
        pool.run(pool.prepare(PAIRS[:1]))


def test_a_hung_pool_is_replaced_after_the_batch_timeout(spec: ScorerSpec) -> None:
    """Workers that never answer (here: stopped with SIGSTOP, as a deadlock would leave them) do not hold
    the batch forever: after ``batch_timeout_s`` their processes are killed, the pool is replaced and
    the batch answered by the new one."""
    pool = ProcessPoolScorer(spec, 2, start_timeout_s=START_S, batch_timeout_s=2.0)
    local = spec.build()
    try:
        pool.warmup()
        pids = pool.pids()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        _same(pool.score(PAIRS[:2]), local.score(PAIRS[:2]))
        assert time.monotonic() - started >= 2.0
        assert pool.restarts == 1
        assert not set(pool.pids()) & set(pids)
        wait_until(lambda: not any(_alive(pid) for pid in pids), "the hung workers are killed")
    finally:
        pool.close()
    with pytest.raises(ValueError, match="timeout must be positive"):
        ProcessPoolScorer(spec, 1, batch_timeout_s=0)


def test_start_up_is_not_counted_against_the_batch_timeout(spec: ScorerSpec) -> None:
    """A fresh pool loads its model first (seconds: spawn, imports, the model): that is start-up, under
    ``start_timeout_s``. Counted against a short batch timeout, every fresh pool — the first one, and
    the replacement after a hung one — would be declared hung before it could answer."""
    pool = ProcessPoolScorer(spec, 2, start_timeout_s=START_S, batch_timeout_s=0.5)
    local = spec.build()
    try:
        _same(pool.score(PAIRS[:2]), local.score(PAIRS[:2]))  # no warmup: the first batch starts it
        assert pool.restarts == 0
    finally:
        pool.close()


def test_close_while_a_batch_runs_does_not_hang(spec: ScorerSpec) -> None:
    pool = ProcessPoolScorer(spec, 2, start_timeout_s=START_S)
    pool.warmup()
    pids = pool.pids()
    many = [AddressPair(f"杭州市西湖区文三路{i}号", f"杭州市文三路{i}号") for i in range(200)]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as thread:
        pending = thread.submit(pool.score, many)
        time.sleep(0.05)
        started = time.monotonic()
        pool.close()
        closing_s = time.monotonic() - started
        try:
            results = pending.result(timeout=START_S)
        except GeoalignError as exc:  # close() came first: refused with a clear error, not a hang
            assert "worker pool" in str(exc) and "closed" in str(exc)
        else:  # the batch was running: it finished and every pair has its answer
            assert len(results) == len(many) and all(isinstance(r, Match) for r in results)
    assert closing_s < START_S
    wait_until(lambda: not any(_alive(pid) for pid in pids), "workers exit after close")
    pool.close()  # twice is fine


def test_pool_of_two_serves_the_default_judge_as_in_process(spec: ScorerSpec) -> None:
    # the default judge behind the pool (serve's default since session 39): the same answers, each
    # worker's neural stage on its share of the cores
    judge = ScorerSpec()
    assert judge.for_workers(2).threads == max(1, usable_cpus() // 2)
    pool = ProcessPoolScorer(judge, 2, start_timeout_s=START_S)
    local = judge.build()
    uncertain = AddressPair("北京市朝阳区望京SOHO塔1", "北京望京SOHO T1")  # reaches the neural stage
    pairs = [*PAIRS, uncertain]
    with SyncEngine(pool, EngineConfig(max_batch_items=8)) as engine:
        answers = engine.match_many(pairs)
        _same(answers, local.score(pairs))
    last = answers[-1]
    assert isinstance(last, Match) and last.explanation is not None
    assert last.explanation["cascade"]["stage"] != "structured"
    assert pool.pids() == []


def test_workers_option_resolves_per_scorer() -> None:
    assert frozenset({"structured", "cascade"}) == POOLABLE
    assert resolve_workers(None, "structured") == usable_cpus()
    # the default judge too: its structured stage is CPU work under the GIL (session 39)
    assert resolve_workers(None, "cascade") == usable_cpus()
    assert resolve_workers(2, "cascade") == 2
    assert resolve_workers(None, "onnx") == 0  # a neural scorer alone batches in-process (threads)
    assert resolve_workers(0, "structured") == resolve_workers(1, "structured") == 0
    assert resolve_workers(3, "structured") == 3
    assert resolve_workers(1, "onnx") == 0
    with pytest.raises(InputError, match="--workers 4: worker processes are for the embedded matcher and"):
        resolve_workers(4, "onnx")
    with pytest.raises(InputError, match="0 or more"):
        resolve_workers(-1, "structured")


def test_serve_help_and_scorer_choice(spec: ScorerSpec) -> None:
    from geoalign.cli import serve

    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    assert "--workers N" in parser.format_help()
    pooled = serve.build_scorer(parser.parse_args(["--scorer", "structured", "--workers", "2"]))
    assert isinstance(pooled, ProcessPoolScorer) and pooled.workers == 2
    assert pooled.pids() == []  # nothing started before the engine warms it up
    plain = serve.build_scorer(parser.parse_args(["--scorer", "structured", "--workers", "0"]))
    assert not isinstance(plain, ProcessPoolScorer)
    with pytest.raises(InputError, match="batches in the server process"):
        serve.build_scorer(parser.parse_args(["--scorer", "onnx", "--model", "x", "--workers", "2"]))


@contextlib.contextmanager
def _serve(*args: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    httpx = require_module("httpx", "dev")
    proc, port = spawn_listening(
        lambda port: [sys.executable, "-m", "geoalign", "serve", "--port", str(port), *args],
        timeout_s=START_S,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(base + "/readyz").status_code == 200, "ready", timeout_s=START_S)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(p) for p in handle.read().split()]
    except OSError:
        return []


def test_geoalign_serve_with_two_workers_answers_and_stops_on_sigterm(spec: ScorerSpec) -> None:
    httpx = require_module("httpx", "dev")
    args = ("--scorer", "structured", "--workers", "2", "--drain-grace", "0", "--log-level", "warning")
    with _serve(*args) as (base, proc):
        body = {"pairs": [{"a": p.a, "b": p.b} for p in PAIRS[:2]] + [{"a": "", "b": "x"}]}
        answer = httpx.post(base + "/v1/match", json=body, timeout=START_S)
        assert answer.status_code == 200
        first, second, third = answer.json()["results"]
        assert first["scorer"].startswith("structured") and second["label"] == "not_match"
        assert third["error"]["code"] == "empty"
        models = httpx.get(base + "/v1/models").json()["models"][0]
        assert models["engine"]["parallel_batches"] == 2
        assert models["details"]["workers"] == {"processes": 2, "restarts": 0}
        workers = [p for p in _children(proc.pid) if "resource_tracker" not in _cmdline(p)]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) in (0, -signal.SIGTERM), proc.stderr.read() if proc.stderr else ""
    wait_until(lambda: not any(_alive(pid) for pid in workers), "no worker outlives the server")


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
