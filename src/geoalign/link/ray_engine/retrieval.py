"""Learned retrieval (``--ann``) on Ray: the local engine's nearest neighbours as a second candidate
stream beside the rule blocks.

    analyzed records with their normalized ``text`` (read.read_analyzed(with_text=True))
      -> embed: CPU tasks; each worker process loads the ONNX embedder once       (map_batches)
      -> build: the indexed table's vectors gathered on the driver and added in position order,
         one index (the local engine adds them in that order too, so the exact index breaks ties
         the same way), serialized once into the object store
      -> search: CPU tasks; each worker restores the index once, asks for each query's pool of
         nearest records and keeps the k best by cosine + spelling (``retrieval.rerank``, as the
         local retriever does; the distinct texts and each position's text id travel with the index)
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

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from geoalign.cpus import usable_cpus
from geoalign.link.ray_engine.common import require_pyarrow, require_ray
from geoalign.link.settings import LinkSettings

#: ``kidx`` of the row that carries a query's nearest neighbours into the ranking group-by (the
#: rule blocks use the key's index in the query's key list, 0 and up)
ANN_KIDX: Final = -1
#: records embedded per task batch (the embedder sorts each batch by length, so padding stays small)
EMBED_BATCH: Final = 1024

_EMBEDDERS: dict[str, Any] = {}
_INDEXES: dict[str, Any] = {}
_MATRICES: dict[str, Any] = {}
_TEXTS: dict[str, Any] = {}


def _embedder(model: str) -> Any:
    """The embedder of ``model``, loaded once per worker process (one thread: Ray runs the tasks)."""
    embedder = _EMBEDDERS.get(model)
    if embedder is None:
        from geoalign.retrieval.embedder import OnnxEmbedder

        embedder = _EMBEDDERS[model] = OnnxEmbedder(model, threads=1)
    return embedder


def _vector_schema(dim: int) -> Any:
    pa = require_pyarrow()
    return pa.schema([pa.field("tid", pa.int64()), pa.field("vector", pa.list_(pa.float32(), dim))])


def _embed(batch: Any, *, model: str, dim: int) -> Any:
    """(tid, unit vector) for each distinct text of the batch."""
    pa = require_pyarrow()
    vectors = _embedder(model).embed(batch.column("text").to_pylist()).astype(np.float32, copy=False)
    flat = pa.array(vectors.reshape(-1), pa.float32())
    return pa.Table.from_arrays(
        [batch.column("tid"), pa.FixedSizeListArray.from_arrays(flat, dim)],
        schema=_vector_schema(dim),
    )


@dataclass(slots=True)
class RecordTexts:
    """A table's usable records on the driver: their positions and, per record, the id of its
    normalized text among the run's distinct texts (``distinct_texts``)."""

    positions: np.ndarray
    tids: np.ndarray


def _positions_and_texts(ds: Any) -> tuple[np.ndarray, Any]:
    """(positions, normalized texts as one Arrow array) of the records that have a text (usable)."""
    pa = require_pyarrow()
    import pyarrow.compute as pc

    parts = list(ds.select_columns(["pos", "text"]).iter_batches(batch_format="pyarrow"))
    if not parts:
        return np.zeros(0, dtype=np.int64), pa.array([], pa.string())
    table = pa.concat_tables(parts)
    table = table.filter(pc.is_valid(table.column("text")))
    return table.column("pos").to_numpy(), table.column("text").combine_chunks()


def distinct_texts(tables: Sequence[Any]) -> tuple[list[RecordTexts], Any]:
    """Each table's records with the id of their text, and the distinct texts of all tables (an Arrow
    string array, tid = position in it). Why on the driver: Arrow's dictionary encoding finds the
    distinct texts in one vectorized pass over bytes the driver gathers anyway (≈ 50 bytes a record,
    against the 1.5 KB of each vector it already holds to build the index); a Ray groupby/join would
    shuffle every record twice to save the same work."""
    pa = require_pyarrow()
    gathered = [_positions_and_texts(ds) for ds in tables]
    texts = pa.concat_arrays([t for _, t in gathered]) if gathered else pa.array([], pa.string())
    encoded = texts.dictionary_encode()
    tids = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    out, start = [], 0
    for positions, part in gathered:
        out.append(RecordTexts(positions, tids[start : start + len(part)]))
        start += len(part)
    return out, encoded.dictionary


def embed_texts(texts: Any, settings: LinkSettings, dim: int) -> np.ndarray:
    """The vectors of ``texts`` (row i = text i), embedded by Ray tasks in blocks of a few batches."""
    pa = require_pyarrow()
    ray = require_ray()
    n = len(texts)
    matrix = np.zeros((n, dim), dtype=np.float32)
    if n == 0:
        return matrix
    table = pa.table({"tid": pa.array(np.arange(n, dtype=np.int64)), "text": texts})
    # blocks of at most n / CPUs rows, so that the map below runs as at least one task per CPU
    step = min(4 * EMBED_BATCH, -(-n // max(1, int(ray.cluster_resources().get("CPU", 1)))))
    vectors = _in_blocks(table, step).map_batches(
        _embed,
        fn_kwargs={"model": settings.ann, "dim": dim},
        batch_format="pyarrow",
        batch_size=EMBED_BATCH,
    )
    for batch in vectors.iter_batches(batch_format="pyarrow"):
        tids, rows = _as_numpy(batch, dim)
        matrix[tids] = rows
    return matrix


def _as_numpy(table: Any, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(text ids, vectors) of a vector table."""
    column = table.column("vector").combine_chunks()
    vectors = column.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)
    return table.column("tid").to_numpy(), vectors.astype(np.float32, copy=False)


def build_index(
    records: RecordTexts, matrix: np.ndarray, settings: LinkSettings, dim: int
) -> tuple[Any, int]:
    """One index over the records' vectors, built on the driver in position order; (a reference to
    its bytes in the object store, the number of vectors)."""
    ray = require_ray()
    from geoalign.retrieval.index import make_index

    order = np.argsort(records.positions, kind="stable")
    index = make_index(settings.ann_index, dim, threads=usable_cpus())
    index.add(matrix[records.tids[order]], records.positions[order])
    return ray.put(index.to_bytes()), len(index)


def _restored(holder: list[Any], cache: dict[str, Any], restore: Any) -> Any:
    """The object behind the reference in ``holder``, restored once per worker process. The reference
    travels inside a list so that Ray hands it over as a reference (a bare one would be resolved and
    copied into every task)."""
    (ref,) = holder
    key = ref.hex()
    value = cache.get(key)
    if value is None:
        cache.clear()  # one run's object at a time: a worker reused by the next run drops the old
        value = cache[key] = restore(require_ray().get(ref))
    return value


@dataclass(frozen=True, slots=True)
class PositionTexts:
    """An indexed position's normalized text: ``texts[tid_of[position]]`` (-1: no text)."""

    texts: list[str]
    tid_of: np.ndarray

    def __getitem__(self, position: int) -> str | None:
        tid = int(self.tid_of[position]) if 0 <= position < len(self.tid_of) else -1
        return self.texts[tid] if tid >= 0 else None


def position_texts(records: RecordTexts, texts: Any) -> PositionTexts:
    """Each indexed position's text (``records``: the indexed table's; ``texts``: the distinct ones)."""
    size = int(records.positions.max()) + 1 if len(records.positions) else 0
    tid_of = np.full(size, -1, dtype=np.int64)
    tid_of[records.positions] = records.tids
    return PositionTexts(texts.to_pylist(), tid_of)


def _search(
    batch: Any,
    *,
    index: list[Any],
    vectors: list[Any],
    texts: list[Any],
    backend: str,
    dim: int,
    k: int,
    pool: int,
) -> Any:
    """Each query's k best indexed positions of its ``pool`` nearest (``retrieval.rerank``), as a block
    row (``kidx = ANN_KIDX``); the ranking stage filters them (dedupe: each pair once) and merges them
    with the rule candidates. A query row carries the id of its text; its vector is that row of the
    run's distinct-text matrix."""
    pa = require_pyarrow()
    from geoalign.link.ray_engine.blocking import block_schema
    from geoalign.retrieval.index import index_from_bytes
    from geoalign.retrieval.rerank import rerank

    searcher = _restored(index, _INDEXES, lambda raw: index_from_bytes(backend, raw, dim, threads=1))
    matrix = _restored(vectors, _MATRICES, lambda array: array)
    by_position: PositionTexts = _restored(texts, _TEXTS, lambda value: value)
    queries = batch.column("pos").to_numpy()
    tids = batch.column("tid").to_numpy()
    labels, sims = searcher.search(matrix[tids], max(k, pool))
    kept = rerank([by_position.texts[t] for t in tids], labels, sims, by_position, k)
    n = len(queries)
    rows = {
        "q": queries.tolist(),
        "kidx": [ANN_KIDX] * n,
        "block": kept,
        "skipped_blocks": [0] * n,
        "skipped_pairs": [0] * n,
    }
    return pa.Table.from_pydict(rows, schema=block_schema())


@dataclass(slots=True)
class AnnStream:
    """The nearest-neighbour rows of a run (block schema, one per usable query) and what it cost."""

    rows: Any
    report: dict[str, Any]


def _query_rows(records: RecordTexts) -> Any:
    """(pos, tid) of the query records as a dataset of several blocks (one search task each)."""
    pa = require_pyarrow()
    table = pa.table(
        {"pos": pa.array(records.positions, pa.int64()), "tid": pa.array(records.tids, pa.int64())}
    )
    return _in_blocks(table, 4 * EMBED_BATCH)


def _in_blocks(table: Any, step: int) -> Any:
    """``table`` as a dataset of blocks of ``step`` rows: one block is one task of a map over it."""
    blocks = [table.slice(i, step) for i in range(0, len(table), step)]
    return require_ray().data.from_arrow(blocks or [table])


def ann_candidates(query: Any, index: Any, settings: LinkSettings, *, dedupe: bool) -> AnnStream:
    """Embed each distinct text once, build once, search: per usable query record its k nearest
    indexed records."""
    from geoalign.retrieval.index import make_index

    ray = require_ray()
    assert settings.ann is not None
    t0 = time.perf_counter()
    # loaded here first: a bad model directory or a missing 'ann' extra fails before any Ray work
    # (not after embedding both tables), with the local engine's message
    embedder = _embedder(settings.ann)
    dim = int(embedder.dim)
    make_index(settings.ann_index, dim)
    tables, texts = distinct_texts([index] if dedupe else [index, query])
    index_records = tables[0]
    query_records = index_records if dedupe else tables[1]
    matrix = embed_texts(texts, settings, dim)
    t1 = time.perf_counter()
    ref, n_vectors = build_index(index_records, matrix, settings, dim)
    t2 = time.perf_counter()
    rows = _query_rows(query_records).map_batches(
        _search,
        fn_kwargs={
            "index": [ref],
            "vectors": [ray.put(matrix)],
            "texts": [ray.put(position_texts(index_records, texts))],
            "backend": settings.ann_index,
            "dim": dim,
            "k": settings.ann_k,
            "pool": settings.ann_pool,
        },
        batch_format="pyarrow",
        batch_size=EMBED_BATCH,
    )
    n_records = len(index_records.positions) + (0 if dedupe else len(query_records.positions))
    report = {
        "how": "built",
        "engine": "ray",
        "model_id": embedder.model_id,
        "backend": settings.ann_index,
        "vectors": n_vectors,
        "records": n_records,
        "embedded_texts": len(texts),  # each distinct normalized text once, across both tables
        "seconds_embed": round(t1 - t0, 3),
        "seconds_build": round(t2 - t1, 3),
    }
    return AnnStream(rows, report)


__all__ = [
    "ANN_KIDX",
    "AnnStream",
    "RecordTexts",
    "ann_candidates",
    "build_index",
    "distinct_texts",
    "embed_texts",
]
