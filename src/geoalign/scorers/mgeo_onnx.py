"""Scorer ``onnx``: a geoalign export directory (``geoalign export``) on ONNX Runtime, without torch.

Loading only: the manifest says which graph, labels, maximum length and token types; the tokenizer is
the directory's ``tokenizer.json``; :class:`~geoalign.scorers.backend_onnx.OnnxBackend` runs the graph and
:class:`~geoalign.scorers.pair_classifier.PairClassifierScorer` does everything else, exactly as for torch.
Imports only onnxruntime, tokenizers and numpy (the ``onnx`` extra) plus geoalign's pure modules; a test
runs it in a subprocess where importing torch or transformers raises.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Final

from geoalign.address.clean import DEFAULT_MAX_CHARS
from geoalign.engine.batching import DEFAULT_MAX_BATCH
from geoalign.errors import InputError, ModelLoadError
from geoalign.scorers.backend_onnx import (
    GPU_PROVIDERS,
    PROVIDERS,
    InferenceError,
    OnnxBackend,
    ProviderUnavailableError,
    provider_chain,
    resolve_provider,
    select_provider,
)
from geoalign.scorers.manifest import TOKENIZER_FILE, Manifest, read_manifest, verify
from geoalign.scorers.pair_classifier import PairClassifierScorer, PairEncoder, PairTokens, softmax

log = logging.getLogger(__name__)

_FEATURE: Final = "the onnx scorer"


class OnnxScorer(PairClassifierScorer):
    """The pair-classifier scorer over a geoalign export directory, named ``onnx``."""

    def __init__(
        self,
        directory: str | Path,
        *,
        provider: str = "auto",
        variant: str | None = None,
        threads: int | None = None,
        max_tokens: int | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
        device_id: int = 0,
        trt_cache_dir: str | Path | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
        verify_files: bool = True,
        spin: bool = True,
        explain: bool = True,
        profile_prefix: str | None = None,
        _pending_ok: bool = False,
    ) -> None:
        self.directory = Path(directory)
        self.manifest: Manifest = read_manifest(self.directory, verify_files=False)
        if self.manifest.source.get("parity_pending") and not _pending_ok:  # only the export's own check
            raise ModelLoadError(
                f"{self.directory}: the export did not finish its parity check (interrupted?); export again"
            )
        short = resolve_provider(provider)
        chosen = variant or self.manifest.default_variant(gpu=short in GPU_PROVIDERS)
        if chosen not in self.manifest.variants:
            raise InputError(
                f"variant {chosen!r} is not in {self.directory} "
                f"(exported: {', '.join(self.manifest.variants)})"
            )
        if verify_files:  # the model id is the graph's checksum: a swapped file must not run under it
            verify(self.directory, self.manifest, [chosen])
        info = self.manifest.variants[chosen]
        if info.parity.get("status") == "failed":
            log.warning("variant %s of %s failed its parity check at export (forced)", chosen, directory)
        if trt_cache_dir is None and short == "tensorrt":
            trt_cache_dir = self.directory / "trt_cache"
        encoder = PairEncoder.from_file(
            self.directory / self.manifest.tokenizer.get("file", TOKENIZER_FILE),
            max_length=self.manifest.max_length,
            token_types=self.manifest.uses_token_type_ids,
        )
        backend = OnnxBackend(
            self.directory / info.file,
            model_id=info.model_id,
            variant=chosen,
            provider=provider,
            threads=threads,
            spin=spin,
            device_id=device_id,
            trt_cache_dir=trt_cache_dir,
            profile_prefix=profile_prefix,
        )
        super().__init__(
            backend,
            encoder,
            self.manifest.labels,
            pad_id=self.manifest.special_tokens["pad"],
            max_tokens=max_tokens,
            max_batch=max_batch,
            max_chars=max_chars,
            explain=explain,
        )
        self.onnx: OnnxBackend = backend

    # what callers of the former standalone ONNX scorer read
    @property
    def provider(self) -> str:
        return self.onnx.provider

    @property
    def requested_provider(self) -> str:
        return self.onnx.requested_provider

    @property
    def session(self) -> Any:
        return self.onnx.session

    @property
    def threads(self) -> int | None:
        return self.onnx.threads

    @property
    def spin(self) -> bool:
        return self.onnx.spin

    def describe(self) -> dict[str, Any]:
        """What runs (for ``profile`` and logs): variant, chosen provider, and how it was chosen."""
        info = self.manifest.variants[self.variant]
        return {
            **super().describe(),
            "directory": str(self.directory),
            "dtype": info.precision,
            "parity": info.parity,
            "random_weights": bool(self.manifest.source.get("random_weights")),
        }


__all__ = [
    "PROVIDERS",
    "InferenceError",
    "OnnxScorer",
    "PairEncoder",
    "PairTokens",
    "ProviderUnavailableError",
    "provider_chain",
    "select_provider",
    "softmax",
]
