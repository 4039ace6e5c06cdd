"""Learned retrieval (``--ann``) on Ray: the local engine's nearest neighbours as a second candidate
stream beside the rule blocks.

    analyzed records with their normalized ``text`` (read.read_analyzed(with_text=True))
      -> embed: CPU tasks; each worker process loads the ONNX embedder once       (map_batches)
      -> build: the indexed table's vectors gathered on the driver and added in position order,
         one index (the local engine adds them in that order too, so the exact index breaks ties
         the same way), serialized once into the object store
      -> search: CPU tasks; each worker restores the index once and asks for each query's k
         nearest records
      -> one row per query in the blocking stage's block schema, marked ``kidx = ANN_KIDX``: the
         ranking group-by over queries (``blocking._rank``) then takes the union with the rule
         candidates exactly as the local core does (``link.core.union_sources``: rule candidates
         in rank order, then the ANN-only ones nearest first, each tagged with its source)

Why the driver builds: an HNSW graph is one structure (usearch builds it with all its threads); the
driver holds it and the vectors while building (≈ 1.5 KB per record, f16), never the records. Why
tasks and not an actor pool: embedding and search keep their model/index per worker process (module
caches, as the analysis keeps its parser), so they need no reserved CPUs beside the scoring actors.

In dedupe the records are their own queries: their vectors are embedded once and serve both.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from geoalign.link.ray_engine.common import require_pyarrow, require_ray
from geoalign.link.settings import LinkSettings

#: ``kidx`` of the row that carries a query's nearest neighbours into the ranking group-by (the
#: rule blocks use the key's index in the query's key list, 0 and up)
ANN_KIDX: Final = -1
#: records embedded per task batch (the embedder sorts each batch by length, so padding stays small)
EMBED_BATCH: Final = 1024

_EMBEDDERS: dict[str, Any] = {}
_INDEXES: dict[str, Any] = {}


def _embedder(model: str) -> Any:
    """The embedder of ``model``, loaded once per worker process (one thread: Ray runs the tasks)."""
    embedder = _EMBEDDERS.get(model)
    if embedder is None:
        from geoalign.retrieval.embedder import OnnxEmbedder

        embedder = _EMBEDDERS[model] = OnnxEmbedder(model, threads=1)
    return embedder


def _vector_schema(dim: int) -> Any:
    pa = require_pyarrow()
    return pa.schema([pa.field("pos", pa.int64()), pa.field("vector", pa.list_(pa.float32(), dim))])


def _embed(batch: Any, *, model: str, dim: int) -> Any:
    """(pos, unit vector) for each record of the batch with a normalized text (usable records)."""
    pa = require_pyarrow()
    pos = batch.column("pos").to_pylist()
    texts = batch.column("text").to_pylist()
    keep = [i for i, text in enumerate(texts) if text is not None]
    vectors = _embedder(model).embed([texts[i] for i in keep]).astype(np.float32, copy=False)
    flat = pa.array(vectors.reshape(-1), pa.float32())
    return pa.Table.from_arrays(
        [pa.array([pos[i] for i in keep], pa.int64()), pa.FixedSizeListArray.from_arrays(flat, dim)],
        schema=_vector_schema(dim),
    )


def _as_numpy(table: Any, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions, vectors) of a vector table."""
    column = table.column("vector").combine_chunks()
    vectors = column.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)
    return table.column("pos").to_numpy(), vectors.astype(np.float32, copy=False)


def embed_records(ds: Any, settings: LinkSettings, dim: int) -> Any:
    """The usable records' vectors, materialized (in dedupe they are used twice: index and queries)."""
    assert settings.ann is not None
    return ds.map_batches(
        _embed,
        fn_kwargs={"model": settings.ann, "dim": dim},
        batch_format="pyarrow",
        batch_size=EMBED_BATCH,
    ).materialize()


def build_index(vectors: Any, settings: LinkSettings, dim: int) -> tuple[Any, int]:
    """One index over ``vectors`` built on the driver in position order; (a reference to its bytes in
    the object store, the number of vectors)."""
    ray = require_ray()
    from geoalign.retrieval.index import make_index

    parts = [_as_numpy(batch, dim) for batch in vectors.iter_batches(batch_format="pyarrow")]
    positions = np.concatenate([p for p, _ in parts]) if parts else np.zeros(0, dtype=np.int64)
    matrix = np.concatenate([v for _, v in parts]) if parts else np.zeros((0, dim), dtype=np.float32)
    del parts
    order = np.argsort(positions, kind="stable")
    index = make_index(settings.ann_index, dim, threads=max(1, os.cpu_count() or 1))
    index.add(matrix[order], positions[order])
    return ray.put(index.to_bytes()), len(index)


def _index(holder: list[Any], backend: str, dim: int) -> Any:
    """The index behind the reference in ``holder``, restored once per worker process. The reference
    travels inside a list so that Ray hands it over as a reference (a bare one would be resolved and
    copied into every task)."""
    (ref,) = holder
    key = ref.hex()
    index = _INDEXES.get(key)
    if index is None:
        from geoalign.retrieval.index import index_from_bytes

        _INDEXES.clear()  # one run's index at a time: a worker reused by the next run drops the old
        index = _INDEXES[key] = index_from_bytes(backend, require_ray().get(ref), dim, threads=1)
    return index


def _search(batch: Any, *, holder: list[Any], backend: str, dim: int, k: int) -> Any:
    """Each query's k nearest indexed positions, as a block row (``kidx = ANN_KIDX``); the ranking
    stage filters them (dedupe: each pair once) and merges them with the rule candidates."""
    pa = require_pyarrow()
    from geoalign.link.ray_engine.blocking import block_schema

    queries, vectors = _as_numpy(batch, dim)
    labels, _sims = _index(holder, backend, dim).search(vectors, k)
    n = len(queries)
    rows = {
        "q": queries.tolist(),
        "kidx": [ANN_KIDX] * n,
        "block": [[int(c) for c in row if c >= 0] for row in labels],
        "skipped_blocks": [0] * n,
        "skipped_pairs": [0] * n,
    }
    return pa.Table.from_pydict(rows, schema=block_schema())


@dataclass(slots=True)
class AnnStream:
    """The nearest-neighbour rows of a run (block schema, one per usable query) and what it cost."""

    rows: Any
    report: dict[str, Any]


def ann_candidates(query: Any, index: Any, settings: LinkSettings, *, dedupe: bool) -> AnnStream:
    """Embed, build once, search: per usable query record its k nearest indexed records."""
    from geoalign.retrieval.index import make_index

    assert settings.ann is not None
    t0 = time.perf_counter()
    # loaded here first: a bad model directory or a missing 'ann' extra fails before any Ray work
    # (not after embedding both tables), with the local engine's message
    embedder = _embedder(settings.ann)
    dim = int(embedder.dim)
    make_index(settings.ann_index, dim)
    index_vectors = embed_records(index, settings, dim)
    query_vectors = index_vectors if dedupe else embed_records(query, settings, dim)
    t1 = time.perf_counter()
    ref, n_vectors = build_index(index_vectors, settings, dim)
    t2 = time.perf_counter()
    rows = query_vectors.map_batches(
        _search,
        fn_kwargs={"holder": [ref], "backend": settings.ann_index, "dim": dim, "k": settings.ann_k},
        batch_format="pyarrow",
        batch_size=EMBED_BATCH,
    )
    report = {
        "how": "built",
        "engine": "ray",
        "model_id": embedder.model_id,
        "backend": settings.ann_index,
        "vectors": n_vectors,
        "embedded_records": n_vectors + (0 if dedupe else query_vectors.count()),  # not distinct texts
        "seconds_embed": round(t1 - t0, 3),
        "seconds_build": round(t2 - t1, 3),
    }
    return AnnStream(rows, report)


__all__ = ["ANN_KIDX", "AnnStream", "ann_candidates", "build_index", "embed_records"]
