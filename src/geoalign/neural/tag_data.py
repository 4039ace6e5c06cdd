"""Inputs and targets of the neural character tagger (probe, issue 15): one token per visible character.

Each address becomes ``<s> [domain] c1 ... cn </s>``: every visible (non-space) character is one token —
its own single-character piece of the (pruned) e5 vocabulary, else its NFKC form's, else the
``▁``-prefixed piece, else ``<unk>`` — so tags map back to characters with no subword alignment. The
domain token (one extra embedding row per labelled data set, appended after the vocabulary) tells the
one model whose tagging conventions to follow, as the linear tagger's ``domain`` feature does.

Labels are BIO over :data:`geoalign.address.schemes.ELEMENTS` (``tagger_train.char_labels``), the same
set for every domain; :func:`domain_label_mask` keeps a domain to the elements its data set has.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from geoalign.address.chartagger import DOMAINS
from geoalign.address.schemes import ELEMENTS, SCHEME_ELEMENTS, Example
from geoalign.address.tagger_train import char_labels

#: Every label the model has: O, then B-/I- of each element in ``ELEMENTS`` order.
LABELS: Final[tuple[str, ...]] = ("O", *(f"{p}-{e}" for e in ELEMENTS for p in ("B", "I")))
LABEL_INDEX: Final[dict[str, int]] = {lab: i for i, lab in enumerate(LABELS)}
METASPACE: Final[str] = "▁"
#: Characters of an address the model reads (longer ones: the rest is left untagged).
MAX_CHARS: Final[int] = 254


def domain_label_mask(domain: str) -> npt.NDArray[np.bool_]:
    """(len(LABELS),) bool: O and the B-/I- labels of the elements the domain's data set tags."""
    keep = SCHEME_ELEMENTS[domain]  # type: ignore[index]
    return np.array([lab == "O" or lab[2:] in keep for lab in LABELS], dtype=bool)


@dataclass(frozen=True)
class CharVocab:
    """Character -> token id over a piece vocabulary, plus the ids of the specials and domain tokens."""

    index: dict[str, int]
    bos: int
    eos: int
    pad: int
    unk: int
    domain_base: int  # domain d is token domain_base + DOMAINS.index(d)

    @staticmethod
    def from_pieces(pieces: Sequence[str], *, bos: str = "<s>", eos: str = "</s>", pad: str = "<pad>",
                    unk: str = "<unk>") -> CharVocab:  # fmt: skip
        index = {p: i for i, p in enumerate(pieces)}
        return CharVocab(index, index[bos], index[eos], index[pad], index[unk], len(pieces))

    @property
    def size(self) -> int:
        """Rows the embedding matrix needs: the pieces plus one per domain."""
        return self.domain_base + len(DOMAINS)

    def char_id(self, ch: str) -> int:
        hit = self.index.get(ch)
        if hit is not None:
            return hit
        folded = unicodedata.normalize("NFKC", ch)
        for piece in (folded, folded.lower(), METASPACE + ch, METASPACE + folded):
            hit = self.index.get(piece)
            if hit is not None:
                return hit
        return self.unk

    def encode(self, text: str, domain: str) -> tuple[list[int], list[int]]:
        """(token ids with specials and domain token, offset in ``text`` of each character token)."""
        raw = [i for i, ch in enumerate(text) if not ch.isspace()][:MAX_CHARS]
        return self.encode_at(text, domain, raw), raw

    def encode_at(self, text: str, domain: str, positions: Sequence[int]) -> list[int]:
        """Token ids of the characters of ``text`` at ``positions`` (at most ``MAX_CHARS`` of them),
        with the specials and the domain token."""
        ids = [self.bos, self.domain_base + DOMAINS.index(domain)]
        ids += [self.char_id(text[i]) for i in positions[:MAX_CHARS]]
        ids.append(self.eos)
        return ids


#: Token positions before the first character (``<s>`` and the domain token).
PREFIX: Final[int] = 2


@dataclass(frozen=True)
class Encoded:
    """Encoded addresses of one domain: token ids, character offsets, gold label ids (-100: none)."""

    ids: list[list[int]]
    raw: list[list[int]]
    labels: list[list[int]]
    domain: str


def encode_examples(vocab: CharVocab, examples: Sequence[Example], domain: str) -> Encoded:
    ids: list[list[int]] = []
    raws: list[list[int]] = []
    labels: list[list[int]] = []
    for ex in examples:
        tok, raw = vocab.encode(ex.text, domain)
        gold = char_labels(ex)
        ids.append(tok)
        raws.append(raw)
        labels.append([-100] * PREFIX + [LABEL_INDEX[gold[i]] for i in raw] + [-100])
    return Encoded(ids, raws, labels, domain)
