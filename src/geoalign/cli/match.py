"""``geoalign match A B``: compare two addresses; label, probabilities and which components agree."""

from __future__ import annotations

import argparse
import json
import unicodedata
from typing import Any

from geoalign.types import LABELS, Match


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from geoalign.scorers.spec import ScorerSpec

    parser.add_argument("a", help="first address (the query side)")
    parser.add_argument("b", help="second address (the candidate/record side)")
    parser.add_argument("--json", action="store_true", help="print the Match JSON")
    ScorerSpec.add_arguments(parser)


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: two for a wide or full-width character (CJK), else one."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def format_match(match: Match) -> str:
    """Human-readable rendering of a Match."""
    lines = [f"label: {match.label}"]
    lines.append("probabilities: " + "  ".join(f"{name} {match.probabilities[name]:.3f}" for name in LABELS))
    components: list[dict[str, Any]] = (match.explanation or {}).get("components", [])
    if components:
        lines.append("components:")
        width = max(len(c["name"]) for c in components)
        left = max(display_width(c["a"] or "-") for c in components)
        for c in components:
            a, b = c["a"] or "-", c["b"] or "-"
            pad = " " * (left - display_width(a))  # a Chinese character takes two columns of a terminal
            lines.append(f"  {c['name']:<{width}}  {a}{pad}  | {b}  [{c['status']}]")
    rules: list[str] = (match.explanation or {}).get("rules", [])
    if rules:
        # which rule changed the scorer's answer, and on what: the reason a user looks for first
        why = [f"{c['name']} {c['a']} | {c['b']}" for c in (match.explanation or {}).get("conflicts", [])]
        lines.append("rules: " + ", ".join(rules) + (f" ({'; '.join(why)})" if why else ""))
    lines.append(f"scorer: {match.scorer} ({match.model})")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from geoalign.api import Matcher
    from geoalign.scorers.spec import ScorerSpec

    matcher = Matcher(ScorerSpec.from_args(args))
    result = matcher.match(args.a, args.b)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        print(format_match(result))
    return 0
