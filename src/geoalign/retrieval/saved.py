"""A built nearest-neighbour index kept on disk beside a job, with what it indexes.

Once the embeddings are cached (``cache``), building the index is what a rerun still pays for: the
HNSW build runs at ≈ 760 vectors/s on 2 threads (docs/ray.md), minutes per million records. So the
built index is saved in the job's ``OUT.retrieval/`` and loaded by the next run *when it indexes
exactly what that run would index*:

* ``index.usearch`` (HNSW) or ``index.npz`` (exact) — the index itself;
* ``index.json`` — its identity (the embedding model's id, the backend, the dimension, the HNSW
  build parameters) and its coverage: ``records``, how many positions of the indexed table it
  covers, and ``digest``, a SHA-256 over the (position, normalized text) of each usable record among
  them. Labels in the index are those positions, so the digest is what makes them mean the same
  records in another run.

A saved index is used when its identity matches and its digest equals the digest of the *first*
``records`` records of this run's table; the records after them are then added to it (none on a rerun;
the new records when ``dedupe --existing`` starts from the index saved with the existing table).
Anything else — another model, backend or parameter, other records, a newer parser that normalizes a
record differently, an unreadable file — is rebuilt, and the caller logs why: a mismatched index is
never trusted.

Writes are ordered so that a crash never leaves a mismatched pair: the old ``index.json`` is removed
first, the index file replaced atomically, and the new ``index.json`` written (atomically) last.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from geoalign.retrieval.index import (
    HNSW_DTYPE,
    HNSW_EF_CONSTRUCTION,
    HNSW_M,
    ExactIndex,
    HnswIndex,
    VectorIndex,
)

META: Final = "index.json"
FORMAT_VERSION: Final = 1
INDEX_FILES: Final = {"hnsw": "index.usearch", "exact": "index.npz"}


def backend_params(backend: str) -> dict[str, Any]:
    """The build parameters that shape an index's answers (an HNSW graph built with another degree or
    storage type is another index); the exact index has none."""
    if backend == "hnsw":
        return {"M": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION, "dtype": HNSW_DTYPE}
    return {}


@dataclass(frozen=True, slots=True)
class IndexIdentity:
    """What must be equal for a saved index to answer like a fresh one (apart from its records)."""

    model_id: str
    backend: str
    dim: int
    params: dict[str, Any] = field(default_factory=dict)


class PrefixDigests:
    """Digests of the first n (position, text) entries of a table, for the n asked for, in one pass.

    ``entries`` yields (position, normalized text) for the usable records in position order; ``at(n)``
    is the digest over those with position < n. Snapshots of one running SHA-256 (``copy``), so
    checking a saved prefix and digesting the whole table for the next save cost one pass together."""

    def __init__(self, entries: Iterable[tuple[int, str]]) -> None:
        self._entries = iter(entries)
        self._hash = hashlib.sha256()
        self._upto = 0  # every entry with position < _upto is in _hash
        self._pending: tuple[int, str] | None = None
        self._count = 0  # entries in _hash

    def at(self, n: int) -> tuple[str, int]:
        """(digest, usable records) over the positions below ``n``; ``n`` never decreases."""
        if n < self._upto:
            raise ValueError("prefix digests are taken in increasing order")
        while True:
            entry = self._pending if self._pending is not None else next(self._entries, None)
            self._pending = None
            if entry is None:
                break
            if entry[0] >= n:
                self._pending = entry
                break
            self._hash.update(json.dumps(entry, ensure_ascii=False).encode("utf-8") + b"\n")
            self._count += 1
        self._upto = n
        return self._hash.copy().hexdigest(), self._count


@dataclass(frozen=True, slots=True)
class Loaded:
    """A saved index that matched: the index, the table positions it covers and where it came from."""

    index: VectorIndex
    records: int
    directory: Path


class SavedIndex:
    """The index files in one directory (a job's ``OUT.retrieval/``)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    @property
    def meta_path(self) -> Path:
        return self.directory / META

    def index_path(self, backend: str) -> Path:
        return self.directory / INDEX_FILES[backend]

    def load(
        self, identity: IndexIdentity, digest_at: Callable[[int], tuple[str, int]], n_table: int, threads: int
    ) -> Loaded | str:
        """The saved index when it covers a prefix of this run's table (``digest_at(n)``: the digest
        of its first n records), else why not (a reason for the log; "" when nothing is saved)."""
        if not self.meta_path.is_file():
            return ""
        try:
            meta = json.loads(self.meta_path.read_text(encoding="utf-8"))
            saved = IndexIdentity(meta["model_id"], meta["backend"], int(meta["dim"]), dict(meta["params"]))
            n_saved, digest, vectors = int(meta["records"]), str(meta["digest"]), int(meta["vectors"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return f"unreadable {META} ({exc})"
        if meta.get("format_version") != FORMAT_VERSION:
            return f"saved in another format (version {meta.get('format_version')!r})"
        for name in ("model_id", "backend", "dim", "params"):
            ours, theirs = getattr(identity, name), getattr(saved, name)
            if theirs != ours:
                return f"built with another {name} ({theirs!r}, this run: {ours!r})"
        if n_saved > n_table:
            return f"covers {n_saved:,} records, this table has {n_table:,}"
        want, usable = digest_at(n_saved)
        if want != digest or usable != vectors:
            return f"indexes other records than the first {n_saved:,} here (changed input or normalizer)"
        try:
            index = self._read(identity, threads)
        except Exception as exc:  # usearch and numpy raise their own types for a damaged file
            return f"unreadable index file ({exc})"
        if len(index) != vectors:
            return f"the index file holds {len(index):,} vectors, {META} says {vectors:,}"
        return Loaded(index, n_saved, self.directory)

    def _read(self, identity: IndexIdentity, threads: int) -> VectorIndex:
        path = self.index_path(identity.backend)
        if identity.backend == "hnsw":
            return HnswIndex.load(path, identity.dim, threads=threads)
        return ExactIndex.load(path, identity.dim)

    def save(self, index: VectorIndex, identity: IndexIdentity, records: int, digest: str) -> None:
        """Write ``index`` (covering the first ``records`` positions, ``digest`` over them)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.meta_path.unlink(missing_ok=True)  # no moment where the old identity names the new file
        path = self.index_path(identity.backend)
        tmp = path.with_name(path.name + ".tmp")
        index.save(tmp)
        os.replace(tmp, path)
        meta = {
            "format_version": FORMAT_VERSION,
            **asdict(identity),
            "records": records,
            "vectors": len(index),
            "digest": digest,
        }
        tmp_meta = self.meta_path.with_name(META + ".tmp")
        tmp_meta.write_text(json.dumps(meta, indent=1), encoding="utf-8")
        os.replace(tmp_meta, self.meta_path)


__all__ = ["META", "IndexIdentity", "Loaded", "PrefixDigests", "SavedIndex", "backend_params"]
