"""Villages and communities named apart (``community_conflict``), a chain's branches
(``branch_conflict``), two chains (``chain_conflict``), two companies (``company_conflict``) and two
branch offices of one company (``subsidiary_conflict``)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from rapidfuzz.distance import Levenshtein

from geoalign.address import gazetteer
from geoalign.address.analyze import (
    AddressView,
    canonical_name,
)
from geoalign.address.brands import CHAINS
from geoalign.address.conflicts.base import RULE_OF, Conflict, same_poi

#: Characters that name two villages or communities of one name apart (东闾村 / 西闾村, 前村 / 后村, 大王庄 /
#: 小王庄, 新村 / 老村 / 旧村): each group is a set of opposites; 上窑村 / 大窑村 is a misspelling, not two
#: villages.
_VILLAGE_OPPOSITES: Final[tuple[str, ...]] = ("东西南北中内外前后上下", "大小", "新老旧")


def _opposites(x: str, y: str) -> bool:
    """Two characters of one group of ``_VILLAGE_OPPOSITES`` (东 / 西, 大 / 小, 新 / 旧)."""
    return any(x in group and y in group for group in _VILLAGE_OPPOSITES)


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


#: A company's name closing the address part before it (…18号杭州云杉科技有限公司): everything after the
#: last number, settlement, road, division, floor or shop word, bracket or separator, up to its legal
#: form (the normalizer writes 股份有限公司 and 有限责任公司 as 有限公司). A name holding such a word
#: (云杉市政工程) is cut at it on both sides alike. Not a branch (…分公司) nor a head office (…总公司):
#: their names repeat the parent's.
_NOT_IN_COMPANY: Final[str] = r"\d号栋幢座层室楼元米铺区县市省路街道巷弄组村镇门()（）,，、\s-"
_COMPANY: Final[re.Pattern[str]] = re.compile(rf"([^{_NOT_IN_COMPANY}]{{2,30}}?)(?<![分总])(?:有限公司|公司)")
#: Division names written before a company's trade name (杭州云杉科技, 浙江杭州云杉): at most this many.
_COMPANY_DIVISIONS: Final = 3


@lru_cache(maxsize=1 << 16)
def _company(text: str) -> str:
    """The company a place text closes with, its leading division names (杭州, 浙江) taken off; empty
    where none is named (or only the legal form's own 有限 is left: 高速公路有限公司 cut at 路)."""
    names = _COMPANY.findall(text)
    if not names or names[-1].endswith("有限"):
        return ""
    name = names[-1]
    for _ in range(_COMPANY_DIVISIONS):
        lead = next((n for n in (4, 3, 2) if len(name) > n + 1 and _is_division(name[:n])), 0)
        if not lead:
            break
        name = name[lead:]
    return name


#: A company's branch office named after its parent (云杉科技有限公司杭州分公司): the branch's name.
_SUBSIDIARY: Final[re.Pattern[str]] = re.compile(r"公司([\u4e00-\u9fff]{2,8}?)分公司")


def subsidiary_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """Two branch offices of one company named apart (云杉科技有限公司杭州分公司 / 宁波分公司: exact_match
    0.72 from the default judge): the parent's name, which both repeat, makes them look one. Not one name
    inside the other (杭州分公司 / 杭州市分公司); a branch against its head office is the judge's."""
    if "分公司" not in a.canon_rest or "分公司" not in b.canon_rest:
        return None
    ma, mb = _SUBSIDIARY.search(a.canon_rest), _SUBSIDIARY.search(b.canon_rest)
    if ma is None or mb is None:
        return None
    na, nb = ma.group(1), mb.group(1)
    if na in nb or nb in na:
        return None
    return Conflict("branch", na + "分公司", nb + "分公司", RULE_OF["branch"])


def _is_division(name: str) -> bool:
    return gazetteer.is_division_name(name, short=True)


def company_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """Two companies at one address (青禾路18号杭州云杉科技有限公司 / 杭州松风科技有限公司): their names, the
    divisions before them taken off, differ from the first character, and what differs once the common end
    (科技有限公司) is taken off is two words of two or more characters sharing none. The similarity of the
    shared boilerplate read as one company (structured alone: exact_match 0.74). Not an abbreviation (中国移
    动通信集团 / 移动 share characters), a misspelling (one character apart) nor one trade name in two
    industries (云杉科技 / 云杉电子: the same first character). CCKS development part: fires on 234 pairs,
    1 labelled exact_match (two companies at one door), 45 partial_match; Shenzhen train: 3, none a match."""
    if "公司" not in a.canon_rest or "公司" not in b.canon_rest:  # most pairs: a C-level scan, no regex
        return None
    na, nb = _company(a.canon_rest), _company(b.canon_rest)
    # one name inside the other is one company, the longer read from an address word too early
    # (开发区西区云杉生物科技 / 云杉生物科技, 5-1门市云杉电子 / 云杉电子)
    if not na or not nb or na[0] == nb[0] or na in nb or nb in na:
        return None
    end = 0
    while end < min(len(na), len(nb)) - 1 and na[-1 - end] == nb[-1 - end]:
        end += 1
    core_a, core_b = na[: len(na) - end], nb[: len(nb) - end]
    if len(core_a) < 2 or len(core_b) < 2 or not set(core_a).isdisjoint(core_b):
        return None
    return Conflict("company", na, nb, RULE_OF["company"])


#: The kind of a village written before 村 (云杉行政村, 云杉自然村): the village's name is the same without
#: it, and 云杉村 / 云杉行政村 are not two villages by name.
_VILLAGE_KIND: Final[re.Pattern[str]] = re.compile(r"(?:行政|自然)(?=村$)")


def community_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """Another village or community of the same name but for its side or age (东闾村 / 西闾村, 前村 / 后村,
    大王庄 / 小王庄) or number: the difference a similarity model reads as a misspelling (CCKS training part:
    none of the 7 such pairs is labelled exact_match; Shenzhen train: none of 17 a match). Two names of one
    kind that differ more (``_two_named_communities``, `rules/v12`): 139 CCKS training fires with these,
    1 labelled exact_match; 381 Shenzhen, none a match."""
    ca, cb = a.comps.get("community"), b.comps.get("community")
    if not ca or not cb:
        return _compound_with_another_side(a, b)
    ka, kb = _VILLAGE_KIND.sub("", canonical_name(ca)), _VILLAGE_KIND.sub("", canonical_name(cb))
    if ka == kb:  # one community: two of its compounds may still be named apart by a side
        return _compound_with_another_side(a, b)
    if len(ka) != len(kb):
        return _village_with_a_side(a, b, ka, kb) or _two_named_communities(a, b, ka, kb)
    for x, y in zip(ka, kb, strict=True):
        if x != y and not (x.isdigit() and y.isdigit()) and not _opposites(x, y):
            return _two_named_communities(a, b, ka, kb)
    return Conflict("community", ka, kb, RULE_OF["community"])


#: The word a compound's side comes before (青禾东里, 云杉西苑, 松风南院, 青禾北村 as a POI's name).
_SIDE_COMPOUND_WORDS: Final[frozenset[str]] = frozenset("里苑院村园庄坊城")


def _compound_with_another_side(a: AddressView, b: AddressView) -> Conflict | None:
    """Two compounds (POIs) of one name but for their side or age (青禾东里 / 青禾西里, 云杉南苑 / 云杉北苑,
    Beijing's 东里 / 西里 are two estates; 东青禾 / 西青禾, 东湖花园 / 西湖花园): one character apart, which a
    similarity model reads as a misspelling. Only a side or age (``_VILLAGE_OPPOSITES``), first before a
    name of two characters or more, or after one and before a compound's word; a zone, a gate or a road
    of two sides are other checks'."""
    pa, pb = a.comps.get("poi"), b.comps.get("poi")
    if not pa or not pb or len(pa) != len(pb) or len(pa) < 3 or pa == pb:
        return None
    apart = [i for i, (x, y) in enumerate(zip(pa, pb, strict=True)) if x != y]
    if len(apart) != 1:
        return None
    i = apart[0]
    if not (i == 0 or (i >= 2 and _compound_word_at(pa, i + 1))):
        return None
    if not _opposites(pa[i], pb[i]):
        return None
    return Conflict("community", pa, pb, RULE_OF["community"])


def _compound_word_at(name: str, at: int) -> bool:
    """A compound's word at ``at`` (青禾东村: 村), or its age and then one (青禾上新村, 青禾中新村: Shenzhen's
    villages rebuilt as 上新村 / 中新村 / 老村 beside each other)."""
    if at < len(name) and name[at] in _SIDE_COMPOUND_WORDS:
        return True
    return at + 1 < len(name) and name[at] in "新老旧" and name[at + 1] in _SIDE_COMPOUND_WORDS


#: A community or village the parse reads as one name of its kind (星河社区, 青禾村, 云杉嘎查), not a
#: compound (青禾社区青禾东村: a village of a community).
_ONE_COMMUNITY: Final[re.Pattern[str]] = re.compile(r"[\u4e00-\u9fff]{2,5}(社区|村|嘎查)")


#: A facility each community or village has of its own (社区卫生服务站, 居家养老服务照料中心, 党群服务中心,
#: 居委会, 文化礼堂): two communities' are two places, though the facility's name is the same.
_COMMUNITY_FACILITY: Final[re.Pattern[str]] = re.compile(
    r"(?:服务(?:中心|站)|照料中心|活动(?:中心|室)|卫生(?:室|站)|警务(?:室|站)|文化礼堂|居委会|村委会|幸福院)$"
)


def _two_named_communities(a: AddressView, b: AddressView, ka: str, kb: str) -> Conflict | None:
    """Two communities (社区) or two villages (村) with different names (青禾社区 / 星河社区, 杨柳村 /
    梅溪村): two places, which a similarity model sees as one where the rest agrees (a lane and door that
    many villages have: 三巷5号). Not one character apart (a misspelling: 青禾潭村 / 青禾谭村), nor where
    either text writes the other's name (the parse read a sub-village as the community), both name one
    POI (an estate the record places by an old village's name; not a facility every community has of
    its own, ``_COMMUNITY_FACILITY``: 青禾社区卫生服务站 / 云杉社区卫生服务站) or a village's name is a
    community's (兴旺村社区, which the parse cuts after 村, covers more than the village)."""
    ma, mb = _ONE_COMMUNITY.fullmatch(ka), _ONE_COMMUNITY.fullmatch(kb)
    if ma is None or mb is None or ma.group(1) != mb.group(1):
        return None
    text_a, text_b = canonical_name(a.text), canonical_name(b.text)
    if Levenshtein.distance(ka, kb) < 2 or ka in text_b or kb in text_a:
        return None
    if same_poi(a, b) and not _COMMUNITY_FACILITY.search(a.comps["poi"]):
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
