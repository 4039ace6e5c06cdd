"""Remaining errors of the structured matcher, by category (for its model card and docs).

    python scripts/structured_error_table.py --pairs DATA.tsv            # out-of-fold errors (dev part)
    python scripts/structured_error_table.py --pairs DATA.tsv --test     # shipped model on the test fold

Each error (true label != predicted) gets the first category whose evidence it shows, from the parsed
components of the pair: a hard-number conflict, the same road and number, the same road only, a shared
name without a shared road, or nothing shared. The table says where the model's remaining mistakes
come from, e.g. whether they are label noise on near-identical pairs or missing world knowledge.
Prints a Markdown table. Needs the data path; nothing from the data is written anywhere.
"""

from __future__ import annotations

import argparse
import collections
import sys

import numpy as np

from geoalign.io.labels import read_labelled_pairs
from geoalign.scorers import structured_train as tr
from geoalign.scorers.features import NUMBER_LEVELS, AddressView, longest_common_substring
from geoalign.scorers.structured import PairFeaturizer, StructuredModel
from geoalign.types import LABELS

CATEGORIES = (
    "hard-number conflict (road no. / building / unit / floor / room differ)",
    "same road and road number",
    "same road, number missing or absent on one side",
    "shared place name (>= 3 chars), road differs or missing",
    "little shared text (< 3 chars of a name in common)",
)


def category(a: AddressView, b: AddressView) -> int:
    if any(
        level in a.comps and level in b.comps and a.comps[level] != b.comps[level] for level in NUMBER_LEVELS
    ):
        return 0
    same_road = "road" in a.comps and a.comps.get("road") == b.comps.get("road")
    if same_road and "roadno" in a.comps and a.comps.get("roadno") == b.comps.get("roadno"):
        return 1
    if same_road:
        return 2
    if longest_common_substring(a.content, b.content) >= 3:
        return 3
    return 4


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", required=True)
    parser.add_argument(
        "--test", action="store_true", help="score the frozen test fold with the shipped model"
    )
    args = parser.parse_args()
    pairs = read_labelled_pairs(args.pairs)
    dev, test = tr.split_frozen(pairs)
    featurizer = PairFeaturizer()
    if args.test:
        chosen = test
        data = tr.featurize(chosen, featurizer)
        model = StructuredModel.load(_default_dir())
        probs = model.predict(data.features)
        source = f"shipped model {model.model_id} on the frozen test fold"
    else:
        chosen = dev
        data = tr.featurize(chosen, featurizer)
        cv = tr.cross_validate(data)
        probs = tr.predict_decided(cv.oof, data.features, cv.class_weights)
        source = "out-of-fold predictions, 5-fold query-grouped CV on the development part"
    pred = np.argmax(probs, axis=1)
    counts: collections.Counter[int] = collections.Counter()
    totals: collections.Counter[int] = collections.Counter()
    confusions: dict[int, collections.Counter[tuple[str, str]]] = collections.defaultdict(collections.Counter)
    for pair, truth, guess in zip(chosen, data.labels, pred, strict=True):
        view_a, view_b = featurizer.view(pair.a), featurizer.view(pair.b)
        assert isinstance(view_a, AddressView) and isinstance(view_b, AddressView)
        cat = category(view_a, view_b)
        totals[cat] += 1
        if truth != guess:
            counts[cat] += 1
            confusions[cat][(LABELS[truth], LABELS[guess])] += 1
    errors = sum(counts.values())
    print(f"Errors by category ({source}; {errors} errors in {len(chosen)} pairs)\n")
    print(
        "| category | pairs | errors | error rate | share of errors | most common confusion (true -> pred) |"
    )
    print("|---|---:|---:|---:|---:|---|")
    for i, name in enumerate(CATEGORIES):
        top = confusions[i].most_common(1)
        conf = f"{top[0][0][0]} -> {top[0][0][1]} ({top[0][1]})" if top else "-"
        rate = counts[i] / totals[i] if totals[i] else 0.0
        print(
            f"| {name} | {totals[i]} | {counts[i]} | {rate:.1%} | {counts[i] / max(errors, 1):.1%} | {conf} |"
        )
    return 0


def _default_dir() -> str:
    from geoalign.scorers.structured import DEFAULT_MODEL_DIR

    return str(DEFAULT_MODEL_DIR)


if __name__ == "__main__":
    sys.exit(main())
