"""One pair-classifier scorer (clean -> encode -> plan batches -> finish) over backends that run the model.

Why one: the torch and ONNX scorers used to carry two copies of this CPU side and drifted apart (only one
turned non-finite outputs into errors, only one recorded truncation, only one locked its token cache).
Here the scorer owns everything but the forward pass; a backend (``backend_torch.TorchBackend``,
``backend_onnx.OnnxBackend``, or a test's fake) implements :class:`PairBackend`:
``forward(input_ids, attention_mask, token_type_ids) -> logits`` on numpy arrays, plus a few facts
(model id, variant, device). Adding a backend touches no other backend.

* **clean**: safe cleaning only (``address.clean``: trim, control characters, ``max_chars``); neural
  models were trained on raw text, so nothing is normalized, but traditional characters are read as
  simplified, one for one (``normalize.fold_simplified``: the vocabularies hold simplified text).
* **encode**: every distinct address is tokenized once (a join scores one address against many), through
  a bounded, locked LRU (the engine prepares from several threads), and pairs are assembled with the
  tokenizer's own pair template (``[CLS] a [SEP] b [SEP]`` for BERT, ``<s> a </s></s> b </s>`` for
  XLM-R/RoBERTa: read from the tokenizer's post-processor, never assumed) and its "longest first"
  truncation. A load-time probe holds the result equal to the tokenizer's own pair encoding.
* **plan batches**: length buckets under a padded-token budget (``engine.batching.plan_batches``).
* **finish**: float64 softmax, model id order -> canonical ``LABELS`` order, a non-finite output is an
  ``ItemError`` (never a confident-looking label), and ``explanation.truncated`` says which side was cut
  and where (character offset into the text the model saw).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np

from geoalign._extras import require
from geoalign.address.clean import DEFAULT_MAX_CHARS, Cleaned, clean
from geoalign.address.normalize import fold_simplified
from geoalign.engine.batching import DEFAULT_MAX_BATCH, pad_batch, plan_batches, truncate_pair_lengths
from geoalign.errors import InputError, ModelLoadError
from geoalign.types import LABELS, AddressPair, ItemError, Match, Prepared, PreparedItem, Raw, Result

#: Probe pairs: one short, one long enough to exercise truncation when max_length is small.
PROBE_PAIRS: Final = (
    ("杭州市西湖区文三路90号", "文三路90号东部软件园"),
    ("浙江省杭州市余杭区文一西路969号A座" * 3, "文一西路969号阿里巴巴西溪园区3号楼" * 2),
)


class PairBackend(Protocol):
    """What runs the model. Inputs are int64 arrays of shape (batch, sequence); ``token_type_ids`` is all
    zeros for models that take none (a backend whose graph lacks the input simply does not feed it).
    Returns float logits (batch, labels) in the model's own label id order."""

    #: the scorer name this backend is served under ("torch", "onnx")
    name: str
    #: model checksum (part of every Match and cache key)
    model_id: str
    #: precision / graph variant: fp32, bf16, fp16, int8, fused
    variant: str
    #: "cpu" or "cuda"
    device: str
    #: the default padded-token budget per batch for this device
    default_max_tokens: int

    def forward(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray
    ) -> np.ndarray: ...

    def describe(self) -> dict[str, Any]: ...


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (fp16/bf16 logits would otherwise round the probabilities)."""
    z = np.asarray(logits, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):  # non-finite rows become ItemErrors in finish()
        z = z - z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------------- encoding


@dataclass(frozen=True, slots=True)
class PairTemplate:
    """Where the special tokens go around the two segments, and each position's token type.

    Read from the tokenizer's post-processor with a probe pair, so BERT's ``[CLS] a [SEP] b [SEP]`` and
    RoBERTa/XLM-R's ``<s> a </s></s> b </s>`` (and anything else of the same shape) come out right.
    """

    prefix: tuple[int, ...]
    middle: tuple[int, ...]
    suffix: tuple[int, ...]
    prefix_types: tuple[int, ...]
    middle_types: tuple[int, ...]
    suffix_types: tuple[int, ...]
    a_type: int
    b_type: int

    @property
    def n_special(self) -> int:
        return len(self.prefix) + len(self.middle) + len(self.suffix)

    @classmethod
    def from_tokenizer(cls, tokenizer: Any) -> PairTemplate:
        """Probe ``tokenizer`` (a ``tokenizers.Tokenizer`` without truncation) with a pair."""
        for a, b in (("a", "b"), ("1", "2"), ("杭州", "上海"), ("x y", "z w")):
            enc = tokenizer.encode(a, b, add_special_tokens=True)
            seq = list(enc.sequence_ids)
            if 0 in seq and 1 in seq:
                break
        else:
            raise ModelLoadError("the tokenizer gives no tokens for any probe text: no pair template to read")
        ids, types = list(enc.ids), list(enc.type_ids)
        first = [i for i, s in enumerate(seq) if s == 0]
        second = [i for i, s in enumerate(seq) if s == 1]
        contiguous = first == list(range(first[0], first[-1] + 1)) and second == list(
            range(second[0], second[-1] + 1)
        )
        if not contiguous or first[-1] > second[0]:
            raise ModelLoadError(f"unsupported pair template (segments interleave: {seq})")
        segments = {
            "prefix": range(0, first[0]),
            "middle": range(first[-1] + 1, second[0]),
            "suffix": range(second[-1] + 1, len(ids)),
        }
        if any(s is not None for name, r in segments.items() for s in (seq[i] for i in r)):
            raise ModelLoadError(f"unsupported pair template: {seq}")
        if len({types[i] for i in first}) != 1 or len({types[i] for i in second}) != 1:
            raise ModelLoadError("token types vary inside one segment of the pair template")
        return cls(
            prefix=tuple(ids[i] for i in segments["prefix"]),
            middle=tuple(ids[i] for i in segments["middle"]),
            suffix=tuple(ids[i] for i in segments["suffix"]),
            prefix_types=tuple(types[i] for i in segments["prefix"]),
            middle_types=tuple(types[i] for i in segments["middle"]),
            suffix_types=tuple(types[i] for i in segments["suffix"]),
            a_type=types[first[0]],
            b_type=types[second[0]],
        )


@dataclass(frozen=True, slots=True)
class TextTokens:
    """One address's token ids (no special tokens) and the character offset where each token ends."""

    ids: tuple[int, ...]
    ends: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PairTokens:
    """One assembled pair: what the model sees for it, and what had to be cut.

    ``cut`` maps a side ("a"/"b") to (tokens kept, tokens it had, character offset where the kept part
    ends) for each side that lost tokens to ``max_length``.
    """

    input_ids: list[int]
    token_type_ids: list[int]
    cut: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    @property
    def truncated(self) -> bool:
        return bool(self.cut)


class PairEncoder:
    """Per-address tokenization (cached, thread-safe) + pair assembly with the tokenizer's template.

    Why not the tokenizer's own pair encoding: in a table join the same address appears in thousands of
    pairs; tokenizing each distinct string once and assembling ids is cheaper and gives identical ids (the
    truncation rule is the tokenizer's own "longest first", see ``truncate_pair_lengths``).
    """

    def __init__(
        self, tokenizer: Any, *, max_length: int, token_types: bool, cache_size: int = 100_000
    ) -> None:
        tokenizers = require("tokenizers", "onnx", "the pair-classifier scorer")
        # a private copy: the saved tokenizer may carry training-time truncation/padding, and a Hugging
        # Face tokenizer's backend must not be changed under its owner
        tokenizer = tokenizers.Tokenizer.from_str(tokenizer.to_str())
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self.tokenizer = tokenizer
        self.template = PairTemplate.from_tokenizer(tokenizer)
        if max_length < self.template.n_special + 2:
            raise ModelLoadError(f"max_length {max_length} leaves no room for a pair")
        self.max_length = max_length
        self.token_types = token_types
        self._cache: OrderedDict[str, TextTokens] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()  # the engine may prepare batches from several threads

    @classmethod
    def from_file(cls, path: str | Path, *, max_length: int, token_types: bool) -> PairEncoder:
        tokenizers = require("tokenizers", "onnx", "the pair-classifier scorer")
        try:
            tokenizer = tokenizers.Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception on a malformed file
            raise ModelLoadError(f"cannot load tokenizer {path}: {exc}") from exc
        return cls(tokenizer, max_length=max_length, token_types=token_types)

    def lookup(self, texts: Sequence[str]) -> dict[str, TextTokens]:
        """Tokens of each distinct text; misses are tokenized in one batch, outside the lock."""
        out: dict[str, TextTokens] = {}
        todo: list[str] = []
        with self._lock:
            for text in dict.fromkeys(texts):
                hit = self._cache.get(text)
                if hit is None:
                    todo.append(text)
                else:
                    self._cache.move_to_end(text)
                    out[text] = hit
        if todo:
            encoded = self.tokenizer.encode_batch(todo, add_special_tokens=False)
            fresh = {
                text: TextTokens(tuple(enc.ids), tuple(end for _, end in enc.offsets))
                for text, enc in zip(todo, encoded, strict=True)
            }
            out.update(fresh)
            with self._lock:
                self._cache.update(fresh)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return out

    def tokenize(self, texts: Sequence[str]) -> dict[str, list[int]]:
        """Token ids (no special tokens) of each distinct text."""
        return {text: list(tokens.ids) for text, tokens in self.lookup(texts).items()}

    def assemble(self, a: TextTokens | Sequence[int], b: TextTokens | Sequence[int]) -> PairTokens:
        ta = a if isinstance(a, TextTokens) else TextTokens(tuple(a), ())
        tb = b if isinstance(b, TextTokens) else TextTokens(tuple(b), ())
        t = self.template
        keep_a, keep_b = truncate_pair_lengths(len(ta.ids), len(tb.ids), self.max_length - t.n_special)
        ids = [*t.prefix, *ta.ids[:keep_a], *t.middle, *tb.ids[:keep_b], *t.suffix]
        if self.token_types:
            types = [
                *t.prefix_types,
                *[t.a_type] * keep_a,
                *t.middle_types,
                *[t.b_type] * keep_b,
                *t.suffix_types,
            ]
        else:  # the model takes no token types (RoBERTa/XLM-R, rerankers): zeros
            types = [0] * len(ids)
        cut: dict[str, tuple[int, int, int]] = {}
        for side, tokens, keep in (("a", ta, keep_a), ("b", tb, keep_b)):
            if keep < len(tokens.ids):
                at = tokens.ends[keep - 1] if keep and tokens.ends else 0
                cut[side] = (keep, len(tokens.ids), int(at))
        return PairTokens(ids, types, cut)

    def encode_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[PairTokens]:
        """Assembled pairs, in order (each distinct address tokenized once)."""
        tokens = self.lookup([t for pair in pairs for t in pair])
        return [self.assemble(tokens[a], tokens[b]) for a, b in pairs]

    def check_against(self, reference: Any, pairs: Sequence[tuple[str, str]] = PROBE_PAIRS) -> None:
        """Refuse to run when the assembled ids differ from ``reference(a, b) -> (ids, type_ids)``, the
        tokenizer's own pair encoding with longest-first truncation at ``max_length``."""
        for (a, b), got in zip(pairs, self.encode_pairs(pairs), strict=True):
            want_ids, want_types = reference(a, b)
            ok = list(want_ids) == got.input_ids
            if ok and self.token_types and want_types is not None:
                ok = list(want_types) == got.token_type_ids
            if not ok:
                raise ModelLoadError(
                    "assembling pairs from per-address tokens does not reproduce the tokenizer's own pair "
                    f"encoding ({list(want_ids)[:12]}... vs {got.input_ids[:12]}...); this tokenizer's pair "
                    "template is not supported"
                )


def tokenizer_pair_reference(tokenizer: Any, max_length: int) -> Any:
    """``reference(a, b)`` for :meth:`PairEncoder.check_against` from a ``tokenizers.Tokenizer``."""
    tokenizers = require("tokenizers", "onnx", "the pair-classifier scorer")
    ref = tokenizers.Tokenizer.from_str(tokenizer.to_str())
    ref.no_padding()
    ref.enable_truncation(max_length, strategy="longest_first")

    def reference(a: str, b: str) -> tuple[list[int], list[int]]:
        enc = ref.encode(a, b)
        return list(enc.ids), list(enc.type_ids)

    return reference


# --------------------------------------------------------------------------------------------- scorer


@dataclass(frozen=True, slots=True)
class _Item:
    """A prepared pair: its tokens, and which sides ``clean`` cut to ``max_chars``."""

    tokens: PairTokens
    chars_cut: tuple[bool, bool]


class PairClassifierScorer:
    """The staged Scorer for any pair classifier: this class owns the CPU side, ``backend`` the model.

    ``labels`` are the canonical label names in the model's output id order. ``pad_id`` pads batches.
    """

    def __init__(
        self,
        backend: PairBackend,
        encoder: PairEncoder,
        labels: Sequence[str],
        *,
        pad_id: int,
        max_tokens: int | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_chars: int = DEFAULT_MAX_CHARS,
        explain: bool = True,
    ) -> None:
        if sorted(labels) != sorted(LABELS):
            raise ModelLoadError(f"labels must be a permutation of {list(LABELS)}, got {list(labels)}")
        if max_batch < 1 or (max_tokens is not None and max_tokens < 1):
            raise InputError("max_tokens and max_batch must be positive")
        self.backend = backend
        self.name = backend.name
        self.encoder = encoder
        self.labels = list(labels)
        #: column j of the canonical probabilities comes from model output id _order[j]
        self._order = [self.labels.index(name) for name in LABELS]
        self.pad_id = pad_id
        self.max_tokens = max_tokens or backend.default_max_tokens
        self.max_batch = max_batch
        self.max_chars = max_chars
        self.explain = explain

    # ----------------------------------------------------------------------------- identity

    @property
    def model_id(self) -> str:
        return self.backend.model_id

    @property
    def variant(self) -> str:
        """Precision / graph variant: two variants of one model give different numbers (cache key)."""
        return self.backend.variant

    def describe(self) -> dict[str, Any]:
        return {
            "scorer": self.name,
            "model": self.model_id,
            **self.backend.describe(),
            "max_length": self.encoder.max_length,
            "max_tokens": self.max_tokens,
            "max_batch": self.max_batch,
            "max_chars": self.max_chars,
        }

    # ----------------------------------------------------------------------------- protocol

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
        good = [c for c in cleaned if not isinstance(c, ItemError)]
        # simplified characters, one for one (offsets kept for the truncation report): the vocabulary
        # and the training text are simplified; nothing else of the raw text changes
        encoded = iter(
            self.encoder.encode_pairs([(fold_simplified(a.text), fold_simplified(b.text)) for a, b in good])
        )
        t2 = time.perf_counter()
        timings = {
            "normalize": (t1 - t0) * 1000 / max(len(pairs), 1),
            "tokenize": (t2 - t1) * 1000 / max(len(good), 1),
        }
        items: list[PreparedItem | ItemError] = []
        for c in cleaned:
            if isinstance(c, ItemError):
                items.append(c)
                continue
            a, b = c
            tokens = next(encoded)
            data = _Item(tokens, (a.truncated, b.truncated))
            items.append(
                PreparedItem(
                    len(tokens.input_ids),
                    (a.text, b.text),
                    data,
                    dict(timings),
                    cut=(a.truncated, b.truncated),
                )
            )
        return Prepared(items)

    def forward(self, batch: Sequence[PairTokens]) -> np.ndarray:
        """Logits (batch, labels) in the model's id order for one dynamically padded batch."""
        ids, mask = pad_batch([t.input_ids for t in batch], self.pad_id)
        types, _ = pad_batch([t.token_type_ids for t in batch], 0)
        logits = np.asarray(self.backend.forward(ids, mask, types))
        if logits.shape != (len(batch), len(self.labels)):
            raise ModelLoadError(
                f"the model returned logits of shape {logits.shape} for a batch of {len(batch)} "
                f"(expected ({len(batch)}, {len(self.labels)}))"
            )
        return logits

    def run(self, prepared: Prepared) -> Raw:
        outputs: list[Any] = [None] * len(prepared.items)
        slots = [i for i, item in enumerate(prepared.items) if isinstance(item, PreparedItem)]
        items = [prepared.items[i] for i in slots]
        lengths = [item.cost for item in items if isinstance(item, PreparedItem)]
        t0 = time.perf_counter()
        for batch in plan_batches(lengths, max_tokens=self.max_tokens, max_batch=self.max_batch):
            tokens = [_tokens_of(items[k]) for k in batch]
            logits = self.forward(tokens)
            for row, k in enumerate(batch):
                outputs[slots[k]] = logits[row]
        # the total; finish() spreads it over the items
        return Raw(prepared, outputs, {"forward": (time.perf_counter() - t0) * 1000})

    def finish(self, raw: Raw) -> list[Result]:
        results: list[Result] = []
        n_valid = sum(1 for item in raw.prepared.items if isinstance(item, PreparedItem))
        forward_each = raw.timings_ms.get("forward", 0.0) / max(1, n_valid)
        for item, logits in zip(raw.prepared.items, raw.outputs, strict=True):
            if isinstance(item, ItemError):
                results.append(item)
                continue
            t0 = time.perf_counter()
            row = np.asarray(logits, dtype=np.float64)
            probs = softmax(row[None, :])[0][self._order]
            if not (np.isfinite(row).all() and np.isfinite(probs).all()):
                # e.g. an fp16 overflow or a broken graph: never a confident-looking label
                results.append(
                    ItemError(
                        "non_finite_output",
                        f"the {self.variant} model produced non-finite logits {row.tolist()}",
                    )
                )
                continue
            explain = self.explain if item.explain is None else item.explain
            explanation = _truncation(item) if explain else None
            match = Match.from_probabilities(
                probs.tolist(), scorer=self.name, model=self.model_id, explanation=explanation
            )
            match.timings_ms = {
                **item.timings_ms,
                "forward": forward_each,
                "post": (time.perf_counter() - t0) * 1000,
            }
            results.append(match)
        return results

    def score(self, pairs: Sequence[AddressPair], *, explain: bool | None = None) -> list[Result]:
        return self.finish(self.run(self.prepare(pairs).explaining(explain)))

    def warmup(self) -> None:
        """One short and one long pair (twice), so the first real request pays no allocator/kernel set-up."""
        probe = [AddressPair(a, b) for a, b in PROBE_PAIRS]
        self.score(probe * 2)


def _tokens_of(item: PreparedItem | ItemError) -> PairTokens:
    assert isinstance(item, PreparedItem)
    data = item.data
    return data.tokens if isinstance(data, _Item) else data  # type: ignore[no-any-return]


def _truncation(item: PreparedItem) -> dict[str, Any] | None:
    """``{"truncated": {side: {...}}}`` for the sides that were cut, else None.

    ``by`` says which limit cut the side: ``max_length`` (tokens; ``at_char`` is where the kept tokens
    end in the text the model saw, with kept/total token counts) or ``max_chars`` (``clean`` cut the
    address; ``at_char`` is the kept length). A side cut by both reports the token cut, the earlier one.
    """
    data = item.data
    if not isinstance(data, _Item):
        return None
    sides: dict[str, Any] = {}
    for index, side in enumerate(("a", "b")):
        if side in data.tokens.cut:
            kept, total, at = data.tokens.cut[side]
            sides[side] = {"by": "max_length", "at_char": at, "kept_tokens": kept, "tokens": total}
        elif data.chars_cut[index]:
            sides[side] = {"by": "max_chars", "at_char": len(item.seen[index])}
    return {"truncated": sides} if sides else None
