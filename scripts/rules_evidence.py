"""Evidence for the rule layer on real labels: how often each rule fires and how often it is right.

    python scripts/rules_evidence.py --ccks CCKS.tsv --sz-train TRAIN.tsv                # choose rules
    python scripts/rules_evidence.py --ccks CCKS.tsv --sz-valid VALID.tsv --final          # report once

Evidence (default): on the *training* part of the CCKS slice (every query outside the frozen test fold,
``structured_train.is_test_query``) and on the Shenzhen train split, for every rule of
``scorers.rules``: how many pairs its condition holds for, its precision on the real labels, and how
many answers of the shipped structured model it changes (and how many of those changes are right).

* a cap to partial_match is right where the label is not exact_match (CCKS) / is 0 (Shenzhen);
* a cap to not_match is right where the label is not_match (CCKS) / is 0 (Shenzhen);
* a lift to exact_match is right where the label is exact_match (CCKS) / is 1 (Shenzhen).

The structured model was trained on the CCKS training part, so its answers there are in-sample: the
"changed" columns show what the layer does, the precision columns (independent of any model) decide.

``--final`` scores the frozen CCKS test fold (macro-F1) and the Shenzhen valid split (binary F1; a pair
is predicted a match where the label is exact_match, and also reported with "not not_match") with and
without the layer: run it once, after the rules are chosen. Prints Markdown; nothing from the data is
written anywhere.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from geoalign.address.analyze import AddressView, ViewCache
from geoalign.address.clean import Cleaned, clean
from geoalign.address.conflicts import conflicts
from geoalign.evaluate.metrics import classification_report
from geoalign.io.labels import read_labelled_pairs
from geoalign.scorers import rules as R
from geoalign.scorers.structured import StructuredScorer
from geoalign.scorers.structured_train import is_test_query
from geoalign.types import AddressPair, ItemError, Match


def _views(cache: ViewCache, text: str) -> tuple[str, AddressView] | None:
    cleaned = clean(text)
    if not isinstance(cleaned, Cleaned):
        return None
    view = cache.view(cleaned.text)
    return None if isinstance(view, ItemError) else (cleaned.text, view)


def conditions(ta: str, tb: str, a: AddressView, b: AddressView) -> list[str]:
    """Every cap rule whose conflict holds for the pair, else the lift the layer would apply (with every
    rule switched on)."""
    found = [c.rule for c in conflicts(a, b)]
    if found:
        return list(dict.fromkeys(found))
    lift = R.decide_pair(ta, tb, a, b, frozenset(R.ALL_RULES)).lift
    return [lift] if lift else []


def right(rule: str, label: str, binary: bool) -> bool:
    if rule in R.LIFT_PROBABILITY:
        return label == ("1" if binary else "exact_match")
    if binary:
        return label == "0"
    return label == "not_match" if R.CAPS[rule] == "not_match" else label != "exact_match"


def evidence(
    name: str, pairs: Sequence[tuple[str, str, str]], binary: bool, scorer: StructuredScorer
) -> list[str]:
    cache = scorer.featurizer
    start = time.perf_counter()
    base = scorer.score([AddressPair(a, b) for a, b, _ in pairs])
    fired: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    changed: Counter[str] = Counter()
    changed_right: Counter[str] = Counter()
    changed_wrong: Counter[str] = Counter()
    for (a, b, label), result in zip(pairs, base, strict=True):
        sa, sb = _views(cache, a), _views(cache, b)  # type: ignore[arg-type]
        if sa is None or sb is None or not isinstance(result, Match):
            continue
        for rule in conditions(sa[0], sb[0], sa[1], sb[1]):
            fired[rule] += 1
            correct[rule] += right(rule, label, binary)
        decision = R.decide_pair(sa[0], sb[0], sa[1], sb[1])
        after = R.apply_decision(result, decision, "x")
        if after.label != result.label:
            for rule in (after.explanation or {}).get("rules", []):
                changed[rule] += 1
                before_ok = _ok(result.label, label, binary)
                after_ok = _ok(after.label, label, binary)
                changed_right[rule] += after_ok and not before_ok
                changed_wrong[rule] += before_ok and not after_ok
    lines = [
        f"### {name} ({len(pairs)} pairs, {time.perf_counter() - start:.0f} s)",
        "",
        "| rule | fires | precision on labels | structured answers changed | made right | made wrong |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for rule in R.ALL_RULES:
        n = fired[rule]
        precision = f"{correct[rule] / n:.3f}" if n else "-"
        counts = f"{changed[rule]} | {changed_right[rule]} | {changed_wrong[rule]}"
        lines.append(f"| {rule} | {n} | {precision} | {counts} |")
    return [*lines, ""]


def _ok(pred: str, label: str, binary: bool) -> bool:
    if binary:
        return (pred == "exact_match") == (label == "1")
    return pred == label


def binary_f1(truth: list[bool], pred: list[bool]) -> float:
    tp = sum(t and p for t, p in zip(truth, pred, strict=True))
    fp = sum(p and not t for t, p in zip(truth, pred, strict=True))
    fn = sum(t and not p for t, p in zip(truth, pred, strict=True))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _with_and_without(scorer: StructuredScorer, pairs: list[AddressPair]) -> tuple[list[str], list[str]]:
    """The structured labels and the labels after the rule layer, from one scoring pass (the layer's own
    ``decide_pair`` + ``apply_decision`` on the scorer's cached views, as ``with_rules`` does)."""
    results = scorer.score(pairs)
    plain, ruled = [], []
    for pair, result in zip(pairs, results, strict=True):
        if not isinstance(result, Match):
            plain.append("error")
            ruled.append("error")
            continue
        plain.append(result.label)
        sa, sb = _views(scorer.featurizer, pair.a), _views(scorer.featurizer, pair.b)  # type: ignore[arg-type]
        if sa is None or sb is None:
            ruled.append(result.label)
            continue
        ruled.append(R.apply_decision(result, R.decide_pair(sa[0], sb[0], sa[1], sb[1]), "x").label)
    return plain, ruled


def final(ccks: list[Any], sz_valid: list[tuple[str, str, str]]) -> list[str]:
    scorer = StructuredScorer()
    lines = ["| data | metric | structured | structured + rules |", "|---|---|---:|---:|"]
    if ccks:
        test = [p for p in ccks if is_test_query(p.a)]
        plain, ruled = _with_and_without(scorer, [AddressPair(p.a, p.b) for p in test])
        scores = []
        for labels in (plain, ruled):
            ok = [(p.label, q) for p, q in zip(test, labels, strict=True) if q != "error"]
            scores.append(classification_report([t for t, _ in ok], [q for _, q in ok]).macro_f1)
        name = f"CCKS frozen test fold ({len(test)} pairs)"
        lines.append(f"| {name} | macro-F1 | {scores[0]:.4f} | {scores[1]:.4f} |")
    if sz_valid:
        truth = [label == "1" for *_, label in sz_valid]
        plain, ruled = _with_and_without(scorer, [AddressPair(a, b) for a, b, _ in sz_valid])
        f1_exact = [binary_f1(truth, [x == "exact_match" for x in labels]) for labels in (plain, ruled)]
        f1_any = [
            binary_f1(truth, [x in ("exact_match", "partial_match") for x in labels])
            for labels in (plain, ruled)
        ]
        n = len(sz_valid)
        name = f"Shenzhen valid ({n} pairs)"
        lines.append(f"| {name} | binary F1, match = exact | {f1_exact[0]:.4f} | {f1_exact[1]:.4f} |")
        lines.append(f"| {name} | binary F1, match = not not_match | {f1_any[0]:.4f} | {f1_any[1]:.4f} |")
    return lines


def read_binary(path: str) -> list[tuple[str, str, str]]:
    out = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 3 and parts[2] in ("0", "1"):
                out.append((parts[0], parts[1], parts[2]))
    return out


def oof_ablation(train: list[Any]) -> list[str]:
    """Out-of-fold answers of the structured model on the CCKS training part (query-grouped 5-fold CV,
    the trainer's own folds; the shipped class weights and decision rule), then macro-F1 without the
    layer, with every default rule, and with each rule left out: unbiased by in-sample fit."""
    from geoalign.scorers import structured_train as tr
    from geoalign.scorers.structured import PairFeaturizer, StructuredModel, decide

    start = time.perf_counter()
    model = StructuredModel.load(StructuredScorer().model_dir)
    featurizer = PairFeaturizer(char_weights=model.char_weights)
    data = tr.featurize(train, featurizer)
    cv = tr.cross_validate(data)
    decided = decide(cv.oof, data.features, model.class_weights)
    truth = [p.label for p in train]
    base = [Match.from_probabilities(row.tolist(), scorer="structured", model="oof") for row in decided]
    sides = [(_views(featurizer._cache, p.a), _views(featurizer._cache, p.b)) for p in train]

    def labels_with(enabled: frozenset[str]) -> list[str]:
        out = []
        for match, (sa, sb) in zip(base, sides, strict=True):
            if sa is None or sb is None or not enabled:
                out.append(match.label)
                continue
            decision = R.decide_pair(sa[0], sb[0], sa[1], sb[1], enabled)
            out.append(R.apply_decision(match, decision, "x").label)
        return out

    def f1(pred: list[str]) -> float:
        return classification_report(truth, pred).macro_f1

    everything = frozenset(R.ALL_RULES)
    with_all = f1(labels_with(everything))
    lines = [
        f"### CCKS training part, out-of-fold ({len(train)} pairs, 5-fold query-grouped CV, "
        f"{time.perf_counter() - start:.0f} s)",
        "",
        f"macro-F1 without the layer {f1(labels_with(frozenset())):.4f}, with every rule {with_all:.4f}.",
        "",
        "| rule | macro-F1 with this rule alone | with every rule but this one |",
        "|---|---:|---:|",
    ]
    for rule in R.ALL_RULES:
        alone = f1(labels_with(frozenset({rule})))
        without = f1(labels_with(everything - {rule}))
        lines.append(f"| {rule} | {alone:.4f} | {without:.4f} |")
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ccks", help="the CCKS relevance slice (query, candidate, label)")
    parser.add_argument("--sz-train", help="Shenzhen train split (a, b, 0/1)")
    parser.add_argument("--sz-valid", help="Shenzhen valid split (only with --final)")
    parser.add_argument("--final", action="store_true", help="frozen fold + valid, with and without rules")
    parser.add_argument("--oof", action="store_true", help="CCKS: out-of-fold ablation (trains 5 boosters)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N pairs of each set")
    args = parser.parse_args(argv)
    ccks = read_labelled_pairs(args.ccks) if args.ccks else []
    if args.final:
        valid = read_binary(args.sz_valid) if args.sz_valid else []
        print("\n".join(final(ccks, valid[: args.limit or None])))
        return 0
    scorer = StructuredScorer()
    out: list[str] = []
    if args.oof and ccks:
        out += oof_ablation([p for p in ccks if not is_test_query(p.a)][: args.limit or None])
    if ccks:
        train = [(p.a, p.b, p.label) for p in ccks if not is_test_query(p.a)]
        out += evidence(
            "CCKS training part (outside the frozen test fold)", train[: args.limit or None], False, scorer
        )
    if args.sz_train:
        sz = read_binary(args.sz_train)
        out += evidence(
            "Shenzhen train split (binary: 1 = same entity)", sz[: args.limit or None], True, scorer
        )
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
