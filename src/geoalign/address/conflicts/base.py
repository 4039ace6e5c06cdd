"""What every conflict check shares: the ``Conflict`` record, the hard-number levels, the admin levels
compared and the rule name of each component."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from geoalign.address.analyze import (
    AddressView,
)

#: The hard numbers, coarse to fine: a difference in any of them means another place.
HARD_NUMBERS: Final[tuple[str, ...]] = ("roadno", "houseno", "cellno", "floorno", "roomno")
#: Hard numbers compared only when both addresses name the same road, or neither names one (another
#: road's number says nothing about this one, and a road conflict is reported on its own; but 青石村55号
#: and 青石村56号 are two doors of one village: rules/v4, docs/rules.md). One side with a road and the
#: other without is not compared: the first 号 number of a record without a road is as often a building
#: of a compound (翠柏小区12号 vs 和平路300号翠柏小区12号).
SAME_ROAD_ONLY: Final[frozenset[str]] = frozenset({"roadno"})
#: Admin levels compared after gazetteer resolution (index into ``AddressView.canon_admin``).
ADMIN_COMPARED: Final[tuple[tuple[str, int], ...]] = (("prov", 0), ("city", 1), ("district", 2))

#: The rule name of a conflict on each component.
RULE_OF: Final[dict[str, str]] = {
    "prov": "another_province",
    "city": "another_city",
    "district": "another_district",  # another_district_same_road where the rest is one street address
    "town": "another_town",
    "road": "another_road",
    "roadno": "another_road_number",
    "houseno": "another_building",
    "cellno": "another_unit",
    "floorno": "another_floor",
    "roomno": "another_room",
    "zone": "another_zone",
    "poi": "another_numbered_place",
    "relative": "near_not_at",
    "community": "another_community",
    "branch": "another_branch",
    "chain": "another_chain",
    "company": "another_company",
    "kind": "another_kind",
    "station": "another_station",
    "named_place": "another_named_place",
}


@dataclass(frozen=True, slots=True)
class Conflict:
    """One conflicting component: its name, the two values compared and the rule name."""

    component: str
    a: str
    b: str
    rule: str


def bare_number(value: str) -> str:
    return value.lstrip("0") or "0"


def same_poi(a: AddressView, b: AddressView) -> bool:
    poi = a.comps.get("poi")
    return bool(poi) and poi == b.comps.get("poi")


def same_words_before(text_a: str, at_a: int, text_b: str, at_b: int) -> bool:
    """The words before position ``at_a`` of ``text_a`` and ``at_b`` of ``text_b`` agree as far as the
    shorter writes them, and it writes at least two characters (one side may write an area more in
    front): what two codes, lanes or locators follow is then one place's, and they can be compared."""
    short, long = sorted((text_a[:at_a], text_b[:at_b]), key=len)
    return len(short) >= 2 and long.endswith(short)


#: Characters that name nothing on their own: kinds of settlement, zone and road, sides, ordinals and the
#: words of a community's or an office's title (云杉社区云杉旧村: 云杉 names it).
GENERIC_NAME_CHARS: Final[frozenset[str]] = frozenset(
    "社区村新旧老街道镇路段东西南北中第大小巷号乡里弄坊队组委会办事处工业园片城"
)


def naming_chars(words: str, generic: frozenset[str] = GENERIC_NAME_CHARS) -> frozenset[str]:
    """The characters of ``words`` that can name a place: no ``generic`` one (``GENERIC_NAME_CHARS`` unless
    a check names fewer), digit or Latin letter. Two names with none in common are two names, whatever
    else they share (云杉新村 / 青禾1区); one character in common (青禾 / 青河: a typo; 云杉社区云杉旧村 /
    云杉旧村) may be one."""
    return frozenset(c for c in words if c not in generic and not c.isascii())
