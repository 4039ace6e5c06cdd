"""Parts and kinds of a place named in its text after the admin prefix: zones, phases, sides, station
exits, gates and village groups (``zone_conflict``), numbered institutions (``ordinal_conflict``),
locations relative to an address (``relative_conflict``), stations (``station_conflict``) and named
buildings of one estate (``named_building_conflict``)."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from functools import lru_cache
from typing import Final

from rapidfuzz.distance import Levenshtein

from geoalign.address import gazetteer
from geoalign.address.analyze import (
    AddressView,
    char_bigrams,
)
from geoalign.address.conflicts.base import (
    GENERIC_NAME_CHARS,
    RULE_OF,
    Conflict,
    naming_chars,
    same_words_before,
)
from geoalign.address.numerals import NUMERAL_CHARS, number_value

#: A zone of a compound named by a letter or a number (环球中心E1区, 万科城3区 — the normalizer writes 三区
#: as 3区; an airport's 505区), after a Chinese character or first in the place text. A name before 区
#: is a district or an area (高新区, 西湖区); 八区街道 is a street office, not a zone.
_ZONE: Final[re.Pattern[str]] = re.compile(r"(?:(?<=[\u4e00-\u9fff])|^)([A-Z]\d{0,2}|\d{1,3})区(?!街道)")
#: A part of a compound named by its side: 东区 / 西区, 东塔 / 西塔, 南楼 / 北楼, 北苑 / 西苑, 东园 / 西园,
#: a middle one (中楼, 中座, 中塔; not a school's 初中楼 / 高中楼), and a school's 南校区 / 东校区 right
#: after 大学, 学院 or 学校 (CCKS training part: 3 pairs of two such campuses, none exact_match; 河东校区 is
#: a campus named 河东); and a side of a floor, a building or a road (5楼东侧 / 西侧, 云杉路南侧 / 北侧,
#: and 中段路南 / 路北 or 12楼东 / 12楼西 closing a text; not a corner, 东南侧, which shares a side with
#: 东侧), and a road's or a hutong's end by its side (青禾胡同东口 / 西口; not a road named 南口路). Gates
#: (东门) are ``_GATE``'s.
_SIDE: Final[re.Pattern[str]] = re.compile(
    r"(?<=[学院校])[东西南北]校区|(?<=[\u4e00-\u9fffA-Z0-9])[东西南北](?:区|塔|座|楼|院|苑|园)"
    r"|(?<=[\u4e00-\u9fffA-Z0-9])(?<![初高集])中(?:塔|座|楼)"
    r"|(?<=[\u4e00-\u9fffA-Z0-9])(?<![东西南北])[东西南北]侧"
    r"|(?<=[段路街道]路)[东西南北]$|(?<=\d[楼层])[东西南北]$"
    r"|(?<=[路街巷弄同道])[东西南北]口(?![路街道巷村镇乡站])"
)
#: A phase of a compound (二期 / 三期; the normalizer writes 2期).
_PHASE: Final[re.Pattern[str]] = re.compile(r"(?:(?<=[\u4e00-\u9fff])|^)(\d{1,2})期")
#: A numbered cluster of a compound's buildings (青禾名城一组团 / 2组团; the normalizer writes 1组团), which
#: the tagger reads as a sub-POI on one side and inside the POI on the other.
_CLUSTER: Final[re.Pattern[str]] = re.compile(r"(?:(?<=[\u4e00-\u9fff])|^)(\d{1,2})组团")
#: A yard of a compound by number (青禾里3号院, 云杉小区5号院, 幸福路300号12号院): another yard is another
#: compound of the estate. Not right after a road word: 学院路30号院 is the door (``analyze._YARD``).
_COMPOUND_YARD: Final[re.Pattern[str]] = re.compile(r"(?<=[\u4e00-\u9fff])(?<![路街道巷弄同段])(\d{1,3})号院")
#: A building named by its side and number (云杉花园东3栋 / 西3栋; the normalizer writes 东03幢 and 东3号楼
#: so): the typed building number alone (3) is the same on both sides, so the hard numbers see one.
_SIDE_BUILDING: Final[re.Pattern[str]] = re.compile(r"(?<=[\u4e00-\u9fff])([东西南北])(\d{1,3})栋")

#: An exit of a station, named by a letter and/or a number (地铁站A口, B1出口, 2号出入口): another exit is
#: another place to meet or deliver (another_zone); 出口 and 口 are one word here.
_EXIT: Final[re.Pattern[str]] = re.compile(r"(?<=站)([A-Za-z]\d{0,2}|\d{1,2})号?(?:出入口|出口|口)")

#: A gate of a place, named by its side (东门, 西南门, 东南2门) or its number (3号门): another gate is another
#: place to meet or deliver, as a station's exit is. Only a gate that ends the text or is followed by a
#: bracket, a position word or a building: 东门中路, 南门街道, 西门子 and 北门村 are names, not gates. 正门 /
#: 后门 are left out (the main gate may be the south one).
#: A gate's side name (东, 西南, 东南2), shared by ``_GATE`` and ``_BRACKET_GATE``.
_SIDE_GATE_NAME: Final = r"[东西南北]{1,2}\d{0,2}"
_GATE: Final[re.Pattern[str]] = re.compile(
    rf"(?<=[\u4e00-\u9fffA-Za-z0-9()（）-])(?<![东西南北])({_SIDE_GATE_NAME}|(?<!\d)\d{{1,2}}号)门"
    r"(?=$|[)）(（,，;；]|对面|口|外|旁|附近|向|往|\d)"
)

#: A street address that the text then locates something relative to, at the end of the place text:
#: opposite it (27号对面, 斜对过), beside it (旁, 隔壁), behind it, near it (附近, 周边), or a distance
#: and direction from it (往东50米): 中关村大街27号对面 is not 中关村大街27号. Only after a number (27号,
#: 3栋, 5号院): CCKS relevance labels the landmark's own record exact_match for a query located off a
#: named landmark (a shop's 斜对面, an intersection's 西150米: 4 of the 6 such answers the judge gave on
#: the training part), and a locator in the middle (605号附近千秀公寓) names the place after it.
_RELATIVE_WORDS: Final[str] = (
    r"斜?对面|斜?对过|旁边?|边上|隔壁|附近|周边|一带|后面|背后"
    r"|(?:往|向)?[东西南北]{1,2}(?:方向)?约?\d+(?:\.\d+)?(?:米|公里)(?:处|左右)?"
)
_RELATIVE: Final[re.Pattern[str]] = re.compile(
    rf"(?:(?<=\d)|(?<=\d[号栋幢座楼室])|(?<=号院))(?:{_RELATIVE_WORDS})$"
)
_RELATIVE_ANYWHERE: Final[re.Pattern[str]] = re.compile(_RELATIVE_WORDS)

#: A group of a village (李庄村3组, 宝华村5社, 和安村8队, 云杉嘎查3组; the normalizer writes 三组 as 3组):
#: another group is another hamlet of the village, compared like a compound's zones.
_VILLAGE_GROUP: Final[re.Pattern[str]] = re.compile(
    r"(?:(?<=[村庄屯])|(?<=嘎查))(\d{1,2})(?:村民小组|小组|组|社|队)"
)
#: A numbered section or row of a village (青禾村三片, 青禾六片, 云杉新村六排: some Shenzhen villages number
#: their doors within each section or row, so 三片28号 and 六片28号 are two doors; Shenzhen train: the 6
#: pairs of two sections are all labelled two places). Not 片区, an area, nor 排档, a food stall.
_VILLAGE_SECTION: Final[re.Pattern[str]] = re.compile(
    r"(?<=[\u4e00-\u9fff])([一二三四五六七八九十]{1,3}|\d{1,2})(片|排)(?!区|档)"
)
#: the words such a group follows: a text with none of them is not searched
_VILLAGE_WORDS: Final[tuple[str, ...]] = ("村", "庄", "屯", "嘎查")

#: An institution numbered by an ordinal (第一小学, 第六人民医院, 第3工业区), or a market's room (第六间):
#: the kinds numbered this way. No kind is a prefix of another (人民医院 and 医院 differ at their first
#: character), so the alternative that matches is the whole kind.
_ORDINAL: Final[re.Pattern[str]] = re.compile(
    r"第(?P<number>[一二三四五六七八九十百零〇两]+|\d+)"
    r"(?P<kind>中学|小学|中心小学|实验小学|实验中学|高级中学|初级中学|职业中学|幼儿园|医院|人民医院|中医院|中心医院"
    r"|门诊部|卫生院|工业区|工业园|分公司|分校|分院|派出所|人民法院|汽车站|客运站|中队|大队|宿舍|仓库|车间"
    r"|教学楼|实验楼|食堂|村民小组|居委会|间)"
)

#: An industrial zone or a police unit numbered without 第 (青禾四工业区, 云杉1工业园: Shenzhen's villages
#: number their zones so; 交警三大队): the same kind as 第四工业区, compared with it. Not after another
#: numeral or 第 (十四工业区, 第四 …).
_NUMBERED_PARK: Final[re.Pattern[str]] = re.compile(
    r"(?<![第\d一二三四五六七八九十])(?P<number>[一二三四五六七八九十]{1,3}|\d{1,2})(?P<kind>工业区|工业园|大队|中队)"
)


#: A workshop building numbered after its word (厂房五, 厂房8号: an industrial park's workshops), the same
#: kind however the number is written.
_NUMBERED_WORKSHOP: Final[re.Pattern[str]] = re.compile(
    r"(?P<kind>厂房)(?P<number>[一二三四五六七八九十]{1,3}|\d{1,2})(?![\d一二三四五六七八九十])"
)


def zone_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """Another zone, phase, cluster, yard or side of a compound (E1区 / E2区, 3区 / 5区; 2期 / 3期; 1组团 /
    2组团; 3号院 / 5号院; 东区 / 西区, 东塔 / 西塔), another exit of a station (A口 / B1出口), another
    gate (东门 / 南门, 1号门 / 3号门) or another group of a village (李庄村3组 / 5组, 宝华村5社 / 6社: one
    kind, however it is called): both texts name one of the same kind and they differ. Read in the place
    text after the admin prefix (``canon_rest``), so an admin name (河西区, 市南区) is never taken for a
    zone. Precision on the training parts in docs/rules.md."""
    pa, pb = _compound_parts(a.canon_rest), _compound_parts(b.canon_rest)
    for va, vb in zip(pa, pb, strict=True):
        # the last character is the kind (区, 期; 塔, 楼 …): sides of two kinds are no conflict
        if va and vb and va[-1] == vb[-1] and va != vb:
            return Conflict("zone", va, vb, RULE_OF["zone"])
    # a gate one text names in a note the normalizer dropped ((西门): no digit) and the other in its
    # place text (南1门, kept for its digit) are compared too
    note_a, note_b = _bracket_gate(a.tail), _bracket_gate(b.tail)
    for kind, at in (("side", 4), ("number", 5)):
        ga = pa[at] or _of_kind(note_a, kind)
        gb = pb[at] or _of_kind(note_b, kind)
        if ga and gb and ga != gb:
            return Conflict("zone", ga, gb, RULE_OF["zone"])
    return None


def bracket_gate_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """Two gates of one kind named in bracketed notes (…有限公司(西南门) / (东南门)): another zone."""
    ga, gb = _bracket_gate(a.tail), _bracket_gate(b.tail)
    if ga and gb and ga != gb and _gate_kind(ga) == _gate_kind(gb):
        return Conflict("zone", ga, gb, RULE_OF["zone"])
    return None


def _of_kind(gate: str, kind: str) -> str:
    """``gate`` where it is a gate of ``kind`` (``_gate_kind``), else ""."""
    return gate if gate and _gate_kind(gate) == kind else ""


#: A gate named in a bracketed note after the place (…有限公司(西南门), 某某小区(北2门), (3号门)): the
#: normalizer drops notes without digits, so this is read off the raw tail (``AddressView.tail``).
_BRACKET_GATE: Final[re.Pattern[str]] = re.compile(rf"[(（]({_SIDE_GATE_NAME}|[1-9]\d?号)门[)）]")


def _bracket_gate(tail: str) -> str:
    found = _BRACKET_GATE.search(tail) if "门" in tail else None
    return found.group(1) + "门" if found else ""


def _gate_kind(gate: str) -> str:
    """A gate by number (3号门) or by side (西南门): two of one kind are compared."""
    return "number" if "号" in gate else "side"


def side_building_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """The same building number on two sides of a compound (云杉花园东3栋 / 云杉花园西3栋): two buildings.
    Only where both texts name the building by a side; one text without it says nothing."""
    ma = _SIDE_BUILDING.search(a.canon_rest) if "栋" in a.canon_rest else None
    mb = _SIDE_BUILDING.search(b.canon_rest) if ma else None
    if ma is None or mb is None or ma.group(2) != mb.group(2) or ma.group(1) == mb.group(1):
        return None
    return Conflict("houseno", ma.group(1) + ma.group(2), mb.group(1) + mb.group(2), RULE_OF["houseno"])


#: An industrial or science park by name, and the building or door number right after it (青禾工业区38号,
#: 云杉工业区1座): the first park a place text names.
_PARK: Final[re.Pattern[str]] = re.compile(
    r"([^\W\d]{2,8}?)(工业区|工业园区|工业园|工业城|科技园|产业园)([A-Za-z]?\d+)?"
)
#: How many characters before the park's kind word name it (a longer name's head is an area or a road).
_PARK_NAME_TAIL: Final = 4
#: Characters before a park's kind word that do not name it: an ordinal's 第, and the end of a
#: community's, a village's or a road's name written before the park. Fewer than ``naming_chars``
#: leaves out: a park is often named by words such as 新 and 园 alone (新园工业区).
_PARK_NOT_NAMING: Final[frozenset[str]] = frozenset("第区社村镇街道路")


def park_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """One number in two parks of different names (青禾工业区38号 / 云杉工业区38栋): the number matched, so
    the judge called them one place (a corpus table held three such pairs in one cluster). Only where both
    give the same number right after the park, and the names share no character (``_PARK_NOT_NAMING``
    aside: 青禾 / 青河 may be a typo, and stays the judge's); one text naming a park inside another
    (西部工业区青禾工业园6栋) gives no number after its first park. Training parts: CCKS 8 fires,
    Shenzhen 1, all labelled two places."""
    if "工业" not in a.canon_rest and "园" not in a.canon_rest:  # the common case, before the search
        return None
    ma, mb = _PARK.search(a.canon_rest), _PARK.search(b.canon_rest)
    if ma is None or mb is None or ma.group(3) is None or ma.group(3) != mb.group(3):
        return None
    names_a = naming_chars(ma.group(1)[-_PARK_NAME_TAIL:], _PARK_NOT_NAMING)
    names_b = naming_chars(mb.group(1)[-_PARK_NAME_TAIL:], _PARK_NOT_NAMING)
    if not names_a or not names_b or not names_a.isdisjoint(names_b):
        return None
    return Conflict("zone", ma.group(0), mb.group(0), RULE_OF["zone"])


def relative_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """One side is located only relative to a street address (opposite, beside, near, 50 m east of it:
    ``_RELATIVE``) and the other is not located relative to anything: the first is not where the second
    is, however much of the text they share. Where both write a locator (8栋旁 / 8栋旁101: a room of the
    place beside it) the scorer decides, unless the two locate their places in opposite directions from
    one landmark (``_opposite_directions``)."""
    ma, mb = _relative(a.canon_rest), _relative(b.canon_rest)
    if bool(ma) == bool(mb):
        return _opposite_directions(a.canon_rest, b.canon_rest)
    other = b.canon_rest if ma else a.canon_rest
    if _RELATIVE_ANYWHERE.search(other):
        return None
    return Conflict("relative", ma, mb, RULE_OF["relative"])


#: A direction and a distance from a landmark (交叉口西50米, 向东约200米, 往西南100米).
_DIRECTION_DISTANCE: Final[re.Pattern[str]] = re.compile(
    r"(?:往|向)?([东西南北]{1,2})(?:方向)?约?\d+(?:\.\d+)?(?:米|公里)"
)


def _opposite_directions(text_a: str, text_b: str) -> Conflict | None:
    """The same landmark, then directions that share no side (路口向西50米 / 路口向东50米): two places on
    either side of it. Directions that share a side (东南 / 南) may be one place told two ways."""
    if "米" not in text_a or "米" not in text_b:  # the common case, at the cost of two membership tests
        return None
    ma, mb = _DIRECTION_DISTANCE.search(text_a), _DIRECTION_DISTANCE.search(text_b)
    if ma is None or mb is None or set(ma.group(1)) & set(mb.group(1)):
        return None
    if not same_words_before(text_a, ma.start(), text_b, mb.start()):
        return None
    return Conflict("relative", ma.group(0), mb.group(0), RULE_OF["relative"])


@lru_cache(maxsize=1 << 16)
def _relative(text: str) -> str:
    """The relative locator ending a place text, "" where none (cached like the zones)."""
    found = _RELATIVE.search(text)
    return found.group(0) if found else ""


#: A station named by its kind (青禾路地铁站, 淳安收费站, 虹桥火车站); its name is the run of Chinese
#: characters right before the kind word, back to a metro line's 线 or 号 (2号线青禾路地铁站) or any other
#: character, at most 8 (``_station_names``).
_STATION_KIND: Final[re.Pattern[str]] = re.compile(
    r"[（(]?(地铁站|收费站|火车站|高铁站|汽车站|客运站|公交站|加油站)"
)
_STATION_NAME_MAX: Final = 8


def _station_names(text: str) -> dict[str, str]:
    """kind → the first name of that kind in a place text (2号线青禾路地铁站D口 → {地铁站: 青禾路})."""
    found: dict[str, str] = {}
    if "站" not in text:
        return found
    for m in _STATION_KIND.finditer(text):
        end = start = m.start()
        while (
            start > 0
            and end - start < _STATION_NAME_MAX
            and "\u4e00" <= text[start - 1] <= "\u9fff"
            and text[start - 1] not in "线号"
        ):
            start -= 1
        if end - start >= 2:
            found.setdefault(m.group(1), text[start:end])
    return found


#: A numbered desk in a shared office (1201室1号工位, A区01工位, 工位3, 8号卡位): what a company register
#: gives each company a cluster registration places in one room. The normalizer has read 01 as 1.
_WORKSTATION: Final[re.Pattern[str]] = re.compile(
    r"(?<![A-Za-z\d])([A-Za-z]?\d{1,4})号?(?:工位|卡位|办公位)|(?:工位|卡位|办公位)号?([A-Za-z]?\d{1,4})"
)
_WORKSTATION_WORDS: Final[tuple[str, ...]] = ("工位", "卡位", "办公位")


def workstation_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """Two numbered desks of one shared office (1201室1号工位 / 2号工位: exact_match 0.90 before): two
    registered addresses, as two rooms are (``another_room``). Only where both texts number a desk."""
    if not any(w in a.canon_rest for w in _WORKSTATION_WORDS):
        return None
    ma, mb = _WORKSTATION.search(a.canon_rest), _WORKSTATION.search(b.canon_rest)
    if ma is None or mb is None:
        return None
    da, db = (ma.group(1) or ma.group(2)).upper(), (mb.group(1) or mb.group(2)).upper()
    if da == db:
        return None
    return Conflict("roomno", ma.group(0), mb.group(0), RULE_OF["roomno"])


def station_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """Two stations of one kind named apart (2号线青禾路地铁站 / 云杉路地铁站, 淳安收费站 / 青禾江收费站): a
    similarity model reads the shared kind, line and exit as the same place. Names more than one character
    apart that share no two characters in a row (one name inside the other, 青禾 / 青禾东, is one station;
    云杉 / 云衫 a misspelling). Read in the place text after the admin prefix (``canon_rest``)."""
    sa, sb = _station_names(a.canon_rest), _station_names(b.canon_rest)
    for kind, na in sa.items():
        nb = sb.get(kind)
        if (
            nb is not None
            and na not in nb
            and nb not in na
            and not char_bigrams(na) & char_bigrams(nb)
            and Levenshtein.distance(na, nb) > 1
        ):
            return Conflict("station", na + kind, nb + kind, RULE_OF["station"])
    return None


#: A building of an estate named by two characters and its kind (青禾花园城云杉阁, 云杉湾松风轩,
#: 云杉花城牡丹苑, 云杉绿城丽园), closing the place text but for its numbers (…云杉阁3栋2单元). A side
#: and its kind (饭店北楼) is a zone's (``_SIDE``).
_NAMED_BUILDING: Final[re.Pattern[str]] = re.compile(
    r"([\u4e00-\u9fff]{2}[阁轩居楼苑园])(?=[\dA-Z栋座幢单元层室号-]*$)"
)
#: What the two texts write right before the building's name must agree this far (one estate).
_ESTATE_TAIL: Final = 3


def _end_alike(x: str, y: str, tail: int) -> bool:
    """The last ``tail`` characters of ``x`` and ``y`` are the same (``x`` has that many): the words before
    two named parts name one place (an estate, a university, a hotel)."""
    return len(x) >= tail and x[-tail:] == y[-tail:]


_SIDES: Final = "东西南北中"
#: The words that close an estate's own name rather than a court's (青禾花园, 云杉家园): one character
#: before them may be a typo of the estate's name, which the judge decides. 苑 keeps every name: a court
#: is as often 桂花苑 as an estate 青禾花苑.
_ESTATE_WORDS: Final[frozenset[str]] = frozenset({"花园", "家园", "公园", "乐园", "庄园", "田园", "校园"})


def named_building_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """Two buildings of one estate named apart (云杉阁 / 青禾阁, 松风轩 / 竹韵轩, or one character apart): the
    texts agree up to the building's name, which one character can change. CCKS training part: 5 such
    pairs, none labelled exact_match; found in a corpus table, where named buildings were one cluster."""
    ma, mb = _NAMED_BUILDING.search(a.canon_rest), _NAMED_BUILDING.search(b.canon_rest)
    if ma is None or mb is None:
        return None
    na, nb = ma.group(1), mb.group(1)
    if na == nb or na[-1] != nb[-1] or na[-2] in _SIDES or nb[-2] in _SIDES:
        return None
    if na[-2:] in _ESTATE_WORDS or nb[-2:] in _ESTATE_WORDS:  # the estate's own name: 青禾花园 / 青河花园
        return None
    before_a, before_b = a.canon_rest[: ma.start()], b.canon_rest[: mb.start()]
    if not _end_alike(before_a, before_b, _ESTATE_TAIL):
        return None
    return Conflict("houseno", na, nb, RULE_OF["houseno"])


#: The kinds of building or compound that close a named place (云杉大厦, 青禾花园, 松风公寓): two of one
#: kind whose names share no character are two places (``named_place_conflict``).
_NAMED_PLACE_KIND: Final[re.Pattern[str]] = re.compile(r"(?:大厦|大楼|广场|花园|小区|公寓|家园|苑|中心)$")
#: Characters that name nothing in a place's name: the generic words of ``naming_chars`` and numerals
#: (九号小区 = 9号小区).
_PLACE_NOT_NAMING: Final[frozenset[str]] = GENERIC_NAME_CHARS | frozenset(NUMERAL_CHARS)


def named_place_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """Two named places of one kind whose names share no character (青禾银行大厦 / 杭州云杉大厦, 青禾花园 /
    松风花园): two places, whatever else the texts share (a car park's, a gate's or a unit's words, a
    door). Only where both POIs close with the same kind and each name keeps a naming character (not a
    number or a generic word), and neither text writes the other's name (a building written with its old
    and new names). CCKS development part: it fires on 205 pairs, none labelled exact_match (12
    partial_match); Shenzhen train: 150, none a match."""
    pa, pb = a.comps.get("poi"), b.comps.get("poi")
    if not pa or not pb or pa == pb:
        return None
    if _regional_namesakes(a, b, pa, pb):
        return Conflict("named_place", pa, pb, RULE_OF["named_place"])
    ka, kb = _NAMED_PLACE_KIND.search(pa), _NAMED_PLACE_KIND.search(pb)
    if ka is None or kb is None or ka.group(0) != kb.group(0):
        return None
    na, nb = _heads(pa[: ka.start()], pb[: kb.start()])
    chars_a, chars_b = naming_chars(na, _PLACE_NOT_NAMING), naming_chars(nb, _PLACE_NOT_NAMING)
    if not chars_a or not chars_b or not chars_a.isdisjoint(chars_b):
        return None
    # the raw tail too: a note the normalizer drops may give the old name ((原松风大厦))
    if na in b.text or nb in a.text or na in b.tail or nb in a.tail:
        return None
    return Conflict("named_place", pa, pb, RULE_OF["named_place"])


def _heads(na: str, nb: str) -> tuple[str, str]:
    """Two names without the words they end with alike (青禾时代 / 云杉时代: 青禾 / 云杉), where both keep
    two characters or more and neither kept head is a province's or a city's name (杭州万达 / 拱墅万达:
    one mall written with its city or its district); the names as given otherwise."""
    common = 0
    while common < min(len(na), len(nb)) and na[-1 - common] == nb[-1 - common]:
        common += 1
    ha, hb = na[: len(na) - common], nb[: len(nb) - common]
    if common == 0 or len(ha) < 2 or len(hb) < 2 or _is_region(ha) or _is_region(hb):
        return na, nb
    return ha, hb


@lru_cache(maxsize=1 << 14)
def _is_region(name: str) -> bool:
    """A province's or a city's name, full or short (杭州, 浙江省)."""
    return any(d.level in ("prov", "city") for d in gazetteer.lookup(name))


#: The shortest name left after a region's name for two namesakes to be compared (浙江青禾学院: 青禾学院).
_NAMESAKE_MIN: Final = 4


def _regional_namesakes(a: AddressView, b: AddressView, pa: str, pb: str) -> bool:
    """One name after two regions' names (浙江青禾职业技术学院 / 陕西青禾职业技术学院, 杭州青禾银行 / 宁波
    青禾银行): each its region's institution, two places, however much else the texts share. Neither
    text may write the other's region (a company registered in one province, at an address in another)."""
    ra, rb = _leading_region(pa), _leading_region(pb)
    if ra is None or rb is None or ra[0] == rb[0] or ra[1] != rb[1]:
        return False
    return ra[0] not in b.text and rb[0] not in a.text


@lru_cache(maxsize=1 << 14)
def _leading_region(name: str) -> tuple[str, str] | None:
    """The short name of a province or a city opening a place's name, and the name after it (浙江青禾学院:
    浙江, 青禾学院), or None."""
    for size in (3, 2):
        head = name[:size]
        if len(name) - size >= _NAMESAKE_MIN and any(
            d.level in ("prov", "city") and d.short_name == head for d in gazetteer.lookup(head)
        ):
            return head, name[size:]
    return None


#: A school or department of a university or college: the parent's word, the unit's name and its kind
#: (青禾大学计算机学院, 青禾美术学院象山校区艺术设计系).
_SCHOOL_UNIT: Final[re.Pattern[str]] = re.compile(
    r"(大学|学院)([\u4e00-\u9fff]{2,10}?)(学院|系|研究所|研究院)"
)
#: How much of the parent's (or a facility's holder's) name must be the same for two units to be of one.
_PARENT_TAIL: Final = 4


def school_unit_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """Two schools or departments of one university (青禾美术学院象山校区-艺术设计系 / -美术教育系,
    青禾职业技术学院运输管理学院 / 海运学院): two places on one campus, merged by a corpus dedupe at
    0.30–0.47. Only where the parent's name ends alike, the units are of one kind and neither name
    holds the other (计算机学院 / 计算机科学与技术学院 is one school written two ways)."""
    ma, mb = _SCHOOL_UNIT.search(a.canon_rest), _SCHOOL_UNIT.search(b.canon_rest)
    if ma is None or mb is None or ma.group(3) != mb.group(3):
        return None
    na, nb = ma.group(2), mb.group(2)
    if na in nb or nb in na:
        return None
    parent_a, parent_b = a.canon_rest[: ma.end(1)], b.canon_rest[: mb.end(1)]
    if not _end_alike(parent_a, parent_b, _PARENT_TAIL):
        return None
    return Conflict("named_place", na + ma.group(3), nb + mb.group(3), RULE_OF["named_place"])


#: A place that holds facilities of its own (a hotel's spa and its car park, a college's tennis court and
#: its shop, a temple's two steles), closing the words before a facility's name (紫金港国际饭店-足浴).
_FACILITY_HOLDER: Final[re.Pattern[str]] = re.compile(
    r"(饭店|酒店|宾馆|学院|大学|学校|中学|小学|医院|公园|广场|大厦|中心|市场|商场|景区|寺|庙|博物馆|体育场|体育馆)-?"
)
#: Words after a holder that name no facility of it: where, how much, or a delivery note (前台收).
_NOT_A_FACILITY: Final[frozenset[str]] = frozenset(
    {"整套", "附近", "对面", "旁边", "楼上", "楼下", "门口", "内部", "里面", "院内", "店内"}
)


def sub_facility_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """Two facilities of one place (青禾国际饭店-足浴 / 青禾国际饭店停车场, 青禾学院网球场 / 青禾学院便利店):
    the texts end with one holder's name (its last four characters alike) and then two short names of
    Chinese characters that share none. Merged by a corpus dedupe at 0.21–0.24. CCKS development part: 17
    fires, none labelled exact_match (11 partial_match: a college's gate against its campus, say); Shenzhen
    train: none."""
    fa, fb = _facility_after_holder(a.canon_rest), _facility_after_holder(b.canon_rest)
    if fa is None or fb is None:
        return None
    (holder_a, na), (holder_b, nb) = fa, fb
    if not _end_alike(holder_a, holder_b, _PARENT_TAIL) or not set(na).isdisjoint(nb):
        return None
    if kind_conflict(a, b) is not None:  # two kinds of facility after one name: reported as such
        return None
    return Conflict("named_place", na, nb, RULE_OF["named_place"])


def _facility_after_holder(rest: str) -> tuple[str, str] | None:
    """The text up to the last holder's name (``_FACILITY_HOLDER``) and the facility's name after it, when
    that name is 2–6 Chinese characters, no numeral, no note (``_NOT_A_FACILITY``, 前台收)."""
    last = _last(_FACILITY_HOLDER.finditer(rest))
    if last is None:
        return None
    name = rest[last.end() :]
    if not 2 <= len(name) <= 6 or name in _NOT_A_FACILITY or name.endswith("收"):
        return None
    if not all("\u4e00" <= ch <= "\u9fff" and ch not in NUMERAL_CHARS for ch in name):
        return None
    return rest[: last.end(1)], name


#: Kinds of facility that close a place's name (青禾小学, 青禾派出所, 青禾超市), each to the kind it is
#: (大酒店 = 酒店 = 宾馆, 药房 = 药店): two kinds after one name are two places (青禾小学 / 青禾中学,
#: 镇政府 / 镇派出所, 青禾超市 / 青禾药店). Not the kinds that hold others (大厦, 广场, 中心, 小区: a shop
#: in 青禾广场 is at 青禾大厦 as often as not).
_FACILITY_KINDS: Final[dict[str, str]] = {
    **{
        kind: kind
        for kind in (
            *("小学", "中学", "大学", "学院", "幼儿园", "医院", "卫生院", "诊所", "派出所", "政府", "法院"),
            *("检察院", "超市", "便利店", "餐厅", "银行", "加油站", "菜市场", "公园", "体育馆", "图书馆"),
            *("博物馆", "电影院", "邮局", "消防站", "药店", "酒店", "咖啡"),
            # the parts of a school or a hospital (青禾中学初中部 / 高中部, 门诊部 / 住院部)
            *("初中部", "高中部", "小学部", "门诊部", "住院部"),
        )
    },
    **{"药房": "药店", "大药房": "药店", "大酒店": "酒店", "宾馆": "酒店"},
    **{"咖啡厅": "咖啡", "咖啡馆": "咖啡", "门诊楼": "门诊部", "住院楼": "住院部"},
}
_FACILITY_END: Final[re.Pattern[str]] = re.compile(
    "(" + "|".join(sorted(_FACILITY_KINDS, key=len, reverse=True)) + ")$"
)


#: A local office of one kind named by the place it serves (云杉派出所, 云杉街道社区卫生服务中心, 青禾
#: 人民法庭), each to the kind it is; the name is read before a township's word (街道, 镇, 乡, 社区).
_OFFICE_KINDS: Final[dict[str, str]] = {
    **{
        kind: kind
        for kind in (
            *("派出所", "卫生院", "司法所", "税务所", "供电所", "邮政所", "财政所"),
            # a traffic police unit named by its area (西湖大队, 青禾中队)
            *("交警中队", "中队", "大队"),
        )
    },
    **{
        "社区卫生服务中心": "卫生服务中心",
        "卫生服务中心": "卫生服务中心",
        "人民法庭": "法庭",
        "法庭": "法庭",
        "中心卫生院": "卫生院",
        "边防派出所": "派出所",
    },
}
_OFFICE: Final[re.Pattern[str]] = re.compile(
    r"([\u4e00-\u9fff]{2})(?:街道|镇|乡|社区)?("
    + "|".join(sorted(_OFFICE_KINDS, key=len, reverse=True))
    + ")"
)


_OFFICE_NAME_CHARS: Final[frozenset[str]] = frozenset("栋号室层楼座幢单元")


def office_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """Two local offices of one kind named by two places (公安局西湖分局云杉派出所 / 萧山区分局松风派出所,
    云杉街道社区卫生服务中心 / 松风街道社区卫生服务中心): two offices, which a model reads as one name
    and one kind (0.30 in a corpus table's dedupe). The last two characters of each name are compared,
    so 云杉派出所 and 西湖分局云杉派出所 are one, and so are 青禾镇卫生院 and 青禾镇中心卫生院. On the CCKS
    development part and Shenzhen train it moves no answer (one pair of two 派出所 there, labelled
    not_match, is answered so already)."""
    # the finest office each text names (交警支队西湖大队青禾中队: the 中队, not the 大队 both share)
    ma, mb = _last(_OFFICE.finditer(a.canon_rest)), _last(_OFFICE.finditer(b.canon_rest))
    if ma is None or mb is None or _OFFICE_KINDS[ma.group(2)] != _OFFICE_KINDS[mb.group(2)]:
        return None
    na, nb = ma.group(1), mb.group(1)
    # a name cut from a building's or a door's word is no name read (号楼 before a village's name is
    # written 栋: 18栋云村派出所)
    if na == nb or not _OFFICE_NAME_CHARS.isdisjoint(na + nb):
        return None
    if any(ch.isdigit() or ch in NUMERAL_CHARS or ch == "第" for ch in na + nb):
        return None  # a numbered unit (三大队, 第二中队): ``ordinal_conflict``'s, by its number
    return Conflict("branch", na + ma.group(2), nb + mb.group(2), RULE_OF["branch"])


def _last(matches: Iterator[re.Match[str]]) -> re.Match[str] | None:
    last = deque(matches, maxlen=1)
    return last[0] if last else None


def kind_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """One name closed by two kinds of facility (青禾路18号青禾小学 / 青禾中学, 镇政府 / 镇派出所): the
    place texts agree up to the kind, and the kinds are not one (``_FACILITY_KINDS``)."""
    ma, mb = _FACILITY_END.search(a.canon_rest), _FACILITY_END.search(b.canon_rest)
    if ma is None or mb is None or a.canon_rest[: ma.start()] != b.canon_rest[: mb.start()]:
        return None
    ka, kb = ma.group(1), mb.group(1)
    if _FACILITY_KINDS[ka] == _FACILITY_KINDS[kb]:
        return None
    return Conflict("kind", ka, kb, RULE_OF["kind"])


#: What a building of a factory, a school or an office park is used for, by the word that says so: a
#: park numbers each kind on its own (宿舍A栋 / 厂房A栋), and a school's dormitory is not its teaching
#: building (青禾小学宿舍楼 / 青禾小学教学楼).
_BUILDING_USES: Final[tuple[str, ...]] = ("宿舍", "厂房", "教学楼", "办公楼", "实验楼", "食堂")


def building_use_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """Two buildings of one place by their uses (青禾厂宿舍A栋 / 青禾厂厂房A栋, 青禾小学宿舍楼 / 教学楼): each
    text names a use the other does not, and they share none. Shenzhen train: the dormitory and workshop
    fired on 31 pairs, none a match (a corpus dedupe had merged 宿舍楼A栋 / 厂房A栋); the CCKS development
    part has none."""
    ua, ub = _uses(a.canon_rest), _uses(b.canon_rest)
    if not ua or not ub or not ua.isdisjoint(ub):
        return None
    return Conflict("kind", "、".join(sorted(ua)), "、".join(sorted(ub)), RULE_OF["kind"])


def _uses(text: str) -> frozenset[str]:
    return frozenset(use for use in _BUILDING_USES if use in text)


def ordinal_conflict(a: AddressView, b: AddressView) -> Conflict | None:
    """Another numbered place of the same kind (第一小学 / 第二小学): both place texts name one, with
    different ordinals."""
    oa, ob = _ordinals(a.canon_rest), _ordinals(b.canon_rest)
    for kind, number in oa.items():  # in text order: the same conflict reported on every run
        if kind in ob and ob[kind] != number:
            return Conflict("poi", f"第{number}{kind}", f"第{ob[kind]}{kind}", RULE_OF["poi"])
    return None


@lru_cache(maxsize=1 << 16)
def _ordinals(text: str) -> dict[str, int]:
    """The first ordinal of each numbered kind in a place text, as a number (cached like the zones)."""
    found: dict[str, int] = {}
    matches = list(_ORDINAL.finditer(text)) if "第" in text else []
    if "工业" in text or "队" in text:
        matches += _NUMBERED_PARK.finditer(text)
    if "厂房" in text:
        matches += _NUMBERED_WORKSHOP.finditer(text)
    for m in sorted(matches, key=lambda m: m.start()):
        number = number_value(m.group("number"))
        if number is not None:
            found.setdefault(m.group("kind"), number)
    return found


@lru_cache(maxsize=1 << 16)
def _compound_parts(text: str) -> tuple[str, str, str, str, str, str, str, str, str, str]:
    """The first zone, phase, side, station exit, gate by side, gate by number, village group, cluster
    (组团), yard (号院) and village section (三片) in a place text ("" where none): cached, since a link
    run compares one record with each of its candidates."""
    zone, phase, side = _ZONE.search(text), _PHASE.search(text), _SIDE.search(text)
    cluster = _CLUSTER.search(text) if "组团" in text else None
    yard = _COMPOUND_YARD.search(text) if "号院" in text else None
    exit_ = _EXIT.search(text) if "口" in text else None
    side_gate = number_gate = ""
    if "门" in text:
        for gate in _GATE.finditer(text):
            if _gate_kind(gate.group(1)) == "number":
                number_gate = number_gate or gate.group(0)
            else:
                side_gate = side_gate or gate.group(0)
    group = _VILLAGE_GROUP.search(text) if any(word in text for word in _VILLAGE_WORDS) else None
    section = _VILLAGE_SECTION.search(text) if "片" in text or "排" in text else None
    return (
        zone.group(0) if zone else "",
        phase.group(0) if phase else "",
        # a side of the road or of a floor closing the text (中段路南, 12楼东) is its 侧
        (side.group(0) + "侧" if len(side.group(0)) == 1 else side.group(0)) if side else "",
        exit_.group(1).upper() + "口" if exit_ else "",
        side_gate,
        number_gate,
        group.group(1) + "组" if group else "",
        cluster.group(0) if cluster else "",
        yard.group(0) if yard else "",
        f"{number_value(section.group(1))}{section.group(2)}" if section else "",
    )
