"""Result caches: keys, LRU, circuit breaker, tiers, and a Redis that is not there (real Redis: e2e)."""

from __future__ import annotations

import asyncio
import socket

from geoalign.engine.cache import (
    CircuitBreaker,
    MemoryLRU,
    RedisCache,
    TieredCache,
    build_cache,
    cache_key,
    decode_match,
    encode_match,
)
from geoalign.types import Match


def test_cache_key_covers_scorer_model_and_ordered_text() -> None:
    base = cache_key("torch", "sha-1", ("北京市朝阳区建国路88号", "建国路88号"))
    assert base.startswith("geoalign:v26:")
    assert base == cache_key("torch", "sha-1", ("北京市朝阳区建国路88号", "建国路88号"))
    assert base != cache_key("torch", "sha-1", ("建国路88号", "北京市朝阳区建国路88号"))
    assert base != cache_key("onnx", "sha-1", ("北京市朝阳区建国路88号", "建国路88号"))
    assert base != cache_key("torch", "sha-2", ("北京市朝阳区建国路88号", "建国路88号"))
    # no ambiguity from joining: ("ab", "c") and ("a", "bc") differ
    assert cache_key("s", "m", ("ab", "c")) != cache_key("s", "m", ("a", "bc"))


def test_cache_key_covers_variant_rules_the_explanation_switch_and_the_cut() -> None:
    seen = ("北京市朝阳区建国路88号", "建国路88号")
    keys = {
        cache_key("torch", "sha-1", seen),
        cache_key("torch", "sha-1", seen, variant="fp32"),
        cache_key("torch", "sha-1", seen, variant="bf16"),
        cache_key("torch", "sha-1", seen, rules_version="r1"),
        cache_key("torch", "sha-1", seen, rules_version="r2"),
        cache_key("torch", "sha-1", seen, explain=True),
        cache_key("torch", "sha-1", seen, explain=False),
        cache_key("torch", "sha-1", seen, cut=(True, False)),
        cache_key("torch", "sha-1", seen, cut=(False, True)),
    }
    assert len(keys) == 9


class _Keyed:
    """A scorer stub with every identity feature the key reads."""

    name = "torch"
    model_id = "sha256:0123"

    def __init__(self, variant: str, rules_version: str = "r1", explain: bool = True) -> None:
        self.variant = variant
        self.rules_version = rules_version
        self.explain = explain

    def prepare(self, pairs):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    run = finish = score = prepare

    def warmup(self) -> None:
        pass


def test_scorer_keys_read_variant_rules_and_the_live_explain_default() -> None:
    from geoalign.engine.cache import ScorerKeys

    seen = ("杭州市文三路90号", "文三路90号")
    fp32, bf16 = ScorerKeys(_Keyed("fp32")), ScorerKeys(_Keyed("bf16"))  # type: ignore[arg-type]
    assert fp32.key(seen) != bf16.key(seen)
    assert fp32.key(seen) != ScorerKeys(_Keyed("fp32", rules_version="r2")).key(seen)  # type: ignore[arg-type]
    # explanations on/off: the item's own choice, else the scorer's default read at key time
    assert fp32.key(seen, True) != fp32.key(seen, False)
    assert fp32.key(seen) == fp32.key(seen, True)
    fp32.scorer.explain = False  # type: ignore[attr-defined]
    assert fp32.key(seen) == fp32.key(seen, False)


def test_match_round_trip_drops_timings() -> None:
    match = Match.from_probabilities(
        (0.7, 0.2, 0.1), scorer="structured", model="m", timings_ms={"forward": 1.5}
    )
    back = decode_match(encode_match(match))
    assert back.label == "exact_match" and back.probabilities == match.probabilities
    assert back.timings_ms is None and back.scorer == "structured"


def test_memory_lru_evicts_least_recently_used_and_counts() -> None:
    async def main() -> None:
        lru = MemoryLRU(2)
        await lru.set_many([("a", "1"), ("b", "2")])
        assert await lru.get_many(["a"]) == ["1"]  # a is now the most recent
        await lru.set_many([("c", "3")])
        assert await lru.get_many(["a", "b", "c"]) == ["1", None, "3"]
        assert (lru.stats.hits, lru.stats.misses) == (3, 1)
        assert lru.stats.hit_rate == 0.75

    asyncio.run(main())


def test_circuit_breaker_opens_cools_down_and_closes() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=2, cooldown_s=10, clock=lambda: now[0])
    assert breaker.allow()
    breaker.failure()
    assert breaker.allow() and not breaker.is_open
    breaker.failure()
    assert breaker.is_open and not breaker.allow()
    now[0] = 10.0
    assert breaker.allow()  # half-open probe
    assert not breaker.allow()  # only one probe per cooldown
    breaker.failure()  # probe failed: open for another cooldown
    now[0] = 15.0
    assert not breaker.allow()
    now[0] = 20.0
    assert breaker.allow()
    breaker.success()
    assert not breaker.is_open and breaker.allow()
    assert breaker.opened_count == 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_redis_degrades_to_misses_and_stops_retrying() -> None:
    async def main() -> None:
        breaker = CircuitBreaker(threshold=3, cooldown_s=3600)  # no half-open probe during the test
        cache = RedisCache(f"redis://127.0.0.1:{_closed_port()}/0", timeout_s=0.2, breaker=breaker)
        for _ in range(10):
            assert await cache.get_many(["k1", "k2"]) == [None, None]
            await cache.set_many([("k1", "v")])
        assert not await cache.ping()
        # three failures open the breaker; every later call is skipped without touching the network
        assert cache.stats.errors == 3
        assert cache.stats.skipped == 21 - 3
        assert cache.stats.misses == 20 and cache.stats.hits == 0
        await cache.close()

    asyncio.run(main())


def test_tiered_cache_promotes_far_hits_and_build_cache() -> None:
    async def main() -> None:
        near, far = MemoryLRU(10), MemoryLRU(10)
        await far.set_many([("k", "v")])
        tiered = TieredCache(near, far)
        assert await tiered.get_many(["k", "x"]) == ["v", None]
        assert await near.get_many(["k"]) == ["v"]
        await tiered.set_many([("y", "w")])
        assert await far.get_many(["y"]) == ["w"]
        assert (tiered.stats.hits, tiered.stats.misses) == (1, 1)

    asyncio.run(main())
    assert build_cache(memory_items=0, redis_url=None) is None
    assert isinstance(build_cache(memory_items=5, redis_url=None), MemoryLRU)
    assert isinstance(build_cache(memory_items=0, redis_url="redis://127.0.0.1:1/0"), RedisCache)
    assert isinstance(build_cache(memory_items=5, redis_url="redis://127.0.0.1:1/0"), TieredCache)


def test_engine_config_takes_the_scorers_token_budget() -> None:
    from geoalign.engine.dynamic import EngineConfig

    budgeted = _Keyed("fp32")
    budgeted.max_tokens = 1536  # type: ignore[attr-defined]
    assert EngineConfig.for_scorer(budgeted).token_budget == 1536  # type: ignore[arg-type]
    assert EngineConfig.for_scorer(budgeted, token_budget=99).token_budget == 99  # type: ignore[arg-type]
    assert EngineConfig.for_scorer(_Keyed("fp32")).token_budget == EngineConfig().token_budget  # type: ignore[arg-type]
