"""Benchmark table alignment (``geoalign link``) on generated tables and on real CCKS labels.

Generated tables (see ``gen_tables.py``)::

    python benchmarks/gen_tables.py --places 10000 --out /tmp/al10k
    python benchmarks/bench_link.py generated /tmp/al10k

reports time, pairs scored, blocking recall, precision/recall of the true links and peak memory.

Real labels (the CCKS 2021 slice; its queries as the left table, its distinct candidates as the right)::

    python benchmarks/bench_link.py ccks /work/shared/data/ccks2021-address-relevance/round1_slice.tsv

reports how often a query's best match is one of its own candidates labelled exact_match, among the
queries that have one. The data is never copied into the repository; the tables go to a temp dir.
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


def _cpu_seconds() -> float:
    """CPU time of this process and its finished worker processes (the shared machine's wall clock
    overstates a free core's time)."""
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _pss_kb(pid: int) -> int:
    """Proportional set size of one process: shared (copy-on-write) pages split among their sharers."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as handle:
                out += [int(c) for c in handle.read().split()]
    except OSError:
        pass
    return out


class TreeMemory:
    """Peak memory of this process and its worker processes together (``link --workers``): the sum of
    their PSS, sampled every 0.2 s. Peak RSS of one process misses the workers, and summing RSS would
    count the pages they share copy-on-write once per worker."""

    def __init__(self) -> None:
        import threading

        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.2):
            total = _pss_kb(me) + sum(_pss_kb(c) for c in _children(me))
            self.peak_kb = max(self.peak_kb, total)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``settings`` and ``flags`` keyword arguments of ``link``."""
    from geoalign.link.pipeline import LinkSettings, RunFlags

    settings = LinkSettings(
        rules=args.rules,
        max_candidates=args.max_candidates,
        max_block_size=args.max_block_size,
        threshold=args.threshold,
    )
    from geoalign.link.workers import resolve_workers

    flags = RunFlags(
        resume=False,
        progress=not args.no_progress and sys.stderr.isatty(),
        workers=resolve_workers(args.workers),
    )
    return {"settings": settings, "flags": flags}


def _both(row: dict[str, str]) -> float:
    """The same-place score of an output row: identical normalized texts (no reverse scored) count 1."""
    if not row["p_exact_reverse"]:
        return 1.0
    return min(float(row["p_exact_match"]), float(row["p_exact_reverse"]))


def _read_output(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _environment() -> dict[str, str]:
    import lightgbm
    import numpy

    from geoalign import __version__

    return {
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, {platform.platform()}",
        "python": platform.python_version(),
        "geoalign": __version__,
        "numpy": numpy.__version__,
        "lightgbm": lightgbm.__version__,
    }


def bench_generated(args: argparse.Namespace) -> dict[str, object]:
    from geoalign.link.pipeline import TableSpec, default_scorer, link, read_true_pairs

    root = Path(args.data)
    truth = read_true_pairs(root / "truth.csv")
    out = Path(args.output or tempfile.mkdtemp(prefix="bench_link_")) / "links.csv"
    # the scorer link builds (ScorerSpec: the rule layer on unless --no-judge-rules); without --model the
    # structured judge (`link --judge structured`), with it the default judge's cascade over that model
    rules = not getattr(args, "no_judge_rules", False)
    scorer = default_scorer(args.model, neural=args.model is not None, rules=rules)
    start = time.perf_counter()
    with TreeMemory() as memory:
        summary = link(
            TableSpec(root / "left.csv", "address", "id"),
            TableSpec(root / "right.csv", "address", "id"),
            out,
            scorer=scorer,
            **_options(args),
            true_pairs=truth,
        )
    seconds = time.perf_counter() - start
    rows = _read_output(out)
    true = dict(truth)
    predicted = {r["left_id"]: r["right_id"] for r in rows if r["status"] == "match"}
    correct = sum(1 for lid, rid in predicted.items() if true.get(lid) == rid)
    best_correct = sum(1 for r in rows if r["right_id"] and true.get(r["left_id"]) == r["right_id"])
    # Precision/recall at higher thresholds, from this one run: a best candidate that is the same place
    # at threshold t is exactly one whose smaller-of-both-directions probability is >= t (see README).
    sweep = {}
    for t in (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5):
        if t < args.threshold:
            continue
        pred = {r["left_id"]: r["right_id"] for r in rows if r["status"] == "match" and _both(r) >= t}
        hit = sum(1 for lid, rid in pred.items() if true.get(lid) == rid)
        sweep[str(t)] = {
            "precision": round(hit / len(pred), 4) if pred else None,
            "recall": round(hit / len(truth), 4) if truth else None,
        }
    return {
        "data": str(root),
        "threshold_sweep": sweep,
        "left_rows": len(rows),
        "right_rows": summary.counts.right_records,
        "true_links": len(truth),
        "seconds": round(seconds, 1),
        "cpu_seconds": round(_cpu_seconds(), 1),
        "load_average_1m": round(os.getloadavg()[0], 1),
        "model": scorer.model_id,
        "seconds_by_phase": summary.to_dict()["seconds"],
        "candidate_pairs": summary.blocking["candidate_pairs"],
        "pairs_scored_forward": summary.judge.forward_pairs,
        "pairs_scored_reverse": summary.judge.reverse_pairs,
        "blocking_recall": round(summary.blocking["blocking_recall"], 4),
        "skipped_blocks": summary.blocking["skipped_blocks"],
        "predicted_links": len(predicted),
        "precision": round(correct / len(predicted), 4) if predicted else None,
        "recall": round(correct / len(truth), 4) if truth else None,
        "best_candidate_is_true_link": round(best_correct / len(truth), 4) if truth else None,
        "status": summary.counts.status,
        "cascade": summary.to_dict()["cascade"],
        "peak_rss_mb": round(_peak_rss_mb(), 0),
        "peak_pss_mb_with_workers": round(memory.peak_kb / 1024.0, 0),
        "workers": summary.workers,
        "threshold": args.threshold,
        "rules": args.rules or "default",
        "max_candidates": args.max_candidates,
    }


def bench_ccks(args: argparse.Namespace) -> dict[str, object]:
    from geoalign.link.pipeline import TableSpec, default_scorer, link

    queries: dict[str, str] = {}
    candidates: dict[str, str] = {}
    exact: dict[str, set[str]] = {}
    with open(args.data, encoding="utf-8") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                continue
            q, c, label = parts
            qid = queries.setdefault(q, f"q{len(queries) + 1}")
            cid = candidates.setdefault(c, f"c{len(candidates) + 1}")
            if label.strip() == "2":
                exact.setdefault(qid, set()).add(cid)
    tmp = Path(tempfile.mkdtemp(prefix="bench_ccks_"))
    for name, table in (("left.csv", queries), ("right.csv", candidates)):
        with open(tmp / name, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "address"])
            writer.writerows((rid, text) for text, rid in table.items())
    true_pairs = [(q, c) for q, cs in exact.items() for c in sorted(cs)]
    start = time.perf_counter()
    summary = link(
        TableSpec(tmp / "left.csv", "address", "id"),
        TableSpec(tmp / "right.csv", "address", "id"),
        tmp / "links.csv",
        scorer=default_scorer(args.model, neural=args.model is not None),
        **_options(args),
        true_pairs=true_pairs,
    )
    seconds = time.perf_counter() - start
    rows = _read_output(tmp / "links.csv")
    with_exact = [r for r in rows if r["left_id"] in exact]
    best_hit = sum(1 for r in with_exact if r["right_id"] in exact[r["left_id"]])
    match_rows = [r for r in rows if r["status"] == "match"]
    match_hit = sum(1 for r in match_rows if r["right_id"] in exact.get(r["left_id"], set()))
    sweep = {}
    for t in (0.05, 0.1, 0.2, 0.3, 0.5):
        if t < args.threshold:
            continue
        chosen = [r for r in match_rows if _both(r) >= t]
        good = sum(1 for r in chosen if r["right_id"] in exact.get(r["left_id"], set()))
        sweep[str(t)] = {
            "same_place_matches": len(chosen),
            "of_which_labelled_exact": round(good / len(chosen), 4) if chosen else None,
        }
    return {
        "data": args.data,
        "threshold_sweep": sweep,
        "queries": len(queries),
        "candidates": len(candidates),
        "queries_with_an_exact_candidate": len(with_exact),
        "best_match_is_an_exact_candidate": round(best_hit / len(with_exact), 4) if with_exact else None,
        "best_match_hits": best_hit,
        "blocking_recall_of_exact_pairs": round(summary.blocking["blocking_recall"], 4),
        "same_place_matches": len(match_rows),
        "same_place_match_is_an_exact_candidate": round(match_hit / len(match_rows), 4)
        if match_rows
        else None,
        "candidate_pairs": summary.blocking["candidate_pairs"],
        "seconds": round(seconds, 1),
        "cpu_seconds": round(_cpu_seconds(), 1),
        "status": summary.counts.status,
        "peak_rss_mb": round(_peak_rss_mb(), 0),
        "threshold": args.threshold,
        "rules": args.rules or "default",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("generated", "ccks"))
    parser.add_argument("data", help="generated: directory from gen_tables.py; ccks: the slice TSV")
    parser.add_argument("--output", help="generated: directory for links.csv (default: a temp dir)")
    parser.add_argument("--model", help="neural model for the cascade (default: embedded matcher only)")
    parser.add_argument("--threshold", type=float, default=None, help="default: the link default")
    parser.add_argument("--rules", default=None, help="blocking rules (default: the link default)")
    parser.add_argument("--max-candidates", type=int, default=20)
    parser.add_argument("--max-block-size", type=int, default=500)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--workers", type=int, default=0, help="link --workers (0: one per core, as the CLI; 1: one process)"
    )
    parser.add_argument(
        "--no-judge-rules", action="store_true", help="score without the rule layer (scorers/rules.py)"
    )
    args = parser.parse_args()
    from geoalign.collector import pace_for_long_runs

    pace_for_long_runs()  # as `geoalign link` runs (geoalign.cli.main)
    if args.threshold is None:
        from geoalign.link.candidates import SAME_PLACE_THRESHOLD

        args.threshold = SAME_PLACE_THRESHOLD
    result = bench_generated(args) if args.mode == "generated" else bench_ccks(args)
    result["environment"] = _environment()
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
