"""The small shared vocabulary every part of geoalign speaks.

Scorers, the engine, the CLI, the HTTP service and the table aligner exchange only these types, so a
backend can be swapped without touching its neighbours. The JSON shapes produced by ``to_dict`` are the
contracts in ARCHITECTURE.md (Match JSON, ItemError JSON); change them only on purpose, everywhere at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal, Protocol, runtime_checkable

Label = Literal["exact_match", "partial_match", "not_match"]

#: Canonical label order used in Match.probabilities and in every output file.
LABELS: Final[tuple[Label, Label, Label]] = ("exact_match", "partial_match", "not_match")

#: The CCKS integer convention used by label files: 0 = not, 1 = partial, 2 = exact.
#: A model's internal id order (MGeo's differs) must never leak into a file; map through names.
CCKS_ID_TO_LABEL: Final[dict[int, Label]] = {0: "not_match", 1: "partial_match", 2: "exact_match"}
LABEL_TO_CCKS_ID: Final[dict[Label, int]] = {v: k for k, v in CCKS_ID_TO_LABEL.items()}

ComponentStatus = Literal["agree", "similar", "conflict", "only_a", "only_b"]

#: Element types of the NAACL-2019 / CCKS-2021 address scheme, coarse to fine.
COMPONENT_NAMES: Final[tuple[str, ...]] = (
    "country",
    "prov",
    "city",
    "district",
    "devzone",
    "town",
    "community",
    "road",
    "roadno",
    "subroad",
    "subroadno",
    "poi",
    "subpoi",
    "houseno",
    "cellno",
    "floorno",
    "roomno",
    "person",
    "assist",
    "redundant",
    "otherinfo",
)


@dataclass(frozen=True, slots=True)
class AddressPair:
    """Two address strings to compare. ``a`` is the query side, ``b`` the candidate/record side.

    Values are kept as given (they may be None or not a string): scorers report such items as
    ``ItemError`` in their slot instead of raising, so one bad row never fails its neighbours.
    """

    a: Any
    b: Any


@dataclass(frozen=True, slots=True)
class Component:
    """One parsed address element.

    ``start``/``end`` are character offsets into the *raw* input (``raw[start:end] == text``);
    ``value`` is the normalized value (digits for numbers: road number, building, unit, floor, room).
    """

    name: str
    text: str
    start: int
    end: int
    value: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "value": self.value,
        }


@dataclass(frozen=True, slots=True)
class Components:
    """A parsed address: the raw input, its normalized form and the components found in it."""

    raw: str
    normalized: str
    items: tuple[Component, ...] = ()

    def get(self, name: str) -> Component | None:
        """The first component of this type, or None."""
        for item in self.items:
            if item.name == name:
                return item
        return None

    def all(self, name: str) -> list[Component]:
        return [item for item in self.items if item.name == name]

    def __iter__(self) -> Iterator[Component]:
        return iter(self.items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "raw": self.raw,
            "normalized": self.normalized,
            "components": [c.to_dict() for c in self.items],
        }


@dataclass(frozen=True, slots=True)
class ComponentComparison:
    """How one component compares across the two addresses of a pair (the explanation unit)."""

    name: str
    a: str | None
    b: str | None
    status: ComponentStatus

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "a": self.a, "b": self.b, "status": self.status}


@dataclass(slots=True)
class Match:
    """A scorer's answer for one pair. ``to_dict`` is the Match JSON of the contracts."""

    label: Label
    probabilities: dict[str, float]
    scorer: str
    model: str
    explanation: dict[str, Any] | None = None
    timings_ms: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "probabilities": {k: float(self.probabilities[k]) for k in LABELS},
            "scorer": self.scorer,
            "model": self.model,
            "explanation": self.explanation,
            "timings_ms": self.timings_ms,
        }

    @property
    def confidence(self) -> float:
        """The highest per-label probability (the cascade's certainty measure)."""
        return max(self.probabilities.values())

    @classmethod
    def from_probabilities(
        cls,
        probabilities: Sequence[float],
        *,
        scorer: str,
        model: str,
        explanation: dict[str, Any] | None = None,
        timings_ms: dict[str, float] | None = None,
    ) -> Match:
        """Build a Match from probabilities given in ``LABELS`` order; the label is the argmax."""
        probs: dict[str, float] = dict(zip(LABELS, map(float, probabilities), strict=True))
        label = max(LABELS, key=probs.__getitem__)  # max keeps the first of equal maxima: LABELS order
        return cls(label, probs, scorer, model, explanation, timings_ms)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Match:
        return cls(
            label=data["label"],
            probabilities=dict(data["probabilities"]),
            scorer=data["scorer"],
            model=data["model"],
            explanation=data.get("explanation"),
            timings_ms=data.get("timings_ms"),
        )


@dataclass(frozen=True, slots=True)
class ItemError:
    """The answer for an item that could not be scored. It stands in that item's slot."""

    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


Result = Match | ItemError


@dataclass(slots=True)
class PreparedItem:
    """One item after a scorer's CPU-side preparation.

    ``cost`` is what the engine budgets batches by (tokens for neural scorers, 1 for cheap ones);
    ``seen`` is exactly the text the scorer will look at (part of the cache key); ``data`` is the
    scorer's own payload (token ids, parsed components, ...), opaque to everyone else; ``explain`` is the
    per-call choice of an explanation (the option travels with the item because the engine regroups
    items of several calls into one batch).
    """

    cost: int
    seen: tuple[str, str]
    data: Any
    timings_ms: dict[str, float] = field(default_factory=dict)
    #: build an explanation for this item? None = the scorer's default (its ``explain`` attribute, see
    #: :class:`Explains`). Set per call by ``score(..., explain=)`` or the engine; part of the cache key.
    explain: bool | None = None
    #: whether ``clean`` cut side a / side b to the length limit: the answer says so
    #: (``explanation.truncated``), so it is part of the cache key beside ``seen`` (a cut long
    #: address and the same text typed short are one text but not one answer)
    cut: tuple[bool, bool] = (False, False)

    @property
    def identity(self) -> tuple[str, str, bool, bool]:
        """What the answer depends on besides the scorer: the text seen and where it was cut."""
        return (self.seen[0], self.seen[1], self.cut[0], self.cut[1])

    def carrying(self, explain: bool | None) -> PreparedItem:
        """This item with the per-call explanation switch ``explain`` (None: as it is): how the switch
        set on a wrapping scorer's item (the rule layer's, the cascade's) reaches the wrapped scorer's."""
        if explain is None or self.explain == explain:
            return self
        return replace(self, explain=explain)


@dataclass(slots=True)
class Prepared:
    """A batch of prepared items, in input order; failed items hold their ItemError.

    The engine may regroup items from several ``Prepared`` batches into a new one (by length, under a
    token budget) before ``run``: a scorer's ``run`` must accept any list of its own PreparedItems.
    """

    items: list[PreparedItem | ItemError]

    def __len__(self) -> int:
        return len(self.items)

    def explaining(self, explain: bool | None) -> Prepared:
        """This batch with the per-call explanation switch set on every item (None: left to the scorer's
        default), as ``score(..., explain=)`` and the engine set it."""
        if explain is not None:
            for item in self.items:
                if isinstance(item, PreparedItem):
                    item.explain = explain
        return self


@dataclass(slots=True)
class Raw:
    """Model outputs for a Prepared batch: ``outputs[i]`` belongs to ``prepared.items[i]``
    (None where that item is an ItemError)."""

    prepared: Prepared
    outputs: list[Any]
    timings_ms: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class Scorer(Protocol):
    """The staged scorer protocol, so the engine can overlap CPU work with the model.

    One bad item yields an ItemError in its slot; it never fails its neighbours.
    """

    name: str

    @property
    def model_id(self) -> str:
        """Model name or checksum (part of every Match and every cache key)."""
        ...

    def prepare(self, pairs: Sequence[AddressPair]) -> Prepared: ...

    def run(self, prepared: Prepared) -> Raw: ...

    def finish(self, raw: Raw) -> list[Result]: ...

    def score(self, pairs: Sequence[AddressPair]) -> list[Result]: ...

    def warmup(self) -> None: ...


# ------------------------------------------------------------------------------ optional scorer features
# Small Protocols for what only some scorers have, so callers ask ``isinstance(scorer, Describes)`` instead
# of probing with getattr. They are runtime-checkable: isinstance checks the names exist (not signatures).


@runtime_checkable
class Describes(Protocol):
    """A scorer that can say what runs (device, dtype, threads, ...): shown by ``profile`` and logs."""

    def describe(self) -> dict[str, Any]: ...


@runtime_checkable
class Explains(Protocol):
    """A scorer whose explanations can be switched off (cheaper; a different answer, so the choice is part
    of the cache key). ``explain`` is the default for items whose ``PreparedItem.explain`` is None; a call
    chooses per item with ``PreparedItem.explain`` (the engine's and ``score``'s ``explain=`` option)."""

    explain: bool


class StatsReport(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


@runtime_checkable
class ReportsStats(Protocol):
    """A scorer that keeps run counters (the cascade: which stage decided how many pairs)."""

    @property
    def stats(self) -> StatsReport: ...


@runtime_checkable
class TokenBudgeted(Protocol):
    """A scorer that cuts its own batches by a budget of padded tokens (neural scorers): an engine in
    front of it should use the same budget, so its length-sorted batches are not re-cut inside ``run``."""

    max_tokens: int


class CheckpointInfo(Protocol):
    """What callers read of a loaded checkpoint (``scorers.checkpoints.Checkpoint`` has it)."""

    model_id: str
    source: str
    is_random: bool


@runtime_checkable
class FromCheckpoint(Protocol):
    """A scorer built from a torch checkpoint (random-init weights must be announced by its callers)."""

    @property
    def checkpoint(self) -> CheckpointInfo: ...


@runtime_checkable
class HasVariant(Protocol):
    """A scorer whose numbers depend on a precision/graph variant beyond its model checksum (torch
    fp32/bf16/fp16, ONNX fp32/int8/...): part of the cache key."""

    @property
    def variant(self) -> str: ...


@runtime_checkable
class RuleVersioned(Protocol):
    """A scorer wrapped in a rule layer whose rules change answers: their version is part of the cache key."""

    @property
    def rules_version(self) -> str: ...
