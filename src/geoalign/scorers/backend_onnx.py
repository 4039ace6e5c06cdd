"""The ONNX Runtime backend of the pair-classifier scorer: one graph, one session, execution providers.

Imports only onnxruntime and numpy (the ``onnx`` extra): a deployed scorer carries no torch. The graph's
declared inputs decide what is fed (a model without ``token_type_ids`` has no such input; the transformer
optimizer may turn int64 inputs into int32).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from geoalign import forksafe
from geoalign._extras import require
from geoalign.engine.batching import DEFAULT_CPU_MAX_TOKENS, DEFAULT_GPU_MAX_TOKENS
from geoalign.errors import GeoalignError, InputError, ModelLoadError

log = logging.getLogger(__name__)

_FEATURE: Final = "the onnx scorer"

#: Short names users type -> ONNX Runtime execution provider names.
PROVIDERS: Final[dict[str, str]] = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
}
#: What to install when a provider is asked for but this onnxruntime build lacks it.
_INSTALL_HINT: Final[dict[str, str]] = {
    "cuda": "install onnxruntime-gpu (instead of onnxruntime) with a matching CUDA/cuDNN",
    "tensorrt": "install onnxruntime-gpu and the TensorRT libraries",
    "openvino": "install onnxruntime-openvino (instead of onnxruntime)",
    "cpu": "reinstall onnxruntime",
}
#: ``auto`` tries these in order. TensorRT is never picked automatically: its first run builds engines
#: for minutes per input shape, which must be a deliberate choice (with a cache directory).
AUTO_ORDER: Final = ("cuda", "openvino", "cpu")
GPU_PROVIDERS: Final = frozenset({"cuda", "tensorrt"})


class ProviderUnavailableError(GeoalignError):
    """An execution provider was asked for by name but this onnxruntime cannot run it."""

    code = "provider_unavailable"
    exit_code = 2


class InferenceError(GeoalignError):
    """ONNX Runtime failed on a batch (not an input problem: the graph or the runtime is broken)."""

    code = "inference_error"


def select_provider(requested: str, available: Sequence[str]) -> str:
    """The short provider name to use for ``requested`` (``auto`` or a key of PROVIDERS).

    A named provider that ``available`` lacks is an error with an install hint, never a silent CPU run:
    someone who asked for CUDA and gets CPU would see 20x slower scoring and no reason.
    """
    requested = requested.lower()
    if requested == "auto":
        for short in AUTO_ORDER:
            if PROVIDERS[short] in available:
                return short
        raise ProviderUnavailableError(f"no usable execution provider among {list(available)}")
    if requested not in PROVIDERS:
        raise ProviderUnavailableError(
            f"unknown execution provider {requested!r}; choose auto, {', '.join(PROVIDERS)}"
        )
    if PROVIDERS[requested] not in available:
        usable = [short for short, full in PROVIDERS.items() if full in available]
        raise ProviderUnavailableError(
            f"execution provider {requested!r} ({PROVIDERS[requested]}) is not available in this "
            f"onnxruntime (available: {', '.join(usable) or 'none'}); {_INSTALL_HINT[requested]}, "
            "or pass --provider auto"
        )
    return requested


def provider_chain(
    short: str, *, device_id: int = 0, trt_cache_dir: str | Path | None = None, fp16: bool = False
) -> list[tuple[str, dict[str, Any]]]:
    """The (provider, options) list given to the session.

    A GPU provider is followed by CPU because ONNX Runtime places the few nodes a provider cannot run
    (shape arithmetic) on the next one; that is partitioning, not a fallback of the whole model, and the
    backend checks afterwards that the requested provider really came first.
    """
    cpu: tuple[str, dict[str, Any]] = ("CPUExecutionProvider", {})
    if short == "cpu":
        return [cpu]
    if short == "cuda":
        return [("CUDAExecutionProvider", {"device_id": device_id}), cpu]
    if short == "tensorrt":
        trt: dict[str, Any] = {"device_id": device_id, "trt_fp16_enable": fp16}
        if trt_cache_dir is not None:
            Path(trt_cache_dir).mkdir(parents=True, exist_ok=True)
            trt.update(trt_engine_cache_enable=True, trt_engine_cache_path=str(trt_cache_dir))
        return [("TensorrtExecutionProvider", trt), ("CUDAExecutionProvider", {"device_id": device_id}), cpu]
    if short == "openvino":
        return [("OpenVINOExecutionProvider", {}), cpu]
    raise ProviderUnavailableError(f"unknown execution provider {short!r}")


def resolve_provider(requested: str) -> str:
    """``select_provider`` against this onnxruntime's providers (to pick a variant before loading)."""
    ort = require("onnxruntime", "onnx", _FEATURE)
    return select_provider(requested, ort.get_available_providers())


def _np_int_type(ort_type: str) -> type:
    return np.int32 if ort_type == "tensor(int32)" else np.int64


class OnnxBackend(forksafe.LazySession):
    """One ONNX graph in an ONNX Runtime session, as a :class:`~geoalign.scorers.pair_classifier.PairBackend`.

    ``threads``: intra-op threads (None/0 = onnxruntime's default, one per core). ``spin=False`` stops idle
    pool threads from spin-waiting (right on shared or oversubscribed cores). Session options follow the
    int8 profile in docs/benchmarks.md: all graph optimizations, one inter-op thread (one graph run node
    after node: extra pools only contend), the CPU memory arena on (batches of varying shape reuse it).
    """

    name = "onnx"

    def __init__(
        self,
        path: str | Path,
        *,
        model_id: str,
        variant: str,
        provider: str = "auto",
        threads: int | None = None,
        spin: bool = True,
        device_id: int = 0,
        trt_cache_dir: str | Path | None = None,
        profile_prefix: str | None = None,
    ) -> None:
        ort = require("onnxruntime", "onnx", _FEATURE)
        self.path = Path(path)
        self.model_id = model_id
        self.variant = variant
        self.requested_provider = provider
        self.provider = select_provider(provider, ort.get_available_providers())
        self.threads = threads
        self.spin = spin
        if threads is not None and threads < 0:
            raise InputError("threads must be >= 0 (0 = onnxruntime's default, one per core)")
        self._chain = provider_chain(
            self.provider, device_id=device_id, trt_cache_dir=trt_cache_dir, fp16=variant == "fp16"
        )
        self._profile_prefix = profile_prefix
        self._session: Any = None
        self.session = self._open(self.threads)
        # ONNX Runtime drops a provider whose libraries fail to load (e.g. no cuDNN) and runs on CPU with
        # only a log line; a named provider must really be in use.
        actual = self.session.get_providers()
        if actual[0] != PROVIDERS[self.provider]:
            if provider.lower() != "auto":
                raise ProviderUnavailableError(
                    f"onnxruntime could not start {PROVIDERS[self.provider]} (session runs on {actual}); "
                    f"{_INSTALL_HINT[self.provider]}"
                )
            self.provider = next((s for s, full in PROVIDERS.items() if full == actual[0]), "cpu")
        self.device = "cuda" if self.provider in GPU_PROVIDERS else "cpu"
        self.default_max_tokens = DEFAULT_GPU_MAX_TOKENS if self.device == "cuda" else DEFAULT_CPU_MAX_TOKENS
        #: the graph's input names and the integer type each takes (the feed is cast to it)
        self.input_types = {i.name: _np_int_type(i.type) for i in self.session.get_inputs()}
        self._output = self.session.get_outputs()[0].name
        log.info("onnx backend: %s variant on %s (%s)", variant, actual[0], provider)

    def _open(self, threads: int | None) -> Any:
        """A new ONNX Runtime session on the graph (in ``__init__``, and again in a forked child)."""
        ort = require("onnxruntime", "onnx", _FEATURE)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = True
        if not self.spin:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            options.intra_op_num_threads = threads
        if self._profile_prefix is not None:  # ORT's own per-node profiler (bench_onnx.py --profile)
            options.enable_profiling = True
            options.profile_file_prefix = self._profile_prefix
        try:
            return ort.InferenceSession(
                str(self.path),
                sess_options=options,
                providers=[p for p, _ in self._chain],
                provider_options=[o for _, o in self._chain],
            )
        except Exception as exc:  # onnxruntime raises its own non-Exception-subclassed errors
            raise ModelLoadError(f"onnxruntime cannot load {self.path}: {exc}") from exc

    def forward(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray
    ) -> np.ndarray:
        arrays = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        try:
            feed: dict[str, np.ndarray] = {
                name: arrays[name].astype(dtype, copy=False) for name, dtype in self.input_types.items()
            }
        except KeyError as exc:
            raise ModelLoadError(f"the graph {self.path} wants an input geoalign lacks: {exc}") from exc
        try:
            (logits,) = self.session.run([self._output], feed)
        except Exception as exc:  # onnxruntime's errors do not share a Python base class
            raise InferenceError(f"onnxruntime failed on a batch of {len(input_ids)}: {exc}") from exc
        return np.asarray(logits)

    def end_profiling(self) -> str:
        """Stop ORT's profiler and return the trace file (only with ``profile_prefix``)."""
        return str(self.session.end_profiling())

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "onnx",
            "variant": self.variant,
            "device": self.device,
            "provider": self.provider,
            "provider_requested": self.requested_provider,
            "session_providers": self.session.get_providers(),
            "threads": self.threads,
            "spin": self.spin,
        }
