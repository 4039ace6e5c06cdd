"""The behaviour suite's data: hand-written pairs with the label a person expects (``pairs.tsv``).

CheckList-style (Ribeiro et al., 2020): *invariance* pairs (INV) write one place two ways and must be
exact_match; *directional* pairs (DIR) change one component that makes it another place and must never be
exact_match (``not_exact``) or, for another city, must be not_match; *minimum functionality* pairs (MFT)
are identical or unrelated addresses. Every pair is tagged with its category so a report can show which
kind of change a scorer gets wrong. Shared by the test runner and ``scripts/behaviour_report.py``; the
suite is never used to train or tune anything.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Final

SUITE_FILE: Final[Path] = Path(__file__).resolve().parent / "pairs.tsv"
EXPECTATIONS: Final[frozenset[str]] = frozenset({"exact_match", "partial_match", "not_match", "not_exact"})
TYPES: Final[frozenset[str]] = frozenset({"INV", "DIR", "MFT"})


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    type: str
    category: str
    a: str
    b: str
    expect: str

    def passes(self, label: str) -> bool:
        """Whether a scorer's label meets this case's expectation."""
        if self.expect == "not_exact":
            return label != "exact_match"
        return label == self.expect


def load_suite(path: Path = SUITE_FILE) -> list[Case]:
    """The cases of ``pairs.tsv`` (lines starting with ``#`` are comments). ValueError on a malformed row,
    so a typo in the suite fails loudly instead of dropping a case."""
    with path.open(encoding="utf-8", newline="") as f:
        lines = [line for line in f if not line.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))
    cases = []
    for n, row in enumerate(rows, start=1):
        if None in row or any(v is None or not v.strip() for v in row.values()):
            raise ValueError(f"{path}: data row {n} is malformed: {row}")
        case = Case(row["id"], row["type"], row["category"], row["a"], row["b"], row["expect"])
        if case.expect not in EXPECTATIONS or case.type not in TYPES:
            raise ValueError(f"{path}: data row {n} ({case.id}): bad type or expectation")
        cases.append(case)
    return cases
