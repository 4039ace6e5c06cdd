"""The learned address tagger: tokenization, features and a CRF (python-crfsuite) over BIO tags.

Tokens follow the NAACL-2019 data: a run of ASCII digits or a run of Latin letters is one token, every
other character is its own token. Width is folded per character (NFKC of each character on its own), so
``１２号`` tokenizes like ``12号`` and every token still maps back to exact offsets in the raw input —
a whole-string NFKC could change the length and break ``raw[start:end] == text``.

The model file is CRFsuite's own binary format (no pickle). This module is pure apart from reading that
file; ``geoalign.address.parse`` wraps it into the public ``Components`` API.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

#: A tagged span: (element name, start, end) in character offsets of the text given to the tagger.
Span = tuple[str, int, int]

#: Bumped whenever ``token_features`` / ``stack_features`` change: a model records the version it was
#: trained with (parser.json) and is refused by code computing other features.
FEATURE_VERSION = 2

_POS = tuple(str(i) for i in range(13))

#: Tag spellings found in the NAACL-2019 files that differ from labels.txt, folded to one name each.
TAG_ALIASES: dict[str, str] = {"devZone": "devzone", "subRoad": "subroad", "subRoadno": "subroadno"}

#: Characters that end an element in Chinese addresses (administrative, street, building suffixes).
#: A feature, not a rule: the CRF learns how much each one means in context.
_SUFFIX_CHARS = frozenset("省市区县旗镇乡街道路巷弄里号栋幢座楼单元层室村组社苑园城庄府厦场院寓墅宅所湾坊")
#: Suffixes whose earlier presence changes what comes next (a second road is a subroad, text after a
#: building number is rarely a poi...).
_KEY_SUFFIXES = frozenset("区市县镇乡街路号楼村栋幢单层室")
#: Multi-character suffix words worth a feature of their own (checked as "ends here" / "starts here").
_SUFFIX_WORDS = (
    "街道", "社区", "小区", "单元", "大厦", "大道", "自治", "开发区", "园区", "新区", "广场", "花园",
)  # fmt: skip
_SUFFIX_WORDS_2 = frozenset(w for w in _SUFFIX_WORDS if len(w) == 2)
_SUFFIX_WORDS_3 = frozenset(w for w in _SUFFIX_WORDS if len(w) == 3)


@dataclass(frozen=True, slots=True)
class Token:
    """One token: raw offsets into the input and its width-folded form used for features."""

    start: int
    end: int
    norm: str
    kind: str  # "d" digits, "l" latin, "h" han, "s" space, "p" punctuation/other


#: Unicode categories never shown to the model (controls, zero-width/format, surrogates, unassigned):
#: tokenized as "space" so they are skipped like whitespace, while offsets stay exact.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> tuple[str, str]:
    """(folded character, kind) for one raw character. NFKC per character keeps offsets exact."""
    if unicodedata.category(ch) in _INVISIBLE:
        return ch, "s"
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) != 1:
        folded = ch  # e.g. "㎡" -> "m2": keep one character per character
    if folded.isascii():
        if folded.isdigit():
            return folded, "d"
        if folded.isalpha():
            return folded.upper(), "l"
        if folded.isspace():
            return " ", "s"
        return folded, "p"
    if folded.isspace():
        return " ", "s"
    if unicodedata.category(folded).startswith("L"):
        return folded, "h"
    return folded, "p"


def tokenize(text: str) -> list[Token]:
    """Split ``text`` like the training data: digit runs and Latin runs are single tokens."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        folded, kind = _fold_char(text[i])
        j = i + 1
        if kind in ("d", "l"):
            parts = [folded]
            while j < n:
                nxt, nkind = _fold_char(text[j])
                if nkind != kind:
                    break
                parts.append(nxt)
                j += 1
            folded = "".join(parts)
        tokens.append(Token(i, j, folded, kind))
        i = j
    return tokens


def _shape(tok: Token) -> str:
    """The token as a feature value: digits by length (a number's value does not generalize), Latin
    runs as themselves when short (F, A座, B栋 are meaningful) else by length."""
    if tok.kind == "d":
        return f"<D{min(len(tok.norm), 5)}>"
    if tok.kind == "l":
        return tok.norm if len(tok.norm) <= 2 else f"<L{min(len(tok.norm), 5)}>"
    return tok.norm


#: piece -> level of the division it names ("?" when several levels), "" when it names none. A plain
#: dict in front of the gazetteer: the candidate loop asks ~100 pieces per address, and one dict probe
#: is several times cheaper than a call. Cleared when it grows past _DIVISION_LEVEL_MAX entries.
_DIVISION_LEVEL: dict[str, str] = {}
_DIVISION_LEVEL_MAX = 500_000


def _division_level(piece: str) -> str:
    from geoalign.address import gazetteer

    level = ""
    if gazetteer.is_division_name(piece):
        levels: set[str] = {d.level for d in gazetteer.lookup(piece)}
        level = levels.pop() if len(levels) == 1 else "?"
    if len(_DIVISION_LEVEL) >= _DIVISION_LEVEL_MAX:
        _DIVISION_LEVEL.clear()
    _DIVISION_LEVEL[piece] = level
    return level


def _gazetteer_marks(text: str, tokens: Sequence[Token]) -> list[list[str]]:
    """Gazetteer features per token.

    ``gz``: the admin prefix the gazetteer resolves (浙江省 / 宁波市 / 慈溪市 with their levels — it stops
    at a name that does not continue the hierarchy, so a repeated copy is left unmarked, which is what
    tells ``redundant`` from ``city``). ``dn``: anywhere in the text, the longest official division name
    (full name or alias, current or former) starting at this token, with its level when unambiguous.
    """
    from geoalign.address import gazetteer

    marks: list[list[str]] = [[] for _ in tokens]
    if not tokens:
        return marks
    index = {t.start: i for i, t in enumerate(tokens)}
    for span in gazetteer.resolve(text).spans:
        span_level: str = span.level or "?"
        first = index.get(span.start)
        if first is None:
            continue
        for j in range(first, len(tokens)):
            if tokens[j].start >= span.end:
                break
            marks[j].append(("gz=B-" if j == first else "gz=I-") + span_level)
    # Division names are all Han, so only a run of Han tokens (one character each) can hold one: slice
    # the run's string instead of joining tokens for every candidate length.
    n = len(tokens)
    i = 0
    while i < n:
        if tokens[i].kind != "h":
            i += 1
            continue
        run_end = i
        while run_end < n and tokens[run_end].kind == "h":
            run_end += 1
        run = "".join(t.norm for t in tokens[i:run_end])
        pos = 0
        while pos < len(run) - 1:
            found = 0
            for length in range(min(8, len(run) - pos), 1, -1):
                piece = run[pos : pos + length]
                known = _DIVISION_LEVEL.get(piece)
                level = _division_level(piece) if known is None else known
                if level:
                    found = length
                    break
            if not found:
                pos += 1
                continue
            first = i + pos
            marks[first].append("dn=B-" + level)
            for j in range(first + 1, first + found):
                marks[j].append("dn=I-" + level)
            marks[first + found - 1].append("dn=E")
            pos += found
        i = run_end
    return marks


def token_features(tokens: Sequence[Token], text: str | None = None) -> list[list[str]]:
    """CRF features for each token: identity, class, a ±3 window with bigrams and trigrams, position,
    suffix lexicon, repeats, and gazetteer marks when ``text`` (the string the token offsets point into)
    is given.

    The repeat feature ("this character bigram already occurred earlier") is there for the
    ``redundant`` element, which in this data is mostly a repeated admin name (杭州市余杭区杭州市余杭区).
    """
    n = len(tokens)
    w = ["<S2>", "<S1>", *(_shape(t) for t in tokens), "<E1>", "<E2>"]
    k = ["^", "^", *(t.kind for t in tokens), "$", "$"]
    # First and last position of each token bigram (Han only), for the repeat features below.
    first_at: dict[str, int] = {}
    last_at: dict[str, int] = {}
    for i in range(n):
        if tokens[i].kind == "h":
            bigram = w[i + 2] + w[i + 3]
            first_at.setdefault(bigram, i)
            last_at[bigram] = i
    # Nearest suffix character to the right of each token (the element a long name will end in:
    # 文一西路 -> every char "heads to" 路) and to the left (the element just closed).
    next_sfx: list[str] = [""] * n
    nxt, dist = "", 0
    for i in range(n - 1, -1, -1):
        dist += 1
        if w[i + 2] in _SUFFIX_CHARS:
            nxt, dist = w[i + 2], 0
        next_sfx[i] = f"{nxt}{min(dist, 4)}" if nxt else ""
    prev_sfx, seen_keys = "", ""
    gz = _gazetteer_marks(text, tokens) if text is not None else [[] for _ in tokens]
    feats: list[list[str]] = []
    for i in range(n):
        p = i + 2
        w0, wm1, wm2, wp1, wp2 = w[p], w[p - 1], w[p - 2], w[p + 1], w[p + 2]
        kinds = k[p - 1] + k[p] + k[p + 1]
        f = [
            "b",
            "w=" + w0,
            "w-1=" + wm1,
            "w+1=" + wp1,
            "w-2=" + wm2,
            "w+2=" + wp2,
            "w-1w=" + wm1 + w0,
            "ww+1=" + w0 + wp1,
            "w-2w-1=" + wm2 + wm1,
            "w+1w+2=" + wp1 + wp2,
            "w-1ww+1=" + wm1 + w0 + wp1,
            "k=" + kinds,
            "w-3=" + (w[p - 3] if p >= 3 else "<S3>"),
            "w+3=" + (w[p + 3] if p + 3 < n + 4 else "<E3>"),
            "ww+1w+2=" + w0 + wp1 + wp2,
            "w-2w-1w=" + wm2 + wm1 + w0,
            # Position from either end: admin names come first, rooms and floors last.
            "pos=" + _POS[min(i, 12)],
            "rpos=" + _POS[min(n - 1 - i, 12)],
        ]
        if w0 in _SUFFIX_CHARS:
            f.append("sfx")
        if wp1 in _SUFFIX_CHARS:
            f.append("sfx+1")
        # Suffix words starting / ending here (Han tokens are one character, so a word of length L is
        # exactly the concatenation of L window tokens).
        pair = w0 + wp1
        if pair in _SUFFIX_WORDS_2:
            f.append("sw>" + pair)
        elif pair + wp2 in _SUFFIX_WORDS_3:
            f.append("sw>" + pair + wp2)
        pair = wm1 + w0
        if pair in _SUFFIX_WORDS_2:
            f.append("sw<" + pair)
        elif wm2 + pair in _SUFFIX_WORDS_3:
            f.append("sw<" + wm2 + pair)
        if next_sfx[i]:
            f.append("nx=" + next_sfx[i])
            f.append("nx=" + next_sfx[i][:-1])
        if prev_sfx:
            f.append("pv=" + prev_sfx)
        f.extend("seen=" + ch for ch in seen_keys)
        if w0 in _SUFFIX_CHARS:
            prev_sfx = w0
            if w0 in _KEY_SUFFIXES and w0 not in seen_keys:
                seen_keys += w0
        if tokens[i].kind == "h":
            # A copy of an admin name: which copy is "redundant" depends on whether this one comes
            # first (a later copy exists) or second (an earlier copy exists) — both are features.
            bigram = w0 + wp1
            first = first_at.get(bigram, i)
            if first < i:
                f.append("rep<")
            if last_at.get(bigram, i) > i:
                f.append("rep>")
            bigram = wm1 + w0
            if first_at.get(bigram, i - 1) < i - 1:
                f.append("rep<2")
            if last_at.get(bigram, i - 1) > i - 1:
                f.append("rep>2")
        f.extend(gz[i])
        if i > 0:
            f.extend("<" + m for m in gz[i - 1])
        if i + 1 < n:
            f.extend(">" + m for m in gz[i + 1])
        if i == 0:
            f.append("BOS")
        if i == n - 1:
            f.append("EOS")
        feats.append(f)
    return feats


def spans_from_bio(tags: Sequence[str], tokens: Sequence[Token]) -> list[Span]:
    """Turn BIO tags over tokens into character spans, conlleval-style.

    An ``I-x`` that does not continue an ``x`` chunk starts a new chunk (as conlleval counts it), so a
    malformed tag sequence still yields well-formed, non-overlapping spans. ``O`` ends a chunk.
    """
    spans: list[Span] = []
    name: str | None = None
    start = end = 0
    for tag, tok in zip(tags, tokens, strict=True):
        prefix, _, label = tag.partition("-")
        if prefix == "I" and label == name:
            end = tok.end
            continue
        if name is not None:
            spans.append((name, start, end))
            name = None
        if prefix in ("B", "I") and label:
            name, start, end = label, tok.start, tok.end
    if name is not None:
        spans.append((name, start, end))
    return spans


def read_bio_file(path: str | Path) -> list[tuple[str, list[Span], list[Token], list[str]]]:
    """Read a NAACL-2019 style file: ``token tag`` lines, a blank line between addresses.

    Returns, per address: the raw text (tokens concatenated — the originals had no spaces), the gold
    character spans, our own tokenization of that text and BIO tags projected onto it. Projection is by
    character: a gold token such as ``12-3`` that our tokenizer splits gets the tag of its characters.
    """
    from geoalign.errors import DataFormatError

    out: list[tuple[str, list[Span], list[Token], list[str]]] = []
    pieces: list[tuple[str, str]] = []

    def flush(lineno: int) -> None:
        if not pieces:
            return
        text = "".join(t for t, _ in pieces)
        char_tags: list[str] = []
        for tok_text, tag in pieces:
            prefix, _, label = tag.partition("-")
            label = TAG_ALIASES.get(label, label)
            if prefix == "O" or not label:
                char_tags.extend("O" * len(tok_text))
            else:
                char_tags.append(f"{prefix}-{label}")
                char_tags.extend([f"I-{label}"] * (len(tok_text) - 1))
        # Gold spans come from the gold tokens themselves (exact spans of the raw text).
        gold_tokens, pos = [], 0
        for tok_text, _ in pieces:
            gold_tokens.append(Token(pos, pos + len(tok_text), tok_text, "x"))
            pos += len(tok_text)
        gold_tags = []
        for _, tag in pieces:
            prefix, _, label = tag.partition("-")
            gold_tags.append("O" if prefix == "O" else f"{prefix}-{TAG_ALIASES.get(label, label)}")
        gold = spans_from_bio(gold_tags, gold_tokens)
        ours = tokenize(text)
        tags = [char_tags[t.start] for t in ours]
        # A token of ours that starts inside a gold chunk but begins with I- is fine; one that merges
        # two gold tokens with different chunks (rare: "A10" split as "A","10" in gold) keeps the first.
        out.append((text, gold, ours, tags))
        pieces.clear()

    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                flush(lineno)
                continue
            tok_text, sep, tag = line.rpartition(" ")
            if not sep or not tok_text or not (tag == "O" or tag[:2] in ("B-", "I-")):
                raise DataFormatError(f"{path}:{lineno}: expected 'token TAG' (BIO), got {line!r}")
            pieces.append((tok_text, tag))
        flush(-1)
    return out


def stack_features(base: list[list[str]], first_tags: Sequence[str]) -> list[list[str]]:
    """Second-stage features: the base features plus the first stage's tags around each token and the
    element types it found before and after the current chunk.

    A first-order CRF only sees its neighbour's tag; whether a *poi* was already found five tokens back
    (so this one is a *subpoi*) or a road already named (so this one is a *subroad*) needs the longer
    view a first pass provides. Trained on out-of-fold first-stage tags (see ``scripts/train_parser.py``)
    so the second stage learns how far to trust them.
    """
    n = len(first_tags)
    t = ["<S>", "<S>", *first_tags, "<E>", "<E>"]
    chunks = spans_from_bio(first_tags, [Token(i, i + 1, "", "") for i in range(n)])
    before: list[str] = [""] * n
    after: list[str] = [""] * n
    seen = ""
    for k, (name, start, end) in enumerate(chunks):
        nxt = chunks[k + 1][0] if k + 1 < len(chunks) else "<E>"
        for i in range(start, end):
            before[i] = seen
            after[i] = nxt
        seen = seen + "|" + name if name not in seen.split("|") else seen
    out: list[list[str]] = []
    for i in range(n):
        p = i + 2
        f = list(base[i])
        f.extend(
            (
                "p=" + t[p],
                "p-1=" + t[p - 1],
                "p+1=" + t[p + 1],
                "p-2=" + t[p - 2],
                "p+2=" + t[p + 2],
                "p-1p=" + t[p - 1] + t[p],
                "pp+1=" + t[p] + t[p + 1],
                "pnext=" + after[i] if after[i] else "pnext=<O>",
            )
        )
        f.extend("had=" + name for name in before[i].split("|") if name)
        out.append(f)
    return out


class CrfTagger:
    """Loaded CRFsuite model(s): one stage, or two (a second model reading the first one's tags).

    Thread-unsafe (CRFsuite's tagger keeps state): one per thread.
    """

    def __init__(self, model_path: str | Path, stack_path: str | Path | None = None) -> None:
        self._tagger = _open(model_path)
        self._stack = _open(stack_path) if stack_path is not None else None
        self.path = Path(model_path)
        self.stack_path = Path(stack_path) if stack_path is not None else None

    def tag_tokens(self, tokens: Sequence[Token], text: str) -> list[str]:
        """BIO tags for ``tokens`` of ``text`` (the caller leaves out whitespace: training data has none)."""
        if not tokens:
            return []
        feats = token_features(tokens, text)
        tags = self._tagger.tag(feats)
        if self._stack is not None:
            tags = self._stack.tag(stack_features(feats, tags))
        return list(tags)

    def spans(self, text: str) -> list[Span]:
        """Tagged character spans of ``text``. Whitespace is not shown to the model (the training data
        has none); a chunk may still run across a space if the model continues it after one."""
        tokens = [t for t in tokenize(text) if t.kind != "s"]
        return spans_from_bio(self.tag_tokens(tokens, text), tokens)


def _open(model_path: str | Path) -> Any:
    import pycrfsuite

    from geoalign.errors import ModelLoadError

    path = Path(model_path)
    if not path.is_file():
        raise ModelLoadError(f"parser model not found: {path}")
    tagger = pycrfsuite.Tagger()
    try:
        tagger.open(str(path))
    except Exception as exc:  # crfsuite raises a bare ValueError/OSError on a corrupt file
        raise ModelLoadError(f"cannot load parser model {path}: {exc}") from exc
    return tagger


def train(
    examples: Iterable[tuple[list[list[str]], list[str]]],
    model_path: str | Path,
    *,
    c1: float,
    c2: float,
    max_iterations: int,
    min_freq: int,
    log: Callable[[str], None] | None = None,
) -> None:
    """Train a CRF (L-BFGS with elastic-net) and write it to ``model_path``.

    c1 (L1) prunes features to zero — the model file only keeps non-zero weights, which is what keeps it
    small; ``min_freq`` drops rare features before training for the same reason.
    """
    import pycrfsuite

    trainer = pycrfsuite.Trainer(verbose=False)
    for feats, tags in examples:
        trainer.append(feats, tags)
    trainer.set_params(
        {
            "c1": c1,
            "c2": c2,
            "max_iterations": max_iterations,
            "feature.minfreq": min_freq,
            "feature.possible_transitions": True,
        }
    )
    trainer.train(str(model_path))
    if log is not None:
        last = trainer.logparser.last_iteration or {}
        log(f"trained: iterations={last.get('num', '?')} loss={last.get('loss', '?')}")
