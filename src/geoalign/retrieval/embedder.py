"""The address embedder at inference: ``tokenizers`` ids -> one onnxruntime call -> unit vectors.

Core dependencies only (onnxruntime, tokenizers, numpy). The graph (``retrieval.export``) already mean-
pools and L2-normalises, so the inner product of two rows is their cosine. Texts are embedded in
batches sorted by token count (little padding); duplicates are embedded once.

The cores work on whole batches side by side (one Python thread per core, each running the session
with one intra-op thread; ONNX Runtime releases the GIL while it runs) rather than all on each batch in
turn: a batch of 256 short addresses is too small a job to split across cores without the threads
waiting on each other, and whole batches in parallel embed 1.13-1.17x faster on 2 cores
(docs/benchmarks.md, session 19). The batches are the same either way, so are the vectors: the graph's
dynamic int8 quantization depends on what shares a batch, never on which thread runs it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from geoalign import forksafe
from geoalign.engine.batching import pad_batch
from geoalign.errors import ModelLoadError

MANIFEST = "retrieval.json"
FORMAT = "geoalign-retrieval"
DEFAULT_BATCH = 256


def shipped_model_dir() -> Path:
    """The retrieval model that ships in the package (``models/retrieval``)."""
    return Path(__file__).resolve().parent.parent / "models" / "retrieval"


def resolve_model_dir(model: str | Path | None) -> Path:
    """``None`` or ``"shipped"`` -> the shipped model; else the directory given (checked)."""
    directory = shipped_model_dir() if model in (None, "shipped", "default") else Path(str(model))
    if not (directory / MANIFEST).is_file():
        raise ModelLoadError(f"{directory}: not a geoalign retrieval model (no {MANIFEST})")
    return directory


class OnnxEmbedder(forksafe.LazySession):
    """Embeds address texts with an exported retrieval model directory."""

    def __init__(
        self, model: str | Path | None = None, *, threads: int | None = None, batch_size: int = DEFAULT_BATCH
    ) -> None:
        from tokenizers import Tokenizer

        self.directory = resolve_model_dir(model)
        try:
            manifest = json.loads((self.directory / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"{self.directory / MANIFEST}: unreadable manifest ({exc})") from exc
        if manifest.get("format") != FORMAT:
            raise ModelLoadError(f"{self.directory}: manifest format is not {FORMAT!r}")
        self.manifest: dict[str, Any] = manifest
        self.dim = int(manifest["dim"])
        self.max_length = int(manifest["max_length"])
        self.batch_size = max(1, batch_size)
        model_path = self.directory / manifest["model"]
        self.tokenizer = Tokenizer.from_file(str(self.directory / manifest["tokenizer"]))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_length)
        self.threads = threads
        self._model_path = model_path
        self._session: Any = None
        self.session = self._open(threads)
        self.model_id = "retrieval:" + hashlib.sha256(model_path.read_bytes()).hexdigest()[:16]

    def _open(self, threads: int | None) -> Any:
        """A new ONNX Runtime session on the graph (in ``__init__``, and again in a forked child). One
        intra-op thread: the cores share the work by batch instead (``parallel_batches``)."""
        return forksafe.cpu_session(self._model_path, 1, "the retrieval graph")

    def parallel_batches(self) -> int:
        """How many batches run at once: the ``threads`` asked for (in a forked worker, its share of the
        cores), else every usable CPU."""
        threads = forksafe.child_threads(self.threads)
        if threads is None:
            from geoalign.cpus import usable_cpus

            threads = usable_cpus()
        return max(1, threads)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32 unit rows, in the order of ``texts``."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        batches = [order[start : start + self.batch_size] for start in range(0, len(order), self.batch_size)]

        def vectors_of(rows: list[int]) -> np.ndarray:
            ids, mask = pad_batch([encodings[i].ids for i in rows], self.pad_id)
            return self.forward(ids, mask)

        parallel = min(self.parallel_batches(), len(batches))
        if parallel <= 1:
            for rows in batches:
                out[rows] = vectors_of(rows)
            return out
        _ = self.session  # opened here, before the threads below could race to open it twice
        with ThreadPoolExecutor(parallel, thread_name_prefix="geoalign-embed") as pool:
            for rows, vectors in zip(batches, pool.map(vectors_of, batches), strict=True):
                out[rows] = vectors
        return out

    def forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """One graph call on a padded batch (what ``scorers.quantize.record_feeds`` records)."""
        (vectors,) = self.session.run(None, {"input_ids": input_ids, "attention_mask": attention_mask})
        return np.asarray(vectors)

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.token_to_id("<pad>")
        return 1 if pad is None else int(pad)


__all__ = ["FORMAT", "MANIFEST", "OnnxEmbedder", "resolve_model_dir", "shipped_model_dir"]
