"""The torch backend of the pair-classifier scorer: runs a ``*ForSequenceClassification`` module, no more.

fp32 everywhere; bf16 where the hardware has native bf16 (CUDA, AVX512-BF16/AMX CPUs); fp16 on CUDA only.
Softmax and everything after the logits happen in the scorer (float64 numpy), whatever the compute dtype.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from geoalign._extras import require
from geoalign.engine.batching import DEFAULT_CPU_MAX_TOKENS, DEFAULT_GPU_MAX_TOKENS
from geoalign.errors import InputError

DTYPES: Final = ("auto", "fp32", "bf16", "fp16")
_FEATURE: Final = "the torch scorer"


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 dot products (AVX512-BF16 or AMX), where bf16 pays off.

    Without them torch still runs bf16, but emulated and slower than fp32, so ``auto`` stays fp32.
    """
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            flags = handle.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_dtype(dtype: str, device: str) -> str:
    """Map ``auto`` to the best precision for the device; reject combinations that cannot work well."""
    torch = require("torch", "torch", _FEATURE)
    if dtype not in DTYPES:
        raise InputError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    on_cuda = device.startswith("cuda")
    if dtype == "auto":
        if on_cuda:
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16" if cpu_supports_bf16() else "fp32"
    if dtype == "fp16" and not on_cuda:
        raise InputError("fp16 is only supported on CUDA; use bf16 (CPUs with AVX512-BF16/AMX) or fp32")
    if dtype == "bf16" and not on_cuda and not cpu_supports_bf16():
        raise InputError("this CPU has no native bf16 (AVX512-BF16/AMX): bf16 would be slower; use fp32")
    return dtype


def default_threads() -> int:
    """Intra-op threads: the CPUs this process may use, not the machine's (containers/taskset)."""
    from geoalign.cpus import usable_cpus

    return usable_cpus()


class TorchBackend:
    """A torch module as a :class:`~geoalign.scorers.pair_classifier.PairBackend`.

    The module is moved to ``device``/``dtype`` *in place* (copy it first to keep an fp32 original).
    ``token_types``: whether the module's forward takes ``token_type_ids`` (BERT yes; models without
    segment embeddings are not fed them).
    """

    name = "torch"

    def __init__(
        self,
        model: Any,
        *,
        model_id: str,
        device: str = "cpu",
        dtype: str = "fp32",
        threads: int | None = None,
        compile: bool = False,
        token_types: bool = True,
    ) -> None:
        torch = require("torch", "torch", _FEATURE)
        self._torch = torch
        if device != "cpu" and not device.startswith("cuda"):
            raise InputError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise InputError(f"device {device!r} requested but torch sees no CUDA GPU")
        self.device = "cuda" if device.startswith("cuda") else "cpu"
        self.torch_device = device
        self.dtype = resolve_dtype(dtype, device)
        self.variant = self.dtype
        self.model_id = model_id
        if device == "cpu":
            self.threads = threads or min(torch.get_num_threads(), default_threads())
            torch.set_num_threads(self.threads)
        else:
            self.threads = threads or torch.get_num_threads()
        self.default_max_tokens = DEFAULT_GPU_MAX_TOKENS if self.device == "cuda" else DEFAULT_CPU_MAX_TOKENS
        self.compiled = compile
        self.token_types = token_types
        torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[self.dtype]
        model = model.to(device=device, dtype=torch_dtype).eval()
        self.layers = int(getattr(getattr(model, "config", None), "num_hidden_layers", 0))
        self._model = self._compile(model) if compile else model

    def _compile(self, model: Any) -> Any:
        """torch.compile (inductor) with weight freezing: constant-folds the weights into oneDNN-friendly
        layouts on CPU, which is what lifts fp32 from MKL sgemm speed to oneDNN speed."""
        torch = self._torch
        import torch._inductor.config as inductor_config  # only reached when compile=True

        inductor_config.freezing = True
        return torch.compile(model, dynamic=True)

    def forward(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray
    ) -> np.ndarray:
        torch = self._torch
        dev = self.torch_device
        kwargs = {
            "input_ids": torch.from_numpy(np.ascontiguousarray(input_ids, dtype=np.int64)).to(dev),
            "attention_mask": torch.from_numpy(np.ascontiguousarray(attention_mask, dtype=np.int64)).to(dev),
        }
        if self.token_types:
            kwargs["token_type_ids"] = torch.from_numpy(
                np.ascontiguousarray(token_type_ids, dtype=np.int64)
            ).to(dev)
        with torch.inference_mode():
            logits = self._model(**kwargs).logits
        return logits.float().cpu().numpy()  # type: ignore[no-any-return]

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "torch",
            "device": self.torch_device,
            "dtype": self.dtype,
            "threads": self.threads,
            "compile": self.compiled,
            "layers": self.layers,
        }
