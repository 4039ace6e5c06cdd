"""A shipped (ONNX) neural matcher as a distillation teacher: soft labels without its torch checkpoint.

Why: a student can be distilled from the model that ships (``src/geoalign/models/neural``) even when
the torch runs it came from are gone — the package's graph is the teacher. It reads raw text with its
own tokenizer, so the student may have another vocabulary. Each distinct pair is scored once (the
training set repeats every epoch) and the log-probabilities are kept on disk beside the run, so a
resumed run scores nothing twice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from geoalign.neural.data import MODEL_LABELS, TrainPair
from geoalign.types import AddressPair, ItemError

BATCH = 256
FLOOR = 1e-7  # log(0) guard: a probability the graph rounds to zero is a very small one, not impossible


class OnnxTeacher:
    """Log-probabilities (MODEL_LABELS order) of a geoalign ONNX model directory, cached per pair."""

    def __init__(self, model_dir: str | Path, cache_file: Path, *, threads: int = 2) -> None:
        from geoalign.scorers.spec import ScorerSpec

        spec = ScorerSpec(scorer="onnx", model=str(model_dir), rules=False, explain=False, threads=threads)
        self.scorer = spec.build()
        # the cache is keyed by the graph's checksum, not its path: a directory whose model was
        # replaced (a new shipped graph) must not hand out the old model's soft labels
        self.model_id = str(self.scorer.model_id)
        self.cache_file = cache_file
        self.cache: dict[tuple[str, str], np.ndarray] = {}
        self._load()

    def _load(self) -> None:
        if not self.cache_file.is_file():
            return
        data = np.load(self.cache_file, allow_pickle=False)
        if "model_id" not in data or str(data["model_id"]) != self.model_id:
            return  # another teacher's labels: recomputed, never mixed in
        keys = json.loads(str(data["keys"]))
        self.cache = {(a, b): row for (a, b), row in zip(keys, data["logp"], strict=True)}

    def _save(self) -> None:
        keys = list(self.cache)
        tmp = self.cache_file.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            keys=json.dumps(keys, ensure_ascii=False),
            logp=np.stack([self.cache[k] for k in keys]) if keys else np.zeros((0, 3), np.float32),
            model_id=self.model_id,
        )
        os.replace(tmp, self.cache_file)

    def log_probs(
        self, pairs: Sequence[TrainPair], progress: Callable[[str], None] | None = None
    ) -> np.ndarray:
        """(n, 3) teacher log-probabilities of ``pairs``; new pairs are scored in batches and saved."""
        todo = list(dict.fromkeys((p.a, p.b) for p in pairs if (p.a, p.b) not in self.cache))
        for start in range(0, len(todo), BATCH):
            chunk = todo[start : start + BATCH]
            results = self.scorer.score([AddressPair(a, b) for a, b in chunk])
            for key, result in zip(chunk, results, strict=True):
                if isinstance(result, ItemError):
                    raise ValueError(f"teacher could not score {key!r}: {result.message}")
                probs = np.array([result.probabilities[name] for name in MODEL_LABELS], dtype=np.float32)
                self.cache[key] = np.log(np.maximum(probs, FLOOR))
            if progress is not None and (start // BATCH) % 20 == 19:
                progress(f"teacher: {start + len(chunk):,}/{len(todo):,} new pairs scored")
                self._save()
        if todo:
            self._save()
        return np.stack([self.cache[(p.a, p.b)] for p in pairs]) if pairs else np.zeros((0, 3), np.float32)


__all__ = ["OnnxTeacher"]
