"""A synchronous face of the async engine, for scripts and notebooks.

The engine runs on its own event loop in a background thread, and calls are handed to it with
``run_coroutine_threadsafe``. That is what makes it work inside Jupyter (whose loop is already running,
so ``asyncio.run`` would fail) and from several caller threads at once: every call still goes through
the one dynamic batcher, so concurrent callers share batches.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

from geoalign.engine.cache import ResultCache
from geoalign.engine.dynamic import AsyncEngine, EngineConfig, EngineObserver, EngineStats
from geoalign.types import AddressPair, Result, Scorer


class SyncEngine:
    """Blocking ``match`` / ``match_many`` over an :class:`AsyncEngine` running in a daemon thread.

    ``with SyncEngine(scorer) as engine: engine.match_many(pairs)``; ``close()`` drains (every accepted
    call gets its answer) and stops the thread.
    """

    def __init__(
        self,
        scorer: Scorer,
        config: EngineConfig | None = None,
        *,
        cache: ResultCache | None = None,
        observer: EngineObserver | None = None,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="geoalign-engine", daemon=True)
        self._thread.start()
        self.engine = AsyncEngine(scorer, config, cache=cache, observer=observer)
        try:
            self._call(self.engine.start())
        except BaseException:
            self._stop_loop()
            raise

    def _call(self, coro: Any, timeout: float | None = None) -> Any:
        if not self._thread.is_alive():
            coro.close()
            raise RuntimeError("SyncEngine is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def match(
        self,
        a: Any,
        b: Any,
        *,
        timeout: float | None = None,
        wait: bool = True,
        explain: bool | None = None,
    ) -> Result:
        """Score one pair: a Match, or an ItemError saying why it could not be scored."""
        coro = self.engine.match(a, b, timeout=timeout, wait=wait, explain=explain)
        return self._call(coro)  # type: ignore[no-any-return]

    def match_many(
        self,
        pairs: Sequence[AddressPair | tuple[Any, Any]],
        *,
        timeout: float | None = None,
        wait: bool = True,
        explain: bool | None = None,
    ) -> list[Result]:
        """Score pairs; results in input order, one Match or ItemError per pair. Any number of pairs:
        they are fed through the bounded queue (``wait=False``: raise EngineOverloaded when full)."""
        coro = self.engine.match_many(pairs, timeout=timeout, wait=wait, explain=explain)
        return self._call(coro)  # type: ignore[no-any-return]

    @property
    def stats(self) -> EngineStats:
        return self.engine.stats

    def close(self) -> None:
        """Drain and stop. Safe to call twice."""
        if not self._thread.is_alive():
            return
        try:
            self._call(self.engine.drain())
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> SyncEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
