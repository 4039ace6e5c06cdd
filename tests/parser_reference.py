"""The parser's character tagger as it was before the speed work (features v6, commit e08148c): the
reference the fast paths in ``geoalign.address.chartagger`` are held equal to, bit for bit.

Frozen on purpose: these are the straightforward versions (a dense ``searchsorted`` over every substring
hash, one (characters x templates x labels) gather summed per block, a Viterbi step as one broadcast max
over every previous label). Only the primitives that the speed work did not touch (character folding,
the hash mixer, the constant tables) are imported from the module under test.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from geoalign.address.chartagger import (
    _BOS_AT,
    _BOS_SYMS,
    _DENSE_MAX_CHARS,
    _DOMAIN_CROSSED,
    _EOS_AT,
    _EOS_SYMS,
    _KIND_WEIGHTS,
    _M64,
    _MIX_BLOCK,
    _NEG,
    _PAD,
    _SEED_MUL,
    _SYM_BOS,
    _VALUE_MULS,
    _WINDOW,
    K_DIGIT,
    K_HAN,
    K_LATIN,
    K_NUMERAL,
    K_SPACE,
    N_TEMPLATES,
    SUFFIX_CHARS,
    Batch,
    FloatArray,
    IntArray,
    Lexicon,
    Span,
    TagModel,
    _codes,
    _key_suffix_bits,
    _mix,
    _powers,
    _suffix_table,
    _table,
    _value_rows,
    spans_from_labels,
)

#: Characters per block in ``reference_emissions``.
_EMISSION_BLOCK = 256


def reference_find(lexicon: Lexicon, h: npt.NDArray[np.uint64]) -> npt.NDArray[np.int8]:
    """Code of each hash (0 where it names no division): a binary search for every hash."""
    if not lexicon.hashes.size:
        return np.zeros(h.shape, np.int8)
    idx = np.searchsorted(lexicon.hashes, h)
    idx[idx >= lexicon.hashes.size] = 0
    return np.where(lexicon.hashes[idx] == h, lexicon.codes[idx], 0).astype(np.int8)


def reference_featurize(
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
    ids = np.empty((n_chars, N_TEMPLATES), dtype=np.int64)
    if n_chars == 0:
        return Batch(ids, starts, raw_index)

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
        code = reference_find(lexicon, hashes).astype(np.int64)
        code[ar[None, :] + lengths_[:, None] > flat_len] = 0  # clipped: not a substring
        row, pos = np.nonzero(code)
        if row.size:
            value = (row + 2) * 16 + code[row, pos]
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
    _reference_hash_into(ids, spec, domain, np.uint64((1 << bits) - 1))
    return Batch(ids, starts, raw_index)


def _reference_hash_into(
    ids: IntArray, spec: list[tuple[IntArray | int, ...]], domain: int, mask: np.uint64
) -> None:
    """Bucket ids of every template into ``ids`` (n_chars, N_TEMPLATES): the key of template t with
    values v1..vk is ``mix(t * SEED + v1 * M1 + ... + vk * Mk)`` (mod 2**64, ``key_reference``), masked to
    the bucket bits; then the domain-crossed templates (``_DOMAIN_CROSSED``: values the domain and the
    key of the template they cross).

    The data sets label some things differently (CCKS leaves text O, SuperMap splits redundant per
    character, digit runs...): the context templates that decide boundaries get a copy per domain, so
    the shared weights learn what the sets agree on and the copies what one set does its own way.

    The key is linear in the values before one mix, so for a few characters all keys are a few gathers
    of the stacked values (a couple of dozen numpy calls in all: what a single address pays), and for a
    large batch a sum per template; both are exact mod 2**64, so they agree bit for bit."""
    n_chars = ids.shape[0]
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
            keys = np.empty((n_base, n_chars), dtype=np.uint64)
            keys[:] = seed_col
            for (t, i), arr in zip(where, arrays, strict=True):
                keys[t] += arr.astype(np.uint64) * np.uint64(_VALUE_MULS[i])
            for lo in range(0, n_chars, _MIX_BLOCK):  # cache-sized blocks: mixing is 8 passes
                keys[:, lo : lo + _MIX_BLOCK] = _mix(keys[:, lo : lo + _MIX_BLOCK])
        crossed = np.array(list(_DOMAIN_CROSSED), dtype=np.uint64)[:, None]
        crossed_seed = crossed * np.uint64(_SEED_MUL) + np.uint64(domain * _VALUE_MULS[0] & _M64)
        base_rows = list(_DOMAIN_CROSSED.values())
        cross_keys = _mix(crossed_seed + keys[base_rows] * np.uint64(_VALUE_MULS[1]))
    ids[:, :n_base] = (keys & mask).T
    ids[:, n_base:] = (cross_keys & mask).T


def reference_emissions(model: TagModel, ids: IntArray) -> FloatArray:
    """Emission scores (n_chars, n_labels): the sum of each character's bucket rows."""
    rows = model.rows[ids]
    if len(rows) <= _EMISSION_BLOCK:  # one address: one gather and one sum (few calls)
        return model.weights[rows].sum(axis=1)
    out = np.empty((len(rows), model.weights.shape[1]), dtype=np.float32)
    for lo in range(0, len(rows), _EMISSION_BLOCK):  # the same sums, a cache-sized block at a time
        out[lo : lo + _EMISSION_BLOCK] = model.weights[rows[lo : lo + _EMISSION_BLOCK]].sum(axis=1)
    return out


def reference_viterbi_batch(
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
    if live.size == 1:
        lo, hi = int(starts[live[0]]), int(starts[live[0] + 1])
        out[lo:hi] = _reference_viterbi_one(emissions[lo:hi], trans, first)
        return out
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


def _reference_viterbi_one(
    emissions: FloatArray, trans: FloatArray, first: npt.NDArray[np.bool_]
) -> list[int]:
    """``viterbi_batch`` for one address (``trans``: disallowed moves already at ``_NEG``): a few numpy
    calls a step instead of a dozen. The same scores (a max over every previous label equals the
    batched max over the allowed ones, disallowed scores being ~1e9 lower) and the same ties (the
    lowest previous label, numpy's argmax)."""
    trans_t = np.ascontiguousarray(trans.T)  # [to, from]
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


def reference_spans_many(model: TagModel, domain: str, texts: Sequence[str]) -> list[list[Span]]:
    """``FastTagger.spans_many`` as it was: featurize, emissions, batched Viterbi, spans."""
    d = model.domains.index(domain)
    allowed, first = model.allowed()
    batch = reference_featurize(texts, d, model.bits, model.lexicon)
    em = reference_emissions(model, batch.ids)
    ids = reference_viterbi_batch(em, batch.starts, model.transitions, allowed, first)
    names = [model.labels[i] for i in ids.tolist()]
    raw = batch.raw_index.tolist()
    st = batch.starts.tolist()
    return [spans_from_labels(names[st[i] : st[i + 1]], raw[st[i] : st[i + 1]]) for i in range(len(texts))]
