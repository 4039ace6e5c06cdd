"""The cyclic garbage collector's pace while geoalign scores.

Why: scoring keeps what it read. The embedded matcher's parsed-address cache holds about six
collector-tracked containers an address (the view, its lists and frozensets), and CPython's collector
runs a young-generation pass every 700 net allocations and, as the heap grows, full passes over every
tracked object. With a few hundred thousand cached containers those passes cost a fifth to a quarter of
the embedded matcher's CPU, and more the longer a process runs: 4,096-pair rounds of
``StructuredScorer.score`` in chunks of 256 went from 519 to 665 µs a pair over eight rounds with
Python's thresholds (700, 10, 10), against 472 to 529 µs with a young generation of 50,000
(docs/benchmarks.md, session 41). Scoring makes no reference cycles worth collecting early, so
collecting young objects less often loses nothing but a few megabytes of not-yet-collected garbage.

Set for good only where geoalign owns the process, as ``quick_exit`` is: a command run as a program
(``geoalign.cli.main``), the worker processes it spawns (forked ones inherit it) and Ray's judge
actors. In a library caller's process the Python API's bulk calls (``Matcher.score``, ``predict``,
``link``, ``dedupe``) set it for their own duration only (``paced``) and put the caller's thresholds
back when they return.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

#: net allocations between young-generation passes (Python's default: 700)
YOUNG_GENERATION: Final[int] = 50_000


def pace_for_long_runs() -> None:
    """Collect young objects every ``YOUNG_GENERATION`` net allocations; never lowers a threshold the
    process already raised (idempotent)."""
    young, middle, old = gc.get_threshold()
    if 0 < young < YOUNG_GENERATION:  # 0: the collector's automatic runs are off, and stay off
        gc.set_threshold(YOUNG_GENERATION, middle, old)


_lock = threading.Lock()
_depth = 0  # bulk calls running now (threads, or a call inside another)
_saved: tuple[int, int, int] | None = None  # the caller's thresholds, while ``paced`` holds ours


@contextmanager
def paced() -> Iterator[None]:
    """``pace_for_long_runs`` while the block runs, then the thresholds the process had, unless someone
    set others meanwhile (then theirs stay). Reentrant and thread-safe: the first block in sets the
    pace, the last one out restores it."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            before = gc.get_threshold()
            pace_for_long_runs()
            _saved = before if gc.get_threshold() != before else None
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                if gc.get_threshold() == (YOUNG_GENERATION, *_saved[1:]):  # still ours: give theirs back
                    gc.set_threshold(*_saved)
                _saved = None


__all__ = ["YOUNG_GENERATION", "pace_for_long_runs", "paced"]
