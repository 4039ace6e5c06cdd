"""Prune XLM-R's 250k-piece vocabulary to the pieces Chinese addresses use.

Why: the embedding matrix of multilingual-e5-small is 250k x 384 (96M of its 118M parameters); addresses
use a few thousand pieces. Keeping (a) every piece the full unigram model picks on a corpus of addresses
and (b) the single-character pieces of every character that corpus contains keeps the tokenization of
every corpus string identical (the full model's best segmentation uses only kept pieces, and a subset
cannot score higher) and lets unseen strings fall back to characters instead of ``<unk>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenizers import Tokenizer

SPECIAL_IDS = (0, 1, 2, 3)  # <s> <pad> </s> <unk> in XLM-R order
METASPACE = "▁"


@dataclass(frozen=True)
class PrunedVocab:
    """Old piece ids kept, in the new order (new id = position); specials first, at the same ids."""

    old_ids: list[int]
    pieces: list[str]
    scores: list[float]


def prune_vocab(
    tokenizer: Tokenizer,
    pieces: list[str],
    scores: list[float],
    texts: Iterable[str],
    *,
    batch: int = 4096,
) -> PrunedVocab:
    index = {p: i for i, p in enumerate(pieces)}
    used: set[int] = set(SPECIAL_IDS)
    chars: set[str] = set()
    chunk: list[str] = []

    def flush() -> None:
        for enc in tokenizer.encode_batch(chunk, add_special_tokens=False):
            used.update(enc.ids)
        chunk.clear()

    for text in texts:
        chunk.append(text)
        chars.update(text)
        if len(chunk) >= batch:
            flush()
    if chunk:
        flush()
    for ch in chars:
        for piece in (ch, METASPACE + ch):
            if piece in index:
                used.add(index[piece])
    if METASPACE in index:
        used.add(index[METASPACE])
    rest = sorted(used - set(SPECIAL_IDS))
    old_ids = list(SPECIAL_IDS) + rest
    return PrunedVocab(old_ids, [pieces[i] for i in old_ids], [scores[i] for i in old_ids])
