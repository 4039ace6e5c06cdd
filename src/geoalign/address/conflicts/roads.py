"""Road names: one spelling of a road (``road_key``, sections and sides included), when two names are two
roads (``names_two_roads``), and the road, lane and cross-street conflicts (``road_conflict``)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from rapidfuzz.distance import Levenshtein

from geoalign.address.analyze import (
    TYPED_OF,
    AddressView,
    canonical_name,
)
from geoalign.address.conflicts.base import RULE_OF, Conflict, naming_chars, same_poi, same_words_before
from geoalign.address.numerals import number_value

#: Road names at most this many character edits apart are "near misses" (one name apart).
NEAR_EDITS: Final[int] = 2

#: A road word ending a name: a value that ends in none is no road name. A ring road is named by its
#: number alone (南二环, 三环: the normalizer writes 2环), with or without 路.
ROAD_NAME_END: Final[re.Pattern[str]] = re.compile(r"(?:路|街|道|巷|弄|段|胡同|大道|公路|\d环)$")
#: A road value that is only a direction and a road word (南大街, 东路): the parser cut the name off.
_BARE_ROAD: Final[re.Pattern[str]] = re.compile(r"[东西南北中]?(?:大街|大道|路|街)")
#: Components whose value can be the cut-off head of such a road (中关村 | 南大街); not admin levels or
#: towns, whose main streets are often called just 东大街.
_NAME_BEFORE_ROAD: Final[tuple[str, ...]] = ("community", "poi", "devzone")
#: Characters that tell the parts of one road apart (人民北路 / 人民南路; 东直门内大街 / 东直门外大街).
_DIRECTIONS: Final[str] = "东西南北中内外"
#: A section of a road, by number (三段 → 3段), by side (南段, 中段) or both (北三段 → 北3段): part of the
#: road's name.
_SECTION: Final[re.Pattern[str]] = re.compile(r"(?:[东西南北中]?\d+|[东西南北中])段")
#: A side written after the road word and before the road number (广州大道北1号, 五和大道南85号, 中山大道中
#: 18号: named parts of one avenue, numbered each on its own): part of the road's name.
_ROAD_SIDE: Final[re.Pattern[str]] = re.compile(r"[东西南北中](?=\d+号)")


def road_key(view: AddressView) -> str | None:
    """The road name in one spelling (``canonical_name``), or None where the parse has no road or the
    value does not look like a road name. A road the parse cut down to a direction and a road word (中关村
    | 南大街) takes back the name written right before it (中关村南大街), so that it is not compared as
    南大街 with 中关村大街."""
    value = view.comps.get("road")
    if not value:
        return None
    if len(value) <= 3 and _BARE_ROAD.fullmatch(value):  # the length first: road_key runs per candidate
        for name in _NAME_BEFORE_ROAD:
            head = view.comps.get(name)
            if head and head + value in view.text:
                value = head + value
                break
    return _road_key(value, view.text)


@lru_cache(maxsize=1 << 16)
def _road_key(value: str, text: str) -> str | None:
    # cached: a link run asks for one record's road key against each of its candidates, four times per
    # pair (road_conflict and the road-number check, both sides), and canonical_name reads the whole text
    key = canonical_name(value)
    # the section or side right after the road in the text, however the parser tagged it (road, sub-road,
    # poi)
    text = canonical_name(text)
    at = text.find(key)
    if at >= 0:
        section = _SECTION.match(text, at + len(key))
        if section:
            key += section.group(0)
        elif ROAD_NAME_END.search(key):
            side = _ROAD_SIDE.match(text, at + len(key))
            return key + side.group(0) if side else key
    return key if ROAD_NAME_END.search(key) else None


def names_two_roads(ra: str, rb: str) -> bool:
    """The two road names differ only in direction characters or in digits: mostly the two halves of
    one road (人民北路 / 人民南路, 庆丰西路 / 庆丰东路), numbered each on its own, so one number names
    two places; or two numbered roads (11号大街 / 21号大街, 文1路 / 文2路 as the normalizer writes 文一路)
    and two roads named after directions (北京路 / 南京路). Not the misspelling of one name that another
    one-character difference with a shared POI usually is (docs/rules.md)."""
    if len(ra) != len(rb) or ra == rb:
        return False
    return all(
        x == y or (x in _DIRECTIONS and y in _DIRECTIONS) or (x.isdigit() and y.isdigit())
        for x, y in zip(ra, rb, strict=True)
    )


def _extends(x: str, y: str) -> bool:
    """One road name starts or ends with the other (松涛路 / 松涛路二巷, 区金融大街 / 金融大街): a lane of the
    road, or a parser slip that took a character of the text around it; no conflict."""
    return x.endswith(y) or y.endswith(x) or x.startswith(y) or y.startswith(x)


def road_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """Another road (``_road_name_conflict``); where the road names find none, two numbered lanes after the
    same words (``_numbered_lane_conflict``) or one lane of two villages (``_lane_owner_conflict``); where
    they find names merely far apart (``another_road_weak``), the lane of two villages only."""
    found = _road_name_conflict(a, b)
    if found is not None and found.rule != "another_road_weak":
        return found
    crossing_a, crossing_b = _crossing_roads(a), _crossing_roads(b)
    if crossing_a is not None and crossing_b is not None:
        # two crossings: another crossing, or the same one (its roads perhaps in the other order)
        return _crossing_conflict(crossing_a, crossing_b)
    lanes = _numbered_lanes(a, b)
    if lanes is None:
        return found
    if found is None:
        return _numbered_lane_conflict(a, b, *lanes) or _lane_owner_conflict(a, b, *lanes)
    # road names merely far apart (13巷 / 西2巷, the side read into one of them) say nothing by default;
    # two numbered lanes after the same words still do
    return _numbered_lane_conflict(a, b, *lanes) or _lane_owner_conflict(a, b, *lanes) or found


#: A crossing of two roads as the normalizer leaves it (交叉口), or written short (交口, 青禾路松风路口).
_CROSSING: Final[re.Pattern[str]] = re.compile(r"交叉口|交口|路口")
#: A connecting word the parse may leave at the head of the cross street (青禾大街和云杉路交口: 和云杉路).
_CROSSING_JOINS: Final[str] = "与和及同跟"


def _crossing_roads(view: AddressView) -> tuple[str, str] | None:
    """The two roads of the crossing a text is located by (road and cross street), or None."""
    road, cross = view.comps.get("road"), view.comps.get("subroad")
    if not road or not cross or _CROSSING.search(view.text) is None:
        return None
    return canonical_name(road), canonical_name(cross.lstrip(_CROSSING_JOINS))


def _one_road(x: str, y: str) -> bool:
    """Two spellings of one road: equal, one extending the other (青禾路 / 青禾路辅路), or one
    character apart that is no other road (松风大道 / 松峰大道: a misspelling)."""
    return x == y or _extends(x, y) or (Levenshtein.distance(x, y) <= 1 and not names_two_roads(x, y))


def _crossing_conflict(ca: tuple[str, str], cb: tuple[str, str]) -> Conflict | None:
    """Two crossings that are not one: each text located by a crossing of two roads, and a road of one is
    no road of the other (青禾路与云杉街交叉口 / 松风巷与云杉街交叉口: two crossings of 云杉街). The road
    names alone do not tell (a corner shop's record may name either road), but two crossings do. CCKS
    training part: 49 such pairs, 2 labelled exact_match (a shop's query and a record of its crossing
    with a third road)."""
    for mine, other in ((ca, cb), (cb, ca)):
        for road in mine:
            if not any(_one_road(road, theirs) for theirs in other):
                return Conflict("road", "与".join(ca), "与".join(cb), RULE_OF["road"])
    return None


def _road_name_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """Another road. ``another_road`` where the difference is the one a similarity model cannot see:
    names that are near misses (at most ``NEAR_EDITS`` character edits: 延安东路 / 延安西路, 长江路 /
    长江中路, sections) on two street addresses (both give a road number) that share no POI; a shared
    POI makes a one-character difference a likely misspelling, except between the halves of one road
    (``names_two_roads``: 人民北路 / 人民南路), which a shared shop name does not join (a chain's branches).
    The halves of one road are two roads with or without road numbers (长青南路 / 长青北路: 1 of the 28
    such pairs on the CCKS training part without a number on both sides is labelled exact_match).
    Two texts that name nothing but their road (and its section, after the admin names and township:
    城关镇青禾路南段 / 城关镇云杉路南段) are two roads, whatever the names (CCKS training part: 12 such
    pairs, none labelled exact_match, once two orders of one name's characters are left out).
    ``another_road_weak`` otherwise: simply different names (the model sees that itself; a corner shop's
    record may name the cross street), or addresses located by a compound that fronts several roads
    (阳光花园 on 文三路 and on 学院路), or without road numbers."""
    ra, rb = road_key(a), road_key(b)
    if ra and ra == rb:
        return _side_road_conflict(a, b)
    if ra and rb and not _extends(ra, rb):
        strong = (
            names_two_roads(ra, rb)
            or (
                Levenshtein.distance(ra, rb) <= NEAR_EDITS
                and a.typed.get(TYPED_OF["roadno"]) is not None
                and b.typed.get(TYPED_OF["roadno"]) is not None
                and not same_poi(a, b)
            )
            # not two orders of the same characters: 玉兰街 / 兰玉街 is a slip of one
            or (_only_the_road(a, ra) and _only_the_road(b, rb) and sorted(ra) != sorted(rb))
        )
        return Conflict("road", ra, rb, RULE_OF["road"] if strong else "another_road_weak")
    if ra is None and rb is not None:
        return _lane_as_road_conflict(a, rb)
    if rb is None and ra is not None:
        return _lane_as_road_conflict(b, ra)
    return None


#: The side of the road a text closes with (青禾路中段路西, 青禾路东侧): where on the road, not another place.
_ROAD_SIDE_CLOSING: Final[re.Pattern[str]] = re.compile(r"(?:(?<=段)路)?[东西南北]侧?$")


def _only_the_road(view: AddressView, key: str) -> bool:
    """The place text is the road (``key``, its section included) and at most the township before it and
    the side of the road after it (遂平县青禾路中段路西 / 遂平县松风路中段路西: two roads)."""
    rest = view.canon_rest
    if not rest.endswith(key):
        rest = _ROAD_SIDE_CLOSING.sub("", rest)
    if not rest.endswith(key):
        return False
    head = rest[: -len(key)]
    return not head or head == canonical_name(view.comps.get("town") or "")


#: A numbered lane in a place text (云杉新村2巷; the normalizer writes 二巷 as 2巷), with the side that
#: names it (南5巷, 东二坊): 坊 is the lane word of some Shenzhen villages (云杉洲东二坊), whose numeral
#: the normalizer leaves as written.
_NUMBERED_LANE: Final[re.Pattern[str]] = re.compile(
    r"(?<![\d一二三四五六七八九十])([东西南北]?)(\d{1,3}|[一二三四五六七八九十]{1,3})(巷|坊)"
)


def _numbered_lanes(a: AddressView, b: AddressView) -> tuple[re.Match[str], re.Match[str]] | None:
    """The first numbered lane of each place text, when both write one with the same lane word."""
    ra, rb = a.canon_rest, b.canon_rest
    if not ("巷" in ra or "坊" in ra) or not ("巷" in rb or "坊" in rb):  # the cheap test first: per pair
        return None
    ma, mb = _NUMBERED_LANE.search(ra), _NUMBERED_LANE.search(rb)
    if ma is None or mb is None or ma.group(3) != mb.group(3):
        return None
    return ma, mb


def _lane_name(lane: re.Match[str]) -> tuple[str, int | None, str]:
    """A numbered lane as (side, number, lane word): 东二坊 and 东2坊 are one lane."""
    return lane.group(1), number_value(lane.group(2)), lane.group(3)


def _numbered_lane_conflict(
    a: AddressView, b: AddressView, ma: re.Match[str], mb: re.Match[str]
) -> Conflict | None:
    """Two numbered lanes after the same words (云杉新村2巷4栋 / 云杉新村1巷4栋, 云杉洲东二坊 / 云杉洲西二坊):
    two lanes of the village, however the tagger read each (a sub-POI on one side, the road on the other),
    and their doors two places. The words before the lane must agree as far as the shorter text writes
    them (one side may write more in front); a side written on one lane only (南5巷 / 5巷) may be the
    same lane written short, and is no conflict. Found in corpus tables, where such lanes were one
    cluster. ``ma`` and ``mb``: the two texts' lanes (``_numbered_lanes``)."""
    if _lane_name(ma) == _lane_name(mb) or bool(ma.group(1)) != bool(mb.group(1)):
        return None
    if not same_words_before(a.canon_rest, ma.start(), b.canon_rest, mb.start()):
        return None
    return Conflict("subroad", ma.group(0), mb.group(0), RULE_OF["road"])


def _lane_owner_conflict(
    a: AddressView, b: AddressView, ma: re.Match[str], mb: re.Match[str]
) -> Conflict | None:
    """One numbered lane of two villages (云杉新村3巷2号 / 青禾1区3巷2号, 松风5巷6号 / 大禾园5巷6号):
    Shenzhen's urban villages number their lanes each from one, so the lane and the door agree and the
    judge, seeing every number agree, called such records one place (a corpus table: eight such pairs in
    one cluster each). The words before the lane must share no character that names something
    (``naming_chars``): a community written before the village (云杉社区云杉旧村 / 云杉旧村) or a typo of
    one character (青禾 / 青河) shares the rest. Training parts: CCKS 54 fires (none exact_match),
    Shenzhen 19 (all labelled two places)."""
    if _lane_name(ma) != _lane_name(mb):
        return None
    owner_a, owner_b = a.canon_rest[: ma.start()], b.canon_rest[: mb.start()]
    names_a, names_b = naming_chars(owner_a), naming_chars(owner_b)
    if not names_a or not names_b or not names_a.isdisjoint(names_b):
        return None
    return Conflict("subroad", owner_a + ma.group(0), owner_b + mb.group(0), RULE_OF["road"])


def lane_key(view: AddressView) -> str | None:
    """The sub-road of a text whose parse has no road, where it looks like a road name (青禾村4巷: 4巷)."""
    lane = view.comps.get("subroad")
    if not lane or "road" in view.comps:
        return None
    key = canonical_name(lane)
    return key if ROAD_NAME_END.search(key) else None


def _lane_as_road_conflict(lane_side: AddressView, road: str) -> Conflict | None:
    """Two numbered lanes, one tagged as a sub-road of no road (青禾村6巷7号: the tagger reads a village's
    lane so), the other as the road (青禾村七巷7号): names that differ only by their number or direction
    (``names_two_roads``: 6巷 / 7巷, 青禾四巷 / 青禾一巷) are two lanes, and their doors two places."""
    lane = lane_side.comps.get("subroad")
    if not lane:
        return None
    key = canonical_name(lane)
    # the whole number as written: the tagger can split a lane's numeral (二 | 十三巷 for 二十三巷)
    if names_two_roads(key, road) and re.search(rf"(?<!\d){re.escape(key)}", canonical_name(lane_side.text)):
        return Conflict("road", key, road, RULE_OF["road"])
    return None


def _side_road_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """On one road, another side road: the cross street of an intersection (古墩路与文一路交叉口 /
    古墩路与文二路交叉口) or a lane off the road (二巷 / 五巷). Not a near miss of one name (嘉木路 /
    佳木路: one character, a misspelling), unless it is the kind of difference that names two roads
    (``names_two_roads``: 五巷 / 八巷). On the CCKS training part 2 of the 49 such pairs are labelled
    exact_match, both misspellings."""
    sa, sb = a.comps.get("subroad"), b.comps.get("subroad")
    if not sa or not sb:
        return None
    ka, kb = canonical_name(sa), canonical_name(sb)
    if _extends(ka, kb):
        return None
    if names_two_roads(ka, kb) or Levenshtein.distance(ka, kb) > 1:
        return Conflict("subroad", ka, kb, RULE_OF["road"])
    return None
