"""Nearest neighbours for the link core: embed the indexed records, index them, answer query chunks.

What is embedded is a record's *normalized* text (its parsed view's ``text``), so two spellings that
the normalizer folds together are one embedding; each distinct text is embedded once (``cache``).
Index labels are record positions in the link run's indexed table, so the neighbours come back as the
same positions rule blocking uses.

A file run also keeps the built index beside the job (``saved``): ``index_table`` starts from a saved
index that covers a prefix of the table (a rerun: all of it; ``dedupe --existing``: the existing
records) and adds the rest, and ``save`` writes it back when it changed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geoalign.errors import InputError
from geoalign.retrieval.cache import EmbeddingCache
from geoalign.retrieval.index import DEFAULT_BACKEND, VectorIndex, make_index
from geoalign.retrieval.rerank import DEFAULT_K, DEFAULT_POOL, rerank
from geoalign.retrieval.saved import IndexIdentity, PrefixDigests, SavedIndex, backend_params


@dataclass(frozen=True, slots=True)
class RetrievalSettings:
    """What retrieval adds to blocking: the model directory ("shipped" for the packaged one), the k
    neighbours kept per query out of a pool of ``pool`` nearest (re-ordered by ``rerank``; a pool of
    at most k is the cosine order alone), the index backend and the threads it may use."""

    model: str = "shipped"
    k: int = DEFAULT_K
    backend: str = DEFAULT_BACKEND
    threads: int = 2
    pool: int = DEFAULT_POOL

    def __post_init__(self) -> None:
        if self.k < 1:
            raise InputError("ann-k must be >= 1")
        if self.pool < 0:
            raise InputError("ann-pool must be >= 0")


def _text(record: Any) -> str | None:
    view = getattr(record, "view", None)
    return None if view is None or getattr(record, "error", None) is not None else view.text


def _entries(records: Sequence[Any]) -> Iterator[tuple[int, str]]:
    for position, record in enumerate(records):
        text = _text(record)
        if text is not None:
            yield position, text


@dataclass(slots=True)
class IndexReport:
    """How this run got its index: ``built`` (from nothing), ``loaded`` (a saved one, nothing to add)
    or ``extended`` (a saved one plus the records after it); the counts, and why a saved index in
    the job's directories was not used (``rejected``: one line per directory, empty when none was)."""

    how: str = "built"
    records: int = 0  # table positions covered
    vectors: int = 0  # usable records indexed
    from_saved: int = 0  # of ``records``, those the saved index already covered
    source: str | None = None  # the directory the saved index came from
    embedded: int = 0  # texts embedded by this process (not in the embedding cache)
    seconds: float = 0.0
    rejected: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        if self.how == "built":
            what = "index built"
        else:
            what = f"index {self.how} from {self.source} ({self.from_saved:,} records saved"
            what += f", {self.records - self.from_saved:,} added)" if self.how == "extended" else ")"
        return (
            f"retrieval: {what}; {self.vectors:,} records indexed ({self.embedded:,} texts embedded) "
            f"in {self.seconds:.1f}s"
        )


class AnnRetriever:
    """The k nearest indexed records of each query record (by position in the indexed table)."""

    def __init__(
        self, settings: RetrievalSettings, *, cache_dir: str | Path | None = None, embedder: Any = None
    ):
        if embedder is None:
            from geoalign.retrieval.embedder import OnnxEmbedder

            embedder = OnnxEmbedder(settings.model, threads=settings.threads)
        self.settings = settings
        self.embedder = embedder
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.cache = EmbeddingCache(embedder, cache_dir)
        self.identity = IndexIdentity(
            embedder.model_id, settings.backend, embedder.dim, backend_params(settings.backend)
        )
        self.index: VectorIndex = make_index(settings.backend, embedder.dim, threads=settings.threads)
        self.n_indexed = 0  # records of the table seen (indexed or unusable)
        #: each table position's normalized text (None: unusable), for re-ranking by spelling
        self.texts: list[str | None] = []
        self._digest: str | None = None  # over the indexed table, once ``index_table`` ran
        self._index_saved = False  # the index in ``cache_dir`` is this one

    def index_table(self, records: Sequence[Any], reuse: Sequence[str | Path] = ()) -> IndexReport:
        """Index the whole table ``records``, starting from the first saved index in ``reuse`` (job
        directories, in order of preference) that covers a prefix of it (module ``saved``); the report says
        which, and why the others were not used."""
        t0 = time.perf_counter()
        embedded0 = self.cache.computed
        report = IndexReport()
        digests = PrefixDigests(_entries(records))
        for directory in reuse:
            found = SavedIndex(directory).load(
                self.identity, digests.at, len(records), threads=self.settings.threads
            )
            if isinstance(found, str):
                if found:
                    report.rejected.append(f"{directory}: {found}")
                continue
            self.index, self.n_indexed = found.index, found.records
            report.from_saved, report.source = found.records, str(found.directory)
            self._index_saved = self.cache_dir is not None and found.directory == self.cache_dir
            break
        self.texts = [_text(r) for r in records[: self.n_indexed]]
        self.add(records[self.n_indexed :], start=self.n_indexed)
        self._digest, _usable = digests.at(len(records))
        if report.source is not None:
            report.how = "loaded" if report.from_saved == len(records) else "extended"
        report.records, report.vectors = len(records), len(self.index)
        report.embedded, report.seconds = self.cache.computed - embedded0, time.perf_counter() - t0
        return report

    def add(self, records: Sequence[Any], start: int | None = None) -> None:
        """Index ``records``, which sit at positions ``start..`` of the indexed table (default: after
        the ones added before); unusable records take a position but are not indexed."""
        first = self.n_indexed if start is None else start
        added = [_text(r) for r in records]
        self.texts.extend([None] * (first - len(self.texts)))  # a gap before ``first``: no texts
        self.texts[first : first + len(added)] = added
        positions = [first + i for i, t in enumerate(added) if t is not None]
        texts = [t for t in added if t is not None]
        if texts:
            self.index.add(self.cache.get(texts), np.asarray(positions, dtype=np.int64))
            self._index_saved = False
        self._digest = None  # the saved digest covers what index_table indexed, nothing added later
        self.n_indexed = max(self.n_indexed, first + len(records))

    def neighbours(self, queries: Sequence[Any]) -> list[list[int]]:
        """Per query, up to k indexed positions, nearest first (none for an unusable query)."""
        usable = [i for i, q in enumerate(queries) if _text(q) is not None]
        out: list[list[int]] = [[] for _ in queries]
        if not usable:
            return out
        texts = [_text(queries[i]) or "" for i in usable]
        k = self.settings.k
        labels, sims = self.index.search(self.cache.get(texts), max(k, self.settings.pool))
        kept = rerank(texts, labels, sims, self.texts, k, workers=self.settings.threads)
        for row, i in enumerate(usable):
            out[i] = kept[row]
        return out

    def save(self) -> None:
        """Write the embedding cache (when it has a directory): a rerun or resume embeds nothing twice;
        and the index built by ``index_table``, when it is not the one already saved there."""
        self.cache.save()
        if self.cache_dir is not None and self._digest is not None and not self._index_saved:
            SavedIndex(self.cache_dir).save(self.index, self.identity, self.n_indexed, self._digest)
            self._index_saved = True


__all__ = ["DEFAULT_K", "AnnRetriever", "IndexReport", "RetrievalSettings"]
