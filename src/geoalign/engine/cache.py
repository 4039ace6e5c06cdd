"""Result caches for the engine: an in-memory LRU (default) and Redis (extra ``redis``).

Keys follow the contract: everything that changes the answer and nothing else — scorer name, model
checksum, variant/dtype (fp32 and bf16 replicas of one checkpoint differ), the rules version of a rule
layer, options that change the output (explanations on/off), and exactly the text the scorer saw. The pair
order is part of the key: CCKS exact_match is one-directional, so no scorer is assumed symmetric.

A cache is an optimisation and never a source of errors: a Redis that is down, slow or killed mid-run
is logged and counted, the lookup is treated as a miss, and a circuit breaker stops retrying a dead
server on every request (short socket timeouts bound the cost of the first failures).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from geoalign._extras import require
from geoalign.types import Explains, HasVariant, Match, RuleVersioned, Scorer

log = logging.getLogger(__name__)

#: Bumped when the stored value or the key recipe changes, so old entries are never misread; also when
#: a scorer's answers change without its model id (v4: neural scorers read traditional characters as
#: simplified, session 22; v5: gazetteer short names no longer read as a division before a numbered or
#: ring road or a mall (中山东二路, 雁塔南二环, 天河城), and align_admin keeps what a span holds past them;
#: v6: a road, gate or market named after a division is one name, 曹县路 / 中山门, and a run of form
#: labels, 地址地址：, is removed at once, runs of repeats are normalized to the end, and a padded
#: number reads plain, 008号 = 8号, session 24; v7: a numbered yard on a road is its door number,
#: 学院路30号院3号楼 = 学院路30号3号楼, and a repeated division name, 上海市上海市浦东新区, and the
#: districts 重庆市渝北区 / 江北区 are resolved, delivery notes are noise, 四段 reads 4段 and 32号附5号 /
#: 32附5号 read 32-5号, B22 is building B-22 as B22栋 is, and 北三段 is part of the road, session 25;
#: v8: a postcode or an empty field's place-holder closing the address is noise, 文一西路969号 310000 =
#: 文一西路969号 null = 文一西路969号, and 首层 is the ground floor, 1层, session 26; v9: a labelled note,
#: 备注：…, and a name with 收 closing the address are noise, 3号楼2门501 = 3栋2单元501, a building letter
#: and room read as one number, A801, are building A room 801, and a POI that is only a numbered yard on a
#: road is its road number, 2栋A403 = 2栋A座403, session 27; v10: a register's field label, 注册地址：,
#: 公司地址：, is removed like 收货地址：, session 28; v11: a minus before a low floor is a basement,
#: 3号楼-1层 = 3栋负1层, a run of dashes is one, 1--3层 = 1-3层, and 工作日送 is a delivery note, session 29;
#: v12: 5楼1号 after a building or unit is room 501, B塔 = B栋, L3 = 3层, 青松苑15-702 = 青松苑15栋702,
#: a name with 师傅 / 老师 / 经理 closing the address is noise, and place-holder divisions such as 市辖区
#: go, session 30; v13: the country before a province or city goes, 中国浙江省… = 浙江省…, session 31;
#: v14: the gazetteer reads the former county-level names of the ministry's code timeline since 1995,
#: 上海市闸北区 = 静安区, 北京市密云县 = 密云区, session 32; v15: an autonomous region written as a province
#: resolves, 广西省南宁市 = 广西壮族自治区南宁市, and 省直辖县级行政区 / 行政单位 at the start goes,
#: session 34; v16: 塔楼2 12层 = T2栋12层 (was 塔楼212层), and a street, a village or a door after a name
#: with 塔 is no tower, 铁塔七街 ≠ T7栋街, 金塔317号 ≠ T317栋, and a landmark clause closing the address
#: goes, …18号，近云杉公园 = …18号, session 35; v17: a shop's number however called, 108铺 = 108号商铺,
#: a crossing's words, 交汇处 = 交叉口, a side gate, 东大门 = 东门, a station's exit, 站A出口 = 站A口,
#: a number its owner gave, 18号自编3栋 = 18号3栋, a bracketed note of what the place was, (原69号), goes,
#: and a street named by its office, 望京街道办事处, is the township, session 36; v18: a delivery note that
#: says when not to deliver, …3栋 周末不送, goes, and a range written with 至 is a dash, 18至20号 =
#: 18-20号, session 36; v19: an order export's endings, a postcode after a room, a call note, a phone's
#: extension, go, a slash between numbers lists them, a unit-room dash after the building, 3栋1-501 =
#: 3栋1单元501, and a chain's English or short name is its Chinese one, session 37; v20: one capital
#: numeral as a building after a door or a unit after a building, 18号叁号楼 = 18号3栋, and a low B number
#: before a car park is its basement, B2停车场 = 负2层停车场, and a committee written in full is its short
#: name, 居民委员会 = 居委会, an airport without 国际 and a terminal however numbered, 3号航站楼 = T3栋, and a
#: railway station with 火车 after its name, 杭州火车东站 = 杭州东站, and a government office by its short
#: name, 人民政府 = 政府, and an estate's property office, 物业服务中心 = 物业, session 38; v21: a company's
#: legal form, 股份有限公司 = 有限责任公司 = 有限公司, one capital numeral before a building or floor
#: word, 伍幢 = 5幢, a campus dormitory by number, 7舍 = 7号宿舍楼, and a lettered building with a dash,
#: B-10栋 = B10栋, a village's team by a numeral, 三队 = 3队, and a tower before a floor written with F,
#: 塔一F十二层 = T1栋12层, session 40; v22: a village's 社 by a numeral, 云杉村三社 = 3社, and a room, floor,
#: building or tower by its English word, Room 1201 = 1201室, Tower 2 = T2栋, session 41; v23: a bracketed
#: name of the building or estate at the address is kept, 青禾路18号(云杉大厦) = 青禾路18号云杉大厦, and
#: a building named 3F stays one, 3F幢 = 3F栋 (not 3层栋), and a numbered warehouse is one however
#: called, 3号库 = 3号仓 = 3号仓库, session 42; v24: a building's 门 is its unit wherever it closes the
#: text or comes before a floor, 3幢一门 = 3栋1单元, the ground floor written 底层 or 底楼 is 1层, inside
#: a door's number is the door, 18号内 = 18号, an administrative village is the village, 云杉行政村 =
#: 云杉村, a short crossing after a road is one, 青禾路云杉街路口 = 青禾路云杉街交叉口, and a market's stall
#: written 档 is a shop, A01档 = A01号商铺, and a padded tower number is the tower, 001塔 = T1栋, session 43;
#: v25: a sub-number in words before a room, a floor or a building in digits is read, 18号之一101房 =
#: 18-1号101室, and a floor and a one-digit door closing a building or unit is the room with 室 too,
#: 1栋1单元3层5室 = 1栋1单元305室, session 44; v26: a padded number freed of its zeros is read by the unit
#: rules in the same normalize, 苑0983-2-501 = 苑983栋2单元501, session 45).
KEY_VERSION = "v26"


def cache_key(
    scorer: str,
    model_id: str,
    seen: tuple[str, str],
    *,
    variant: str = "",
    rules_version: str = "",
    explain: bool | None = None,
    cut: tuple[bool, bool] = (False, False),
) -> str:
    """The cache key of one item. Hashed so arbitrary text makes a short, safe Redis key.

    ``explain`` None means the scorer has no explanation switch (its output cannot differ by it);
    ``cut``: which sides were cut to the length limit (``PreparedItem.cut``).
    """
    payload = json.dumps(
        [scorer, model_id, variant, rules_version, explain, seen[0], seen[1], cut[0], cut[1]],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()
    return f"geoalign:{KEY_VERSION}:{digest}"


class ScorerKeys:
    """Cache keys for one scorer: its fixed identity read once, its explanation default read live (a
    caller may switch ``explain`` off after the engine was built)."""

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer
        self.name = scorer.name
        self.model_id = str(scorer.model_id)
        self.variant = str(scorer.variant) if isinstance(scorer, HasVariant) else ""
        self.rules_version = str(scorer.rules_version) if isinstance(scorer, RuleVersioned) else ""
        self._explainer: Explains | None = scorer if isinstance(scorer, Explains) else None

    def key(
        self, seen: tuple[str, str], explain: bool | None = None, cut: tuple[bool, bool] = (False, False)
    ) -> str:
        """``explain``: the item's own choice (``PreparedItem.explain``); None = the scorer's default.
        ``cut``: ``PreparedItem.cut``."""
        chosen: bool | None = None
        if self._explainer is not None:
            chosen = bool(self._explainer.explain) if explain is None else explain
        return cache_key(
            self.name,
            self.model_id,
            seen,
            variant=self.variant,
            rules_version=self.rules_version,
            explain=chosen,
            cut=cut,
        )


def encode_match(match: Match) -> str:
    """Stored form of a result. Timings are per-computation facts, not part of the answer."""
    data = match.to_dict()
    data["timings_ms"] = None
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def decode_match(raw: str | bytes) -> Match:
    return Match.from_dict(json.loads(raw))


@dataclass(slots=True)
class CacheStats:
    """Counters every cache keeps; the server exports them, the sync API reports the hit rate."""

    hits: int = 0
    misses: int = 0
    errors: int = 0
    #: lookups/stores skipped because the circuit breaker was open (backend presumed down)
    skipped: int = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class ResultCache(Protocol):
    """What the engine needs from a cache. Both methods must never raise for backend failures."""

    stats: CacheStats
    name: str

    async def get_many(self, keys: Sequence[str]) -> list[str | None]: ...

    async def set_many(self, items: Sequence[tuple[str, str]]) -> None: ...

    async def close(self) -> None: ...


class MemoryLRU:
    """Bounded LRU in process memory. Used only from the engine's event loop, so no lock is needed."""

    name = "memory"

    def __init__(self, max_items: int = 100_000) -> None:
        if max_items < 1:
            raise ValueError("max_items must be >= 1")
        self.max_items = max_items
        self.stats = CacheStats()
        self._data: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    async def get_many(self, keys: Sequence[str]) -> list[str | None]:
        out: list[str | None] = []
        for key in keys:
            value = self._data.get(key)
            if value is None:
                self.stats.misses += 1
            else:
                self._data.move_to_end(key)
                self.stats.hits += 1
            out.append(value)
        return out

    async def set_many(self, items: Sequence[tuple[str, str]]) -> None:
        for key, value in items:
            self._data[key] = value
            self._data.move_to_end(key)
        while len(self._data) > self.max_items:
            self._data.popitem(last=False)

    async def close(self) -> None:
        """Nothing to release; entries stay readable (tests and restarts in one process reuse them)."""


class CircuitBreaker:
    """Closed -> open after ``threshold`` consecutive failures; after ``cooldown_s`` one trial call is let
    through (half-open); success closes it, failure re-opens it. ``clock`` is injectable for tests."""

    def __init__(self, threshold: int = 3, cooldown_s: float = 5.0, clock: Any = time.monotonic) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self.opened_count = 0

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    def allow(self) -> bool:
        if self._opened_at is None:
            return True
        if self._clock() - self._opened_at >= self.cooldown_s:
            # half-open: let this one call probe the backend; a failure re-opens for another cooldown
            self._opened_at = self._clock()
            return True
        return False

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None

    def failure(self) -> None:
        self._failures += 1
        if self._opened_at is not None or self._failures >= self.threshold:
            if self._opened_at is None:
                self.opened_count += 1
            self._opened_at = self._clock()


class RedisCache:
    """Redis-backed cache (shared across server replicas). Failures degrade to misses, never errors."""

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        ttl_s: int | None = 7 * 24 * 3600,
        timeout_s: float = 0.2,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        redis_asyncio = require("redis.asyncio", "redis", "the Redis cache")
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.url = url
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.stats = CacheStats()
        self.breaker = breaker or CircuitBreaker()
        # Short socket timeouts and no client-side retries: a dead Redis must cost milliseconds, once.
        self._client = redis_asyncio.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
        )

    async def _call(self, what: str, coro_factory: Any) -> Any:
        if not self.breaker.allow():
            self.stats.skipped += 1
            return None
        try:
            # wait_for bounds the whole call, including DNS and pool checkout, not only socket reads
            result = await asyncio.wait_for(coro_factory(), timeout=self.timeout_s * 2)
        except Exception as exc:  # any backend failure degrades to a miss, by design
            self.stats.errors += 1
            self.breaker.failure()
            log.warning("redis cache %s failed (%s: %s); treating as a miss", what, type(exc).__name__, exc)
            return None
        self.breaker.success()
        return result

    async def get_many(self, keys: Sequence[str]) -> list[str | None]:
        if not keys:
            return []
        values = await self._call("get", lambda: self._client.mget(list(keys)))
        if values is None:
            self.stats.misses += len(keys)
            return [None] * len(keys)
        for value in values:
            if value is None:
                self.stats.misses += 1
            else:
                self.stats.hits += 1
        return list(values)

    async def set_many(self, items: Sequence[tuple[str, str]]) -> None:
        if not items:
            return

        async def store() -> None:
            pipe = self._client.pipeline(transaction=False)
            for key, value in items:
                pipe.set(key, value, ex=self.ttl_s)
            await pipe.execute()

        await self._call("set", store)

    async def ping(self) -> bool:
        return bool(await self._call("ping", self._client.ping))

    async def close(self) -> None:
        try:
            await self._client.aclose()
        except Exception as exc:  # closing a dead connection must not fail shutdown
            log.debug("redis close: %s", exc)


class TieredCache:
    """A fast local cache in front of a shared one: hits in ``near`` skip the network; ``far`` hits are
    copied into ``near``. Stats count an item once: a hit if either tier had it."""

    def __init__(self, near: ResultCache, far: ResultCache) -> None:
        self.near = near
        self.far = far
        self.name = f"{near.name}+{far.name}"
        self.stats = CacheStats()

    async def get_many(self, keys: Sequence[str]) -> list[str | None]:
        values = await self.near.get_many(keys)
        missing = [i for i, v in enumerate(values) if v is None]
        if missing:
            far_values = await self.far.get_many([keys[i] for i in missing])
            promote: list[tuple[str, str]] = []
            for i, value in zip(missing, far_values, strict=True):
                if value is not None:
                    values[i] = value
                    promote.append((keys[i], value))
            await self.near.set_many(promote)
        for value in values:
            if value is None:
                self.stats.misses += 1
            else:
                self.stats.hits += 1
        self.stats.errors = self.far.stats.errors
        self.stats.skipped = self.far.stats.skipped
        return values

    async def set_many(self, items: Sequence[tuple[str, str]]) -> None:
        await self.near.set_many(items)
        await self.far.set_many(items)
        self.stats.errors = self.far.stats.errors
        self.stats.skipped = self.far.stats.skipped

    async def close(self) -> None:
        await self.near.close()
        await self.far.close()


def build_cache(*, memory_items: int, redis_url: str | None) -> ResultCache | None:
    """The cache a server or script asked for: memory LRU (``memory_items`` > 0), Redis, both, or none."""
    memory = MemoryLRU(memory_items) if memory_items > 0 else None
    if redis_url:
        redis_cache = RedisCache(redis_url)
        return TieredCache(memory, redis_cache) if memory is not None else redis_cache
    return memory
