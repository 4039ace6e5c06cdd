"""A character-level tokenizer for the from-scratch route (one token per character, as MGeo/BERT-zh do).

Built with ``tokenizers`` (a WordLevel model over single characters) so the trained model ships the same
``tokenizer.json`` format as the pretrained route and the pair-classifier scorer needs no special case.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenizers import Tokenizer

SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")


def build_char_tokenizer(texts: Iterable[str], *, min_count: int = 2) -> Tokenizer:
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel

    norm = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(norm.normalize_str(text))
    chars = sorted(c for c, n in counts.items() if n >= min_count and not c.isspace())
    vocab = {tok: i for i, tok in enumerate([*SPECIALS, *chars])}
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = norm
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex("."), behavior="isolated")]
    )
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> $B:1 </s>:1",
        special_tokens=[("<s>", vocab["<s>"]), ("</s>", vocab["</s>"])],
    )
    tok.add_special_tokens(list(SPECIALS))
    return tok
