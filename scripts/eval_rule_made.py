"""How the judges answer rule-made pairs: real addresses rewritten in ways whose label a person knows.

    python scripts/eval_rule_made.py ../shared/data/address-corpus/addresses.txt \
        --exclude-ccks ../shared/data/ccks2021-address-relevance/round1_slice.tsv

Draws ``--n`` addresses from the corpus (seeded; every string of the CCKS slice's frozen test fold left
out first when ``--exclude-ccks`` is given), rewrites each with every transformation of
``geoalign.address.synth`` that applies (drop the province, Chinese numerals, a phone number added, the
building or road number changed, one character of the road name changed …) and scores each pair with
the judges asked for; then with the rewrites of ``geoalign.address.synth_eval``, which no training
pair uses (another district, a former division name, traditional characters, a field label, the room
left out). Prints, per transformation, the label the rewrite means, how many pairs, and the
share each judge answers with that label (with the whole answer distribution). ``--show K`` prints up
to K misses of each transformation to standard error, to read; nothing is written anywhere.

What it is for: the CCKS and Shenzhen labels say how a judge does on pairs people wrote; these pairs
say whether it gets the obvious right — one known change at a time — and find whole classes of
mistakes (docs/rules.md, session 21). The labels are the generator's (``synth`` module docstring), and
three of its readings differ from the CCKS labellers' on purpose, so read those rows as "how often the
judge notices", not as accuracy: a changed road name is "not_match" to the generator, while real data
has such pairs that are one place misspelt; a bracketed note is noise to it, but one of its four notes,
(东门), names a part of the place, which CCKS labels partial_match; and dropping the admin levels of a
road-only address (杭州市文三路 → 文三路) is partial_match in CCKS (docs/rules.md).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from geoalign.address.synth import TRANSFORMS, generate_pairs
from geoalign.address.synth_eval import EVAL_TRANSFORMS
from geoalign.io.labels import read_labelled_pairs
from geoalign.scorers.spec import ScorerSpec
from geoalign.scorers.structured_train import is_test_query
from geoalign.types import AddressPair, Match

JUDGES = {
    "default": lambda: ScorerSpec(),
    "structured": lambda: ScorerSpec(scorer="structured"),
}


def frozen_fold_strings(path: str) -> set[str]:
    """Every address of the CCKS slice's frozen test fold (queries and their candidates)."""
    out: set[str] = set()
    for pair in read_labelled_pairs(path):
        if is_test_query(pair.a):
            out.update((pair.a, pair.b))
    return out


def draw(corpus: str, n: int, seed: int, exclude: set[str]) -> list[str]:
    lines = Path(corpus).read_text(encoding="utf-8").splitlines()
    pool = sorted({line.strip() for line in lines if line.strip()} - exclude)
    if n > len(pool):
        raise SystemExit(f"--n {n} is more than the {len(pool)} usable addresses of {corpus}")
    return random.Random(seed).sample(pool, n)


def judge(name: str, pairs: Sequence[tuple[str, str, str, str]], batch: int = 512) -> list[str]:
    scorer = JUDGES[name]().build()
    labels: list[str] = []
    for start in range(0, len(pairs), batch):
        chunk = [AddressPair(a, b) for a, b, _, _ in pairs[start : start + batch]]
        labels += [m.label if isinstance(m, Match) else "error" for m in scorer.score(chunk)]
    return labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", help="one address a line (address-corpus/addresses.txt)")
    parser.add_argument("--n", type=int, default=3000, help="addresses drawn (default 3000)")
    parser.add_argument("--seed", type=int, default=5, help="seed of the draw (default 5)")
    parser.add_argument("--pair-seed", type=int, default=3, help="seed of the rewrites (default 3)")
    parser.add_argument("--judges", default="default,structured", help="comma-separated: default, structured")
    parser.add_argument("--exclude-ccks", metavar="TSV", help="leave out the CCKS frozen fold's strings")
    parser.add_argument("--show", type=int, default=0, metavar="K", help="print K misses a rewrite (stderr)")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.judges.split(",") if name.strip()]
    unknown = [name for name in names if name not in JUDGES]
    if unknown or not names:
        raise SystemExit(f"--judges: unknown {unknown or names}; choose from {sorted(JUDGES)}")
    exclude = frozen_fold_strings(args.exclude_ccks) if args.exclude_ccks else set()
    addresses = draw(args.corpus, args.n, args.seed, exclude)
    # the training rewrites first, as before, so their rows do not move when evaluation ones are added
    pairs = generate_pairs(addresses, seed=args.pair_seed, per_address=len(TRANSFORMS))
    pairs += generate_pairs(
        addresses, seed=args.pair_seed, per_address=len(EVAL_TRANSFORMS), transforms=EVAL_TRANSFORMS
    )
    answers = {name: judge(name, pairs) for name in names}

    print(
        f"{len(addresses)} addresses (seed {args.seed}), {len(pairs)} rule-made pairs (seed {args.pair_seed})"
    )
    print()
    print("| rewrite | label it means | pairs | " + " | ".join(f"{n}: as meant" for n in names) + " |")
    print("|---|---|---:|" + "---:|" * len(names))
    for how, meant in [(how, meant) for how, (_, meant) in {**TRANSFORMS, **EVAL_TRANSFORMS}.items()]:
        rows = [i for i, p in enumerate(pairs) if p[3] == how]
        if not rows:
            continue
        cells = []
        for name in names:
            counts = Counter(answers[name][i] for i in rows)
            spread = ", ".join(f"{label} {count}" for label, count in counts.most_common())
            cells.append(f"{counts[meant] / len(rows):.3f} ({spread})")
            if args.show:
                misses = [i for i in rows if answers[name][i] != meant][: args.show]
                for i in misses:
                    a, b, _, _ = pairs[i]
                    print(f"[{name}] {how}: {a} | {b} -> {answers[name][i]}", file=sys.stderr)
        shown = how if how in TRANSFORMS else f"{how} (evaluation only)"
        print(f"| {shown} | {meant} | {len(rows)} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
