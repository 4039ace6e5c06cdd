"""Retrieval at scale: embedding rate, ANN index build / query rate, recall against exact search, memory.

    python benchmarks/bench_link_ann.py /work/shared/data/address-corpus/addresses.txt --n 100000 \
        --model src/geoalign/models/retrieval --threads 2

Reads the first ``--n`` distinct lines of an address file (never copied into the repository),
normalizes them as the link core does, embeds them (``--threads`` onnxruntime threads, batched), then
for each index backend (usearch HNSW f16/f32, faiss HNSW where installed, exact numpy) builds the index
over all vectors, queries every vector for its ``--k`` nearest neighbours (build + query is the
"100k x 100k" figure), and measures recall@k against exact search on ``--queries`` of them. Reports
seconds, rates and bytes per record. The numbers feed ``docs/ray.md`` ("A 1M x 1M plan"); rerun on a
quiet machine before quoting them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from typing import Any

import numpy as np


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _texts(path: str, n: int) -> list[str]:
    from geoalign.address.normalize import normalize
    from geoalign.errors import GeoalignError

    out: dict[str, None] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                out[normalize(line.strip())] = None
            except GeoalignError:
                continue
            if len(out) >= n:
                break
    return list(out)


def _recall(got: np.ndarray, want: np.ndarray) -> float:
    k = want.shape[1]
    return float(np.mean([len(set(g) & set(w)) / k for g, w in zip(got, want, strict=True)]))


def _faiss(vectors: np.ndarray, queries: np.ndarray, k: int, threads: int) -> dict[str, Any] | None:
    try:
        import faiss
    except ImportError:
        return None
    faiss.omp_set_num_threads(threads)
    before = _rss_mb()
    t0 = time.perf_counter()
    index = faiss.IndexHNSWFlat(vectors.shape[1], 16, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 100
    index.add(vectors)
    build = time.perf_counter() - t0
    index.hnsw.efSearch = 64
    t1 = time.perf_counter()
    _d, labels = index.search(queries, k)
    return {
        "build_s": build,
        "query_s": time.perf_counter() - t1,
        "labels": labels,
        "rss_growth_mb": _rss_mb() - before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="address file, one per line")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--model", default="shipped", help="retrieval model directory")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--vectors", help="cache the embeddings in this .npy (reruns skip embedding)")
    args = parser.parse_args()

    from geoalign.retrieval.embedder import OnnxEmbedder
    from geoalign.retrieval.index import ExactIndex, HnswIndex

    t0 = time.perf_counter()
    texts = _texts(args.data, args.n)
    normalize_s = time.perf_counter() - t0
    embedder = OnnxEmbedder(args.model, threads=args.threads, batch_size=args.batch_size)
    result: dict[str, Any] = {
        "records": len(texts),
        "model": str(embedder.directory),
        "layers": embedder.manifest.get("layers"),
        "precision": embedder.manifest.get("precision"),
        "threads": args.threads,
        "normalize_s": round(normalize_s, 1),
        "load_average_1m": round(os.getloadavg()[0], 1),
    }
    if args.vectors and os.path.exists(args.vectors):
        vectors = np.load(args.vectors)
        result["embedding"] = "from cache"
    else:
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        t1 = time.perf_counter()
        vectors = embedder.embed(texts)
        seconds = time.perf_counter() - t1
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        result["embed_s"] = round(seconds, 1)
        result["embed_per_s_wall"] = round(len(texts) / seconds)
        result["embed_per_cpu_s"] = round(len(texts) / cpu)
        if args.vectors:
            np.save(args.vectors, vectors)
    rng = np.random.default_rng(0)
    pick = rng.choice(len(vectors), size=min(args.queries, len(vectors)), replace=False)
    queries = vectors[pick]
    exact = ExactIndex(vectors.shape[1])
    exact.add(vectors, np.arange(len(vectors)))
    t2 = time.perf_counter()
    want, _ = exact.search(queries, args.k)
    exact_query_s = time.perf_counter() - t2
    result["exact"] = {
        "query_per_s": round(len(queries) / exact_query_s),
        "bytes_per_record": vectors.shape[1] * 4,
        "full_query_s_estimate": round(exact_query_s * len(vectors) / len(queries), 1),
    }
    import geoalign.retrieval.index as index_module

    for dtype in ("f16", "f32"):
        index_module.HNSW_DTYPE = dtype  # type: ignore[misc]
        before = _rss_mb()
        t3 = time.perf_counter()
        hnsw = HnswIndex(vectors.shape[1], threads=args.threads)
        hnsw.add(vectors, np.arange(len(vectors)))
        build = time.perf_counter() - t3
        # every record queried against the index, as a link of the table against itself asks; the
        # recall sample is a subset of those rows
        t4 = time.perf_counter()
        got_all, _ = hnsw.search(vectors, args.k)
        query = time.perf_counter() - t4
        result[f"usearch_hnsw_{dtype}"] = {
            "build_s": round(build, 2),
            "build_per_s": round(len(vectors) / build),
            "query_all_s": round(query, 2),
            "query_per_s": round(len(vectors) / query),
            "build_plus_query_all_s": round(build + query, 2),
            "recall_vs_exact": round(_recall(got_all[pick], want), 4),
            "memory_bytes_per_record": round(hnsw.index.memory_usage / len(vectors)),
            "rss_growth_mb": round(_rss_mb() - before, 1),
        }
        del hnsw
    found = _faiss(vectors, queries, args.k, args.threads)
    if found is not None:
        result["faiss_hnsw_flat"] = {
            "build_s": round(found["build_s"], 2),
            "build_per_s": round(len(vectors) / found["build_s"]),
            "query_per_s": round(len(queries) / found["query_s"]),
            "recall_vs_exact": round(_recall(found["labels"], want), 4),
            "rss_growth_mb": round(found["rss_growth_mb"], 1),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
