"""``geoalign verify-mgeo DIR``: is this MGeo checkpoint loaded exactly?

Runs the public reference pairs of the ModelScope EA model card and the official MGeoExample outputs
(model revision v1.2.0) through the torch scorer in fp32 and prints, per pair, expected vs got. Every
published probability must match within the tolerance (1e-4) and the top label must agree. A wrong label
order, a dropped layer or a silently re-initialised encoder all fail here. The reference outputs of an
older revision are checked too, for information only (weights differ between revisions).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

#: (text_a, text_b, {label: published probability}, source). Revision v1.2.0: the acceptance set.
GOLDEN_V120: Final[tuple[tuple[str, str, dict[str, float], str], ...]] = (
    (
        "紫萱路363号人力社保局",
        "紫萱路363号市人社局",
        {
            "exact_match": 0.9217355251312256,
            "partial_match": 0.06451419740915298,
            "not_match": 0.013750356622040272,
        },
        "EA model card",
    ),
    (
        "紫萱路363号人力社保局",
        "紫萱路市人社局",
        {"exact_match": 0.7601330876350403},
        "MGeoExample test_out.xlsx",
    ),
    (
        "紫萱路363号人力社保局",
        "榆林市榆阳区康安路榆林市第二医院",
        {"not_match": 0.9987382292747498},
        "MGeoExample test_out.xlsx",
    ),
    (
        "栖霞区仙林街道文枢东路2号商住楼4楼",
        "栖霞区文枢东路2号书店",
        {"partial_match": 0.9177266359329224},
        "MGeoExample test_out.xlsx",
    ),
)

#: Outputs published before v1.1.2 was pinned (MGeoExample @ 4a5c226): informational only.
GOLDEN_OLDER: Final[tuple[tuple[str, str, dict[str, float], str], ...]] = (
    (
        "紫萱路363号人力社保局",
        "紫萱路363号市人社局",
        {"exact_match": 0.65196722745895386},
        "MGeoExample @4a5c226",
    ),
    ("联胜路3号期望铭座", "联胜路3号", {"exact_match": 0.85997772216796875}, "MGeoExample @4a5c226"),
    (
        "文化西路9号泰华国际大酒店",
        "文化西路酒店",
        {"partial_match": 0.97963982820510864},
        "MGeoExample @4a5c226",
    ),
)

DEFAULT_TOLERANCE: Final = 1e-4


@dataclass(frozen=True, slots=True)
class Check:
    a: str
    b: str
    source: str
    expected: dict[str, float]
    expected_label: str
    got: dict[str, float] | None
    got_label: str | None
    max_diff: float | None
    ok: bool
    error: str | None = None


def verify(
    scorer: Any,
    golden: Sequence[tuple[str, str, dict[str, float], str]] = GOLDEN_V120,
    tolerance: float = DEFAULT_TOLERANCE,
) -> list[Check]:
    """Score the golden pairs with ``scorer`` and compare (any Scorer works; the CLI uses torch fp32).

    The expected top label is the published label with the highest probability (the published
    probabilities are the top labels of their pairs).
    """
    from geoalign.types import AddressPair, Match

    results = scorer.score([AddressPair(a, b) for a, b, _, _ in golden])
    checks = []
    for (a, b, expected, source), result in zip(golden, results, strict=True):
        expected_label = max(expected, key=expected.__getitem__)
        if not isinstance(result, Match):
            checks.append(
                Check(a, b, source, expected, expected_label, None, None, None, False, result.message)
            )
            continue
        diff = max(abs(result.probabilities[k] - p) for k, p in expected.items())
        ok = diff <= tolerance and result.label == expected_label
        checks.append(
            Check(a, b, source, expected, expected_label, dict(result.probabilities), result.label, diff, ok)
        )
    return checks


def find_label_permutation(
    checks: Sequence[Check], tolerance: float = DEFAULT_TOLERANCE
) -> dict[str, str] | None:
    """A relabelling (current name -> name that would match) under which every check passes, if any.

    The label order is the one fact about the real checkpoint that could not be verified from public
    sources; when the numbers are right but under other names, say so instead of just "FAIL".
    """
    import itertools

    from geoalign.types import LABELS

    if any(c.got is None for c in checks):
        return None
    for perm in itertools.permutations(LABELS):
        mapping: dict[str, str] = dict(zip(LABELS, perm, strict=True))
        if all(mapping[k] == k for k in LABELS):
            continue
        ok = True
        for c in checks:
            got: dict[str, float] = {mapping[k]: p for k, p in (c.got or {}).items()}
            top = max(got, key=got.__getitem__)
            if top != c.expected_label or any(abs(got[k] - p) > tolerance for k, p in c.expected.items()):
                ok = False
                break
        if ok:
            return mapping
    return None


def format_checks(checks: Sequence[Check]) -> str:
    lines = []
    for i, c in enumerate(checks, 1):
        status = "OK  " if c.ok else "FAIL"
        lines.append(f"[{status}] {i}. {c.a} | {c.b}   ({c.source})")
        for label, p in c.expected.items():
            got = "-" if c.got is None else f"{c.got[label]:.7f}"
            lines.append(f"         {label:<14} expected {p:.7f}  got {got}")
        if c.error:
            lines.append(f"         error: {c.error}")
        else:
            lines.append(
                f"         top label expected {c.expected_label}, got {c.got_label}; "
                f"max |diff| {c.max_diff:.2e}"
            )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from geoalign.scorers.spec import ScorerSpec

    # the torch scorer in fp32 without the rule layer, always: the reference outputs are the model's own
    ScorerSpec.add_arguments(
        parser,
        ("model", "device"),
        model_positional=True,
        model_help="MGeo checkpoint directory (ModelScope layout) or HF export",
    )
    parser.add_argument(
        "--tolerance", type=float, default=DEFAULT_TOLERANCE, help="max probability difference"
    )


def run(args: argparse.Namespace) -> int:
    from geoalign.scorers.spec import ScorerSpec

    spec = ScorerSpec.from_args(args, scorer="torch", variant="fp32", rules=False)
    scorer: Any = spec.build()
    checkpoint = scorer.checkpoint
    print(
        f"model: {checkpoint.model_id}  source: {checkpoint.source}  "
        f"layers: {checkpoint.model.config.num_hidden_layers}"
    )
    print(f"label ids (from the directory): {checkpoint.id2label}")
    for note in checkpoint.notes:
        print(f"note: {note}")
    checks = verify(scorer, GOLDEN_V120, args.tolerance)
    print(f"\nreference outputs, revision v1.2.0 (tolerance {args.tolerance:g}):")
    print(format_checks(checks))
    passed = sum(c.ok for c in checks)
    older = verify(scorer, GOLDEN_OLDER, args.tolerance)
    print("\nfor information, outputs published for an older revision (weights differ between revisions):")
    print(format_checks(older))
    print()
    if passed == len(checks):
        print(f"PASS: {passed}/{len(checks)} v1.2.0 reference pairs match; the checkpoint loads exactly")
        return 0
    relabel = find_label_permutation(checks, args.tolerance)
    if relabel is not None:
        order = {i: relabel[name] for i, name in checkpoint.id2label.items()}
        print(
            f"FAIL: the probabilities match, but under other label names: the model's id order is {order}, "
            "not what the directory says; fix id2label in configuration.json"
        )
        return 1
    if all(c.ok for c in older):
        print(
            f"FAIL for v1.2.0 ({passed}/{len(checks)}), but every older-revision output matches: "
            "this directory holds an older revision (e.g. v1.1.2); get v1.2.0 to check the acceptance set"
        )
    else:
        print(
            f"FAIL: {passed}/{len(checks)} v1.2.0 reference pairs match. Wrong revision, wrong label "
            "order or a broken load; do not trust this model's outputs until this passes"
        )
    return 1
