"""A 21,128-entry character vocabulary with the shape of bert-base-chinese's ``vocab.txt``.

Why: random-weights mode (``--random-init mgeo-base``) and the tiny pair classifier need a tokenizer, and
the real bert-base-chinese / MGeo ``vocab.txt`` is not obtainable here. This builder gives the same size
(so the embedding matrix has MGeo's exact shape) and the same special-token ids ([PAD]=0, [UNK]=100,
[CLS]=101, [SEP]=102, [MASK]=103). It is character level: every CJK ideograph of U+4E00..U+9FA5 and every
printable ASCII character is one token, and digits/letters inside a word become ``##x`` pieces, so a
number like "363" is three tokens. The real vocabulary has multi-digit pieces ("##63", "2019"), so real
token counts (and therefore real speed) may differ slightly from figures measured with this vocabulary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

VOCAB_SIZE: Final = 21128

#: bert-base-chinese's first 106 entries: [PAD], [unused1..99], [UNK], [CLS], [SEP], [MASK], <S>, <T>.
_HEAD: Final[tuple[str, ...]] = (
    "[PAD]",
    *(f"[unused{i}]" for i in range(1, 100)),
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "<S>",
    "<T>",
)

#: Full-width / CJK punctuation common in addresses. BERT's basic tokenizer splits punctuation into
#: its own tokens, so each needs an entry or it becomes [UNK].
_CJK_PUNCT: Final = "，。、：；？！（）《》【】—·～"


def build_char_vocab(size: int = VOCAB_SIZE) -> list[str]:
    """Return the vocabulary entries in id order (deterministic, exactly ``size`` entries).

    Uppercase ASCII is left out because the tokenizer lower-cases (``do_lower_case=True``, as
    bert-base-chinese); the freed ids hold the ``##`` continuations of digits and lowercase letters.
    """
    entries: list[str] = list(_HEAD)
    entries += [chr(c) for c in range(33, 127) if not chr(c).isupper()]
    entries += [chr(c) for c in range(0x4E00, 0x9FA6)]
    entries += [f"##{c}" for c in "0123456789abcdefghijklmnopqrstuvwxyz"]
    entries += [ch for ch in _CJK_PUNCT if ch not in entries]
    if len(entries) > size:
        raise ValueError(f"a character vocabulary needs at least {len(entries)} entries, got size={size}")
    n = 100
    while len(entries) < size:  # pad with more [unusedN], as the real file's reserved ids
        entries.append(f"[unused{n}]")
        n += 1
    assert len(set(entries)) == len(entries), "vocabulary entries must be unique"
    return entries


def write_char_vocab(path: str | Path, size: int = VOCAB_SIZE) -> Path:
    """Write ``vocab.txt`` (one entry per line, the format BertTokenizer reads) and return its path."""
    path = Path(path)
    path.write_text("\n".join(build_char_vocab(size)) + "\n", encoding="utf-8")
    return path
