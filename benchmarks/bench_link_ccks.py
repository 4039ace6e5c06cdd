"""Linking on real labels: does the right record reach the judge, and does the judge pick it?

Two data sets, both read from their own paths (never copied into the repository; tables go to a temp dir):

* ``ccks`` — the CCKS 2021 slice. The queries of the *frozen fold* (``structured_train.is_test_query``:
  never trained on, by any geoalign model; ``--queries validation``: the validation fold's, to make
  choices on) are linked against **every distinct candidate record of the
  file** (all folds: the haystack is the whole file, as the issue defines it). True pairs are a query's
  candidates labelled exact_match. Reports the blocking recall of those pairs (per candidate source:
  rules, ann, both), candidates per query, and top-1: the linker's best match is one of the query's
  exact candidates, over the queries that have one.
* ``shenzhen`` — the Shenzhen valid split: the distinct ``a`` of the positive pairs linked against every
  distinct ``b`` of the file; blocking recall of the positive pairs (blocking only: its "match" is
  coarser than the judge's same place, so top-1 is not its question).

Commands (``--judge none`` is blocking alone; ``structured`` is the embedded matcher alone, ``link
--judge structured``; ``default`` adds the shipped neural matcher to the cascade, the default judge of
``geoalign match`` and, since session 20, of ``link``)::

    python benchmarks/bench_link_ccks.py ccks /work/shared/data/ccks2021-address-relevance/round1_slice.tsv \
        --judge structured
    python benchmarks/bench_link_ccks.py shenzhen /work/shared/data/shenzhen-address-pairs
    # with learned retrieval (k nearest neighbours beside the rule blocks; the best k of a pool of 64
    # by cosine + spelling, link's default; --ann-pool 0: cosine order alone):
    python benchmarks/bench_link_ccks.py ccks ... --ann src/geoalign/models/retrieval --ann-k 20
    python benchmarks/bench_link_ccks.py ccks ... --ann src/geoalign/models/retrieval --ann-k 30 \
        --ann-pool 500
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _write_table(path: Path, table: dict[str, str]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "address"])
        writer.writerows((rid, text) for text, rid in table.items())


Tables = tuple[dict[str, str], dict[str, str], dict[str, set[str]]]


def _tables(pairs: list[Any], wanted: Any, true_label: str, query_prefix: str, record_prefix: str) -> Tables:
    """(query text -> id, every distinct record text -> id, query id -> true record ids): every ``b``
    is a record; ``a`` is a query where ``wanted(pair)``; its true records are those labelled
    ``true_label``."""
    queries: dict[str, str] = {}
    records: dict[str, str] = {}
    truth: dict[str, set[str]] = {}
    for pair in pairs:
        rid = records.setdefault(pair.b, f"{record_prefix}{len(records) + 1}")
        if not wanted(pair):
            continue
        qid = queries.setdefault(pair.a, f"{query_prefix}{len(queries) + 1}")
        if pair.label == true_label:
            truth.setdefault(qid, set()).add(rid)
    return queries, records, truth


def ccks_tables(path: str, queries: str = "frozen") -> Tables:
    """(queries text -> id, every distinct candidate text -> id, query id -> exact ids). ``queries``:
    ``frozen`` — the frozen fold's (the figure to report); ``validation`` — the neural matcher's
    validation fold of the development part (the one to make linking choices on: the neural stage
    never trained on it; the structured matcher did, so its level there is optimistic)."""
    from geoalign.io.labels import read_labelled_pairs
    from geoalign.neural.data import VALIDATION_FOLD, VALIDATION_FOLDS
    from geoalign.scorers.structured_train import cv_fold, is_test_query

    def wanted(pair: Any) -> bool:
        if queries == "frozen":
            return is_test_query(pair.a)
        return not is_test_query(pair.a) and cv_fold(pair.a, VALIDATION_FOLDS) == VALIDATION_FOLD

    return _tables(read_labelled_pairs(path), wanted, "exact_match", "q", "c")


def shenzhen_tables(root: str) -> Tables:
    """(distinct a of the positive valid pairs -> id, every distinct b -> id, a id -> positive b ids)."""
    from geoalign.io.labels import read_labelled_pairs

    pairs = read_labelled_pairs(Path(root) / "valid.tsv")
    # Shenzhen's 1 ("same place") reads as partial_match, 0 as not_match (io.labels.parse_label)
    return _tables(pairs, lambda pair: pair.label != "not_match", "partial_match", "a", "b")


def _scorer(judge: str) -> Any:
    from geoalign.link.settings import default_scorer
    from geoalign.scorers.spec import ScorerSpec

    if judge == "default":  # the default judge (of `geoalign match`, and of `link` since session 20)
        return ScorerSpec(scorer="cascade").build()
    return default_scorer(neural=False)  # what `geoalign link --judge structured` builds


def run(args: argparse.Namespace) -> dict[str, Any]:
    from geoalign.link.pipeline import LinkSettings, RunFlags, TableSpec, link

    if args.mode == "ccks":
        queries, records, truth = ccks_tables(args.data, args.queries)
    else:
        queries, records, truth = shenzhen_tables(args.data)
    tmp = Path(tempfile.mkdtemp(prefix=f"bench_link_{args.mode}_"))
    _write_table(tmp / "left.csv", queries)
    _write_table(tmp / "right.csv", records)
    true_pairs = [(q, c) for q, cs in sorted(truth.items()) for c in sorted(cs)]
    explain_only = args.judge == "none"
    retrieval: dict[str, Any] = {}
    if args.ann:
        retrieval = {"ann": args.ann, "ann_k": args.ann_k, "ann_pool": args.ann_pool}
    settings = LinkSettings(max_candidates=args.max_candidates, ann_index=args.ann_index, **retrieval)
    flags = RunFlags(resume=False, progress=not args.no_progress and sys.stderr.isatty())
    start = time.perf_counter()
    summary = link(
        TableSpec(tmp / "left.csv", "address", "id"),
        TableSpec(tmp / "right.csv", "address", "id"),
        tmp / "links.csv",
        scorer=None if explain_only else _scorer(args.judge),
        settings=settings,
        flags=flags,
        explain_only=explain_only,
        true_pairs=true_pairs,
    )
    seconds = time.perf_counter() - start
    blocking = summary.blocking
    out: dict[str, Any] = {
        "mode": args.mode,
        "queries_from": args.queries if args.mode == "ccks" else "valid positives",
        "data": args.data,
        "judge": args.judge,
        "queries": len(queries),
        "records": len(records),
        "true_pairs": len(true_pairs),
        "queries_with_a_true_pair": len(truth),
        "max_candidates": args.max_candidates,
        "ann": args.ann,
        "ann_k": args.ann_k if args.ann else None,
        "ann_pool": args.ann_pool if args.ann else None,
        "blocking_recall": round(blocking["blocking_recall"], 4),
        "recall_by_source": blocking.get("recall_by_source"),
        "ann_recall_at_k": blocking.get("ann_recall_at_k"),
        "union_recall_at_k": blocking.get("union_recall_at_k"),
        "candidates_per_query": round(blocking["candidate_pairs"] / max(1, len(queries)), 2),
        "max_candidates_of_a_query": blocking.get("max_candidates_of_a_query"),
        "pairs_lost_examples": len(blocking.get("pairs_lost", [])),
        "seconds": round(seconds, 1),
        "seconds_by_phase": summary.to_dict()["seconds"],
        "judge_stats": summary.to_dict().get("judge") or None,
        "peak_rss_mb": round(_peak_rss_mb(), 0),
        "load_average_1m": round(os.getloadavg()[0], 1),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
    }
    if not explain_only:
        with open(tmp / "links.csv", encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        with_truth = [r for r in rows if r["left_id"] in truth]
        hits = sum(1 for r in with_truth if r["right_id"] in truth[r["left_id"]])
        matches = [r for r in rows if r["status"] == "match"]
        good = sum(1 for r in matches if r["right_id"] in truth.get(r["left_id"], set()))
        out["top1"] = round(hits / len(with_truth), 4) if with_truth else None
        out["top1_hits"] = hits
        out["written_matches"] = len(matches)
        out["written_match_precision"] = round(good / len(matches), 4) if matches else None
        out["written_match_recall"] = round(good / len(with_truth), 4) if with_truth else None
        out["status"] = summary.counts.status
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("ccks", "shenzhen"))
    parser.add_argument("data", help="ccks: round1_slice.tsv; shenzhen: the directory with valid.tsv")
    parser.add_argument("--judge", choices=("none", "structured", "default"), default="default")
    parser.add_argument(
        "--queries",
        choices=("frozen", "validation"),
        default="frozen",
        help="ccks: the frozen fold's queries (report) or the validation fold's (make choices on)",
    )
    parser.add_argument("--max-candidates", type=int, default=20, help="rule candidates kept per query")
    parser.add_argument("--ann", help="retrieval model directory (adds the k nearest neighbours)")
    parser.add_argument("--ann-k", type=int, default=20)
    parser.add_argument("--ann-index", choices=("hnsw", "exact"), default="hnsw")
    parser.add_argument(
        "--ann-pool",
        type=int,
        default=64,
        help="neighbours fetched before the --ann-k best are kept (0: cosine)",
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    if args.mode == "shenzhen" and args.judge != "none":
        parser.error("shenzhen measures blocking only: use --judge none")
    print(json.dumps(run(args), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
