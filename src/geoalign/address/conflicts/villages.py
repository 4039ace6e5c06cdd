"""Villages and communities named apart (``community_conflict``), a chain's branches
(``branch_conflict``) and two chains (``chain_conflict``)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from rapidfuzz.distance import Levenshtein

from geoalign.address.analyze import (
    AddressView,
    canonical_name,
)
from geoalign.address.brands import CHAINS
from geoalign.address.conflicts.base import RULE_OF, Conflict, same_poi

#: Characters that name two villages or communities of one name apart (东闾村 / 西闾村, 前村 / 后村, 大王庄 /
#: 小王庄, 新村 / 老村): each group is a set of opposites; 上窑村 / 大窑村 is a misspelling, not two villages.
_VILLAGE_OPPOSITES: Final[tuple[str, ...]] = ("东西南北中内外前后上下", "大小", "新老")


def branch_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """Two branches of one chain (如家酒店(望京店) / 如家酒店(国贸店), 工商银行(解放路支行) / (湖滨支行)): the
    normalized texts drop bracketed notes and can be identical, so this is read off the raw text
    (``AddressView.branch``). A branch named on one side only is the rule layer's note question
    (``scorers.rules._unnamed_branch``)."""
    na, nb = a.branch, b.branch
    # one name inside the other is one branch written two ways (文三路店 / 文三分店, 国贸店 / 国贸商城店);
    # an outlet named by its road alone against one named otherwise ((青禾路) / (青禾花苑店)) says nothing
    if na and nb and na not in nb and nb not in na and a.branch_by_road == b.branch_by_road:
        return Conflict("branch", na, nb, RULE_OF["branch"])
    return None


#: Any listed chain's name in a normalized text.
_CHAIN: Final[re.Pattern[str]] = re.compile("|".join(sorted(CHAINS, key=len, reverse=True)))


@lru_cache(maxsize=1 << 16)
def _chains(text: str) -> frozenset[str]:
    return frozenset(_CHAIN.findall(text))


def chain_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """Two chains, none named on both sides (云杉路18号中国石化加油站 / 中国石油加油站: one character apart,
    two companies; 肯德基 / 麦当劳): two places at one address. CCKS training part: fires on 5 pairs, none
    labelled exact_match (4 not_match); Shenzhen train: none."""
    ca, cb = _chains(a.text), _chains(b.text)
    if ca and cb and ca.isdisjoint(cb):
        return Conflict("chain", min(ca), min(cb), RULE_OF["chain"])
    return None


def community_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """Another village or community of the same name but for its side or age (东闾村 / 西闾村, 前村 / 后村,
    大王庄 / 小王庄) or number: the difference a similarity model reads as a misspelling (CCKS training part:
    none of the 7 such pairs is labelled exact_match; Shenzhen train: none of 17 a match). Two names of one
    kind that differ more (``_two_named_communities``, `rules/v12`): 139 CCKS training fires with these,
    1 labelled exact_match; 381 Shenzhen, none a match."""
    ca, cb = a.comps.get("community"), b.comps.get("community")
    if not ca or not cb:
        return None
    ka, kb = canonical_name(ca), canonical_name(cb)
    if ka == kb:
        return None
    if len(ka) != len(kb):
        return _village_with_a_side(a, b, ka, kb) or _two_named_communities(a, b, ka, kb)
    for x, y in zip(ka, kb, strict=True):
        if (
            x != y
            and not (x.isdigit() and y.isdigit())
            and not any(x in group and y in group for group in _VILLAGE_OPPOSITES)
        ):
            return _two_named_communities(a, b, ka, kb)
    return Conflict("community", ka, kb, RULE_OF["community"])


#: A community or village the parse reads as one name of its kind (星河社区, 青禾村), not a compound
#: (青禾社区青禾东村: a village of a community).
_ONE_COMMUNITY: Final[re.Pattern[str]] = re.compile(r"[\u4e00-\u9fff]{2,5}(社区|村)")


def _two_named_communities(a: AddressView, b: AddressView, ka: str, kb: str) -> Conflict | None:
    """Two communities (社区) or two villages (村) with different names (青禾社区 / 星河社区, 杨柳村 /
    梅溪村): two places, which a similarity model sees as one where the rest agrees (a lane and door that
    many villages have: 三巷5号). Not one character apart (a misspelling: 青禾潭村 / 青禾谭村), nor where
    either text writes the other's name (the parse read a sub-village as the community), both name one
    POI (an estate the record places by an old village's name) or a village's name is a community's
    (兴旺村社区, which the parse cuts after 村, covers more than the village)."""
    ma, mb = _ONE_COMMUNITY.fullmatch(ka), _ONE_COMMUNITY.fullmatch(kb)
    if ma is None or mb is None or ma.group(1) != mb.group(1):
        return None
    text_a, text_b = canonical_name(a.text), canonical_name(b.text)
    if Levenshtein.distance(ka, kb) < 2 or ka in text_b or kb in text_a or same_poi(a, b):
        return None
    if f"{ka}社区" in text_a or f"{kb}社区" in text_b:  # a community named after a village (兴旺村社区)
        return None
    return Conflict("community", ka, kb, RULE_OF["community"])


def _village_with_a_side(a: AddressView, b: AddressView, ka: str, kb: str) -> Conflict | None:
    """One village's name is the other's with a side or age before it (冉庄村 / 东冉庄村, 姚洼村 / 下姚洼村):
    two villages, unless the longer name is written in the other text too (the parse then dropped the
    side of 下梅林村 in one record: all 5 such Shenzhen train pairs are one place). CCKS training part: it
    fires on 8 pairs, none labelled exact_match."""
    (short, short_text), (long_name, _) = sorted(((ka, a.text), (kb, b.text)), key=lambda x: len(x[0]))
    if len(long_name) != len(short) + 1 or len(short) < 2 or long_name[1:] != short:
        return None
    if not any(long_name[0] in group for group in _VILLAGE_OPPOSITES) or long_name in short_text:
        return None
    return Conflict("community", ka, kb, RULE_OF["community"])
