"""Per-stage timings of any scorer, through the staged protocol (prepare / run / finish).

Why through the protocol: the same profile then works for every backend (torch, ONNX, structured,
cascade) without the profiler knowing their insides. Wall time of each protocol call is measured here;
``prepare`` is split into the sub-stages the scorer reports per item in ``PreparedItem.timings_ms``
(``normalize``, ``tokenize``, ``parse`` ...), with any unreported remainder shown as ``prepare (other)``,
so the table always adds up to the measured total.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from geoalign.types import LABELS, AddressPair, Describes, ItemError, Match, PreparedItem, Result, Scorer

#: Display names of the protocol stages.
FORWARD = "forward"
POST = "post-process"


@dataclass(slots=True)
class ProfileReport:
    """Stage totals (ms) for ``n_pairs`` pairs; ``meta`` describes what ran (device, dtype, ...)."""

    scorer: str
    model: str
    n_pairs: int
    n_errors: int
    stages: dict[str, float]
    meta: dict[str, Any] = field(default_factory=dict)
    agreement: dict[str, Any] | None = None

    @property
    def total_ms(self) -> float:
        return sum(self.stages.values())

    def rows(self) -> list[dict[str, Any]]:
        """One row per stage plus ``total``: ms per pair, share of total, pairs/s if it were the only cost."""
        n = max(1, self.n_pairs)
        total = self.total_ms
        out = []
        for name, ms in [*self.stages.items(), ("total", total)]:
            out.append(
                {
                    "stage": name,
                    "ms_total": round(ms, 3),
                    "ms_per_pair": round(ms / n, 4),
                    "share": round(ms / total, 4) if total else 0.0,
                    "pairs_per_s": round(n / (ms / 1000), 1) if ms > 0 else None,
                }
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "scorer": self.scorer,
            "model": self.model,
            "pairs": self.n_pairs,
            "errors": self.n_errors,
            "stages": self.rows(),
            "pairs_per_s": round(self.n_pairs / (self.total_ms / 1000), 2) if self.total_ms else None,
            "meta": self.meta,
            "agreement": self.agreement,
        }

    def format_table(self) -> str:
        header = f"{'stage':<18} {'ms/pair':>10} {'share':>7} {'pairs/s':>10}"
        lines = [header, "-" * len(header)]
        for row in self.rows():
            pps = "-" if row["pairs_per_s"] is None else f"{row['pairs_per_s']:.1f}"
            lines.append(f"{row['stage']:<18} {row['ms_per_pair']:>10.3f} {row['share']:>7.1%} {pps:>10}")
        return "\n".join(lines)


def profile_scorer(
    scorer: Scorer, pairs: Sequence[AddressPair], *, chunk_size: int = 1024, warmup: bool = True
) -> tuple[ProfileReport, list[Result]]:
    """Score ``pairs`` in chunks through prepare → run → finish and time each stage.

    ``warmup`` runs the scorer's own warm-up first (allocators, kernels, compiled graphs) so one-off
    start-up cost does not pollute per-pair figures.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    if warmup:
        scorer.warmup()
    prepare_ms = run_ms = finish_ms = 0.0
    reported: dict[str, float] = {}
    results: list[Result] = []
    for start in range(0, len(pairs), chunk_size):
        chunk = pairs[start : start + chunk_size]
        t0 = time.perf_counter()
        prepared = scorer.prepare(chunk)
        t1 = time.perf_counter()
        raw = scorer.run(prepared)
        t2 = time.perf_counter()
        results.extend(scorer.finish(raw))
        t3 = time.perf_counter()
        prepare_ms += (t1 - t0) * 1000
        run_ms += (t2 - t1) * 1000
        finish_ms += (t3 - t2) * 1000
        for item in prepared.items:
            if isinstance(item, PreparedItem):
                for key, ms in item.timings_ms.items():
                    reported[key] = reported.get(key, 0.0) + ms
    stages = _split_prepare(prepare_ms, reported)
    stages[FORWARD] = run_ms
    stages[POST] = finish_ms
    n_errors = sum(1 for r in results if isinstance(r, ItemError))
    meta = scorer.describe() if isinstance(scorer, Describes) else {}
    report = ProfileReport(scorer.name, scorer.model_id, len(pairs), n_errors, stages, meta)
    return report, results


def _split_prepare(prepare_ms: float, reported: dict[str, float]) -> dict[str, float]:
    """Share the measured prepare wall time among the sub-stages the scorer reported.

    Per-item timings are estimates (amortised shares of a batch call), so they are scaled to the measured
    wall time when they overshoot it; what they leave unexplained becomes ``prepare (other)``.
    """
    parts = {k: v for k, v in reported.items() if k not in (FORWARD, "forward", "post") and v > 0}
    if not parts:
        return {"prepare": prepare_ms}
    covered = sum(parts.values())
    if covered > prepare_ms:
        return {k: v * prepare_ms / covered for k, v in parts.items()}
    out = dict(parts)
    rest = prepare_ms - covered
    if rest > 0.1 * prepare_ms:
        out["prepare (other)"] = rest
    else:  # rounding noise: fold it into the largest part so the table still adds up
        biggest = max(out, key=out.__getitem__)
        out[biggest] += rest
    return out


def compare_results(reference: Sequence[Result], other: Sequence[Result]) -> dict[str, Any]:
    """Agreement of a lower-precision run with a reference run on the same pairs.

    ``max_abs_prob_diff`` is the largest difference of any label probability; ``label_agreement`` the
    share of pairs with the same argmax label. Pairs that failed in either run are left out (counted).
    """
    if len(reference) != len(other):
        raise ValueError("both runs must score the same pairs")
    diffs: list[float] = []
    same = 0
    skipped = 0
    for ref, got in zip(reference, other, strict=True):
        if not isinstance(ref, Match) or not isinstance(got, Match):
            skipped += 1
            continue
        diffs.append(max(abs(ref.probabilities[k] - got.probabilities[k]) for k in LABELS))
        same += ref.label == got.label
    n = len(diffs)
    return {
        "n": n,
        "skipped": skipped,
        "max_abs_prob_diff": max(diffs) if diffs else None,
        "mean_abs_prob_diff": sum(diffs) / n if n else None,
        "label_agreement": same / n if n else None,
    }
