"""The --ann index saved with the job: what a rerun pays to rebuild it vs to load it.

    python benchmarks/gen_tables.py --places 100000 --out /tmp/align100k
    python benchmarks/bench_ann_saved_index.py /tmp/align100k/right.csv --threads 2

Analyzes the table's records as the link driver does, then indexes them three times with the job
directory ``--job`` (default: a temporary one) exactly as ``geoalign link --ann`` does
(``AnnRetriever.index_table`` + ``save``):

1. cold: embed every distinct text, build the index, save embeddings and index;
2. rebuild: ``index.json`` removed (embeddings still cached) — what every rerun paid before the index
   was saved: the build alone;
3. load: the saved index matches, nothing is embedded or built.

It also checks that the loaded index answers ``--queries`` records like the built one. Prints one JSON
object (seconds, counts, the index file's size).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any


def _records(path: str, limit: int | None) -> list[Any]:
    from geoalign.link.blocking import parse_rules
    from geoalign.link.candidates import RecordAnalyzer
    from geoalign.link.core import index_records
    from geoalign.link.tables import TableSpec, iter_records
    from geoalign.scorers.structured import PairFeaturizer

    _carry, stream, _total = iter_records(TableSpec(path, "address", "id"))
    records = list(stream)[:limit]
    index_records(records, RecordAnalyzer(PairFeaturizer(), parse_rules(None)), 500)
    return records


def _index(records: list[Any], job: Path, args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    from geoalign.retrieval.retriever import AnnRetriever, RetrievalSettings

    settings = RetrievalSettings(model=args.model, k=args.k, backend=args.backend, threads=args.threads)
    retriever = AnnRetriever(settings, cache_dir=job)
    t0 = time.perf_counter()
    report = retriever.index_table(records, [job])
    retriever.save()
    out = report.to_dict()
    out["seconds_with_save"] = round(time.perf_counter() - t0, 3)
    out["seconds"] = round(out["seconds"], 3)
    return retriever, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", help="a CSV with id and address columns (gen_tables.py's right.csv)")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--model", default="shipped")
    parser.add_argument("--backend", default="hnsw")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--job", default=None, help="job directory to keep (default: a temporary one)")
    args = parser.parse_args()

    t0 = time.perf_counter()
    records = _records(args.table, args.limit)
    analyze_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        job = Path(args.job or tmp) / "out.retrieval"
        _cold, cold = _index(records, job, args)
        (job / "index.json").unlink()
        built, rebuild = _index(records, job, args)
        loaded, load = _index(records, job, args)
        queries = records[: args.queries]
        same = built.neighbours(queries) == loaded.neighbours(queries)
        size = sum(p.stat().st_size for p in job.glob("index.*"))
    print(
        json.dumps(
            {
                "records": len(records),
                "backend": args.backend,
                "threads": args.threads,
                "analyze_s": round(analyze_s, 1),
                "cold": cold,
                "rebuild_from_cached_embeddings": rebuild,
                "load": load,
                "loaded_answers_like_built": same,
                "index_bytes": size,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
