"""Scorer ``onnx``: an exported MGeo / BERT pair classifier run by ONNX Runtime, without torch.

Why a separate backend: a deployed matcher should not carry torch + transformers (GBs) to run a graph.
This module imports only onnxruntime, tokenizers and numpy (the ``onnx`` extra) plus geoalign's pure
modules; a test runs it in a subprocess where importing torch or transformers raises.

It mirrors the torch scorer's text handling exactly: safe cleaning only (MGeo saw raw text), each distinct
address tokenized once per batch, pairs assembled as ``[CLS] a [SEP] b [SEP]`` with Hugging Face's
"longest first" truncation (``engine.batching.truncate_pair_lengths``), token types 0 for the first segment
and 1 for the second when the model uses them (MGeo's alignment head does; rerankers feed zeros), and the
same length-bucketed, token-budgeted batches (``engine.batching.plan_batches``).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
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
from geoalign.errors import GeoalignError, InputError, ModelLoadError
from geoalign.scorers.manifest import TOKENIZER_FILE, Manifest, read_manifest, verify
from geoalign.types import LABELS, AddressPair, ItemError, Match, Prepared, PreparedItem, Raw, Result

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
_GPU_PROVIDERS: Final = frozenset({"cuda", "tensorrt"})


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
    scorer checks afterwards that the requested provider really came first.
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


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (fp16 logits would otherwise round the probabilities)."""
    z = logits.astype(np.float64)
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True, slots=True)
class PairTokens:
    """One assembled pair: what the graph sees for it, and whether tokens had to be cut."""

    input_ids: list[int]
    token_type_ids: list[int]
    truncated: bool


class PairEncoder:
    """``[CLS] a [SEP] b [SEP]`` from a ``tokenizer.json`` with per-address tokenization.

    Why not the tokenizer's own pair encoding: in a table join the same address appears in thousands of
    pairs; tokenizing each distinct string once and assembling ids is cheaper and gives identical ids
    (the truncation rule is the tokenizer's own "longest first", see ``truncate_pair_lengths``).
    """

    def __init__(
        self,
        tokenizer: Any,
        *,
        cls_id: int,
        sep_id: int,
        max_length: int,
        token_types: bool,
        cache_size: int = 100_000,
    ):
        # the saved tokenizer may carry the training-time truncation/padding: pair assembly does both
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self.tokenizer = tokenizer
        self.cls_id, self.sep_id = cls_id, sep_id
        self.max_length = max_length
        self.token_types = token_types
        # across calls too, as the torch scorer: a join scores one address against many candidates
        self._cache: OrderedDict[str, list[int]] = OrderedDict()
        self._cache_size = cache_size

    @classmethod
    def from_file(
        cls, path: str | Path, *, cls_id: int, sep_id: int, max_length: int, token_types: bool
    ) -> PairEncoder:
        tokenizers = require("tokenizers", "onnx", _FEATURE)
        try:
            tokenizer = tokenizers.Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception on a malformed file
            raise ModelLoadError(f"cannot load tokenizer {path}: {exc}") from exc
        return cls(tokenizer, cls_id=cls_id, sep_id=sep_id, max_length=max_length, token_types=token_types)

    def tokenize(self, texts: Sequence[str]) -> dict[str, list[int]]:
        """Token ids (no special tokens) of each distinct text."""
        out: dict[str, list[int]] = {}
        todo: list[str] = []
        for text in dict.fromkeys(texts):
            hit = self._cache.get(text)
            if hit is None:
                todo.append(text)
            else:
                self._cache.move_to_end(text)
                out[text] = hit
        if todo:
            for text, enc in zip(
                todo, self.tokenizer.encode_batch(todo, add_special_tokens=False), strict=True
            ):
                out[text] = self._cache[text] = enc.ids
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return out

    def assemble(self, a: Sequence[int], b: Sequence[int]) -> PairTokens:
        keep_a, keep_b = truncate_pair_lengths(len(a), len(b), self.max_length - 3)
        ids = [self.cls_id, *a[:keep_a], self.sep_id, *b[:keep_b], self.sep_id]
        second = 1 if self.token_types else 0
        types = [0] * (keep_a + 2) + [second] * (keep_b + 1)
        return PairTokens(ids, types, truncated=(keep_a, keep_b) != (len(a), len(b)))

    def encode_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[PairTokens]:
        """Assembled pairs, in order (each distinct address tokenized once)."""
        ids = self.tokenize([t for pair in pairs for t in pair])
        return [self.assemble(ids[a], ids[b]) for a, b in pairs]


def _np_int_type(ort_type: str) -> type:
    # the transformer optimizer can turn int64 inputs into int32; feed what the graph declares
    return np.int32 if ort_type == "tensor(int32)" else np.int64


class OnnxScorer:
    """The staged Scorer over an export directory (``geoalign export``)."""

    name = "onnx"

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
        _pending_ok: bool = False,
    ) -> None:
        ort = require("onnxruntime", "onnx", _FEATURE)
        self.directory = Path(directory)
        self.manifest: Manifest = read_manifest(self.directory, verify_files=False)
        if self.manifest.source.get("parity_pending") and not _pending_ok:  # only the export's own check
            raise ModelLoadError(
                f"{self.directory}: the export did not finish its parity check (interrupted?); export again"
            )
        self.requested_provider = provider
        self.provider = select_provider(provider, ort.get_available_providers())
        gpu = self.provider in _GPU_PROVIDERS
        self.variant = variant or self.manifest.default_variant(gpu=gpu)
        if self.variant not in self.manifest.variants:
            raise InputError(
                f"variant {self.variant!r} is not in {self.directory} "
                f"(exported: {', '.join(self.manifest.variants)})"
            )
        if verify_files:  # the model id is the graph's checksum: a swapped file must not run under it
            verify(self.directory, self.manifest, [self.variant])
        info = self.manifest.variants[self.variant]
        if info.parity.get("status") == "failed":
            log.warning(
                "variant %s of %s failed its parity check at export (forced)", self.variant, directory
            )
        self.max_tokens = max_tokens or (DEFAULT_GPU_MAX_TOKENS if gpu else DEFAULT_CPU_MAX_TOKENS)
        self.max_batch = max_batch
        self.max_chars = max_chars
        self.threads = threads
        self.spin = spin
        self._model_id = info.model_id
        self._labels = list(self.manifest.labels)
        # column j of the canonical probabilities comes from model output id _order[j]
        self._order = [self._labels.index(name) for name in LABELS]
        special = self.manifest.special_tokens
        self.encoder = PairEncoder.from_file(
            self.directory / self.manifest.tokenizer.get("file", TOKENIZER_FILE),
            cls_id=special["cls"],
            sep_id=special["sep"],
            max_length=self.manifest.max_length,
            token_types=self.manifest.uses_token_type_ids,
        )
        self.pad_id = special["pad"]
        self.session = self._session(ort, self.directory / info.file, device_id, trt_cache_dir)
        self._inputs = {i.name: _np_int_type(i.type) for i in self.session.get_inputs()}
        self._output = self.session.get_outputs()[0].name

    def _session(self, ort: Any, path: Path, device_id: int, trt_cache_dir: str | Path | None) -> Any:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.inter_op_num_threads = 1  # one graph, run node after node: extra pools only contend
        if not self.spin:
            # Idle pool threads spin-wait by default: lowest latency on a dedicated machine, but on shared
            # or oversubscribed cores the spinning steals the CPU the working thread needs.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if self.threads is not None:
            if self.threads < 0:
                raise InputError("threads must be >= 0 (0 = onnxruntime's default, one per core)")
            options.intra_op_num_threads = self.threads
        if trt_cache_dir is None and self.provider == "tensorrt":
            trt_cache_dir = self.directory / "trt_cache"
        chain = provider_chain(
            self.provider, device_id=device_id, trt_cache_dir=trt_cache_dir, fp16=self.variant == "fp16"
        )
        try:
            session = ort.InferenceSession(
                str(path),
                sess_options=options,
                providers=[p for p, _ in chain],
                provider_options=[o for _, o in chain],
            )
        except Exception as exc:  # onnxruntime raises its own non-Exception-subclassed errors
            raise ModelLoadError(f"onnxruntime cannot load {path}: {exc}") from exc
        # ONNX Runtime drops a provider whose libraries fail to load (e.g. no cuDNN) and runs on CPU with
        # only a log line; a named provider must really be in use.
        actual = session.get_providers()
        if actual[0] != PROVIDERS[self.provider]:
            if self.requested_provider.lower() != "auto":
                raise ProviderUnavailableError(
                    f"onnxruntime could not start {PROVIDERS[self.provider]} (session runs on {actual}); "
                    f"{_INSTALL_HINT[self.provider]}"
                )
            self.provider = next((s for s, full in PROVIDERS.items() if full == actual[0]), "cpu")
        log.info("onnx scorer: %s variant on %s (%s)", self.variant, actual[0], self.requested_provider)
        return session

    @property
    def model_id(self) -> str:
        return self._model_id

    def describe(self) -> dict[str, Any]:
        """What runs (for ``profile`` and logs): variant, chosen provider, and how it was chosen."""
        return {
            "scorer": self.name,
            "model": self.model_id,
            "directory": str(self.directory),
            "variant": self.variant,
            "device": "cuda" if self.provider in _GPU_PROVIDERS else "cpu",
            "dtype": self.manifest.variants[self.variant].precision,
            "provider": self.provider,
            "provider_requested": self.requested_provider,
            "session_providers": self.session.get_providers(),
            "threads": self.threads,
            "spin": self.spin,
            "max_tokens": self.max_tokens,
            "max_batch": self.max_batch,
            "parity": self.manifest.variants[self.variant].parity,
        }

    # -- staged protocol -------------------------------------------------------------------------

    def prepare(self, pairs: Sequence[AddressPair]) -> Prepared:
        t0 = time.perf_counter()
        cleaned: list[tuple[Cleaned, Cleaned] | ItemError] = []
        for pair in pairs:
            a = clean(pair.a, max_chars=self.max_chars)
            b = clean(pair.b, max_chars=self.max_chars)
            bad = a if isinstance(a, ItemError) else b if isinstance(b, ItemError) else None
            if bad is not None:
                which = "a" if bad is a else "b"
                cleaned.append(ItemError(bad.code, f"address {which}: {bad.message}"))
            else:
                assert isinstance(a, Cleaned) and isinstance(b, Cleaned)
                cleaned.append((a, b))
        t1 = time.perf_counter()
        good = [c for c in cleaned if not isinstance(c, ItemError)]
        encoded = iter(self.encoder.encode_pairs([(a.text, b.text) for a, b in good]))
        t2 = time.perf_counter()
        n = max(len(pairs), 1)
        timings = {"normalize": (t1 - t0) * 1000 / n, "tokenize": (t2 - t1) * 1000 / max(len(good), 1)}
        items: list[PreparedItem | ItemError] = []
        for c in cleaned:
            if isinstance(c, ItemError):
                items.append(c)
                continue
            a, b = c
            tokens = next(encoded)
            notes = {
                "truncated_chars": a.truncated or b.truncated,
                "truncated_tokens": tokens.truncated,
                "removed_controls": a.removed_controls + b.removed_controls,
            }
            items.append(
                PreparedItem(len(tokens.input_ids), (a.text, b.text), (tokens, notes), dict(timings))
            )
        return Prepared(items)

    def run(self, prepared: Prepared) -> Raw:
        outputs: list[Any] = [None] * len(prepared.items)
        slots = [i for i, item in enumerate(prepared.items) if isinstance(item, PreparedItem)]
        lengths = [prepared.items[i].cost for i in slots]  # type: ignore[union-attr]
        t0 = time.perf_counter()
        for batch in plan_batches(lengths, max_tokens=self.max_tokens, max_batch=self.max_batch):
            rows = [slots[k] for k in batch]
            logits = self.forward([prepared.items[i].data[0] for i in rows])  # type: ignore[union-attr]
            for row, i in enumerate(rows):
                outputs[i] = logits[row]
        # total for the batch, like the torch scorer; finish() spreads it over the items
        return Raw(prepared, outputs, {"forward": (time.perf_counter() - t0) * 1000})

    def forward(self, batch: Sequence[PairTokens]) -> np.ndarray:
        """Logits (batch, num_labels) in the model's id order for one padded batch."""
        ids, mask = pad_batch([t.input_ids for t in batch], self.pad_id)
        types, _ = pad_batch([t.token_type_ids for t in batch], 0)
        arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        feed: dict[str, np.ndarray] = {
            name: arrays[name].astype(dtype, copy=False) for name, dtype in self._inputs.items()
        }
        try:
            (logits,) = self.session.run([self._output], feed)
        except Exception as exc:  # onnxruntime's errors do not share a Python base class
            raise InferenceError(f"onnxruntime failed on a batch of {len(batch)}: {exc}") from exc
        return np.asarray(logits)

    def finish(self, raw: Raw) -> list[Result]:
        results: list[Result] = []
        n_valid = sum(1 for item in raw.prepared.items if isinstance(item, PreparedItem))
        forward_each = raw.timings_ms.get("forward", 0.0) / max(1, n_valid)
        for item, logits in zip(raw.prepared.items, raw.outputs, strict=True):
            if isinstance(item, ItemError):
                results.append(item)
                continue
            t0 = time.perf_counter()
            probs = softmax(np.asarray(logits)[None, :])[0][self._order]
            if not np.isfinite(probs).all():  # e.g. an fp16 overflow: never a confident-looking label
                results.append(ItemError("non_finite_output", f"the {self.variant} graph produced {logits}"))
                continue
            _, notes = item.data
            explanation = {"input": notes} if notes["truncated_chars"] or notes["truncated_tokens"] else None
            timings = {**item.timings_ms, "forward": forward_each}
            match = Match.from_probabilities(
                probs.tolist(), scorer=self.name, model=self.model_id, explanation=explanation
            )
            timings["post"] = (time.perf_counter() - t0) * 1000
            match.timings_ms = timings
            results.append(match)
        return results

    def score(self, pairs: Sequence[AddressPair]) -> list[Result]:
        return self.finish(self.run(self.prepare(pairs)))

    def warmup(self) -> None:
        """One short and one long pair, so the first real request pays no allocator/kernel set-up."""
        short = AddressPair("杭州市西湖区文三路", "西湖区文三路")
        long_ = AddressPair("浙江省杭州市西湖区文三路398号东方通信大厦7楼" * 2, "杭州市西湖区文三路398号")
        self.score([short, long_])


def load(directory: str | Path, **options: Any) -> OnnxScorer:
    """The registry's entry point: an export directory -> scorer."""
    return OnnxScorer(directory, **options)
