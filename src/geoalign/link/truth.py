"""``geoalign link --truth PAIRS``: how the links a run writes compare with known true pairs.

Per left record that has at least one true right record, the run's outcome falls in exactly one place:

* ``found`` — the written link (status ``match``) is a true pair;
* ``lost_blocking`` — no true pair was among the candidates (neither rules nor ANN brought it);
* ``lost_ranking`` — a true pair was a candidate, but the best candidate is another record;
* ``lost_threshold`` — the best candidate is a true pair but was not judged the same place.

Plus top-1 (the best candidate, written or not, is a true pair), and the precision / recall of the
written links (precision over every written link, including left records without a true pair: a link
written for them is wrong by the labels).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from geoalign.link.core import Candidates
from geoalign.link.rows import LinkResult, LinkStatus


@dataclass(slots=True)
class TruthTally:
    truth: dict[str, set[str]]
    left_with_truth: int = 0
    top1: int = 0
    written: int = 0
    written_true: int = 0
    outcome: dict[str, int] = field(
        default_factory=lambda: {"found": 0, "lost_blocking": 0, "lost_ranking": 0, "lost_threshold": 0}
    )
    top1_by_source: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_pairs(cls, pairs: Sequence[tuple[str, str]]) -> TruthTally:
        truth: dict[str, set[str]] = {}
        for left, right in pairs:
            truth.setdefault(str(left), set()).add(str(right))
        return cls(truth)

    def observe(self, results: Sequence[LinkResult], candidates: Candidates) -> None:
        for q, result in enumerate(results):
            best = result.right.id if result.right is not None else None
            written = result.status is LinkStatus.MATCH
            want = self.truth.get(result.left.id)
            if written:
                self.written += 1
                self.written_true += bool(want and best in want)
            if not want:
                continue
            self.left_with_truth += 1
            if best in want:
                self.top1 += 1
                source = result.source or "rules"
                self.top1_by_source[source] = self.top1_by_source.get(source, 0) + 1
            ids = {candidates.records[c].id for c in candidates.per_query[q]}
            if written and best in want:
                place = "found"
            elif not ids & want:
                place = "lost_blocking"
            elif best not in want:
                place = "lost_ranking"
            else:
                place = "lost_threshold"
            self.outcome[place] += 1
            if place != "found":
                shown = self.examples.setdefault(place, [])
                if len(shown) < 10:
                    shown.append(result.left.id)

    def counts_only(self) -> TruthTally:
        """This tally without the true pairs (small, picklable: what a worker process sends back)."""
        return replace(self, truth={})

    def merge(self, other: TruthTally) -> None:
        """Add the tally of later left records (``other``); examples stay the first 10 in input order."""
        self.left_with_truth += other.left_with_truth
        self.top1 += other.top1
        self.written += other.written
        self.written_true += other.written_true
        for place, n in other.outcome.items():
            self.outcome[place] = self.outcome.get(place, 0) + n
        for source, n in other.top1_by_source.items():
            self.top1_by_source[source] = self.top1_by_source.get(source, 0) + n
        for place, ids in other.examples.items():
            shown = self.examples.setdefault(place, [])
            shown.extend(ids[: max(0, 10 - len(shown))])

    def report(self) -> dict[str, Any]:
        n = self.left_with_truth
        return {
            "left_with_truth": n,
            "top1": round(self.top1 / n, 4) if n else None,
            "top1_by_source": self.top1_by_source,
            "written_links": self.written,
            "precision": round(self.written_true / self.written, 4) if self.written else None,
            "recall": round(self.outcome["found"] / n, 4) if n else None,
            "outcome": dict(self.outcome),
            "lost_examples": self.examples,
        }


def format_truth(report: dict[str, Any]) -> str:
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    outcome = report["outcome"]
    lines = [
        f"  against --truth ({report['left_with_truth']:,} left records with a true pair): "
        f"top-1 {pct(report['top1'])}; written links {report['written_links']:,}, "
        f"precision {pct(report['precision'])}, recall {pct(report['recall'])}",
        f"    lost: {outcome['lost_blocking']:,} at blocking (no true pair among the candidates), "
        f"{outcome['lost_ranking']:,} at ranking (another candidate ranked first), "
        f"{outcome['lost_threshold']:,} at the threshold (best is true, not judged the same place)",
    ]
    for place, ids in report["lost_examples"].items():
        lines.append(f"    {place}, e.g. left ids: {', '.join(ids)}")
    return "\n".join(lines)


__all__ = ["TruthTally", "format_truth"]
