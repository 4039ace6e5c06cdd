"""Deterministic test scorers implementing the staged Scorer protocol, for engine and server tests.

``RecordingScorer`` models a neural scorer: ``cost`` = tokens (characters + 3 special tokens), ``run``
optionally sleeps per token (the benchmark's stand-in for compute) and records every batch it sees,
and a gate lets a test hold the model busy so a backlog builds (no timing assertions needed).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from geoalign.address.clean import clean
from geoalign.types import AddressPair, ItemError, Match, Prepared, PreparedItem, Raw, Result

#: an address equal to this makes ``run`` raise (a model crash on one item)
BOOM = "boom-爆炸"
#: an address equal to this is rejected by ``prepare`` with ItemError code "rejected"
REJECT = "reject-拒绝"


class RecordingScorer:
    """Fake neural pair scorer: equal texts -> exact_match, same first 3 chars -> partial, else not."""

    name = "fake"

    def __init__(self, *, per_token_s: float = 0.0, model_id: str = "fake-v1") -> None:
        self.per_token_s = per_token_s
        self._model_id = model_id
        self.lock = threading.Lock()
        #: every batch ``run`` was called with, as the list of ``seen`` pairs
        self.batches: list[list[tuple[str, str]]] = []
        self.prepare_calls = 0
        self.warmed = False
        #: set by ``run`` when a batch enters the model; a test clears it to wait for the next one
        self.entered = threading.Event()
        #: while ``hold`` is set, ``run`` blocks until ``release`` is set
        self.hold = threading.Event()
        self.release = threading.Event()

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def seen_items(self) -> list[tuple[str, str]]:
        with self.lock:
            return [item for batch in self.batches for item in batch]

    def warmup(self) -> None:
        self.warmed = True

    def prepare(self, pairs: Sequence[AddressPair]) -> Prepared:
        self.prepare_calls += 1
        items: list[PreparedItem | ItemError] = []
        for pair in pairs:
            a, b = clean(pair.a), clean(pair.b)
            if isinstance(a, ItemError):
                items.append(a)
            elif isinstance(b, ItemError):
                items.append(b)
            elif REJECT in (a.text, b.text):
                items.append(ItemError("rejected", "this test address is always rejected"))
            else:
                items.append(PreparedItem(len(a.text) + len(b.text) + 3, (a.text, b.text), None))
        return Prepared(items)

    def run(self, prepared: Prepared) -> Raw:
        seen = [item.seen for item in prepared.items if isinstance(item, PreparedItem)]
        with self.lock:
            self.batches.append(seen)
        self.entered.set()
        if self.hold.is_set():
            self.release.wait(timeout=30)
        if any(BOOM in pair for pair in seen):
            raise RuntimeError("simulated model crash")
        if self.per_token_s:
            tokens = sum(item.cost for item in prepared.items if isinstance(item, PreparedItem))
            time.sleep(self.per_token_s * tokens)
        outputs = [
            None if isinstance(item, ItemError) else _probabilities(*item.seen) for item in prepared.items
        ]
        return Raw(prepared, outputs)

    def finish(self, raw: Raw) -> list[Result]:
        results: list[Result] = []
        for item, probs in zip(raw.prepared.items, raw.outputs, strict=True):
            if isinstance(item, ItemError):
                results.append(item)
            else:
                results.append(Match.from_probabilities(probs, scorer=self.name, model=self.model_id))
        return results

    def score(self, pairs: Sequence[AddressPair]) -> list[Result]:
        return self.finish(self.run(self.prepare(pairs)))


def _probabilities(a: str, b: str) -> tuple[float, float, float]:
    if a == b:
        return (0.9, 0.07, 0.03)
    if a[:3] == b[:3]:
        return (0.1, 0.8, 0.1)
    return (0.02, 0.08, 0.9)


def expected_label(a: str, b: str) -> str:
    """What RecordingScorer answers for a clean pair (for assertions)."""
    probs = _probabilities(a, b)
    return ("exact_match", "partial_match", "not_match")[probs.index(max(probs))]


class ScoreOnlyScorer:
    """Base of fakes that answer through ``score`` alone (a cascade's neural stage calls nothing else):
    the staged methods are not used, and say so if called."""

    name = "onnx"
    model_id = "onnx-test"

    def prepare(self, pairs: Sequence[AddressPair]) -> Prepared:  # pragma: no cover - not used
        raise NotImplementedError

    def run(self, prepared: Prepared) -> Raw:  # pragma: no cover - not used
        raise NotImplementedError

    def finish(self, raw: Raw) -> list[Result]:  # pragma: no cover - not used
        raise NotImplementedError

    def warmup(self) -> None:
        pass
