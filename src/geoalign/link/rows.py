"""Typed output rows of link and dedupe, and their one rendering into table columns.

The per-chunk core (``geoalign.link.core``) returns ``LinkResult``s; the file driver, the in-memory API
and the Ray engine all turn them into columns with ``link_values`` / ``DedupeRow.values``, so the three
outputs are the same by construction. Nothing reads a row's fields back by position or by name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from geoalign.io.writers import nested_json
from geoalign.link.candidates import Judged, Record, probabilities_of
from geoalign.types import ItemError, Match

LINK_RESULT_COLUMNS = (
    "status",
    "label",
    "p_exact_match",
    "p_partial_match",
    "p_not_match",
    "p_exact_reverse",
    "same_place",
    "margin",
    "second_right_id",
    "n_candidates",
    "candidate_source",
    "explanation",
    "error",
)
#: The columns after a dedupe row's id, address and carried columns.
DEDUPE_RESULT_COLUMNS = ("cluster_id", "cluster_size", "status", "error")


class LinkStatus(Enum):
    """``match``: the best candidate is the same place; ``no_match``: candidates, none the same place
    (the best one is still shown); ``no_candidates``: blocking found nothing; ``error``: the record
    (or every scoring of it) failed, with the reason in ``error``."""

    MATCH = "match"
    NO_MATCH = "no_match"
    NO_CANDIDATES = "no_candidates"
    ERROR = "error"


class DedupeStatus(Enum):
    """``existing`` / ``new`` in incremental mode, ``record`` otherwise; ``error`` for a record that
    cannot take part (empty address, missing id, malformed row), with the reason in ``error``."""

    RECORD = "record"
    EXISTING = "existing"
    NEW = "new"
    ERROR = "error"


#: Columns whose cells are JSON text (one type for every engine and for Parquet); JSONL nests them.
JSON_TEXT_COLUMNS = ("explanation", "error")


def row_dict(columns: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    """A row as the in-memory API returns it: the JSON-text columns as objects, as JSONL writes them."""
    return {
        name: nested_json(value) if name in JSON_TEXT_COLUMNS else value
        for name, value in zip(columns, values, strict=True)
    }


def error_text(error: ItemError) -> str:
    """The ``error`` column: the ItemError's JSON object (code, message) as text."""
    return json.dumps(error.to_dict()["error"], ensure_ascii=False)


def link_columns(left_carry: Sequence[str], right_carry: Sequence[str]) -> list[str]:
    left, right = carried_names(left_carry, right_carry)
    return [
        "left_id",
        "left_address",
        *left,
        "status",
        "right_id",
        "right_address",
        *right,
        *LINK_RESULT_COLUMNS[1:],
    ]


def dedupe_columns(carry: Sequence[str]) -> list[str]:
    return ["id", "address", *dedupe_carried_names(carry), *DEDUPE_RESULT_COLUMNS]


#: What a carried column's name gets in front of it while it is another output column's name (as
#: ``geoalign score`` writes an input ``label`` column): no value is overwritten or written twice.
CLASH_PREFIX = "input_"


def _unclashed(names: Sequence[str], taken: set[str]) -> list[str]:
    out = []
    for name in names:
        while name in taken:
            name = f"{CLASH_PREFIX}{name}"
        taken.add(name)
        out.append(name)
    return out


def carried_names(left_carry: Sequence[str], right_carry: Sequence[str]) -> tuple[list[str], list[str]]:
    """The link output's names of the carried columns: ``left_`` / ``right_`` + the column's name, with
    ``CLASH_PREFIX`` in front while that is another column's name (``--carry-right id`` beside
    ``right_id``, a column carried twice)."""
    taken = {"left_id", "left_address", "right_id", "right_address", *LINK_RESULT_COLUMNS}
    left = _unclashed([f"left_{c}" for c in left_carry], taken)
    return left, _unclashed([f"right_{c}" for c in right_carry], taken)


def dedupe_carried_names(carry: Sequence[str]) -> list[str]:
    """The dedupe output's names of the carried columns: their own, with ``CLASH_PREFIX`` in front while
    that is an output column's (a register's own ``status`` is written as ``input_status``)."""
    return _unclashed(list(carry), {"id", "address", *DEDUPE_RESULT_COLUMNS})


def link_carry_notice(left_carry: Sequence[str], right_carry: Sequence[str]) -> str | None:
    """What a link run tells the user when a carried column is written under another name than
    ``left_`` / ``right_`` + its own (``id -> input_right_id``); None when none is."""
    left, right = carried_names(left_carry, right_carry)
    return _renamed_notice(
        (c, w, f"{prefix}{c}")
        for prefix, carry, written in (("left_", left_carry, left), ("right_", right_carry, right))
        for c, w in zip(carry, written, strict=True)
    )


def dedupe_carry_notice(carry: Sequence[str]) -> str | None:
    """What a dedupe run tells the user when a carried column is written under another name than its own
    (``status -> input_status``); None when none is."""
    return _renamed_notice((c, w, c) for c, w in zip(carry, dedupe_carried_names(carry), strict=True))


def _renamed_notice(columns: Iterable[tuple[str, str, str]]) -> str | None:
    """From (column, written name, name it would have had): the notice, or None."""
    renamed = [f"{c} -> {w}" for c, w, plain in columns if w != plain]
    if not renamed:
        return None
    return f"carried columns written under another name (an output column has theirs): {', '.join(renamed)}"


@dataclass(frozen=True, slots=True)
class LinkResult:
    """The answer for one query (left) record: its status and, when anything was scored, the best
    candidate (``best`` judged against record ``right``), the runner-up's record and the margin."""

    left: Record
    status: LinkStatus
    n_candidates: int
    best: Judged | None = None
    right: Record | None = None
    second: Record | None = None
    margin: float | None = None
    error: ItemError | None = None
    #: where the best candidate came from: rules, ann or both (``core.SOURCES``)
    source: str | None = None


def link_result(
    left: Record, records: Sequence[Record], judged: list[Judged], n_candidates: int
) -> LinkResult:
    """Pick the best of a query's judged candidates (``Judged.rank``: the forward exact probability;
    the judge's order breaks ties); the row is a ``match`` when that candidate is the same place."""
    if left.error is not None:
        return LinkResult(left, LinkStatus.ERROR, 0, error=left.error)
    usable = [j for j in judged if isinstance(j.forward, Match)]
    if not usable:
        errors = [j.forward for j in judged if isinstance(j.forward, ItemError)]
        if errors:
            return LinkResult(left, LinkStatus.ERROR, n_candidates, error=errors[0])
        return LinkResult(left, LinkStatus.NO_CANDIDATES, n_candidates)
    usable.sort(key=lambda j: j.rank, reverse=True)
    best = usable[0]
    second = usable[1] if len(usable) > 1 else None
    margin = best.rank_score - (second.rank_score if second is not None else 0.0)
    return LinkResult(
        left,
        LinkStatus.MATCH if best.same_place else LinkStatus.NO_MATCH,
        n_candidates,
        best=best,
        right=records[best.c],
        second=records[second.c] if second is not None else None,
        margin=margin,
    )


def _explanation(best: Judged, forward: Match) -> dict[str, Any]:
    explanation = dict(forward.explanation or {})
    if best.conflicts:
        explanation["hard_number_conflicts"] = best.conflicts
    if isinstance(best.reverse, Match):
        explanation["reverse_label"] = best.reverse.label
    if best.identical:
        explanation["decided_by"] = "identical_normalized_text"
    return explanation


def link_values(result: LinkResult, n_right_carry: int, with_explanation: bool) -> list[Any]:
    """The row of ``link_columns`` for ``result``."""
    left = result.left
    base = [left.id, left.address, *left.carry]
    if result.best is None or result.right is None:
        empty_right = [None, None, *([None] * n_right_carry)]
        error = error_text(result.error) if result.error is not None else None
        tail = [result.n_candidates, None, None, error]
        return [*base, result.status.value, *empty_right, *([None] * 8), *tail]
    best, target = result.best, result.right
    forward = best.forward
    assert isinstance(forward, Match)
    explanation = _explanation(best, forward) if with_explanation else None
    reverse = best.p_reverse
    return [
        *base,
        result.status.value,
        target.id,
        target.address,
        *target.carry,
        forward.label,
        *probabilities_of(forward),
        None if reverse is None else round(reverse, 6),
        best.same_place,
        round(result.margin or 0.0, 6),
        result.second.id if result.second is not None else None,
        result.n_candidates,
        result.source or "rules",
        json.dumps(explanation, ensure_ascii=False) if explanation is not None else None,
        None,
    ]


@dataclass(frozen=True, slots=True)
class DedupeRow:
    """One record of a dedupe output with its cluster (None for an unusable record)."""

    record: Record
    status: DedupeStatus
    cluster_id: str | None = None
    cluster_size: int | None = None

    def values(self, n_carry: int) -> list[Any]:
        """The row of ``dedupe_columns``; a record whose table lacks the carried columns (an existing
        aligned table) gets empty ones."""
        record = self.record
        carry = record.carry if len(record.carry) == n_carry else [None] * n_carry
        error = error_text(record.error) if record.error is not None else None
        return [
            record.id,
            record.address,
            *carry,
            self.cluster_id,
            self.cluster_size,
            self.status.value,
            error,
        ]


__all__ = [
    "DEDUPE_RESULT_COLUMNS",
    "JSON_TEXT_COLUMNS",
    "LINK_RESULT_COLUMNS",
    "DedupeRow",
    "DedupeStatus",
    "LinkResult",
    "LinkStatus",
    "carried_names",
    "dedupe_carried_names",
    "dedupe_carry_notice",
    "dedupe_columns",
    "error_text",
    "link_carry_notice",
    "link_columns",
    "link_result",
    "link_values",
    "row_dict",
]
