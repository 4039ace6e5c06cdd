"""Nearest-neighbour search over unit vectors (inner product = cosine).

Two backends behind one small interface (``add``, ``search``, ``save``/``load``, ``to_bytes`` /
``index_from_bytes`` for the object store of the Ray engine, ``len``):

* ``hnsw`` — an HNSW graph from usearch (extra ``ann``): sub-linear queries, incremental ``add``,
  binary wheels for every platform (hnswlib ships only an sdist that needs a compiler; faiss-cpu is a
  much larger wheel). Measurements against exact search are in ``docs/ray.md`` ("Retrieval at scale").
* ``exact`` — a brute-force matrix product in numpy, chunked: exact, no extra dependency; right for
  small tables (and the reference the HNSW recall is measured against).

Labels are the caller's record numbers (ints); ``search`` returns, per query row, up to ``k`` labels
best first and their similarities, with ``-1`` padding where the index holds fewer than ``k``.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np

from geoalign.errors import InputError

BACKENDS: Final = ("hnsw", "exact")
DEFAULT_BACKEND: Final = "hnsw"
#: HNSW graph degree and build / search beam widths (measured, docs/ray.md)
HNSW_M: Final = 16
HNSW_EF_CONSTRUCTION: Final = 100
HNSW_EF_SEARCH: Final = 64
#: how usearch stores vectors: f16 halves the memory of f32 at no measurable recall cost on unit vectors
HNSW_DTYPE: Final = "f16"
#: Up to this many vectors the graph is built on one thread, so the same table gives the same graph,
#: the same candidates and the same links on every run: a graph built by several threads depends on
#: their timing (two 2-thread builds over 18,000 corpus addresses gave other top-50 lists for 2,973
#: of them; two 1-thread builds, none). Measured on 2 cores: 18,000 vectors 2.3 s on one thread against
#: 1.3 s on two; 100,000 vectors 23–30 s against 13 s, which the 100k x 100k goal (build + query <= 30 s)
#: cannot afford, so larger tables keep the threaded, run-to-run varying build. Search is read-only and
#: always uses every thread it is given.
DETERMINISTIC_BUILD_MAX: Final = 50_000


def missing_extra_error(module: str) -> InputError:
    return InputError(
        f"--ann needs the {module!r} package: pip install 'geoalign[ann]' (or --ann-index exact, no extra)"
    )


def _usearch_index() -> Any:
    """usearch's ``Index`` class, onnxruntime loaded first. Measured (usearch 2.26.6, onnxruntime
    1.32.0, x86_64): ``import usearch.index`` then ``import onnxruntime`` kills the process with
    SIGSEGV inside onnxruntime's extension; the other order works. A process that searches and
    later embeds (a reused Ray worker, a notebook) would crash, so the order is fixed here."""
    with contextlib.suppress(ImportError):  # no onnxruntime: no embedder here, nothing to protect
        import onnxruntime  # noqa: F401  (the import order above, not a use)
    try:
        from usearch.index import Index
    except ImportError as exc:
        raise missing_extra_error("usearch") from exc
    return Index


class VectorIndex(Protocol):
    backend: str

    def add(self, vectors: np.ndarray, labels: np.ndarray) -> None: ...
    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...
    def save(self, path: Path) -> None: ...
    def to_bytes(self) -> bytes: ...
    def __len__(self) -> int: ...


class ExactIndex:
    """All vectors in one matrix; search is a chunked matrix product and a partial sort."""

    backend = "exact"

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.vectors = np.zeros((0, dim), dtype=np.float32)
        self.labels = np.zeros((0,), dtype=np.int64)

    def add(self, vectors: np.ndarray, labels: np.ndarray) -> None:
        self.vectors = np.concatenate([self.vectors, np.asarray(vectors, dtype=np.float32)])
        self.labels = np.concatenate([self.labels, np.asarray(labels, dtype=np.int64)])

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(vectors)
        labels = np.full((n, k), -1, dtype=np.int64)
        sims = np.full((n, k), -np.inf, dtype=np.float32)
        kk = min(k, len(self.labels))
        if kk == 0:
            return labels, sims
        for start in range(0, n, 1024):
            scores = vectors[start : start + 1024] @ self.vectors.T
            top = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
            part = np.take_along_axis(scores, top, axis=1)
            order = np.argsort(-part, axis=1, kind="stable")
            labels[start : start + 1024, :kk] = self.labels[np.take_along_axis(top, order, axis=1)]
            sims[start : start + 1024, :kk] = np.take_along_axis(part, order, axis=1)
        return labels, sims

    def save(self, path: Path) -> None:
        with open(path, "wb") as handle:
            np.savez(handle, vectors=self.vectors, labels=self.labels)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, vectors=self.vectors, labels=self.labels)
        return buffer.getvalue()

    @classmethod
    def load(cls, path: Path | io.BytesIO, dim: int) -> ExactIndex:
        index = cls(dim)
        with np.load(path) as data:
            index.vectors, index.labels = data["vectors"], data["labels"]
        return index

    def __len__(self) -> int:
        return len(self.labels)


class HnswIndex:
    """An HNSW graph from usearch (inner-product metric); keys are the caller's record numbers."""

    backend = "hnsw"

    def __init__(self, dim: int, *, threads: int = 1, index: Any = None) -> None:
        Index = _usearch_index()
        self.dim = dim
        self.threads = max(1, threads)
        # ``is None``, not ``or``: a restored index with no vectors is falsy (its len is 0) and is still it
        self.index = (
            index
            if index is not None
            else Index(
                ndim=dim,
                metric="ip",
                dtype=HNSW_DTYPE,
                connectivity=HNSW_M,
                expansion_add=HNSW_EF_CONSTRUCTION,
                expansion_search=HNSW_EF_SEARCH,
            )
        )

    def add(self, vectors: np.ndarray, labels: np.ndarray) -> None:
        if len(vectors) == 0:
            return
        keys = np.asarray(labels, dtype=np.uint64)
        threads = 1 if len(self) + len(vectors) <= DETERMINISTIC_BUILD_MAX else self.threads
        self.index.add(keys, np.asarray(vectors, dtype=np.float32), threads=threads)

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(vectors)
        labels = np.full((n, k), -1, dtype=np.int64)
        sims = np.full((n, k), -np.inf, dtype=np.float32)
        if n == 0 or len(self) == 0:
            return labels, sims
        found: Any = self.index.search(np.asarray(vectors, dtype=np.float32), k, threads=self.threads)
        keys = np.asarray(found.keys).reshape(n, -1)
        dist = np.asarray(found.distances).reshape(n, -1)
        # several queries come back as usearch's BatchMatches (hits + filler, with counts), one query as
        # Matches: its hits only, no counts (a one-record link with --ann failed on that)
        counts = np.asarray(getattr(found, "counts", [keys.shape[1]])).reshape(n, 1)
        width = min(k, keys.shape[1])
        # a row holds counts[row] hits, best first; the slots after them are usearch's filler
        hit = np.arange(width)[None, :] < counts
        labels[:, :width] = np.where(hit, keys[:, :width].astype(np.int64), -1)
        # usearch's "ip" distance is 1 - inner product
        sims[:, :width] = np.where(hit, 1.0 - dist[:, :width], -np.inf).astype(np.float32)
        return labels, sims

    def save(self, path: Path) -> None:
        self.index.save(str(path))

    def to_bytes(self) -> bytes:
        data: Any = self.index.save()  # no path: usearch returns the serialized index
        return bytes(data)

    @classmethod
    def load(cls, path: Path | bytes, dim: int, *, threads: int = 1) -> HnswIndex:
        Index = _usearch_index()
        source = path if isinstance(path, bytes) else str(path)
        restored: Any = Index.restore(source)  # Any: its typed setters read as read-only
        if restored is None:
            raise OSError(f"{'a buffer' if isinstance(path, bytes) else path}: not a usearch index")
        # the file keeps the graph and its degree but not the beam widths: set ours again
        restored.expansion_add = HNSW_EF_CONSTRUCTION
        restored.expansion_search = HNSW_EF_SEARCH
        return cls(dim, threads=threads, index=restored)

    def __len__(self) -> int:
        return len(self.index)


def index_from_bytes(backend: str, data: bytes, dim: int, *, threads: int = 1) -> VectorIndex:
    """The index ``to_bytes`` serialized (the Ray engine ships a built index through its object store)."""
    if backend == "hnsw":
        return HnswIndex.load(data, dim, threads=threads)
    if backend == "exact":
        return ExactIndex.load(io.BytesIO(data), dim)
    raise InputError(f"unknown ANN index {backend!r}; choose from {', '.join(BACKENDS)}")


def make_index(backend: str, dim: int, *, threads: int = 1) -> VectorIndex:
    if backend == "hnsw":
        return HnswIndex(dim, threads=threads)
    if backend == "exact":
        return ExactIndex(dim)
    raise InputError(f"unknown ANN index {backend!r}; choose from {', '.join(BACKENDS)}")


__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "ExactIndex",
    "HnswIndex",
    "VectorIndex",
    "index_from_bytes",
    "make_index",
    "missing_extra_error",
]
