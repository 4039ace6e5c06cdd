"""Cost of the rule layer per pair, against the structured scorer it wraps (issue 13 goal: <= 10%).

    python benchmarks/gen_tables.py --places 2000 --out /tmp/gt
    python benchmarks/bench_rules.py /tmp/gt

Scores the true pairs of a generated table (left record, right record) cold (parse included) and warm
(views cached: the link judge's case, where blocking parsed every record first), with and without the
layer, and reports the layer's own time (``RuleScorer.rules_ms``: cleaning, view look-up, conflicts,
lifts) per pair next to the structured scorer's. CPU time of this process, so a loaded machine
overstates neither; still rerun on a quiet machine before quoting.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path


def _table(path: Path) -> dict[str, str]:
    with open(path, encoding="utf-8", newline="") as handle:
        return {row["id"]: row["address"] for row in csv.DictReader(handle)}


def main() -> None:
    from geoalign.scorers.rules import RuleScorer
    from geoalign.scorers.structured import StructuredScorer
    from geoalign.types import AddressPair

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="directory written by gen_tables.py")
    args = parser.parse_args()
    root = Path(args.data)
    left, right = _table(root / "left.csv"), _table(root / "right.csv")
    with open(root / "truth.csv", encoding="utf-8", newline="") as handle:
        truth = list(csv.DictReader(handle))
    pairs = [AddressPair(left[t["left_id"]], right[t["right_id"]]) for t in truth]
    out: dict[str, float] = {"pairs": len(pairs)}
    for phase in ("cold", "warm"):
        structured = StructuredScorer()
        ruled = RuleScorer(structured)
        if phase == "warm":
            structured.score(pairs)
        start = time.process_time()
        structured.score(pairs)
        plain_s = time.process_time() - start
        if phase == "cold":  # the ruled run must not profit from the plain run's parse cache
            structured = StructuredScorer()
            ruled = RuleScorer(structured)
        start = time.process_time()
        ruled.score(pairs)
        ruled_s = time.process_time() - start
        out[f"{phase}_structured_ms_per_pair"] = round(plain_s * 1000 / len(pairs), 4)
        out[f"{phase}_with_rules_ms_per_pair"] = round(ruled_s * 1000 / len(pairs), 4)
        out[f"{phase}_rule_layer_ms_per_pair"] = round(ruled.rules_ms / len(pairs), 4)
        out[f"{phase}_rule_layer_share"] = round(ruled.rules_ms / 1000 / max(plain_s, 1e-9), 4)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
