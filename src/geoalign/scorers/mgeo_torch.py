"""Scorer ``torch``: a pair-classifier checkpoint (MGeo, any Hugging Face ``*ForSequenceClassification``,
geoalign's own model) on PyTorch.

Loading only: ``checkpoints.load_checkpoint`` gives the module, its fast tokenizer and its label order;
:class:`~geoalign.scorers.backend_torch.TorchBackend` runs the module (fp32/bf16/fp16, CPU/CUDA) and
:class:`~geoalign.scorers.pair_classifier.PairClassifierScorer` does everything else, exactly as for ONNX.
A load-time probe holds the assembled pairs equal to the Hugging Face tokenizer's own pair encoding.
"""

from __future__ import annotations

import warnings
from typing import Any

from geoalign.address.clean import DEFAULT_MAX_CHARS
from geoalign.engine.batching import DEFAULT_MAX_BATCH
from geoalign.errors import ModelLoadError
from geoalign.scorers.backend_torch import (
    DTYPES,
    TorchBackend,
    cpu_supports_bf16,
    default_threads,
    resolve_dtype,
)
from geoalign.scorers.checkpoints import Checkpoint, load_checkpoint
from geoalign.scorers.pair_classifier import PairClassifierScorer, PairEncoder


def _hf_reference(tokenizer: Any, max_length: int) -> Any:
    def reference(a: str, b: str) -> tuple[list[int], list[int] | None]:
        enc = tokenizer(a, b, truncation="longest_first", max_length=max_length)
        types = enc.get("token_type_ids")
        return list(enc["input_ids"]), list(types) if types is not None else None

    return reference


class TorchScorer(PairClassifierScorer):
    """A loaded :class:`~geoalign.scorers.checkpoints.Checkpoint` as the pair-classifier scorer ``torch``."""

    def __init__(
        self,
        checkpoint: Checkpoint,
        *,
        device: str = "cpu",
        dtype: str = "fp32",
        max_tokens: int | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
        compile: bool = False,
        threads: int | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
        token_cache_size: int = 100_000,
        explain: bool = True,
    ) -> None:
        self.checkpoint = checkpoint
        tokenizer = checkpoint.tokenizer
        backend_tokenizer = getattr(tokenizer, "backend_tokenizer", None)
        if backend_tokenizer is None:
            raise ModelLoadError("the checkpoint's tokenizer is not a fast (tokenizers-backed) tokenizer")
        pad_id = tokenizer.pad_token_id
        if pad_id is None:
            pad_id = getattr(getattr(checkpoint.model, "config", None), "pad_token_id", None)
        if pad_id is None:
            raise ModelLoadError("neither the tokenizer nor the model config names a padding token id")
        encoder = PairEncoder(
            backend_tokenizer,
            max_length=checkpoint.max_length,
            token_types=checkpoint.use_token_type,
            cache_size=token_cache_size,
        )
        encoder.check_against(_hf_reference(tokenizer, checkpoint.max_length))
        backend = TorchBackend(
            checkpoint.model,
            model_id=checkpoint.model_id,
            device=device,
            dtype=dtype,
            threads=threads,
            compile=compile,
            token_types=checkpoint.use_token_type,
        )
        super().__init__(
            backend,
            encoder,
            [checkpoint.id2label[i] for i in range(len(checkpoint.id2label))],
            pad_id=int(pad_id),
            max_tokens=max_tokens,
            max_batch=max_batch,
            max_chars=max_chars,
            explain=explain,
        )
        self.torch: TorchBackend = backend
        if checkpoint.is_random:
            warnings.warn(checkpoint.notes[0] if checkpoint.notes else "random weights", stacklevel=2)

    @property
    def device(self) -> str:
        return self.torch.torch_device

    @property
    def dtype(self) -> str:
        return self.torch.dtype

    @property
    def threads(self) -> int:
        return self.torch.threads

    @property
    def compiled(self) -> bool:
        return self.torch.compiled

    def describe(self) -> dict[str, Any]:
        """What runs: shown by ``profile`` and written into its JSON."""
        ckpt = self.checkpoint
        return {
            **super().describe(),
            "source": ckpt.source,
            "random_weights": ckpt.is_random,
            "notes": list(ckpt.notes),
        }


def build_torch_scorer(
    spec: str,
    *,
    device: str = "cpu",
    dtype: str = "fp32",
    compile: bool = False,
    threads: int | None = None,
    max_tokens: int | None = None,
    max_batch: int = DEFAULT_MAX_BATCH,
    explain: bool = True,
) -> TorchScorer:
    """Load ``spec`` (directory, ModelScope id or ``random-init:PRESET``) and wrap it as a scorer."""
    checkpoint = load_checkpoint(spec)
    with warnings.catch_warnings():  # the scorer re-warns for random weights once, not twice
        warnings.simplefilter("ignore")
        return TorchScorer(
            checkpoint,
            device=device,
            dtype=dtype,
            compile=compile,
            threads=threads,
            max_tokens=max_tokens,
            max_batch=max_batch,
            explain=explain,
        )


__all__ = [
    "DTYPES",
    "TorchScorer",
    "build_torch_scorer",
    "cpu_supports_bf16",
    "default_threads",
    "resolve_dtype",
]
