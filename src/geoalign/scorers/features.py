"""Pair features of the embedded matcher, computed from normalized text and parsed components.

Two stages, so that batch scoring does the expensive part once per *distinct* address:

* ``AddressView`` — everything about one address the features need (normalized text, component values,
  number sets, character bigrams). Built once per distinct address by ``geoalign.address.analyze``
  (re-exported here), which blocking, the link judge and the rule layer read too.
* ``pair_features(a, b)`` — one fixed-length float vector per pair (``FEATURE_NAMES`` order), and
  ``compare_components(a, b)`` — the per-component explanation.

The features are asymmetric on purpose: ``a`` is the query (usually a full address), ``b`` the candidate
record (usually road + number + POI name, often without province or city), and the CCKS labels are
one-directional, so "b's road is in a" and "a's road is in b" are different features. Numbers (road
number, building, unit, floor, room) are hard evidence: 3栋 vs 5栋 is a conflict, never a near match,
so they are compared for equality, not with fuzzy string similarity. Missing values are NaN (LightGBM
learns a direction for "absent"), never 0, which would read as "present and different".
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from rapidfuzz import fuzz
from rapidfuzz.distance import LCSseq

from geoalign.address import gazetteer
from geoalign.address.analyze import (
    ADMIN_LEVELS,
    LEVELS,
    NUMBER_LEVELS,
    TYPED_PATTERNS,
    AddressView,
    char_positions,
    view_from_components,
)
from geoalign.address.conflicts import Conflict, conflicts, districts_split_apart
from geoalign.types import ComponentComparison, ComponentStatus

NAN: Final[float] = math.nan

#: Text levels at or above which two different values mean two different places.
_TEXT_SIMILAR: Final[float] = 0.6


@dataclass(frozen=True, slots=True)
class CharWeights:
    """Inverse document frequency of characters over the training addresses, stored with the model.

    Shared characters count by how rare they are: sharing 路 and 号 says little, sharing 翠 and 苑 says
    the two addresses name the same thing. A character unseen in training weighs ``default`` (the
    weight of the rarest characters).
    """

    weights: dict[str, float]
    default: float

    @classmethod
    def fit(cls, texts: Iterable[str], min_df: int = 2) -> CharWeights:
        """IDF = ln((N + 1) / (df + 1)) + 1 over distinct texts; characters rarer than ``min_df`` are
        left out of the table (they weigh ``default``), which keeps the model file small."""
        df: dict[str, int] = {}
        n = 0
        for text in set(texts):
            n += 1
            for ch in set(text):
                df[ch] = df.get(ch, 0) + 1
        default = math.log((n + 1) / (min_df - 1 + 1)) + 1.0 if n else 1.0
        table = {ch: round(math.log((n + 1) / (k + 1)) + 1.0, 4) for ch, k in df.items() if k >= min_df}
        return cls(table, round(default, 4))

    @classmethod
    def uniform(cls) -> CharWeights:
        """Every character weighs 1 (for tests of the other features and for tiny training sets)."""
        return cls({}, 1.0)

    def total(self, chars: Iterable[str]) -> float:
        """Sum of the weights. ``math.fsum`` is exactly rounded, hence independent of the iteration order
        of a set (which changes with PYTHONHASHSEED): with ``sum`` a "nothing missing" difference came
        out as +-1e-16 instead of 0, and LightGBM's zero bin made scores differ between processes."""
        # map over (char, default) pairs rather than a generator: no frame per character (four sums a
        # pair); fsum is exact, so the result is the same whatever the order
        return math.fsum(map(self.weights.get, chars, itertools.repeat(self.default)))


def _level_names(level: str) -> list[str]:
    return [f"{level}_state", f"{level}_sim", f"{level}_b_in_a", f"{level}_a_in_b"]


#: The feature vector layout. Stored with the model and checked at load: a mismatch is a ModelLoadError.
FEATURE_NAMES: Final[tuple[str, ...]] = (
    "len_a",
    "len_b",
    "len_ratio",
    "ratio",
    "partial_ratio",
    "token_set_ratio",
    "lcs_over_b",
    "lcs_over_a",
    "bigram_jaccard",
    "bigram_b_in_a",
    "bigram_a_in_b",
    "b_substring_of_a",
    "a_substring_of_b",
    "nums_a",
    "nums_b",
    "nums_common",
    "nums_b_not_a",
    "nums_a_not_b",
    "latin_common",
    "latin_b_not_a",
    "paren_b",
    "paren_b_in_a",
    "n_comps_a",
    "n_comps_b",
    "hard_agree",
    "hard_conflict",
    "admin_agree",
    "admin_conflict",
    "text_agree",
    "text_conflict",
    "b_rest_len",
    "b_rest_in_a",
    "content_len_b",
    "content_b_in_a",
    "content_a_in_b",
    "content_ratio",
    "content_partial",
    "lcsubstr",
    "lcsubstr_over_b",
    "content_lcsubstr",
    "content_lcsubstr_over_b",
    "tail_len_a",
    "tail_len_b",
    "tail_ratio",
    "tail_partial",
    "tail_b_in_a",
    "tail_a_in_b",
    "idf_b_in_a",
    "idf_a_in_b",
    "idf_b_not_a",
    "idf_a_not_b",
    "finest_a",
    "finest_b",
    "finest_b_in_a",
    "finest_a_in_b",
    *(f"{name}_state" for name in TYPED_PATTERNS),
    *(f"gaz_{level}_state" for level in ("prov", "city", "district", "town")),
    "gaz_conflict",
    "gaz_agree",
    *(name for level in LEVELS for name in _level_names(level)),
)

#: State codes of the ``*_state`` features: 0 = in neither, 1 = only a, 2 = only b, 3 = equal,
#: 4 = both and different. Public: the structured scorer's decision rule reads them off the matrix.
STATE_NEITHER, STATE_ONLY_A, STATE_ONLY_B, STATE_EQUAL, STATE_DIFFERENT = 0.0, 1.0, 2.0, 3.0, 4.0
_NEITHER, _ONLY_A, _ONLY_B, _EQUAL, _DIFFERENT = (
    STATE_NEITHER,
    STATE_ONLY_A,
    STATE_ONLY_B,
    STATE_EQUAL,
    STATE_DIFFERENT,
)


def longest_common_substring(a: str, b: str, b_positions: dict[str, list[int]] | None = None) -> int:
    """Length of the longest contiguous run shared by ``a`` and ``b``.

    The classic dynamic program, restricted to matching cells: row by row over ``a``, only the
    positions in ``b`` that hold the same character are visited. Address characters rarely repeat, so
    this costs about len(a) + (number of matching pairs) steps, not len(a) * len(b).
    """
    positions = char_positions(b) if b_positions is None else b_positions
    best = 0
    prev: dict[int, int] = {}
    for ch in a:
        cur: dict[int, int] = {}
        for j in positions.get(ch, ()):
            run = prev.get(j - 1, 0) + 1
            cur[j] = run
            if run > best:
                best = run
        prev = cur
    return best


def _found_in(value: str, text: str) -> float:
    """``fuzz.partial_ratio(value, text) / 100``, the same number: a value written inside the text scores
    1.0 without the alignment search (most components of a matching pair are), which saves the call."""
    return 1.0 if value in text else fuzz.partial_ratio(value, text) / 100.0


def _state(va: str | None, vb: str | None) -> float:
    if va is None:
        return _NEITHER if vb is None else _ONLY_B
    if vb is None:
        return _ONLY_A
    return _EQUAL if va == vb else _DIFFERENT


def _rest_of_b(a: AddressView, b: AddressView) -> str:
    """The part of b that is not its address skeleton: what remains after removing b's components that
    a also contains. For a POI record this is the shop name the query must mention to be exact."""
    rest = b.text
    for level, value in b.comps.items():
        if level in ADMIN_LEVELS or level in ("road", "roadno", "subroad", "subroadno"):
            rest = rest.replace(value, "", 1)
    return rest


_UNIFORM: Final[CharWeights] = CharWeights.uniform()


def _finest(view: AddressView) -> int:
    """Index in LEVELS of the finest component present (-1: none). The granularity of a record decides
    between exact and partial: a town-only candidate for a full address is at best partial."""
    for i in range(len(LEVELS) - 1, -1, -1):
        if LEVELS[i] in view.comps:
            return i
    return -1


def _finest_in(view: AddressView, index: int, other: AddressView) -> float:
    """How well the finest component of ``view`` is found in the other address's text."""
    if index < 0:
        return NAN
    level = LEVELS[index]
    value = view.comps[level]
    if level in NUMBER_LEVELS:
        return float(value in other.numbers)
    return _found_in(value, other.text)


def pair_features(a: AddressView, b: AddressView, weights: CharWeights | None = None) -> list[float]:
    """The feature vector of one pair, in ``FEATURE_NAMES`` order. ``weights`` are the model's character
    weights (None: uniform, as in tests that pin the other features)."""
    ta, tb = a.text, b.text
    la, lb = len(ta), len(tb)
    lcs = LCSseq.similarity(ta, tb)
    # character summaries: computed from the texts (address.analyze keeps the recent ones), read once
    bigrams_a, bigrams_b = a.bigrams, b.bigrams
    inter = len(bigrams_a & bigrams_b)
    nb_a, nb_b = len(bigrams_a), len(bigrams_b)
    union = nb_a + nb_b - inter
    num_common = len(a.numbers & b.numbers)
    lat_common = len(a.latin & b.latin)
    rest = _rest_of_b(a, b)
    feats: list[float] = [
        float(la),
        float(lb),
        lb / la if la else NAN,
        fuzz.ratio(ta, tb) / 100.0,
        fuzz.partial_ratio(ta, tb) / 100.0,
        fuzz.token_set_ratio(ta, tb) / 100.0,
        lcs / lb if lb else NAN,
        lcs / la if la else NAN,
        inter / union if union else NAN,
        inter / nb_b if nb_b else NAN,
        inter / nb_a if nb_a else NAN,
        float(tb in ta),
        float(ta in tb),
        float(len(a.numbers)),
        float(len(b.numbers)),
        float(num_common),
        float(len(b.numbers) - num_common),
        float(len(a.numbers) - num_common),
        float(lat_common),
        float(len(b.latin) - lat_common),
        float(bool(b.paren)),
        _found_in(b.paren, ta) if b.paren else NAN,
        float(len(a.comps)),
        float(len(b.comps)),
    ]
    hard_agree = hard_conflict = admin_agree = admin_conflict = text_agree = text_conflict = 0
    level_feats: list[float] = []
    for level in LEVELS:
        va, vb = a.comps.get(level), b.comps.get(level)
        state = _state(va, vb)
        if level in NUMBER_LEVELS:
            sim = (1.0 if va == vb else 0.0) if va is not None and vb is not None else NAN
            b_in_a = float(vb in a.numbers or vb in ta) if vb is not None else NAN
            a_in_b = float(va in b.numbers or va in tb) if va is not None else NAN
            if state == _EQUAL:
                hard_agree += 1
            elif state == _DIFFERENT:
                hard_conflict += 1
        else:
            if va is not None and vb is not None:
                sim = 1.0 if va == vb else fuzz.ratio(va, vb) / 100.0
            else:
                sim = NAN
            b_in_a = _found_in(vb, ta) if vb is not None else NAN
            a_in_b = _found_in(va, tb) if va is not None else NAN
            if va is not None and vb is not None:
                same = sim >= _TEXT_SIMILAR or va in vb or vb in va
                if level in ADMIN_LEVELS:
                    admin_agree += same
                    admin_conflict += not same
                else:
                    text_agree += same
                    text_conflict += not same
        level_feats += (state, sim, b_in_a, a_in_b)
    feats += (
        float(hard_agree),
        float(hard_conflict),
        float(admin_agree),
        float(admin_conflict),
        float(text_agree),
        float(text_conflict),
        float(len(rest)),
        _found_in(rest, ta) if rest else NAN,
    )
    ca, cb = a.content, b.content
    set_a, set_b = a.content_chars, b.content_chars
    common = len(set_a & set_b)
    feats += (
        float(len(cb)),
        common / len(set_b) if set_b else NAN,
        common / len(set_a) if set_a else NAN,
        fuzz.ratio(ca, cb) / 100.0 if ca and cb else NAN,
        fuzz.partial_ratio(ca, cb) / 100.0 if ca and cb else NAN,
    )
    run = longest_common_substring(ta, tb, b.positions)
    content_run = longest_common_substring(ca, cb, b.content_positions)
    feats += (
        float(run),
        run / lb if lb else NAN,
        float(content_run),
        content_run / len(cb) if cb else NAN,
    )
    xa, xb = a.tail, b.tail
    feats += (
        float(len(xa)),
        float(len(xb)),
        fuzz.ratio(xa, xb) / 100.0 if xa and xb else NAN,
        fuzz.partial_ratio(xa, xb) / 100.0 if xa and xb else NAN,
        _found_in(xb, ta) if xb else NAN,
        _found_in(xa, tb) if xa else NAN,
    )
    cw = weights or _UNIFORM
    chars_a, chars_b = a.chars, b.chars
    w_a, w_b = cw.total(chars_a), cw.total(chars_b)
    w_common = cw.total(chars_a & chars_b)
    feats += (
        w_common / w_b if w_b else NAN,
        w_common / w_a if w_a else NAN,
        cw.total(chars_b - chars_a),
        cw.total(chars_a - chars_b),
    )
    fa, fb = _finest(a), _finest(b)
    feats += (
        float(fa) if fa >= 0 else NAN,
        float(fb) if fb >= 0 else NAN,
        _finest_in(b, fb, a),
        _finest_in(a, fa, b),
    )
    feats += (_state(a.typed.get(name), b.typed.get(name)) for name in TYPED_PATTERNS)
    gaz = [_state(x, y) for x, y in zip(a.admin, b.admin, strict=True)]
    feats += gaz
    feats += (float(gaz.count(_DIFFERENT)), float(gaz.count(_EQUAL)))
    feats += level_feats
    return feats


#: The admin levels the gazetteer resolves, by their place in ``AddressView.canon_admin`` (its order).
_STATED_ADMIN: Final[dict[str, int]] = {level: i for i, level in enumerate(gazetteer.LEVELS)}


def _one_division(a: AddressView, b: AddressView, level: str) -> bool:
    """Whether both texts state one division at this admin level however they write it (北京市 / 北京,
    杭州 / 杭州市), as the gazetteer reads them."""
    index = _STATED_ADMIN.get(level)
    if index is None:
        return False
    stated = a.canon_admin[index]
    return stated is not None and stated == b.canon_admin[index]


def _holds_conflict(va: str, vb: str, found: list[Conflict]) -> bool:
    """Whether a conflict the rule layer found lies inside these two values (3号院 / 5号院 in two
    sub-POIs, a zone's; 东侧 / 西侧 at the end of two POIs): the component differs where it matters."""
    return any(c.a and c.b and c.a != c.b and c.a in va and c.b in vb for c in found)


def compare_components(a: AddressView, b: AddressView) -> list[ComponentComparison]:
    """Per-component agreement for the explanation, coarse to fine; components in neither are left out.

    Numbers agree only when equal (else conflict); an admin division agrees where the gazetteer reads
    one division on both sides (北京市 / 北京); text components agree when equal, are similar when
    one contains the other or their similarity is high, and conflict otherwise, or wherever the rule
    layer's definition of another place (``address.conflicts``) names the component: 人民北路 and
    人民南路 look similar, but they are two roads, and the explanation must not say otherwise.
    """
    found = conflicts(a, b)
    named = {c.component for c in found}
    out: list[ComponentComparison] = []
    for level in LEVELS:
        va, vb = a.comps.get(level), b.comps.get(level)
        if va is None and vb is None:
            continue
        status: ComponentStatus
        if va is None:
            status = "only_b"
        elif vb is None:
            status = "only_a"
        elif va == vb or _one_division(a, b, level):
            status = "agree"
        elif level in NUMBER_LEVELS or level in named or _holds_conflict(va, vb, found):
            status = "conflict"
        elif level == "district" and districts_split_apart(a, b):
            status = "similar"  # one carved out of the other since: the older record's name (余杭区 / 临平区)
        elif va in vb or vb in va or fuzz.ratio(va, vb) / 100.0 >= _TEXT_SIMILAR:
            status = "similar"
        else:
            status = "conflict"
        out.append(ComponentComparison(level, va, vb, status))
    return out


__all__ = [
    "ADMIN_LEVELS",
    "FEATURE_NAMES",
    "LEVELS",
    "NUMBER_LEVELS",
    "STATE_DIFFERENT",
    "STATE_EQUAL",
    "AddressView",
    "CharWeights",
    "char_positions",
    "compare_components",
    "longest_common_substring",
    "pair_features",
    "view_from_components",
]
