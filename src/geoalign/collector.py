"""The cyclic garbage collector's pace in the processes geoalign runs as a program.

Why: scoring keeps what it read. The embedded matcher's parsed-address cache holds about six
collector-tracked containers an address (the view, its lists and frozensets), and CPython's collector
runs a young-generation pass every 700 net allocations and, as the heap grows, full passes over every
tracked object. With a few hundred thousand cached containers those passes cost a fifth to a quarter of
the embedded matcher's CPU, and more the longer a process runs: 4,096-pair rounds of
``StructuredScorer.score`` in chunks of 256 went from 519 to 665 µs a pair over eight rounds with
Python's thresholds (700, 10, 10), against 472 to 529 µs with a young generation of 50,000
(docs/benchmarks.md, session 41). Scoring makes no reference cycles worth collecting early, so
collecting young objects less often loses nothing but a few megabytes of not-yet-collected garbage.

Applied only where geoalign owns the process, as ``quick_exit`` is: a command run as a program
(``geoalign.cli.main``) and the worker processes it spawns (forked ones inherit it). A library
caller's process keeps its own settings; docs/embedded-matcher.md says how to do the same there.
"""

from __future__ import annotations

import gc
from typing import Final

#: net allocations between young-generation passes (Python's default: 700)
YOUNG_GENERATION: Final[int] = 50_000


def pace_for_long_runs() -> None:
    """Collect young objects every ``YOUNG_GENERATION`` net allocations; never lowers a threshold the
    process already raised (idempotent)."""
    young, middle, old = gc.get_threshold()
    if 0 < young < YOUNG_GENERATION:  # 0: the collector's automatic runs are off, and stay off
        gc.set_threshold(YOUNG_GENERATION, middle, old)


__all__ = ["YOUNG_GENERATION", "pace_for_long_runs"]
