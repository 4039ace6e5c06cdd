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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from geoalign.errors import ModelLoadError

Span = tuple[str, int, int]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]

#: Bumped whenever the templates below change: a model records the version it was trained with.
FEATURE_VERSION: Final[int] = 3

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
            for cp in np.unique(missing).tolist():
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


def _key(template: int, *values: IntArray | int) -> npt.NDArray[np.uint64]:
    with np.errstate(over="ignore"):
        h = np.uint64(template * 0x9E3779B97F4A7C15 & _M64)
        out: npt.NDArray[np.uint64] = np.full(1, h, dtype=np.uint64)
        for v in values:
            arr = np.asarray(v).astype(np.uint64)
            out = _mix(out * np.uint64(0x100000001B3) + arr)
        return out


def key_reference(template: int, *values: int) -> int:
    """The same key for one position in plain integers: what the property test holds ``_key`` to."""
    h = template * 0x9E3779B97F4A7C15 & _M64
    for v in values:
        x = (h * 0x100000001B3 + v) & _M64
        x ^= x >> 30
        x = x * 0xBF58476D1CE4E5B9 & _M64
        x ^= x >> 27
        x = x * 0x94D049BB133111EB & _M64
        h = x ^ (x >> 31)
    return h


# ---------------------------------------------------------------------------------------------------
# Division-name lexicon


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Division names as 64-bit polynomial hashes of their symbols, sorted, with a code per name:
    ``level * 2 + short`` (level 1..4 = prov..town, 5 = several; short = a name without its suffix)."""

    hashes: npt.NDArray[np.uint64]
    codes: npt.NDArray[np.int8]
    max_len: int

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
        if not self.hashes.size:
            return np.zeros(h.shape, np.int8)
        idx = np.searchsorted(self.hashes, h)
        idx[idx >= self.hashes.size] = 0
        return np.where(self.hashes[idx] == h, self.codes[idx], 0).astype(np.int8)


_POLY: Final[int] = 0x100000001B3
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

    ids: IntArray  # (n_chars, N_TEMPLATES)
    starts: IntArray  # (n_addresses + 1,)
    raw_index: IntArray  # (n_chars,)


def featurize(
    texts: Sequence[str], domain: int, bits: int, lexicon: Lexicon, *, suffixes: str = SUFFIX_CHARS
) -> Batch:
    """Bucket ids of every template at every visible character of every text (see module docstring)."""
    table = _table()
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    codes = _codes("".join(texts))
    sym_all, kind_all = table.lookup(codes)
    visible = kind_all != K_SPACE
    addr_all = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    raw_pos = np.arange(codes.size, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    sym, kind, addr, raw_index = sym_all[visible], kind_all[visible], addr_all[visible], raw_pos[visible]
    counts = np.bincount(addr, minlength=len(texts)).astype(np.int64)
    starts = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    n_chars = int(starts[-1])
    mask = np.uint64((1 << bits) - 1)
    ids = np.empty((n_chars, N_TEMPLATES), dtype=np.int64)
    if n_chars == 0:
        return Batch(ids, starts, raw_index)

    # Flat layout: every address padded with _PAD sentinels on both sides, so windows are plain shifts.
    width = counts + 2 * _PAD
    base = np.cumsum(width) - width  # flat start of each address's left padding
    flat_len = int(width.sum())
    pos_in = np.arange(n_chars, dtype=np.int64) - starts[addr]  # i within its address
    at = base[addr] + _PAD + pos_in  # flat position of each character
    fsym = np.empty(flat_len, dtype=np.int64)
    fkind = np.zeros(flat_len, dtype=np.int64)
    for k in range(_PAD):
        fsym[base + _PAD - 1 - k] = _SYM_BOS + k
        fsym[base + _PAD + counts + k] = _SYM_EOS + k
    fsym[at] = sym
    fkind[at] = kind

    def s(d: int) -> IntArray:
        return fsym[at + d]

    def k_(d: int) -> IntArray:
        return fkind[at + d]

    n = counts[addr]
    cols: list[npt.NDArray[np.uint64] | IntArray] = [
        _key(0, 0),
        _key(1, s(0)), _key(2, s(-1)), _key(3, s(1)), _key(4, s(-2)), _key(5, s(2)),
        _key(6, s(-3)), _key(7, s(3)),
        _key(8, s(-1), s(0)), _key(9, s(0), s(1)), _key(10, s(-2), s(-1)), _key(11, s(1), s(2)),
        _key(12, s(-1), s(0), s(1)), _key(13, s(-2), s(-1), s(0)), _key(14, s(0), s(1), s(2)),
        _key(15, k_(-2) * 4096 + k_(-1) * 512 + k_(0) * 64 + k_(1) * 8 + k_(2)),
    ]  # fmt: skip

    # Runs of one class (digits, Latin...): length and position inside the run.
    change = np.ones(n_chars, dtype=bool)
    change[1:] = (kind[1:] != kind[:-1]) | (addr[1:] != addr[:-1])
    run_id = np.cumsum(change) - 1
    run_start = np.flatnonzero(change)
    run_len = np.diff(np.append(run_start, n_chars))
    in_run = np.arange(n_chars) - run_start[run_id]
    rlen = run_len[run_id]
    cols.append(_key(16, kind, np.minimum(rlen, 8), np.minimum(in_run, 4), np.minimum(rlen - 1 - in_run, 4)))
    cols.append(_key(17, np.minimum(pos_in, 15)))
    cols.append(_key(18, np.minimum(n - 1 - pos_in, 15)))

    # Nearest suffix character at or after / strictly before each character, within the address.
    suffix_codes = np.array([ord(c) for c in suffixes], dtype=np.int64)
    is_sfx = np.isin(fsym, suffix_codes)
    right_edge = np.zeros(flat_len, dtype=bool)
    right_edge[base + _PAD + counts] = True
    idx = np.where(is_sfx | right_edge, np.arange(flat_len), flat_len)
    nxt = np.minimum.accumulate(idx[::-1])[::-1][at]
    nxt_sym = np.where(fsym[nxt] >= _SYM_BOS, 0, fsym[nxt])
    dist = np.minimum(nxt - at, 6)
    cols.append(_key(19, nxt_sym, np.where(nxt_sym == 0, 0, dist)))
    cols.append(_key(20, nxt_sym))
    left_edge = np.zeros(flat_len, dtype=bool)
    left_edge[base + _PAD - 1] = True
    idx = np.where(is_sfx | left_edge, np.arange(flat_len), -1)
    prev = np.maximum.accumulate(idx)[at - 1]
    prev_sym = np.where(fsym[prev] >= _SYM_BOS, 0, fsym[prev])
    cols.append(_key(21, prev_sym))

    # Which key suffixes occurred strictly before this character (bit mask).
    seen = np.zeros(n_chars, dtype=np.int64)
    for bit, ch in enumerate(KEY_SUFFIXES):
        hit = (sym == ord(ch)).astype(np.int64)
        cum = np.cumsum(hit) - hit  # occurrences strictly before, counted over the whole batch
        before = cum - cum[starts[addr]]
        seen |= (before > 0).astype(np.int64) << bit
    cols.append(_key(22, seen))

    # Division names: the longest one starting / ending at each character (hash of every substring of
    # length 2..max over the flat layout; sentinels never match, names never cross an address).
    dn_start = np.zeros(flat_len, dtype=np.int64)
    dn_end = np.zeros(flat_len, dtype=np.int64)
    if lexicon.max_len >= 2:
        h = fsym.astype(np.uint64)
        with np.errstate(over="ignore"):
            for length in range(2, lexicon.max_len + 1):
                if length > flat_len:
                    break
                h = h[:-1] * np.uint64(_POLY) + fsym[length - 1 :].astype(np.uint64)
                code = lexicon.find(h).astype(np.int64)
                found = np.flatnonzero(code)
                if found.size:
                    value = length * 16 + code[found]
                    dn_start[found] = value  # longer lengths come later and overwrite
                    dn_end[found + length - 1] = np.maximum(dn_end[found + length - 1], value)
    cols.append(_key(23, dn_start[at]))
    cols.append(_key(24, dn_end[at]))
    cols.append(_key(25, dn_end[at - 1], dn_start[at]))

    # Repeats: does the bigram starting (ending) here occur earlier / later in the same address?
    # (``redundant`` in the NAACL/SuperMap data is mostly a repeated admin name.)
    big = (s(0) << 22) | (s(1) & 0x3FFFFF)
    rep = np.zeros(n_chars, dtype=np.int64)
    order = np.lexsort((pos_in, big, addr))
    sb, sa = big[order], addr[order]
    same_prev = np.zeros(n_chars, dtype=bool)
    same_prev[1:] = (sb[1:] == sb[:-1]) & (sa[1:] == sa[:-1])
    same_next = np.zeros(n_chars, dtype=bool)
    same_next[:-1] = same_prev[1:]
    han_pair = (kind == K_HAN) & (k_(1) == K_HAN)
    earlier = np.zeros(n_chars, dtype=bool)
    later = np.zeros(n_chars, dtype=bool)
    earlier[order] = same_prev
    later[order] = same_next
    earlier &= han_pair
    later &= han_pair
    rep = earlier.astype(np.int64) | (later.astype(np.int64) << 1)
    rep_prev = np.zeros(n_chars, dtype=np.int64)
    rep_prev[1:] = rep[:-1]
    rep_prev[starts[:-1][counts > 0]] = 0
    cols.append(_key(26, rep, rep_prev))
    cols.append(_key(27, domain))
    cols.append(_key(28, domain, s(0)))

    for j, col in enumerate(cols):
        col64 = np.asarray(col, dtype=np.uint64)
        ids[:, j] = (np.broadcast_to(col64, (n_chars,)) & mask).astype(np.int64)
    return Batch(ids, starts, raw_index)


# ---------------------------------------------------------------------------------------------------
# Model


@dataclass(frozen=True, slots=True)
class TagModel:
    """Weights of a trained model: per-bucket emission rows, BIO transitions, the lexicon it used."""

    labels: tuple[str, ...]  # "O", "B-x", "I-x", ...
    bits: int
    rows: IntArray  # (2**bits,) bucket -> row of ``weights`` (0 = unused bucket, all zero)
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
        """Emission scores (n_chars, n_labels): the sum of each character's bucket rows."""
        rows = self.rows[ids]
        out = self.weights[rows[:, 0]].copy()
        for j in range(1, rows.shape[1]):
            out += self.weights[rows[:, j]]
        return out


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
            rows = np.zeros(1 << bits, dtype=np.int64)
            rows[z["buckets"]] = z["bucket_rows"]
            weights = z["weights"].astype(np.float32)
            transitions = z["transitions"].astype(np.float32)
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


def viterbi_batch(
    emissions: FloatArray, starts: IntArray, transitions: FloatArray, allowed: npt.NDArray[np.bool_],
    first: npt.NDArray[np.bool_],
) -> IntArray:  # fmt: skip
    """Best well-formed label sequence of every address, all at once.

    Addresses are sorted by length and decoded in one padded array; each step takes the max over
    previous labels for every address together. Returns the label index of every row of ``emissions``.
    """
    n_labels = transitions.shape[0]
    counts = np.diff(starts)
    out = np.zeros(int(starts[-1]), dtype=np.int64)
    live = np.flatnonzero(counts > 0)
    if not live.size:
        return out
    trans = np.where(allowed, transitions, np.float32(_NEG)).astype(np.float32)
    # Labels any label may precede (O, B-x) take the max over every previous label; labels with exactly
    # two allowed predecessors (I-x after B-x / I-x) take the max of those two: half the work, same max.
    n_pred = allowed.sum(axis=0)
    open_to = np.flatnonzero(n_pred > 2)
    narrow = np.flatnonzero(n_pred <= 2)
    pairs = np.array([([*np.flatnonzero(allowed[:, j]).tolist(), 0, 0])[:2] for j in narrow])
    pairs = pairs.reshape(len(narrow), 2).astype(np.int64)
    pair_t = np.stack([trans[pairs[:, 0], narrow], trans[pairs[:, 1], narrow]]) if narrow.size else None
    t_open = trans[:, open_to]
    order = live[np.argsort(-counts[live], kind="stable")]  # longest first: a prefix stays active
    lens = counts[order]
    t_max = int(lens[0])
    b = order.size
    deltas = np.empty((t_max, b, n_labels), dtype=np.float32)
    delta = np.where(first, emissions[starts[order]], np.float32(_NEG)).astype(np.float32)
    deltas[0] = delta
    for t in range(1, t_max):
        active = int(np.searchsorted(-lens, -t, side="left"))  # addresses longer than t
        d = delta[:active]
        new = np.empty((active, n_labels), dtype=np.float32)
        new[:, open_to] = (d[:, :, None] + t_open[None, :, :]).max(axis=1)
        if pair_t is not None:
            new[:, narrow] = np.maximum(d[:, pairs[:, 0]] + pair_t[0], d[:, pairs[:, 1]] + pair_t[1])
        delta[:active] = new + emissions[starts[order[:active]] + t]
        deltas[t] = delta
    # Back pointers are recomputed for the chosen label only (one row of argmax per address and step),
    # with the same ties as a full argmax: the lowest previous label wins.
    state = delta.argmax(axis=1)
    for t in range(t_max - 1, -1, -1):
        active = int(np.searchsorted(-lens, -t, side="left"))
        cur = state[:active]
        out[starts[order[:active]] + t] = cur
        if t > 0:
            state[:active] = (deltas[t - 1, :active] + trans[:, cur].T).argmax(axis=1)
    return out


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


class FastTagger:
    """A loaded :class:`TagModel` with its decoding constraints; tags many addresses per call."""

    def __init__(self, model: TagModel, domain: str) -> None:
        if domain not in model.domains:
            raise ModelLoadError(f"domain {domain!r} is not one of the model's {model.domains}")
        self.model = model
        self.domain = model.domains.index(domain)
        self.allowed, self.first = model.allowed()

    def label_ids(self, texts: Sequence[str]) -> tuple[Batch, IntArray]:
        batch = featurize(texts, self.domain, self.model.bits, self.model.lexicon)
        em = self.model.emissions(batch.ids)
        return batch, viterbi_batch(em, batch.starts, self.model.transitions, self.allowed, self.first)

    def spans_many(self, texts: Sequence[str]) -> list[list[Span]]:
        """Spans of each text (character offsets into that text)."""
        batch, ids = self.label_ids(texts)
        labels = self.model.labels
        names = [labels[i] for i in ids.tolist()]
        raw = batch.raw_index.tolist()
        st = batch.starts.tolist()
        return [
            spans_from_labels(names[st[i] : st[i + 1]], raw[st[i] : st[i + 1]]) for i in range(len(texts))
        ]
