"""Nearest neighbours for the link core: embed the indexed records, index them, answer query chunks.

What is embedded is a record's *normalized* text (its parsed view's ``text``), so two spellings that
the normalizer folds together are one embedding; each distinct text is embedded once (``cache``).
Index labels are record positions in the link run's indexed table, so the neighbours come back as the
same positions rule blocking uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from geoalign.errors import InputError
from geoalign.retrieval.cache import EmbeddingCache
from geoalign.retrieval.index import DEFAULT_BACKEND, VectorIndex, make_index

DEFAULT_K: Final[int] = 20


@dataclass(frozen=True, slots=True)
class RetrievalSettings:
    """What retrieval adds to blocking: the model directory ("shipped" for the packaged one), the k
    nearest neighbours per query, the index backend and the threads it may use."""

    model: str = "shipped"
    k: int = DEFAULT_K
    backend: str = DEFAULT_BACKEND
    threads: int = 2

    def __post_init__(self) -> None:
        if self.k < 1:
            raise InputError("ann-k must be >= 1")


def _text(record: Any) -> str | None:
    view = getattr(record, "view", None)
    return None if view is None or getattr(record, "error", None) is not None else view.text


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
        self.cache = EmbeddingCache(embedder, cache_dir)
        self.index: VectorIndex = make_index(settings.backend, embedder.dim, threads=settings.threads)
        self.n_indexed = 0  # records of the table seen (indexed or unusable)

    def add(self, records: Sequence[Any], start: int | None = None) -> None:
        """Index ``records``, which sit at positions ``start..`` of the indexed table (default: after
        the ones added before); unusable records take a position but are not indexed."""
        first = self.n_indexed if start is None else start
        positions = [first + i for i, r in enumerate(records) if _text(r) is not None]
        texts = [t for t in (_text(r) for r in records) if t is not None]
        if texts:
            self.index.add(self.cache.get(texts), np.asarray(positions, dtype=np.int64))
        self.n_indexed = max(self.n_indexed, first + len(records))

    def neighbours(self, queries: Sequence[Any]) -> list[list[int]]:
        """Per query, up to k indexed positions, nearest first (none for an unusable query)."""
        usable = [i for i, q in enumerate(queries) if _text(q) is not None]
        out: list[list[int]] = [[] for _ in queries]
        if not usable:
            return out
        vectors = self.cache.get([_text(queries[i]) or "" for i in usable])
        labels, _sims = self.index.search(vectors, self.settings.k)
        for row, i in enumerate(usable):
            out[i] = [int(x) for x in labels[row] if x >= 0]
        return out

    def save(self) -> None:
        """Write the embedding cache (when it has a directory): a rerun or resume embeds nothing twice."""
        self.cache.save()


__all__ = ["DEFAULT_K", "AnnRetriever", "RetrievalSettings"]
