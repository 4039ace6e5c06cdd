"""The fast address tagger: a linear-chain model over characters with hashed feature templates, computed
for a whole batch of addresses at once with numpy, and a constrained Viterbi batched the same way.

Why this shape: the previous tagger built ~40 feature *strings* per token in Python and handed them to
CRFsuite (~320 µs an address). Here every feature template is an integer key computed by array
arithmetic over all characters of a batch (character n-grams, character classes, runs, suffix context,
division-name matches, repeats, position), hashed into ``2**bits`` buckets; the emission score of a
character is the sum of its buckets' weight rows. Weights come from a CRF trained by CRFsuite on exactly
these bucket ids (``scripts/train_parser.py``), exported to numpy arrays (``.npz``, no pickle).

Decoding is exact Viterbi over BIO tags with only well-formed sequences allowed (``I-x`` only after
``B-x``/``I-x``, never first), so every output is a list of non-overlapping spans.
:func:`viterbi_reference` is the plain per-address version the fast one is tested against.

Characters are width-folded per character (NFKC, upper-case Latin) so offsets stay exact; whitespace and
invisible characters are not shown to the model (the training data has none). All digits are one
symbol (the CCKS data masks digits to 0, and a number's value does not generalize); runs of digits and
Latin letters get run-length features instead.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from geoalign.errors import ModelLoadError

Span = tuple[str, int, int]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]

#: Bumped whenever the templates below change: a model records the version it was trained with.
FEATURE_VERSION: Final[int] = 6

#: Character classes (``kind``): what a character is, shown to the model as a window.
K_PAD, K_HAN, K_DIGIT, K_LATIN, K_PUNCT, K_SPACE, K_NUMERAL = 0, 1, 2, 3, 4, 5, 6
_NUMERALS: Final[frozenset[str]] = frozenset("零〇一二三四五六七八九十百千两壹贰叁肆伍陆柒捌玖拾")
_INVISIBLE: Final[frozenset[str]] = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})

#: Characters that end an element (admin, street and building suffixes): "next / previous suffix" features.
SUFFIX_CHARS: Final[str] = "省市区县旗镇乡街道路巷弄里号栋幢座楼单元层室村组社苑园城庄府厦场院寓墅宅所湾坊"
#: Suffixes whose earlier presence changes what comes next (a second road is a subroad, text after a
#: room number is rarely a poi...): one bit each in the "seen" feature.
KEY_SUFFIXES: Final[str] = "区县镇乡街路号楼栋幢单层室村组"

_SYM_DIGIT: Final[int] = ord("0")
_SYM_BOS: Final[int] = 0x110000  # + k for the k-th position before the address (k = 0, 1, 2)
_SYM_EOS: Final[int] = 0x110010  # + k after it
_PAD: Final[int] = 3  # sentinel positions on each side of an address in the flat layout
_M64: Final[int] = (1 << 64) - 1

#: Name of each template, in id order (documentation and the model card; the id is what is hashed).
TEMPLATES: Final[tuple[str, ...]] = (
    "bias", "c0", "c-1", "c+1", "c-2", "c+2", "c-3", "c+3",
    "c-1c0", "c0c+1", "c-2c-1", "c+1c+2", "c-1c0c+1", "c-2c-1c0", "c0c+1c+2",
    "kinds-2..+2", "run(kind,len,pos,rpos)", "pos", "rpos",
    "next-suffix(char,dist)", "next-suffix(char)", "prev-suffix(char)", "seen-key-suffixes",
    "division-starting-here(len,level)", "division-ending-here(len,level)",
    "division-ending-before/starting-here", "repeats(bigram before/after)",
    "domain", "domain×c0",
    "number-run(kind,2 after)", "number-run(kind,before,after)",
    "domain×c-1c0", "domain×c0c+1", "domain×c-1c0c+1", "domain×run", "domain×next-suffix(char,dist)",
    "domain×prev-suffix(char)", "domain×number-run(kind,2 after)",
)  # fmt: skip
N_TEMPLATES: Final[int] = len(TEMPLATES)

#: The labelled-data conventions the model was trained on; one is chosen at decode time (a feature).
DOMAINS: Final[tuple[str, ...]] = ("naacl", "ccks", "supermap")


# ---------------------------------------------------------------------------------------------------
# Characters -> symbols and classes


class _CharTable:
    """Folded symbol and class per code point, filled lazily for the code points actually seen (a full
    table would cost start-up time for characters no address contains)."""

    def __init__(self) -> None:
        self.sym = np.zeros(0x110000, dtype=np.int64)
        self.kind = np.zeros(0x110000, dtype=np.int8)
        self.known = np.zeros(0x110000, dtype=bool)

    def lookup(self, codes: IntArray) -> tuple[IntArray, npt.NDArray[np.int8]]:
        missing = codes[~self.known[codes]]
        if missing.size:
            # sorted(set(...)), not np.unique: the same code points in the same order, and np.unique's
            # first call imports numpy.ma (~25 ms of every `geoalign parse` start-up)
            for cp in sorted(set(missing.tolist())):
                self.sym[cp], self.kind[cp] = _fold(chr(cp))
                self.known[cp] = True
        return self.sym[codes], self.kind[codes]


def _fold(ch: str) -> tuple[int, int]:
    """(symbol, kind) of one raw character; NFKC per character keeps one symbol per character."""
    if unicodedata.category(ch) in _INVISIBLE:
        return ord(" "), K_SPACE
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) != 1:
        folded = ch
    if folded.isspace():
        return ord(" "), K_SPACE
    if folded.isascii():
        if folded.isdigit():
            return _SYM_DIGIT, K_DIGIT
        if folded.isalpha():
            return ord(folded.upper()), K_LATIN
        return ord(folded), K_PUNCT
    if folded in _NUMERALS:
        return ord(folded), K_NUMERAL
    if unicodedata.category(folded).startswith("L"):
        return ord(folded), K_HAN
    return ord(folded), K_PUNCT


_TABLE: _CharTable | None = None


def _table() -> _CharTable:
    global _TABLE
    if _TABLE is None:
        _TABLE = _CharTable()
    return _TABLE


def _codes(text: str) -> IntArray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)


# ---------------------------------------------------------------------------------------------------
# Hashing


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64 finalizer: spreads nearby keys over all buckets (vectorised, wraps mod 2**64)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


#: Multipliers of a template's 1st, 2nd... value in its key (odd 64-bit constants).
_VALUE_MULS: Final[tuple[int, ...]] = (
    0xD6E8FEB86659FD93, 0xA0761D6478BD642F, 0xE7037ED1A0B428DB, 0x8EBC6AF09C88C6E3,
)  # fmt: skip
_SEED_MUL: Final[int] = 0x9E3779B97F4A7C15


def _key(template: int, *values: IntArray | int) -> npt.NDArray[np.uint64]:
    """Key of one template (as ``_hash_into`` computes it for all): ``mix(t * SEED + sum v_i * M_i)``."""
    with np.errstate(over="ignore"):
        h = np.full(1, template * _SEED_MUL & _M64, dtype=np.uint64)
        for v, mul in zip(values, _VALUE_MULS, strict=False):
            h = h + np.asarray(v).astype(np.uint64) * np.uint64(mul)
        return _mix(h)


def key_reference(template: int, *values: int) -> int:
    """The same key for one position in plain integers: what the property test holds ``_key`` to."""
    x = (template * _SEED_MUL + sum(v * m for v, m in zip(values, _VALUE_MULS, strict=False))) & _M64
    x ^= x >> 30
    x = x * 0xBF58476D1CE4E5B9 & _M64
    x ^= x >> 27
    x = x * 0x94D049BB133111EB & _M64
    return x ^ (x >> 31)


# ---------------------------------------------------------------------------------------------------
# Division-name lexicon


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Division names as 64-bit polynomial hashes of their symbols, sorted, with a code per name:
    ``level * 2 + short`` (level 1..4 = prov..town, 5 = several; short = a name without its suffix)."""

    hashes: npt.NDArray[np.uint64]
    codes: npt.NDArray[np.int8]
    max_len: int
    #: Is some name's hash equal to h in its low bits (indexed by ``h & _FILTER_MASK``): a substring
    #: that fails this (~97 % of them) needs no binary search.
    may_match: npt.NDArray[np.bool_] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        may_match = np.zeros(_FILTER_MASK + 1, dtype=bool)
        may_match[self.hashes & np.uint64(_FILTER_MASK)] = True
        object.__setattr__(self, "may_match", may_match)

    @staticmethod
    def build(names: dict[str, int]) -> Lexicon:
        if not names:
            return Lexicon(np.zeros(0, np.uint64), np.zeros(0, np.int8), 0)
        kept = {n: c for n, c in names.items() if len(n) <= LEXICON_MAX_LEN}
        items = sorted((poly_hash_reference(_symbols(n)), code) for n, code in kept.items())
        hashes = np.array([h for h, _ in items], dtype=np.uint64)
        codes = np.array([c for _, c in items], dtype=np.int8)
        return Lexicon(hashes, codes, max(len(n) for n in kept))

    def find(self, h: npt.NDArray[np.uint64]) -> npt.NDArray[np.int8]:
        """Code of each hash (0 where it names no division)."""
        out = np.zeros(h.shape, np.int8)
        where, codes = self.matches(h.ravel())
        out.ravel()[where] = codes
        return out

    def matches(self, h: npt.NDArray[np.uint64]) -> tuple[IntArray, npt.NDArray[np.int8]]:
        """Positions in ``h`` (1-d) of the hashes that name a division, in order, and their codes."""
        if not self.hashes.size:
            return np.zeros(0, np.int64), np.zeros(0, np.int8)
        maybe = np.flatnonzero(self.may_match[h & np.uint64(_FILTER_MASK)])
        cand = h[maybe]
        idx = np.searchsorted(self.hashes, cand)
        idx[idx >= self.hashes.size] = 0
        hit = (self.hashes[idx] == cand) & (self.codes[idx] != 0)
        return maybe[hit], self.codes[idx[hit]]


_POLY: Final[int] = 0x100000001B3
#: Low hash bits of the lexicon's pre-filter (a 4 MB table; the low bits of these polynomial hashes
#: spread substrings better than the high ones, measured: 1.5 % false hits at 22 bits).
_FILTER_MASK: Final[int] = (1 << 22) - 1
#: Longer division names (a few autonomous areas) are left out: each length is one pass over the batch.
LEXICON_MAX_LEN: Final[int] = 10


def _symbols(text: str) -> list[int]:
    return [_fold(ch)[0] for ch in text]


def poly_hash_reference(symbols: Sequence[int]) -> int:
    h = 0
    for s in symbols:
        h = (h * _POLY + s) & _M64
    return h


def lexicon_from_gazetteer() -> dict[str, int]:
    """Every full, alias, short and former division name of the shipped gazetteer with its level code.

    Stored inside the model (it is what the model was trained with, and loading the gazetteer costs half
    a second of start-up that a model file does not)."""
    from geoalign.address import gazetteer

    data = gazetteer._data()
    level_no = {"prov": 1, "city": 2, "district": 3, "town": 4}
    out: dict[str, int] = {}

    def add(name: str, codes: Sequence[str], short: int) -> None:
        if len(name) < 2:
            return
        levels = {data.by_code[c].level for c in codes if c in data.by_code}
        level = level_no[levels.pop()] if len(levels) == 1 else 5
        code = level * 2 + short
        if name not in out or out[name] % 2 == 1:  # a full reading wins over a short one
            out[name] = code

    for name, codes in data.full.items():
        add(name, codes, 0)
    for name, codes in data.old.items():
        add(name, codes, 0 if name not in data.old_is_short else 1)
    for name, codes in data.short.items():
        add(name, codes, 1)
    return out


# ---------------------------------------------------------------------------------------------------
# Features


@dataclass(frozen=True, slots=True)
class Batch:
    """Featurized addresses: bucket ids of the visible characters, all addresses back to back.

    ``starts[i]:starts[i+1]`` are address i's rows in ``ids``; ``raw_index`` maps each row to its
    character offset in the text given (whitespace is skipped, so rows and offsets differ)."""

    ids: IntArray  # (n_chars, N_TEMPLATES), the transpose of a template-major array (emissions' layout)
    starts: IntArray  # (n_addresses + 1,)
    raw_index: IntArray  # (n_chars,)


def featurize(
    texts: Sequence[str], domain: int, bits: int, lexicon: Lexicon, *, suffixes: str = SUFFIX_CHARS
) -> Batch:
    """Bucket ids of every template at every visible character of every text (see module docstring).

    Written for few numpy calls as well as for large batches: a single address (the HTTP path,
    ``analyze``) pays per call, not per character."""
    table = _table()
    n_texts = len(texts)
    codes = _codes("".join(texts))
    sym_all, kind_all = table.lookup(codes)
    visible = kind_all != K_SPACE
    if n_texts == 1:
        raw_index = np.flatnonzero(visible)
        sym, kind = sym_all[raw_index], kind_all[raw_index]
        n_chars = raw_index.size
        addr = np.zeros(n_chars, dtype=np.int64)
        counts = np.array([n_chars], dtype=np.int64)
        starts = np.array([0, n_chars], dtype=np.int64)
        pos_in = np.arange(n_chars, dtype=np.int64)
    else:
        lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n_texts)
        addr_all = np.repeat(np.arange(n_texts, dtype=np.int64), lengths)
        raw_pos = np.arange(codes.size, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        sym, kind, addr, raw_index = sym_all[visible], kind_all[visible], addr_all[visible], raw_pos[visible]
        counts = np.bincount(addr, minlength=n_texts).astype(np.int64)
        starts = np.zeros(n_texts + 1, dtype=np.int64)
        np.cumsum(counts, out=starts[1:])
        n_chars = int(starts[-1])
        pos_in = np.arange(n_chars, dtype=np.int64) - starts[addr]  # i within its address
    # Template-major (the layout keys are computed and emissions summed in); Batch.ids is its transpose.
    ids = np.empty((N_TEMPLATES, n_chars), dtype=np.int64)
    if n_chars == 0:
        return Batch(ids.T, starts, raw_index)

    # Flat layout: every address padded with _PAD sentinels on both sides, so windows are plain shifts.
    width = counts + 2 * _PAD
    base = np.cumsum(width) - width  # flat start of each address's left padding
    flat_len = int(width.sum())
    at = base[addr] + _PAD + pos_in  # flat position of each character
    fsym = np.empty(flat_len, dtype=np.int64)
    fkind = np.zeros(flat_len, dtype=np.int64)
    fsym[(base[:, None] + _BOS_AT).ravel()] = np.tile(_BOS_SYMS, n_texts)
    fsym[(base[:, None] + _PAD + counts[:, None] + _EOS_AT).ravel()] = np.tile(_EOS_SYMS, n_texts)
    fsym[at] = sym
    fkind[at] = kind
    window = fsym[at[None, :] + _WINDOW[:, None]]  # rows: offsets -3..+3
    kwin = fkind[at[None, :] + _WINDOW[1:6, None]]  # rows: offsets -2..+2

    def s(d: int) -> IntArray:
        return window[d + _PAD]

    n = counts[addr]
    # Each template's values; a scalar is the same for every character (see _hash_into).
    spec: list[tuple[IntArray | int, ...]] = [
        (0,),
        (s(0),), (s(-1),), (s(1),), (s(-2),), (s(2),), (s(-3),), (s(3),),
        (s(-1), s(0)), (s(0), s(1)), (s(-2), s(-1)), (s(1), s(2)),
        (s(-1), s(0), s(1)), (s(-2), s(-1), s(0)), (s(0), s(1), s(2)),
        (_KIND_WEIGHTS @ kwin,),
    ]  # fmt: skip

    # Runs of one class (digits, Latin...): length and position inside the run.
    change = np.ones(n_chars, dtype=bool)
    change[1:] = (kind[1:] != kind[:-1]) | (addr[1:] != addr[:-1])
    run_id = np.cumsum(change) - 1
    run_start = np.flatnonzero(change)
    run_len = np.diff(run_start, append=n_chars)
    in_run = pos_in - pos_in[run_start][run_id]
    rlen = run_len[run_id]
    spec.append(
        (kind.astype(np.int64), np.minimum(rlen, 8), np.minimum(in_run, 4), np.minimum(rlen - 1 - in_run, 4))
    )
    spec.append((np.minimum(pos_in, 15),))
    spec.append((np.minimum(n - 1 - pos_in, 15),))
    # Inside a run of digits / Latin / numerals the character window sees only the run; what a number
    # is (road number, building, unit, floor, room) is written right after it (号, 栋, 单元, 层, 室) or
    # right before it (第, B-): the two symbols after the run and the one before it.
    is_num = (kind == K_DIGIT) | (kind == K_LATIN) | (kind == K_NUMERAL)
    after = at + (rlen - in_run)  # flat position of the first symbol after the run (a sentinel at the end)
    run_after = (np.where(is_num, fsym[after], 0), np.where(is_num, fsym[after + 1], 0))
    run_before = np.where(is_num, fsym[at - in_run - 1], 0)

    # Nearest suffix character at or after / strictly before each character, within the address.
    is_sfx = _suffix_table(suffixes)[np.minimum(fsym, _SYM_BOS)]
    ends = np.zeros(flat_len, dtype=bool)
    ends[base + _PAD + counts] = True  # right edges
    ar = np.arange(flat_len)
    nxt = np.minimum.accumulate(np.where(is_sfx | ends, ar, flat_len)[::-1])[::-1][at]
    nxt_sym = np.where(fsym[nxt] >= _SYM_BOS, 0, fsym[nxt])
    spec.append((nxt_sym, np.where(nxt_sym == 0, 0, np.minimum(nxt - at, 6))))
    spec.append((nxt_sym,))
    ends[:] = False
    ends[base + _PAD - 1] = True  # left edges
    prev = np.maximum.accumulate(np.where(is_sfx | ends, ar, -1))[at - 1]
    spec.append((np.where(fsym[prev] >= _SYM_BOS, 0, fsym[prev]),))

    # Which key suffixes occurred strictly before this character (bit mask): an OR accumulated along
    # each address, one address a row.
    bit = _key_suffix_bits()[np.minimum(sym, _SYM_BOS)]
    if n_texts == 1:
        seen = np.bitwise_or.accumulate(bit)
    else:
        grid = np.zeros((n_texts, int(counts.max())), dtype=np.int64)
        grid[addr, pos_in] = bit
        seen = np.bitwise_or.accumulate(grid, axis=1)[addr, pos_in]
    seen_before = np.zeros(n_chars, dtype=np.int64)
    seen_before[1:] = seen[:-1]
    seen_before[starts[:-1][counts > 0]] = 0
    spec.append((seen_before,))

    # Division names: the longest one starting / ending at each character. Polynomial hashes of every
    # substring of length 2..max at once from prefix sums (the inverse of _POLY exists mod 2**64):
    # hash(p, L) = P**(p+L-1) * (G[p+L-1] - G[p-1]) with G = cumsum(sym[k] * P**-k). Sentinels never
    # match, names never cross an address. A match is valued length * 16 + code (code < 16), so the
    # longest is the largest value.
    dn_start = np.zeros(flat_len, dtype=np.int64)
    dn_end = np.zeros(flat_len, dtype=np.int64)
    max_len = min(lexicon.max_len, flat_len)
    if max_len >= 2:
        p_pow, q_pow = _powers(flat_len)
        with np.errstate(over="ignore"):
            g = np.zeros(flat_len + 1, dtype=np.uint64)
            np.cumsum(fsym.astype(np.uint64) * q_pow[:flat_len], out=g[1:])
            lengths_ = np.arange(2, max_len + 1)
            end = np.minimum(ar[None, :] + lengths_[:, None], flat_len)  # exclusive end, clipped
            hashes = p_pow[end - 1] * (g[end] - g[ar][None, :])
        where, code = lexicon.matches(hashes.ravel())
        row, pos = np.divmod(where, flat_len)
        inside = pos + row + 2 <= flat_len  # a clipped window is not a substring
        if inside.any():
            row, pos = row[inside], pos[inside]
            value = (row + 2) * 16 + code[inside]
            np.maximum.at(dn_start, pos, value)
            np.maximum.at(dn_end, pos + row + 1, value)
    spec.append((dn_start[at],))
    spec.append((dn_end[at],))
    spec.append((dn_end[at - 1], dn_start[at]))

    # Repeats: does the bigram starting (ending) here occur earlier / later in the same address?
    # (``redundant`` in the NAACL/SuperMap data is mostly a repeated admin name.)
    big = (s(0) << 22) | (s(1) & 0x3FFFFF)
    order = np.lexsort((pos_in, big, addr))
    sb, sa = big[order], addr[order]
    same = np.zeros(n_chars + 1, dtype=bool)  # same[i + 1]: sorted i equals sorted i - 1... shifted
    same[1:-1] = (sb[1:] == sb[:-1]) & (sa[1:] == sa[:-1])
    han_pair = (kind == K_HAN) & (kwin[3] == K_HAN)
    earlier = np.zeros(n_chars, dtype=bool)
    later = np.zeros(n_chars, dtype=bool)
    earlier[order] = same[:-1]
    later[order] = same[1:]
    rep = (earlier & han_pair).astype(np.int64) | ((later & han_pair).astype(np.int64) << 1)
    rep_prev = np.zeros(n_chars, dtype=np.int64)
    rep_prev[1:] = rep[:-1]
    rep_prev[starts[:-1][counts > 0]] = 0
    spec.append((rep, rep_prev))
    spec.append((domain,))
    spec.append((domain, s(0)))
    kind64 = kind.astype(np.int64)
    spec.append((kind64, *run_after))
    spec.append((kind64, run_before, run_after[0]))
    _hash_into(ids, spec, domain, np.uint64((1 << bits) - 1))
    return Batch(ids.T, starts, raw_index)


_WINDOW: Final[IntArray] = np.arange(-_PAD, _PAD + 1, dtype=np.int64)
_BOS_AT: Final[IntArray] = np.arange(_PAD - 1, -1, -1, dtype=np.int64)  # k-th sentinel before: base + PAD-1-k
_BOS_SYMS: Final[IntArray] = _SYM_BOS + np.arange(_PAD, dtype=np.int64)
_EOS_AT: Final[IntArray] = np.arange(_PAD, dtype=np.int64)
_EOS_SYMS: Final[IntArray] = _SYM_EOS + np.arange(_PAD, dtype=np.int64)
_KIND_WEIGHTS: Final[IntArray] = np.array([4096, 512, 64, 8, 1], dtype=np.int64)
#: Domain-crossed templates -> the template whose key they cross with the domain.
_DOMAIN_CROSSED: Final[dict[int, int]] = {31: 8, 32: 9, 33: 12, 34: 16, 35: 19, 36: 21, 37: 29}
#: Up to this many characters the keys are one matrix product (few calls); above, template by template.
_DENSE_MAX_CHARS: Final[int] = 256
_MIX_BLOCK: Final[int] = 4096


@lru_cache(maxsize=8)
def _value_rows(n_templates: int, where: tuple[tuple[int, int], ...]) -> list[IntArray]:
    """For each value position i, the row of the stacked value arrays holding template t's i-th value
    (the last, all-zero row where t has fewer values): keys as a few gathers (``_hash_into``)."""
    arity = 1 + max(i for _, i in where)
    rows = np.full((arity, n_templates), len(where), dtype=np.int64)
    for j, (t, i) in enumerate(where):
        rows[i, t] = j
    return list(rows)


@lru_cache(maxsize=4)
def _suffix_table(suffixes: str) -> npt.NDArray[np.bool_]:
    """Is this symbol one of ``suffixes`` (indexed by symbol, sentinels folded to _SYM_BOS)."""
    table = np.zeros(_SYM_BOS + 1, dtype=bool)
    table[[ord(c) for c in suffixes]] = True
    return table


@lru_cache(maxsize=1)
def _key_suffix_bits() -> IntArray:
    """Bit of each key suffix (``KEY_SUFFIXES`` order) by symbol; 0 for every other symbol."""
    table = np.zeros(_SYM_BOS + 1, dtype=np.int64)
    for bit, ch in enumerate(KEY_SUFFIXES):
        table[ord(ch)] = 1 << bit
    return table


_POWERS: list[tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]] = []


def _powers(n: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """(P**k, P**-k) mod 2**64 for k < n (at least): cumulative products, grown as needed."""
    if not _POWERS or _POWERS[0][0].size < n:
        size = max(n, 4096)
        with np.errstate(over="ignore"):
            p = np.full(size, _POLY, dtype=np.uint64)
            q = np.full(size, pow(_POLY, -1, 1 << 64), dtype=np.uint64)
            p[0] = q[0] = 1
            p, q = np.cumprod(p), np.cumprod(q)
        _POWERS[:] = [(p, q)]
    return _POWERS[0]


def _hash_into(ids: IntArray, spec: list[tuple[IntArray | int, ...]], domain: int, mask: np.uint64) -> None:
    """Bucket ids of every template into ``ids`` (N_TEMPLATES, n_chars): the key of template t with
    values v1..vk is ``mix(t * SEED + v1 * M1 + ... + vk * Mk)`` (mod 2**64, ``key_reference``), masked to
    the bucket bits; then the domain-crossed templates (``_DOMAIN_CROSSED``: values the domain and the
    key of the template they cross).

    The data sets label some things differently (CCKS leaves text O, SuperMap splits redundant per
    character, digit runs...): the context templates that decide boundaries get a copy per domain, so
    the shared weights learn what the sets agree on and the copies what one set does its own way.

    The key is linear in the values before one mix, so for a few characters all keys are a few gathers
    of the stacked values (a couple of dozen numpy calls in all: what a single address pays), and for a
    large batch a sum per template; both are exact mod 2**64, so they agree bit for bit."""
    n_chars = ids.shape[1]
    n_base = len(spec)
    seeds = [t * _SEED_MUL for t in range(n_base)]
    arrays: list[IntArray] = []
    where: list[tuple[int, int]] = []  # (template, value position) of each array
    for t, values in enumerate(spec):
        for i, value in enumerate(values):
            if isinstance(value, int):
                seeds[t] += value * _VALUE_MULS[i]
            else:
                arrays.append(value)
                where.append((t, i))
    seed_col = np.array([s & _M64 for s in seeds], dtype=np.uint64)[:, None]
    with np.errstate(over="ignore"):
        if n_chars <= _DENSE_MAX_CHARS:
            stacked = np.stack([*arrays, np.zeros(n_chars, dtype=np.int64)]).astype(np.uint64)
            keys = seed_col
            for mul, rows in zip(_VALUE_MULS, _value_rows(n_base, tuple(where)), strict=False):
                keys = keys + stacked[rows] * np.uint64(mul)
            keys = _mix(keys)
        else:
            terms = [(t, i, arr) for (t, i), arr in zip(where, arrays, strict=True)]
            keys = _linear_keys(terms, [s & _M64 for s in seeds], n_chars)
        # The domain-crossed templates: values (domain, key of the template crossed).
        cross_seeds = [(t * _SEED_MUL + domain * _VALUE_MULS[0]) & _M64 for t in _DOMAIN_CROSSED]
        if n_chars <= _DENSE_MAX_CHARS:
            crossed_seed = np.array(cross_seeds, dtype=np.uint64)[:, None]
            cross_keys = _mix(crossed_seed + keys[list(_DOMAIN_CROSSED.values())] * np.uint64(_VALUE_MULS[1]))
        else:
            cross_terms = [(r, 1, keys[base]) for r, base in enumerate(_DOMAIN_CROSSED.values())]
            cross_keys = _linear_keys(cross_terms, cross_seeds, n_chars)
    np.bitwise_and(keys, mask, out=ids[:n_base], casting="unsafe")
    np.bitwise_and(cross_keys, mask, out=ids[n_base:], casting="unsafe")


def _linear_keys(
    terms: Sequence[tuple[int, int, npt.NDArray[np.integer[Any]]]], seeds: Sequence[int], n_chars: int
) -> npt.NDArray[np.uint64]:
    """Mixed keys of a large batch, one row per template: row r is ``mix(seeds[r] + sum v * M_i)`` over
    its terms ``(r, i, v)`` (value v in position i). Every operation is row by row and in place on
    contiguous rows: numpy's broadcast of a column over a wide array is several times slower than
    a scalar operand."""
    keys = np.empty((len(seeds), n_chars), dtype=np.uint64)
    started = [False] * len(seeds)
    for r, i, value in terms:
        value = value.view(np.uint64) if value.dtype == np.int64 else value.astype(np.uint64)
        if started[r]:
            keys[r] += value * np.uint64(_VALUE_MULS[i])
        else:
            np.multiply(value, np.uint64(_VALUE_MULS[i]), out=keys[r])
            started[r] = True
    for r, seed in enumerate(seeds):
        if started[r]:
            keys[r] += np.uint64(seed)
        else:
            keys[r].fill(seed)
    tmp = np.empty(min(n_chars, _MIX_BLOCK), dtype=np.uint64)
    for row in keys:
        for lo in range(0, n_chars, _MIX_BLOCK):  # cache-sized pieces: mixing is 8 passes
            _mix_in_place(row[lo : lo + _MIX_BLOCK], tmp[: min(_MIX_BLOCK, n_chars - lo)])
    return keys


def _mix_in_place(x: npt.NDArray[np.uint64], tmp: npt.NDArray[np.uint64]) -> None:
    """``_mix`` without temporaries (``tmp``: scratch of x's shape)."""
    np.right_shift(x, np.uint64(30), out=tmp)
    x ^= tmp
    x *= np.uint64(0xBF58476D1CE4E5B9)
    np.right_shift(x, np.uint64(27), out=tmp)
    x ^= tmp
    x *= np.uint64(0x94D049BB133111EB)
    np.right_shift(x, np.uint64(31), out=tmp)
    x ^= tmp


# ---------------------------------------------------------------------------------------------------
# Model


@dataclass(frozen=True, slots=True)
class TagModel:
    """Weights of a trained model: per-bucket emission rows, BIO transitions, the lexicon it used."""

    labels: tuple[str, ...]  # "O", "B-x", "I-x", ...
    bits: int
    rows: npt.NDArray[np.integer[Any]]  # (2**bits,) bucket -> row of ``weights`` (0 = unused, all zero)
    weights: FloatArray  # (n_rows, n_labels)
    transitions: FloatArray  # (n_labels, n_labels): from, to
    lexicon: Lexicon
    domains: tuple[str, ...]

    @property
    def elements(self) -> tuple[str, ...]:
        return tuple(lab[2:] for lab in self.labels if lab.startswith("B-"))

    def allowed(self) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """(allowed transitions from->to, allowed first labels): I-x only after B-x or I-x."""
        n = len(self.labels)
        trans = np.ones((n, n), dtype=bool)
        first = np.ones(n, dtype=bool)
        for j, lab in enumerate(self.labels):
            if lab.startswith("I-"):
                first[j] = False
                for i, prev in enumerate(self.labels):
                    trans[i, j] = prev[2:] == lab[2:] and prev != "O"
        return trans, first

    def emissions(self, ids: IntArray) -> FloatArray:
        """Emission scores (n_chars, n_labels): the sum of each character's bucket rows, added in
        template order (float32, left to right: the order the model was exported and tested with).

        Summed template by template (one gather of rows and one in-place add each, a cache-sized block
        of characters at a time) rather than as one (characters x templates x labels) gather summed
        over its middle axis: the same additions in the same order, a few times faster. ``ids`` in
        featurize's layout (``Batch.ids``, the transpose of a template-major array) is read as is."""
        ids_t = ids.T
        n_chars, n_labels = ids_t.shape[1], self.weights.shape[1]
        if n_chars <= _EMISSION_SMALL:  # one address: one gather, summed over its first axis (few calls)
            return self.weights[self.rows[ids_t]].sum(axis=0)
        out = np.empty((n_chars, n_labels), dtype=np.float32)
        part = np.empty((min(n_chars, _EMISSION_BLOCK), n_labels), dtype=np.float32)
        for lo in range(0, n_chars, _EMISSION_BLOCK):
            rows = self.rows[ids_t[:, lo : lo + _EMISSION_BLOCK]]
            acc, tmp = out[lo : lo + rows.shape[1]], part[: rows.shape[1]]
            np.take(self.weights, rows[0], axis=0, out=acc)
            for template_rows in rows[1:]:
                np.take(self.weights, template_rows, axis=0, out=tmp)
                acc += tmp
        return out


#: Characters per block in ``TagModel.emissions`` (a block's running sum and one template's rows stay
#: in cache), and the most characters summed in one gather (what one address pays: fewest calls).
_EMISSION_BLOCK: Final[int] = 1024
_EMISSION_SMALL: Final[int] = 64


def save_model(model: TagModel, directory: Path, name: str = "tagger.npz") -> None:
    """Write weights as a compressed ``.npz`` (sparse: only used buckets) — loadable without pickle."""
    used = np.flatnonzero(model.rows)
    np.savez_compressed(
        directory / name,
        buckets=used.astype(np.int64),
        bucket_rows=model.rows[used].astype(np.int32),
        weights=model.weights.astype(np.float32),
        transitions=model.transitions.astype(np.float32),
        lexicon_hashes=model.lexicon.hashes,
        lexicon_codes=model.lexicon.codes,
        lexicon_max_len=np.array([model.lexicon.max_len], dtype=np.int64),
    )
    meta = {
        "labels": list(model.labels),
        "bits": model.bits,
        "domains": list(model.domains),
        "feature_version": FEATURE_VERSION,
    }
    (directory / (name + ".json")).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def load_model(path: Path) -> TagModel:
    """Read a model written by :func:`save_model`; ModelLoadError when it is missing or unusable."""
    meta_path = path.with_name(path.name + ".json")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        version = meta["feature_version"]
        labels, bits, domains = tuple(meta["labels"]), int(meta["bits"]), tuple(meta["domains"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{meta_path}: not a tagger manifest ({exc})") from exc
    if version != FEATURE_VERSION:
        raise ModelLoadError(
            f"{path}: model was trained with tagger features v{version}, this code computes "
            f"v{FEATURE_VERSION}; retrain it with scripts/train_parser.py"
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            rows = np.zeros(1 << bits, dtype=np.int32)  # half the cache footprint of int64 rows
            rows[z["buckets"]] = z["bucket_rows"]
            # copy=False: the shipped arrays are float32 already, and a copy of 27 MB of weights was
            # half of the model's load time (start-up of every `geoalign parse`)
            weights = z["weights"].astype(np.float32, copy=False)
            transitions = z["transitions"].astype(np.float32, copy=False)
            lexicon = Lexicon(z["lexicon_hashes"], z["lexicon_codes"], int(z["lexicon_max_len"][0]))
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"cannot load tagger weights {path}: {exc}") from exc
    n = len(labels)
    if weights.shape[1:] != (n,) or transitions.shape != (n, n) or int(rows.max(initial=0)) >= len(weights):
        raise ModelLoadError(f"{path}: weight shapes do not match its {n} labels")
    return TagModel(labels, bits, rows, weights, transitions, lexicon, domains)


# ---------------------------------------------------------------------------------------------------
# Decoding

_NEG: Final[float] = -1e9


class Constraints:
    """A model's transitions with the decoding constraints applied, and what each Viterbi step derives
    from them (``_ForwardStep``): the same for every call, so a tagger prepares them once instead of
    per batch (0.6-0.9 ms a call: a third of tagging one address at a time)."""

    def __init__(self, transitions: FloatArray, allowed: npt.NDArray[np.bool_]) -> None:
        self.trans = np.where(allowed, transitions, np.float32(_NEG)).astype(np.float32)
        self.trans_t = np.ascontiguousarray(self.trans.T)  # [to, from], for ``_viterbi_one``
        self.forward = _ForwardStep(self.trans, allowed)


def viterbi_batch(
    emissions: FloatArray, starts: IntArray, transitions: FloatArray, allowed: npt.NDArray[np.bool_],
    first: npt.NDArray[np.bool_],
) -> IntArray:  # fmt: skip
    """:func:`decode_batch` with the constraints prepared for this call only."""
    return decode_batch(emissions, starts, Constraints(transitions, allowed), first)


def decode_batch(
    emissions: FloatArray, starts: IntArray, constraints: Constraints, first: npt.NDArray[np.bool_]
) -> IntArray:
    """Best well-formed label sequence of every address, all at once.

    Addresses are sorted by length (longest first, so the addresses still going at step t are a prefix)
    and each step takes the max over previous labels for all of them together (``_ForwardStep``).
    Scores are packed step by step: step t's block holds one row per address still going, so memory
    is one score per character and label, whatever the longest address. Back pointers are recomputed
    for the chosen label only, with numpy's ties (the lowest previous label wins). Returns the label
    index of every row of ``emissions``: the labels of :func:`viterbi_reference`, exactly.
    """
    counts = np.diff(starts)
    out = np.zeros(int(starts[-1]), dtype=np.int64)
    live = np.flatnonzero(counts > 0)
    if not live.size:
        return out
    trans = constraints.trans
    if live.size <= _ONE_BY_ONE_MAX:
        for i in live.tolist():
            lo, hi = int(starts[i]), int(starts[i + 1])
            out[lo:hi] = _viterbi_one(emissions[lo:hi], constraints.trans_t, first)
        return out
    order = live[np.argsort(-counts[live], kind="stable")]
    lens = counts[order]
    t_max = int(lens[0])
    n_active = np.searchsorted(-lens, -np.arange(t_max), side="left")  # addresses longer than t
    offset = np.zeros(t_max + 1, dtype=np.int64)
    np.cumsum(n_active, out=offset[1:])
    # Row k of the packed layout is character t of address order[r] (k = offset[t] + r): emissions are
    # gathered into it once, and each step adds its best predecessor scores in place.
    step_of = np.repeat(np.arange(t_max), n_active)
    rows = starts[order][np.arange(step_of.size) - offset[step_of]] + step_of
    scores = emissions[rows]
    first_block = scores[: offset[1]]
    first_block[:, ~first] = np.float32(_NEG)
    forward = constraints.forward
    for t in range(1, t_max):
        cur = scores[offset[t] : offset[t + 1]]
        cur += forward(scores[offset[t - 1] : offset[t - 1] + len(cur)])
    state = scores[offset[lens - 1] + np.arange(order.size)].argmax(axis=1)  # each address's last step
    labels = np.empty(step_of.size, dtype=np.int64)
    for t in range(t_max - 1, -1, -1):
        active = int(n_active[t])
        cur_state = state[:active]
        labels[offset[t] : offset[t + 1]] = cur_state
        if t > 0:
            prev = scores[offset[t - 1] : offset[t - 1] + active]
            state[:active] = (prev + trans[:, cur_state].T).argmax(axis=1)
    out[rows] = labels
    return out


#: Up to this many addresses each is decoded on its own (``_viterbi_one``): a batched step costs about
#: as much as three single-address steps (measured: 2 addresses 0.55×, 3 0.65×, 4 1.0× the batched time).
_ONE_BY_ONE_MAX: Final[int] = 3


class _ForwardStep:
    """One Viterbi step for many addresses: ``max_i prev[:, i] + trans[i, j]`` for every label j
    (emissions not added), ``prev`` holding one row of scores per address.

    Labels with at most two allowed predecessors (I-x after B-x / I-x) take the max of those two (the
    others are ~1e9 lower: the same max). Labels any label may precede (O, B-x) need the max over all
    49: done densely that is most of the tagger's time, but a previous label far enough below an
    address's best one cannot win any next label, so only the best label and its few rivals (0.7 more
    on average on real addresses) are summed and maxed per address. The max is taken over the same
    float32 sums as the dense one and a max does not depend on order, so the scores are identical."""

    #: Below this many addresses a step is one dense broadcast (fewer numpy calls than the pruning).
    DENSE_MAX: Final[int] = 24

    def __init__(self, trans: FloatArray, allowed: npt.NDArray[np.bool_]) -> None:
        n_pred = allowed.sum(axis=0)
        self.n_labels = trans.shape[0]
        self.open_to = np.flatnonzero(n_pred > 2)
        self.narrow = np.flatnonzero(n_pred <= 2)
        pairs = [([*np.flatnonzero(allowed[:, j]).tolist(), 0, 0])[:2] for j in self.narrow.tolist()]
        pair = np.array(pairs, dtype=np.int64).reshape(len(pairs), 2)
        self.pred0, self.pred1 = pair[:, 0], pair[:, 1]
        self.pair_t0 = trans[self.pred0, self.narrow]
        self.pair_t1 = trans[self.pred1, self.narrow]
        self.t_open = np.ascontiguousarray(trans[:, self.open_to])  # (from, open to)
        # Label i cannot win any open label j for an address whose best label is b when
        # prev[i] < prev[b] + dominance[b, i], dominance[b, i] = min_j t[b, j] - t[i, j]: then
        # prev[i] + t[i, j] < prev[b] + t[b, j] for every j, and rounding to float32 keeps <=, so the
        # max is the same without it. Tested in float64 (float32 operands: exact to ~1e-7 at 1e9,
        # covered by _PRUNE_MARGIN).
        t64 = self.t_open.astype(np.float64)
        self.dominance = (t64[:, None, :] - t64[None, :, :]).min(axis=2, initial=np.inf)

    def __call__(self, prev: FloatArray) -> FloatArray:
        new = np.empty((len(prev), self.n_labels), dtype=np.float32)
        if self.open_to.size:
            new[:, self.open_to] = self._open(prev)
        if self.narrow.size:
            new[:, self.narrow] = np.maximum(
                prev[:, self.pred0] + self.pair_t0, prev[:, self.pred1] + self.pair_t1
            )
        return new

    def _open(self, prev: FloatArray) -> FloatArray:
        if len(prev) <= self.DENSE_MAX:
            return (prev[:, :, None] + self.t_open[None, :, :]).max(axis=1)
        rows = np.arange(len(prev))
        best = prev.argmax(axis=1)
        out = prev[rows, best][:, None] + self.t_open[best]
        wide = prev.astype(np.float64)
        rivals = wide >= (wide[rows, best] - _PRUNE_MARGIN)[:, None] + self.dominance[best]
        rivals[rows, best] = False
        flat = np.flatnonzero(rivals)
        if not flat.size:
            return out
        addr, label = np.divmod(flat, self.n_labels)
        sums = prev[addr, label][:, None] + self.t_open[label]
        # Rival k of each address in round k: addresses are distinct within a round (few rounds; a
        # ufunc.at over rows, or a reduceat over segments this short, is several times slower).
        starts_ = np.flatnonzero(np.diff(addr, prepend=-1))
        rank = np.arange(flat.size) - np.repeat(starts_, np.diff(starts_, append=flat.size))
        for k in range(int(rank.max()) + 1):
            sel = np.flatnonzero(rank == k)
            out[addr[sel]] = np.maximum(out[addr[sel]], sums[sel])
        return out


#: Slack of the pruning test in ``_ForwardStep`` (score units; float64 error is ~1e-7 at 1e9).
_PRUNE_MARGIN: Final[float] = 1e-3


def _viterbi_one(emissions: FloatArray, trans_t: FloatArray, first: npt.NDArray[np.bool_]) -> list[int]:
    """``decode_batch`` for one address (``trans_t``: [to, from], disallowed moves already at ``_NEG``):
    a few numpy calls a step instead of a dozen. The same scores (a max over every previous label
    equals the batched max over the allowed ones, disallowed scores being ~1e9 lower) and the same ties
    (the lowest previous label, numpy's argmax)."""
    delta = np.where(first, emissions[0], np.float32(_NEG)).astype(np.float32)
    n, rows = emissions.shape[0], np.arange(trans_t.shape[0])
    back = np.empty((max(n - 1, 0), trans_t.shape[0]), dtype=np.intp)
    for t in range(1, n):
        scores = trans_t + delta
        best = scores.argmax(axis=1)
        back[t - 1] = best
        delta = scores[rows, best] + emissions[t]  # the max itself: one reduction a step, not two
    state = int(delta.argmax())
    path = [state]
    for pointers in back[::-1].tolist():
        state = pointers[state]
        path.append(state)
    return path[::-1]


def viterbi_reference(
    emissions: FloatArray,
    transitions: FloatArray,
    allowed: npt.NDArray[np.bool_],
    first: npt.NDArray[np.bool_],
) -> list[int]:
    """Plain Viterbi for one address (lists and loops): what ``viterbi_batch`` is held equal to.

    Ties go to the lowest label index, as numpy's argmax does."""
    n, n_labels = emissions.shape
    if n == 0:
        return []
    neg = float(_NEG)
    e = emissions.tolist()
    tr = transitions.tolist()
    ok = allowed.tolist()
    delta = [float(np.float32(e[0][j])) if first[j] else neg for j in range(n_labels)]
    back: list[list[int]] = []
    for t in range(1, n):
        new, bp = [], []
        for j in range(n_labels):
            best_i, best = 0, None
            for i in range(n_labels):
                score = np.float32(delta[i]) + np.float32(tr[i][j] if ok[i][j] else neg)
                if best is None or score > best:
                    best_i, best = i, score
            bp.append(best_i)
            new.append(float(np.float32(best) + np.float32(e[t][j])))  # type: ignore[arg-type]
        delta = new
        back.append(bp)
    state = max(range(n_labels), key=lambda j: (delta[j], -j))
    path = [state]
    for bp in reversed(back):
        state = bp[state]
        path.append(state)
    return path[::-1]


#: From this many addresses a call, ``FastTagger.spans_many`` reads spans off the labels with array
#: operations over the batch (fewer: a loop per address, which costs fewer numpy calls).
_SPANS_BATCHED_MIN: Final[int] = 16


def spans_from_labels(labels: Sequence[str], raw_index: Sequence[int]) -> list[Span]:
    """Character spans from well-formed BIO labels over visible characters (``raw_index`` gives each
    one's offset in the text; a chunk may run across skipped whitespace)."""
    spans: list[Span] = []
    name: str | None = None
    start = end = 0
    for lab, pos in zip(labels, raw_index, strict=True):
        if lab.startswith("I-") and name == lab[2:]:
            end = pos + 1
            continue
        if name is not None:
            spans.append((name, start, end))
            name = None
        if lab != "O":
            name, start, end = lab[2:], pos, pos + 1
    if name is not None:
        spans.append((name, start, end))
    return spans


def force_rows(
    em: FloatArray,
    lo: int,
    hi: int,
    offsets: npt.ArrayLike,
    spans: Sequence[Span],
    label_index: Mapping[str, int],
) -> None:
    """Restrict one address's emission rows ``em[lo:hi]`` (``offsets``: each row's character offset in
    the text) in place to the labels of the forced ``spans``: their characters may only be B-element,
    I-element…, the character after a span not I-element (others at ``_NEG``, as Viterbi's disallowed
    moves). An element without labels in ``label_index`` is not forced."""
    neg = np.float32(_NEG)
    for element, start, end in spans:
        begin, inside = label_index.get(f"B-{element}"), label_index.get(f"I-{element}")
        if begin is None or inside is None:
            continue
        r0, r1 = lo + int(np.searchsorted(offsets, start)), lo + int(np.searchsorted(offsets, end))
        if r0 >= r1:
            continue  # only whitespace inside the span
        keep = em[r0:r1, [begin, inside]]  # fancy indexing: a copy
        em[r0:r1] = neg
        em[r0, begin] = keep[0, 0]
        em[r0 + 1 : r1, inside] = keep[1:, 1]
        if r1 < hi:
            em[r1, inside] = neg  # the span ends where the gazetteer's name ends


class FastTagger:
    """A loaded :class:`TagModel` with its decoding constraints; tags many addresses per call."""

    def __init__(self, model: TagModel, domain: str) -> None:
        if domain not in model.domains:
            raise ModelLoadError(f"domain {domain!r} is not one of the model's {model.domains}")
        self.model = model
        self.domain = model.domains.index(domain)
        self.allowed, self.first = model.allowed()
        self.constraints = Constraints(model.transitions, self.allowed)
        # Per label: its element's index in ``self.elements`` (-1 for O) and whether it is an I- label
        # (what ``spans_from_labels`` reads off the label's text), for ``_spans_batched``.
        self.elements = tuple(dict.fromkeys(lab[2:] for lab in model.labels if lab != "O"))
        self.element_of = np.array(
            [-1 if lab == "O" else self.elements.index(lab[2:]) for lab in model.labels], dtype=np.int64
        )
        self.inside = np.array([lab.startswith("I-") for lab in model.labels], dtype=bool)
        self._label_index = {lab: i for i, lab in enumerate(model.labels)}

    def scores(self, texts: Sequence[str]) -> tuple[Batch, FloatArray]:
        """The featurized batch and its emission scores ``(n_chars, n_labels)`` (``model.labels``)."""
        batch = featurize(texts, self.domain, self.model.bits, self.model.lexicon)
        return batch, self.model.emissions(batch.ids)

    def label_ids(
        self,
        texts: Sequence[str],
        forced: Sequence[Sequence[Span]] | None = None,
        *,
        scored: tuple[Batch, FloatArray] | None = None,
        constraints: Constraints | None = None,
    ) -> tuple[Batch, IntArray]:
        """Best label ids of every character. ``scored``: :meth:`scores` of ``texts``, changed by the
        caller (the neural parser adds its own scores to the emissions); ``constraints``: other
        transition scores (same allowed moves)."""
        batch, em = scored if scored is not None else self.scores(texts)
        if forced is not None:
            self._force(em, batch, forced)
        return batch, decode_batch(em, batch.starts, constraints or self.constraints, self.first)

    def spans_many(
        self, texts: Sequence[str], forced: Sequence[Sequence[Span]] | None = None
    ) -> list[list[Span]]:
        """Spans of each text (character offsets into that text).

        ``forced[i]``: spans ``(element, start, end)`` text i must contain (the admin names the gazetteer
        resolved): the decoder may only label those characters B-element, I-element…, and the next
        character not I-element, so the best sequence is the best one *around* them (the rest of the
        address is decoded knowing where its admin prefix ends), not a tagging cut up afterwards."""
        return self.spans_of(texts, *self.label_ids(texts, forced))

    def spans_of(self, texts: Sequence[str], batch: Batch, ids: IntArray) -> list[list[Span]]:
        """Spans of each text from its decoded label ids."""
        if len(texts) >= _SPANS_BATCHED_MIN:
            return self._spans_batched(batch, ids)
        labels = self.model.labels
        names = [labels[i] for i in ids.tolist()]
        raw = batch.raw_index.tolist()
        st = batch.starts.tolist()
        return [
            spans_from_labels(names[st[i] : st[i + 1]], raw[st[i] : st[i + 1]]) for i in range(len(texts))
        ]

    def _force(self, em: FloatArray, batch: Batch, forced: Sequence[Sequence[Span]]) -> None:
        """Restrict ``em`` in place to the labels of the forced spans (others at ``_NEG``, as Viterbi's
        disallowed moves). An element the model has no labels for is not forced."""
        starts, raw_index = batch.starts, batch.raw_index
        for i, spans in enumerate(forced):
            if spans:
                lo, hi = int(starts[i]), int(starts[i + 1])
                force_rows(em, lo, hi, raw_index[lo:hi], spans, self._label_index)

    def _spans_batched(self, batch: Batch, ids: IntArray) -> list[list[Span]]:
        """``spans_from_labels`` of every address at once, with array operations over the batch: the
        loop over characters was ~8 % of ``parse_many``. The same rule: a character continues the open
        span when its label is I-x and the previous character of the same address has a label of
        element x (B-x or I-x); any other non-O label starts a span of its element; a span ends at its
        last continuing character."""
        element = self.element_of[ids]
        cont = np.zeros(len(ids), dtype=bool)
        if len(ids) > 1:
            cont[1:] = self.inside[ids[1:]] & (element[1:] == element[:-1])
        cont[batch.starts[:-1][batch.starts[:-1] < len(ids)]] = False  # never across addresses
        labelled = element >= 0
        first = np.flatnonzero(labelled & ~cont)
        ends_here = labelled.copy()
        ends_here[:-1] &= ~cont[1:]
        last = np.flatnonzero(ends_here)
        raw = batch.raw_index
        elements = self.elements
        flat: list[Span] = list(
            zip(
                [elements[e] for e in element[first].tolist()],
                raw[first].tolist(),
                (raw[last] + 1).tolist(),
                strict=True,
            )
        )
        bounds = np.searchsorted(first, batch.starts).tolist()  # spans of address i: bounds[i]:bounds[i+1]
        return [flat[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]
