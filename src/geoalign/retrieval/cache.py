"""Embeddings of distinct normalized addresses, computed once, kept in memory and optionally on disk.

On disk (beside a resumable job's output) a cache is a directory: ``texts.jsonl`` (one JSON string a
line) and ``vectors.npy`` (float32 rows in the same order), plus ``cache.json`` naming the model that
made them — a cache from another model is ignored (and overwritten), never mixed in.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


class EmbeddingCache:
    """text -> unit vector, for one embedder (anything with ``embed(texts)``, ``dim`` and ``model_id``)."""

    def __init__(self, embedder: Any, directory: str | Path | None = None) -> None:
        self.embedder = embedder
        self.directory = Path(directory) if directory is not None else None
        self.rows: dict[str, int] = {}
        self.vectors = np.zeros((0, embedder.dim), dtype=np.float32)
        self.computed = 0  # texts embedded by this process (the rest came from disk)
        self._saved = 0
        if self.directory is not None:
            self._load()

    def _load(self) -> None:
        assert self.directory is not None
        meta = self.directory / "cache.json"
        if not meta.is_file():
            return
        try:
            info = json.loads(meta.read_text(encoding="utf-8"))
            if info.get("model_id") != self.embedder.model_id:
                return
            with open(self.directory / "texts.jsonl", encoding="utf-8") as handle:
                texts = [json.loads(line) for line in handle]
            vectors = np.load(self.directory / "vectors.npy")
        except (OSError, ValueError):
            return  # an unreadable cache is recomputed, not trusted
        if len(texts) != len(vectors) or vectors.shape[1:] != (self.embedder.dim,):
            return
        self.rows = {t: i for i, t in enumerate(texts)}
        self.vectors = vectors.astype(np.float32, copy=False)
        self._saved = len(texts)

    def get(self, texts: Sequence[str]) -> np.ndarray:
        """The vectors of ``texts`` (embedding the ones not seen before, each distinct text once)."""
        new = [t for t in dict.fromkeys(texts) if t not in self.rows]
        if new:
            vectors = self.embedder.embed(new)
            base = len(self.vectors)
            self.vectors = np.concatenate([self.vectors, vectors])
            for offset, text in enumerate(new):
                self.rows[text] = base + offset
            self.computed += len(new)
        return self.vectors[[self.rows[t] for t in texts]] if texts else self.vectors[:0]

    def mark(self) -> int:
        """A point to ask ``since`` about later."""
        return len(self.rows)

    def since(self, mark: int) -> tuple[list[str], np.ndarray]:
        """The texts embedded after ``mark`` and their vectors (a worker process sends them back, so the
        parent's cache, the one saved beside the job, has them too)."""
        texts = list(itertools.islice(self.rows, mark, None))  # rows are numbered in insertion order
        return texts, self.vectors[mark : mark + len(texts)]

    def absorb(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Add vectors embedded elsewhere (by a worker process of this run); known texts are kept."""
        new = [i for i, t in enumerate(texts) if t not in self.rows]
        if not new:
            return
        base = len(self.vectors)
        self.vectors = np.concatenate([self.vectors, vectors[new]])
        for offset, i in enumerate(new):
            self.rows[texts[i]] = base + offset
        self.computed += len(new)

    def save(self) -> None:
        """Write the cache (atomically replaced) when it has a directory and grew."""
        if self.directory is None or len(self.rows) == self._saved:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        texts = sorted(self.rows, key=self.rows.__getitem__)
        tmp_texts, tmp_vectors = self.directory / "texts.jsonl.tmp", self.directory / "vectors.npy.tmp"
        with open(tmp_texts, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(t, ensure_ascii=False) + "\n" for t in texts)
        with open(tmp_vectors, "wb") as handle:
            np.save(handle, self.vectors[: len(texts)])
        os.replace(tmp_texts, self.directory / "texts.jsonl")
        os.replace(tmp_vectors, self.directory / "vectors.npy")
        meta = {"model_id": self.embedder.model_id, "texts": len(texts), "dim": self.embedder.dim}
        (self.directory / "cache.json").write_text(json.dumps(meta), encoding="utf-8")
        self._saved = len(texts)


__all__ = ["EmbeddingCache"]
