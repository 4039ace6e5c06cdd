"""The ``torch`` scorer: MGeo (or any BERT-style pair classifier) on PyTorch, behind the staged protocol.

prepare: safe cleaning only (MGeo was trained on raw text), then every *distinct* address is tokenized
once, without special tokens, and pairs are assembled as ``[CLS] a [SEP] b [SEP]`` with the tokenizer's
own longest-first truncation (a load-time self-check holds this equal to the tokenizer's pair encoding).
run: items are grouped by length under a token budget and dynamically padded (engine.batching), then run
under ``torch.inference_mode`` in fp32, or bf16/fp16 where the hardware supports it.
finish: softmax probabilities are mapped from the model's id order to the canonical LABELS order.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Final

import numpy as np

from geoalign._extras import require
from geoalign.address.clean import DEFAULT_MAX_CHARS, Cleaned, clean
from geoalign.engine.batching import (
    DEFAULT_CPU_MAX_TOKENS,
    DEFAULT_GPU_MAX_TOKENS,
    DEFAULT_MAX_BATCH,
    pad_batch,
    plan_batches,
    truncate_pair_lengths,
)
from geoalign.errors import InputError, ModelLoadError
from geoalign.scorers.checkpoints import Checkpoint, load_checkpoint
from geoalign.types import LABELS, AddressPair, ItemError, Match, Prepared, PreparedItem, Raw, Result

DTYPES: Final = ("auto", "fp32", "bf16", "fp16")
_PROBE: Final = ("浙江省杭州市余杭区文一西路969号A座" * 3, "文一西路969号阿里巴巴西溪园区3号楼" * 2)


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
    torch = require("torch", "torch", "the MGeo torch scorer")
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
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class TorchScorer:
    """A pair classifier checkpoint as a :class:`geoalign.types.Scorer` named ``torch``."""

    name = "torch"

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
    ) -> None:
        torch = require("torch", "torch", "the MGeo torch scorer")
        self._torch = torch
        self.checkpoint = checkpoint
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise InputError(f"device {device!r} requested but torch sees no CUDA GPU")
        if device != "cpu" and not device.startswith("cuda"):
            raise InputError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}")
        self.device = device
        self.dtype = resolve_dtype(dtype, device)
        if device == "cpu":
            self.threads = threads or min(torch.get_num_threads(), default_threads())
            torch.set_num_threads(self.threads)
        else:
            self.threads = threads or torch.get_num_threads()
        self.max_tokens = max_tokens or (
            DEFAULT_GPU_MAX_TOKENS if device != "cpu" else DEFAULT_CPU_MAX_TOKENS
        )
        self.max_batch = max_batch
        self.max_chars = max_chars
        self.compiled = compile
        torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[self.dtype]
        model = checkpoint.model.to(device=device, dtype=torch_dtype).eval()
        self._model = self._compile(model) if compile else model
        tok = checkpoint.tokenizer
        self._tokenizer = tok
        self._cls, self._sep, self._pad = tok.cls_token_id, tok.sep_token_id, tok.pad_token_id or 0
        if self._cls is None or self._sep is None:
            raise ModelLoadError("the tokenizer has no [CLS]/[SEP] tokens: not a BERT-style pair classifier")
        self._token_cache: OrderedDict[str, list[int]] = OrderedDict()
        self._token_lock = threading.Lock()  # the async engine may prepare batches from several threads
        self._token_cache_size = token_cache_size
        # model output index of each canonical label, so finish() can reorder without a dict per item
        by_name = {name: idx for idx, name in checkpoint.id2label.items()}
        self._order = [by_name[label] for label in LABELS]
        self._check_pair_assembly()
        if checkpoint.is_random:
            warnings.warn(checkpoint.notes[0] if checkpoint.notes else "random weights", stacklevel=2)

    # ------------------------------------------------------------------------------------ protocol

    @property
    def model_id(self) -> str:
        return self.checkpoint.model_id

    def describe(self) -> dict[str, Any]:
        """What runs: shown by ``profile`` and written into its JSON."""
        ckpt = self.checkpoint
        return {
            "scorer": self.name,
            "model": ckpt.model_id,
            "source": ckpt.source,
            "random_weights": ckpt.is_random,
            "device": self.device,
            "dtype": self.dtype,
            "threads": self.threads,
            "compile": self.compiled,
            "max_length": ckpt.max_length,
            "max_tokens": self.max_tokens,
            "max_batch": self.max_batch,
            "layers": int(getattr(ckpt.model.config, "num_hidden_layers", 0)),
            "notes": list(ckpt.notes),
        }

    def prepare(self, pairs: Sequence[AddressPair]) -> Prepared:
        t0 = time.perf_counter()
        cleaned: list[tuple[Cleaned, Cleaned] | ItemError] = []
        for pair in pairs:
            a = clean(pair.a, max_chars=self.max_chars)
            b = clean(pair.b, max_chars=self.max_chars)
            if isinstance(a, ItemError):
                cleaned.append(ItemError(a.code, f"address a: {a.message}"))
            elif isinstance(b, ItemError):
                cleaned.append(ItemError(b.code, f"address b: {b.message}"))
            else:
                cleaned.append((a, b))
        t1 = time.perf_counter()
        texts = [c.text for item in cleaned if not isinstance(item, ItemError) for c in item]
        ids = self._encode(texts)
        items: list[PreparedItem | ItemError] = []
        for item in cleaned:
            if isinstance(item, ItemError):
                items.append(item)
                continue
            a, b = item
            input_ids, n_first = self._assemble(ids[a.text], ids[b.text])
            items.append(PreparedItem(cost=len(input_ids), seen=(a.text, b.text), data=(input_ids, n_first)))
        t2 = time.perf_counter()
        # amortised over the items that will be scored, so the per-item figures add up to the wall time
        n = max(1, sum(1 for it in items if isinstance(it, PreparedItem)))
        per_item = {"normalize": (t1 - t0) * 1000 / n, "tokenize": (t2 - t1) * 1000 / n}
        for it in items:
            if isinstance(it, PreparedItem):
                it.timings_ms = dict(per_item)
        return Prepared(items)

    def run(self, prepared: Prepared) -> Raw:
        torch = self._torch
        t0 = time.perf_counter()
        valid = [i for i, it in enumerate(prepared.items) if isinstance(it, PreparedItem)]
        outputs: list[Any] = [None] * len(prepared.items)
        lengths = [prepared.items[i].cost for i in valid]  # type: ignore[union-attr]
        for batch in plan_batches(lengths, max_tokens=self.max_tokens, max_batch=self.max_batch):
            rows = [prepared.items[valid[j]].data for j in batch]  # type: ignore[union-attr]
            probs = self._forward(rows, torch)
            for j, p in zip(batch, probs, strict=True):
                outputs[valid[j]] = p
        forward_ms = (time.perf_counter() - t0) * 1000
        return Raw(prepared, outputs, {"forward": forward_ms})

    def finish(self, raw: Raw) -> list[Result]:
        t0 = time.perf_counter()
        n_valid = sum(1 for it in raw.prepared.items if isinstance(it, PreparedItem))
        forward_each = raw.timings_ms.get("forward", 0.0) / max(1, n_valid)
        results: list[Result] = []
        order = self._order
        for item, probs in zip(raw.prepared.items, raw.outputs, strict=True):
            if isinstance(item, ItemError):
                results.append(item)
                continue
            timings = {**item.timings_ms, "forward": forward_each, "post": 0.0}
            results.append(
                Match.from_probabilities(
                    [float(probs[k]) for k in order],
                    scorer=self.name,
                    model=self.model_id,
                    timings_ms=timings,
                )
            )
        post_each = (time.perf_counter() - t0) * 1000 / max(1, n_valid)
        for r in results:
            if isinstance(r, Match) and r.timings_ms is not None:
                r.timings_ms["post"] = post_each
        return results

    def score(self, pairs: Sequence[AddressPair]) -> list[Result]:
        return self.finish(self.run(self.prepare(pairs)))

    def warmup(self) -> None:
        """Run a few shapes once (allocators, oneDNN kernels, torch.compile graphs) before serving."""
        probe = [AddressPair("杭州市西湖区文三路90号", "文三路90号东部软件园"), AddressPair(*_PROBE)]
        self.score(probe * 2)

    # ------------------------------------------------------------------------------------- internals

    def _compile(self, model: Any) -> Any:
        """torch.compile (inductor) with weight freezing: constant-folds the weights into oneDNN-friendly
        layouts on CPU, which is what lifts fp32 from MKL sgemm speed to oneDNN speed."""
        torch = self._torch
        import torch._inductor.config as inductor_config  # only reached when compile=True

        inductor_config.freezing = True
        return torch.compile(model, dynamic=True)

    def _encode(self, texts: Sequence[str]) -> dict[str, list[int]]:
        """Token ids (no special tokens) of each distinct text, via a bounded LRU cache."""
        out: dict[str, list[int]] = {}
        todo: list[str] = []
        cache = self._token_cache
        with self._token_lock:
            for text in texts:
                if text in out:
                    continue
                hit = cache.get(text)
                if hit is not None:
                    cache.move_to_end(text)
                    out[text] = hit
                else:
                    out[text] = []  # placeholder keeps `todo` distinct
                    todo.append(text)
        if todo:  # tokenize outside the lock: this is the slow part
            encoded = self._tokenizer(
                todo, add_special_tokens=False, return_attention_mask=False, return_token_type_ids=False
            )["input_ids"]
            with self._token_lock:
                for text, ids in zip(todo, encoded, strict=True):
                    out[text] = list(ids)
                    cache[text] = out[text]
                while len(cache) > self._token_cache_size:
                    cache.popitem(last=False)
        return out

    def _assemble(self, a: list[int], b: list[int]) -> tuple[list[int], int]:
        """``[CLS] a [SEP] b [SEP]`` within max_length; returns (ids, length of the first segment)."""
        keep_a, keep_b = truncate_pair_lengths(len(a), len(b), self.checkpoint.max_length - 3)
        ids = [self._cls, *a[:keep_a], self._sep, *b[:keep_b], self._sep]
        return ids, keep_a + 2

    def _check_pair_assembly(self) -> None:
        """Refuse tokenizers whose pair template is not BERT's (RoBERTa, XLM...): ids would be silently
        wrong. Probed with a pair long enough to exercise truncation when max_length is small."""
        a, b = _PROBE
        ref = self._tokenizer(a, b, truncation=True, max_length=self.checkpoint.max_length)
        enc = self._encode([a, b])
        ids, n_first = self._assemble(enc[a], enc[b])
        types = [0] * n_first + [1] * (len(ids) - n_first)
        ok = list(ref["input_ids"]) == ids
        if ok and "token_type_ids" in ref and self.checkpoint.use_token_type:
            ok = list(ref["token_type_ids"]) == types
        if not ok:
            raise ModelLoadError(
                "the tokenizer's pair encoding is not [CLS] a [SEP] b [SEP]; this scorer supports BERT-style "
                "pair classifiers only"
            )

    def _forward(self, rows: list[tuple[list[int], int]], torch: Any) -> np.ndarray:
        ids, mask = pad_batch([r[0] for r in rows], self._pad)
        kwargs = {
            "input_ids": torch.from_numpy(ids).to(self.device),
            "attention_mask": torch.from_numpy(mask).to(self.device),
        }
        if self.checkpoint.use_token_type:
            types = np.zeros_like(ids)
            for row, (seq, n_first) in enumerate(rows):
                types[row, n_first : len(seq)] = 1
            kwargs["token_type_ids"] = torch.from_numpy(types).to(self.device)
        with torch.inference_mode():
            logits = self._model(**kwargs).logits
            probs = torch.softmax(logits.float(), dim=-1)  # fp32 softmax whatever the compute dtype
        return probs.cpu().numpy()  # type: ignore[no-any-return]


def build_torch_scorer(
    spec: str,
    *,
    device: str = "cpu",
    dtype: str = "fp32",
    compile: bool = False,
    threads: int | None = None,
    max_tokens: int | None = None,
    max_batch: int = DEFAULT_MAX_BATCH,
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
        )
