"""Training data for the neural matcher: which pairs train, which select, which are frozen.

Splits are the embedded matcher's (``scorers/structured_train``): the frozen test fold is a hash of the
query, so the neural model and the structured model never see each other's test pairs, and the
validation split (used to choose epochs, the route and the stack) is CV fold 0 of the development part,
again grouped by query. Nothing here reads the frozen fold's labels except :func:`ccks_splits`'s
``test`` list, which only evaluation scripts use.

Auxiliary sources carry *coarse* labels: a Shenzhen "match" (same entity at the coarser string's level)
means exact_match or partial_match, never one of them, so it is trained as "not not_match" (the loss is
the log of the summed probability of the allowed labels) — no invented three-way labels.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from geoalign.errors import DataFormatError
from geoalign.io.labels import read_labelled_pairs
from geoalign.scorers.structured_train import cv_fold, is_test_query
from geoalign.types import LABELS, Label

#: Model output order of geoalign's neural matcher (the CCKS integer order: 0 not, 1 partial, 2 exact).
MODEL_LABELS: Final[tuple[Label, Label, Label]] = ("not_match", "partial_match", "exact_match")
VALIDATION_FOLD: Final[int] = 0
VALIDATION_FOLDS: Final[int] = 5

#: Allowed-label masks, in MODEL_LABELS order, for coarse (binary) supervision.
MASK_EXACT: Final = (False, False, True)
MASK_PARTIAL: Final = (False, True, False)
MASK_NOT: Final = (True, False, False)
MASK_MATCH: Final = (False, True, True)  # exact or partial: a Shenzhen "1"
MASK_UNLABELLED: Final = (True, True, True)  # no label: only a teacher's soft labels train on it


@dataclass(frozen=True, slots=True)
class TrainPair:
    """One training pair: its texts and which model labels are correct (one, or more for coarse labels)."""

    a: str
    b: str
    allowed: tuple[bool, bool, bool]
    source: str

    @property
    def label_index(self) -> int:
        """The single correct model label (only for three-way pairs)."""
        if sum(self.allowed) != 1:
            raise ValueError("a coarse pair has no single label")
        return self.allowed.index(True)


def mask_of(label: Label) -> tuple[bool, bool, bool]:
    return {"exact_match": MASK_EXACT, "partial_match": MASK_PARTIAL, "not_match": MASK_NOT}[label]


@dataclass(frozen=True, slots=True)
class CcksSplits:
    train: list[TrainPair]
    validation: list[TrainPair]
    test: list[TrainPair]


def ccks_splits(path: str | Path) -> CcksSplits:
    """The CCKS slice as (train, validation, frozen test), grouped by query as the structured trainer does."""
    train: list[TrainPair] = []
    validation: list[TrainPair] = []
    test: list[TrainPair] = []
    for pair in read_labelled_pairs(path):
        item = TrainPair(pair.a, pair.b, mask_of(pair.label), "ccks")
        if is_test_query(pair.a):
            test.append(item)
        elif cv_fold(pair.a, VALIDATION_FOLDS) == VALIDATION_FOLD:
            validation.append(item)
        else:
            train.append(item)
    return CcksSplits(train, validation, test)


def read_binary_pairs(path: str | Path, *, source: str) -> list[TrainPair]:
    """``a<TAB>b<TAB>0|1`` files (the Shenzhen pairs): 1 -> exact or partial, 0 -> not_match."""
    out: list[TrainPair] = []
    for line_no, row in _tsv_rows(path):
        if len(row) != 3 or row[2].strip() not in {"0", "1"}:
            raise DataFormatError(f"{path}:{line_no}: expected a<TAB>b<TAB>0|1, got {len(row)} columns")
        out.append(TrainPair(row[0], row[1], MASK_MATCH if row[2].strip() == "1" else MASK_NOT, source))
    return out


def read_unlabelled_pairs(path: str | Path, *, source: str = "transfer") -> list[TrainPair]:
    """``a<TAB>b`` files without a label (``scripts/mine_transfer_pairs.py``): pairs a teacher labels."""
    out: list[TrainPair] = []
    for line_no, row in _tsv_rows(path):
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise DataFormatError(f"{path}:{line_no}: expected a<TAB>b (two non-empty texts), got {row!r}")
        out.append(TrainPair(row[0], row[1], MASK_UNLABELLED, source))
    return out


def _tsv_rows(path: str | Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of a tab-separated file, no quoting (addresses may hold quote marks)."""
    with open(path, encoding="utf-8", newline="") as handle:
        yield from enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), start=1)


def synthetic_pairs(rows: Iterable[tuple[str, str, Label, str]]) -> list[TrainPair]:
    """Rule-made pairs from ``geoalign.address.synth.generate_pairs`` (a, b, label, transformation)."""
    return [TrainPair(a, b, mask_of(label), f"synth:{kind}") for a, b, label, kind in rows]


def texts_of(pairs: Sequence[TrainPair]) -> set[str]:
    return {p.a for p in pairs} | {p.b for p in pairs}


def read_lines(path: str | Path) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle if line.strip()]


assert set(MODEL_LABELS) == set(LABELS)
