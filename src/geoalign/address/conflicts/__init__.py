"""Which components of two analyzed addresses conflict, and by which rule: the one definition of "two
different places" that the rule layer, the link judge, the structured model's decision rule and the docs
share.

* **Hard numbers** (``HARD_NUMBERS``): road number, building, unit, floor, room. Numbers are compared for
  equality (leading zeros aside: 0501室 is 501室), never fuzzily: 3栋 is not 5栋. Where both texts state a
  level's number in its typed form (369号, 3栋, 2单元, 12层, 501室, read off the *normalized* text) that
  decides; where only one side types it, nothing is concluded (the parser reads 幸福里三巷1502 as road number
  1502 where the other record says 幸福里三巷15号: a room glued to the number); where neither does, the parsed
  components decide. The typed form goes first because the tagger sees the raw
  text and can misplace a Chinese-numeral number (三百六十号), which would invent a conflict between two
  writings of one place. A number the other text lists anywhere as that level is no conflict (a register
  naming every floor it rents, 5A层、6层、30层, against 30层).
* **Admin divisions**: province, city, district as the gazetteer resolves them (old names mapped to
  current ones: 襄樊 is 襄阳). Two resolved names that differ are two places; a level only one side
  writes is no conflict (omitted, not different), but a city or district written in full states its
  province (象山县 / 江门市), and a district its city against a city written in full (定海区 / 杭州市);
  a township that one place in the country holds states its city (合德镇 / 武汉市). A district carved
  out of the other since (余杭区 / 临平区) is no conflict where the rest names one door or one place.
* **Zones** of a compound named by a letter, a number or a side (E1区 / E2区, 3区 / 5区, 东区 / 西区,
  东塔 / 西塔), its phases (2期 / 3期) and clusters (1组团 / 2组团), and the exits of a station (A口 /
  B1出口), read in the place text after the admin prefix: two different ones are two places
  (``zone_conflict``); so is one building number on two sides (东3栋 / 西3栋: ``side_building_conflict``)
  and one number in two parks of different names (青禾工业区38号 / 云杉工业区38栋: ``park_conflict``).
* **Numbered places**: institutions of one kind told apart by an ordinal (第一小学 / 第二小学, 第一人民医院 /
  第六人民医院, 第3工业区 / 第一工业区), read in the place text after the admin prefix, numerals as
  numbers (第3 = 第三): two different ordinals of the same kind are two places (``ordinal_conflict``).
* **Villages** named apart by a side or age (东闾村 / 西闾村, 前村 / 后村, 大王庄 / 小王庄), or two
  villages or two communities of different names (杨柳村 / 梅溪村, 星河社区 / 碧海社区), and the groups
  of a village (3组 / 5组, 5社 / 6社) are two places (``community_conflict``; groups in ``zone_conflict``).
* **Branches** of one chain named in brackets (如家酒店(望京店) / (国贸店)) are two places
  (``branch_conflict``), even where the normalized texts, which drop notes, are one.
* **Relative locations**: a street address the text locates something relative to (27号对面, 3栋旁边,
  88号往东50米) is not that address, nor are places in opposite directions from one landmark (向西50米 /
  向东50米) one place (``relative_conflict``).
* **Road names**: the normalized names (width, script, numerals, listed variant spellings folded) differ,
  including by one character that changes the name (延安东路 / 延安西路, 长江路 / 长江中路, 学院路 /
  学府路); a section (一段 / 三段) is part of the road, read off the text after the road name
  (the parser tags it as road, sub-road or POI).
  Both values must look like road names (end in a road word), so a parser slip that tags a shop name as
  a road invents no conflict; nor does one name starting or ending with the other (区金融大街 / 金融大街:
  a parser slip that took a character of the district into the road; 松涛路二巷 / 松涛路: a lane
  of the road the other record names by the road alone). Two numbered lanes after the same words
  (云杉新村2巷 / 1巷, 白石洲东2坊 / 西2坊) are two roads, and so are two texts that name nothing but their
  roads, and one lane number after the names of two villages (甘坑新村3巷 / 长龙1区3巷).

Two addresses with the same normalized text never conflict but for two branch notes: one spelling is one
place, whatever the parser made of each raw input (it sees traditional or full-width characters as
written).

``conflicts(a, b)`` is symmetric. Each ``Conflict`` names its component, both values and its rule name
(the name the rule layer writes into ``explanation.rules`` when the conflict capped a label). One module
per family of checks: ``base`` (the ``Conflict`` record and the rule names), ``admin``, ``roads``,
``numbers``, ``places`` (zones, gates, stations, numbered and named places, relative locations) and
``villages`` (villages, communities, a chain's branches).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from geoalign.address.analyze import AddressView
from geoalign.address.conflicts.admin import admin_conflicts, admin_names, districts_split_apart
from geoalign.address.conflicts.base import ADMIN_COMPARED, HARD_NUMBERS, RULE_OF, SAME_ROAD_ONLY, Conflict
from geoalign.address.conflicts.numbers import code_conflict, number_conflicts
from geoalign.address.conflicts.places import (
    bracket_gate_conflict,
    building_use_conflict,
    kind_conflict,
    named_building_conflict,
    named_place_conflict,
    office_conflict,
    ordinal_conflict,
    park_conflict,
    relative_conflict,
    school_unit_conflict,
    side_building_conflict,
    station_conflict,
    sub_facility_conflict,
    workstation_conflict,
    zone_conflict,
)
from geoalign.address.conflicts.roads import ROAD_NAME_END, names_two_roads, road_conflict, road_key
from geoalign.address.conflicts.villages import (
    branch_conflict,
    chain_conflict,
    community_conflict,
    company_conflict,
    subsidiary_conflict,
)

#: The checks that find at most one conflict each, in the order ``conflicts`` reports them (after the
#: admin levels, before a branch and the hard numbers).
_ONE_CONFLICT_CHECKS: Final[tuple[Callable[[AddressView, AddressView], Conflict | None], ...]] = (
    road_conflict,
    zone_conflict,
    ordinal_conflict,
    community_conflict,
    relative_conflict,
    station_conflict,
    named_building_conflict,
    side_building_conflict,
    park_conflict,
    chain_conflict,
    company_conflict,
    subsidiary_conflict,
    kind_conflict,
    building_use_conflict,
    office_conflict,
    named_place_conflict,
    school_unit_conflict,
    sub_facility_conflict,
    workstation_conflict,
)


#: The last pairs of views compared and their conflicts, by the views' identities. One pair is compared up
#: to three times on its way through the default judge (the explanation's components, the cascade's caps
#: after its neural stage, the rule layer), each time with the same two view objects from the shared
#: view cache; at about 75 µs a comparison that was a tenth of the judge's time. The entry holds both
#: views, so their ids cannot be reused by other objects while it is kept; views are not changed once
#: made. Cleared whole when full (no eviction order to keep consistent across threads).
_MEMO: Final[dict[tuple[int, int], tuple[AddressView, AddressView, tuple[Conflict, ...]]]] = {}
_MEMO_SIZE: Final = 4096


def conflicts(a: AddressView, b: AddressView) -> list[Conflict]:
    """Every conflict between two analyzed addresses, coarse to fine (admin, road, zone, hard numbers;
    two branches of a chain or two gates in notes, which one normalized text can hide). Remembered for the
    last few thousand pairs of view objects (``_MEMO``)."""
    key = (id(a), id(b))
    hit = _MEMO.get(key)
    if hit is not None and hit[0] is a and hit[1] is b:
        return list(hit[2])
    found = _conflicts(a, b)
    if len(_MEMO) >= _MEMO_SIZE:
        _MEMO.clear()
    _MEMO[key] = (a, b, tuple(found))
    return found


def _conflicts(a: AddressView, b: AddressView) -> list[Conflict]:
    branch = branch_conflict(a, b)
    if a.text == b.text:
        # the notes the normalized text dropped can still name two branches or two gates
        return [c for c in (branch, bracket_gate_conflict(a, b)) if c is not None]
    out = admin_conflicts(a, b)
    for check in _ONE_CONFLICT_CHECKS:
        found = check(a, b)
        if found is not None:
            out.append(found)
    if branch is not None:
        out.append(branch)
    if a.canon_rest and a.canon_rest == b.canon_rest:
        # one place text after the divisions, numbers and all: a number conflict could only be the two
        # parses' (the tagger reads the raw text: 1栋1单元1楼1号 gave floor 1 + room 1, where the normalizer
        # writes room 101, as the other side does)
        return out
    numbers = number_conflicts(a, b)
    out += numbers
    if not any(c.component == "houseno" for c in numbers):
        code = code_conflict(a, b)  # a building the parse left inside a name, where no number is compared
        if code is not None:
            out.append(code)
    return out


__all__ = [
    "ADMIN_COMPARED",
    "HARD_NUMBERS",
    "ROAD_NAME_END",
    "RULE_OF",
    "SAME_ROAD_ONLY",
    "Conflict",
    "admin_conflicts",
    "admin_names",
    "branch_conflict",
    "code_conflict",
    "community_conflict",
    "company_conflict",
    "conflicts",
    "districts_split_apart",
    "kind_conflict",
    "named_building_conflict",
    "names_two_roads",
    "number_conflicts",
    "ordinal_conflict",
    "park_conflict",
    "relative_conflict",
    "road_conflict",
    "road_key",
    "side_building_conflict",
    "station_conflict",
    "zone_conflict",
]
