"""Per-category pass rates of the behaviour suite (tests/behaviour/pairs.tsv) per scorer -> docs/behaviour.md.

    python scripts/behaviour_report.py                          # structured, structured+rules
    python scripts/behaviour_report.py --model DIR [--model DIR2]   # also each neural model, with and
                                                                    # without the rule layer

A neural model directory is scored by the backend the registry detects for it (a checkpoint -> torch, a
``geoalign export`` directory -> onnx); without ``--model`` no torch or onnx scorer is run. The table shows
how many pairs of each category every scorer gets right, and the failing case ids, so a scorer's weak
spots are visible by kind of change (CheckList). Run from the repository root.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.behaviour.suite import Case, load_suite  # noqa: E402

from geoalign.types import AddressPair, Match  # noqa: E402


def scorers(models: list[str]) -> list[tuple[str, Any]]:
    from geoalign.scorers.registry import build_scorer
    from geoalign.scorers.rules import with_rules
    from geoalign.scorers.structured import StructuredScorer

    out: list[tuple[str, Any]] = [
        ("structured", StructuredScorer()),
        ("structured+rules (default judge)", with_rules(StructuredScorer())),
    ]
    for model in models:
        plain = build_scorer(None, model)
        out.append((f"{plain.name} {Path(model).name}", plain))
        out.append((f"{plain.name}+rules {Path(model).name}", with_rules(build_scorer(None, model))))
    return out


def evaluate(scorer: Any, cases: list[Case]) -> dict[str, list[tuple[Case, str]]]:
    """category -> [(case, label or error code)]."""
    results = scorer.score([AddressPair(c.a, c.b) for c in cases])
    by_category: dict[str, list[tuple[Case, str]]] = defaultdict(list)
    for case, result in zip(cases, results, strict=True):
        label = result.label if isinstance(result, Match) else f"error:{result.code}"
        by_category[case.category].append((case, label))
    return by_category


def render(cases: list[Case], reports: list[tuple[str, dict[str, list[tuple[Case, str]]]]]) -> str:
    categories = list(dict.fromkeys(c.category for c in cases))
    kinds = {c.category: c.type for c in cases}
    lines = [
        "# Behaviour suite: pass rate per category and scorer",
        "",
        "Written by `scripts/behaviour_report.py` from `tests/behaviour/pairs.tsv` (hand-written pairs, "
        "CheckList-style: INV = one place written two ways, must be exact_match; DIR = one component "
        "changed, must not be exact_match (another city: not_match); MFT = identical or unrelated). The "
        "default judge must pass all of them (`tests/behaviour/test_behaviour.py`).",
        "",
        "| category | type | n | " + " | ".join(name for name, _ in reports) + " |",
        "|---|---|---:|" + "---:|" * len(reports),
    ]
    totals = [0] * len(reports)
    for category in categories:
        cells = []
        n = 0
        for k, (_, report) in enumerate(reports):
            rows = report[category]
            n = len(rows)
            ok = sum(case.passes(label) for case, label in rows)
            totals[k] += ok
            cells.append(f"{ok}/{n}")
        lines.append(f"| {category} | {kinds[category]} | {n} | " + " | ".join(cells) + " |")
    lines.append(
        f"| **all** | | {len(cases)} | "
        + " | ".join(f"**{t}/{len(cases)} ({t / len(cases):.0%})**" for t in totals)
        + " |"
    )
    lines += ["", "## Failures", ""]
    for name, report in reports:
        failed = [
            f"`{case.id}` ({label})"
            for rows in report.values()
            for case, label in rows
            if not case.passes(label)
        ]
        lines.append(f"- **{name}**: " + (", ".join(failed) if failed else "none"))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], help="a neural model directory (repeatable)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "behaviour.md"))
    args = parser.parse_args(argv)
    cases = load_suite()
    reports = [(name, evaluate(scorer, cases)) for name, scorer in scorers(args.model)]
    Path(args.out).write_text(render(cases, reports), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
