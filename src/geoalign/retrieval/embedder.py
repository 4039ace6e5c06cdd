"""The address embedder at inference: ``tokenizers`` ids -> one onnxruntime call -> unit vectors.

Core dependencies only (onnxruntime, tokenizers, numpy). The graph (``retrieval.export``) already mean-
pools and L2-normalises, so the inner product of two rows is their cosine. Texts are embedded in
batches sorted by token count (little padding); duplicates are embedded once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
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
        """A new ONNX Runtime session on the graph (in ``__init__``, and again in a forked child)."""
        return forksafe.cpu_session(self._model_path, threads, "the retrieval graph")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32 unit rows, in the order of ``texts``."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            ids, mask = pad_batch([encodings[i].ids for i in rows], self.pad_id)
            out[rows] = self.forward(ids, mask)
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
