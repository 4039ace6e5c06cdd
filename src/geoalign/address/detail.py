"""What an address states below its door: the numbers and letters of its place, building, unit, floor
and room, read off the normalized place text.

``dedupe --same-detail`` keeps two records apart unless these agree: a register's record of a tower
(华星时代广场A座) is not its 10th floor's (A座10楼), though the judge calls an order on the 10th floor
relevant to the tower's record (CCKS relevance, which link wants). The text is read, not the parse's
levels, because the parse labels one number differently from one writing to the next (801室 a room,
801号 a door; 12-B-2301 one building number, 12栋B座2301 three levels, B dropped in one of two
writings); the count is kept (古墩路8号1幢1单元101 states a unit that 1幢101 does not, though both
hold only the numbers 1 and 101).
"""

from __future__ import annotations

import re
from typing import Final

from geoalign.address.analyze import AddressView, canonical_name
from geoalign.address.conflicts import ROAD_NAME_END
from geoalign.address.numerals import NUMERAL_CHARS, numeral_as_digits

#: A street and its door (groups: the street, the number; 号 may be left out, as in 文三路#369), for a
#: record whose parse found no road: the tagger misreads streets numbered with digits (上地10街10号,
#: 经2路12号) and the street after 香港特别行政区 (九龙尖沙咀弥敦道100号). Link's blocking keys read it too.
STREET_AND_DOOR: Final[re.Pattern[str]] = re.compile(
    r"([\u4e00-\u9fff][\u4e00-\u9fff\d]{1,11}?(?:大街|大道|街|路|道|巷))(\d+)号?"
)
#: After a road: its section, where the parse left it out of the road (红星路3段1号, 天府大道北段), and
#: its number.
_SECTION_AND_DOOR: Final[re.Pattern[str]] = re.compile(r"(?:\d+段|[东西南北中]段)?\d*号?")
#: A number in Chinese numerals after 第 or before the word it counts (第三工业区, 五社: the normalizer
#: leaves these as written).
_COUNTED_NUMERAL: Final[re.Pattern[str]] = re.compile(
    f"(?<=第)[{NUMERAL_CHARS}]+|[{NUMERAL_CHARS}]+(?=[社组队区期栋楼层座幢排号室])"
)
#: A floor that the next number, a room on it, already says (8楼801, 12层1208, 5楼5B028, 6层-601).
_FLOOR_OF_ROOM: Final[re.Pattern[str]] = re.compile(r"(?<!\d)(\d+)(?:层|楼)-?(?=\1[\dA-Z])")
#: A number, or a letter that names a building, part or room: alone (A栋, B区) or the last letter of a
#: run right before a number (SOHOT1, B101). Names in Latin letters (SOHO, IFS, COCOPark) say nothing.
_TOKEN: Final[re.Pattern[str]] = re.compile(r"\d+|(?<![A-Z])[A-Z](?![A-Z])|[A-Z](?=\d)")


def place_below_door(view: AddressView) -> str:
    """The normalized place text without its roads and their numbers (369号; 397-1号 keeps its
    sub-number -1), wherever they stand (a text written twice names its road twice)."""
    text = view.canon_rest
    roads = [canonical_name(v) for level in ("road", "subroad") if (v := view.comps.get(level))]
    # a road's value that ends in no road word is none (the parse reads 白衣村5组 as a road now and then)
    roads = [road for road in roads if ROAD_NAME_END.search(road) and road in text]
    if not roads:
        return STREET_AND_DOOR.sub("", text)
    for road in roads:
        text = _without_road(text, road)
    return text


def _without_road(text: str, road: str) -> str:
    """``text`` without each ``road`` and the section and number after it (a string search: one
    compiled pattern per road name would thrash the regex cache on a table of many roads)."""
    kept, start = [], 0
    while (at := text.find(road, start)) >= 0:
        kept.append(text[start:at])
        after = _SECTION_AND_DOOR.match(text, at + len(road))  # always matches (all of it optional)
        start = after.end() if after else at + len(road)
    kept.append(text[start:])
    return "".join(kept)


def detail_tokens(view: AddressView) -> tuple[str, ...]:
    """The numbers and letters of ``view``'s place below the door, sorted, with their count; a floor the
    room number already says is left out (8楼801 states no more than 801), so are leading zeros."""
    text = _COUNTED_NUMERAL.sub(numeral_as_digits, place_below_door(view)).upper()
    text = _FLOOR_OF_ROOM.sub("", text)
    return tuple(sorted(t.lstrip("0") or "0" if t.isdigit() else t for t in _TOKEN.findall(text)))


def same_detail(a: AddressView, b: AddressView) -> bool:
    """Both addresses state the same place below the door (``detail_tokens``)."""
    return detail_tokens(a) == detail_tokens(b)


__all__ = ["STREET_AND_DOOR", "detail_tokens", "place_below_door", "same_detail"]
