"""One address, analyzed once: the view that the matcher's features, the rule layer, blocking and the
link judge all read (parse + gazetteer resolution + typed numbers).

``analyze(text)`` parses a cleaned address (which also normalizes it), resolves its admin prefix with the
gazetteer (old names mapped to current ones) and summarizes it as an ``AddressView``: component values,
number sets, character bigrams, the typed numbers read straight off the normalized text (369号, 3栋,
2单元, 12层, 501室), and for the rule layer the place text after the admin prefix. ``ViewCache`` keeps the
views of recent addresses (parse is the expensive step; addresses repeat across pairs and batches), up
to a bound the user sets (``--parse-cache``).

A view is kept compact because a long job or a service holds tens of thousands of them: it stores what
only the parse can give (component values, typed numbers, admin names, the derived texts) and computes
the character sets, bigrams and character positions from its text when the features ask (a few
microseconds, kept for the last ``SUMMARY_CACHE`` texts, so an address compared with many others pays
once). Storing those in every view made it ~19 KB (four fifths of it); now it is ~4 KB.

It lives in ``address/`` (pure text, no model of its own besides the parser) so that blocking and the
judge need no scorer module; the structured scorer's features are computed from it.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING, Final

from geoalign.address import gazetteer
from geoalign.address.normalize import fold_simplified
from geoalign.address.numerals import NUMERAL_RUN, numeral_as_digits
from geoalign.address.variants import fold_variants
from geoalign.types import COMPONENT_NAMES, Components, ItemError

if TYPE_CHECKING:
    from geoalign.address.gazetteer import Resolution, Span

#: Component types compared level by level (NAACL-2019 scheme, coarse to fine): every address element
#: except the ones that say nothing about the place (country is implied; person/assist/redundant/otherinfo).
LEVELS: Final[tuple[str, ...]] = tuple(
    name for name in COMPONENT_NAMES if name not in {"country", "person", "assist", "redundant", "otherinfo"}
)
#: Levels whose values are numbers: compared for equality (hard evidence), never fuzzily.
NUMBER_LEVELS: Final[frozenset[str]] = frozenset(
    {"roadno", "subroadno", "houseno", "cellno", "floorno", "roomno"}
)
ADMIN_LEVELS: Final[tuple[str, ...]] = ("prov", "city", "district", "devzone", "town", "community")

_DIGITS = re.compile(r"\d+")
_LATIN = re.compile(r"[A-Za-z]+\d*|\d+[A-Za-z]+")
_PAREN = re.compile(r"[(（\[【]([^)）\]】]*)[)）\]】]")
#: Words that close a branch's name: a shop's (望京店, 徐家汇分店), a bank's (解放路支行, 城南营业部), a
#: telecom shop's (文三路营业厅).
BRANCH_WORDS: Final[str] = "分店|店|支行|分行|营业部|营业厅|营业所|分理处|储蓄所"
#: A branch named in brackets after its chain's name; the closing bracket may be missing (星巴克(国贸店).
#: Not a landmark the address is near ((近肯德基店), (距万达店200米) is no branch of this place).
_BRANCH_NOTE: Final[re.Pattern[str]] = re.compile(
    rf"[(（](?!近|靠近|邻近|附近|位于|距)([^()（）]{{1,20}}?)(?:{BRANCH_WORDS})(?:[)）]|$)"
)
#: A bank's branch written without brackets (中国工商银行青禾支行, 云杉农商银行松风分理处, 云杉农村信用社青禾
#: 营业部 / 信用分社): its name, as a bracketed (青禾支行) gives it. CCKS training part: 2 pairs name two
#: such branches, both labelled not_match; Shenzhen train: none.
_BANK_BRANCH: Final[re.Pattern[str]] = re.compile(
    r"(?:银行|信用社|信用联社|信用合作社|合作联社|储蓄)(?:(?:股份)?有限公司)?([\u4e00-\u9fff]{2,10}?)"
    r"(?:支行|分行|营业部|分理处|储蓄所|信用分社|分社)"
)
#: A level below the branch ``_BANK_BRANCH`` found, written right after it (工商银行浙江分行营业部青禾支行:
#: the sub-branch 青禾 of the provincial branch's business department): the finest level names the office.
_SUB_BRANCH: Final[re.Pattern[str]] = re.compile(
    r"(?:营业部|分行|支行)?([\u4e00-\u9fff]{2,10}?)(?:支行|分行|营业部|分理处|储蓄所|信用分社|分社)"
)
#: What every text ``_BANK_BRANCH`` can match holds (the search is skipped without one of them).
_BANK_WORDS: Final[re.Pattern[str]] = re.compile("行|储蓄|信用|合作")
#: A chain's outlet named in brackets by its road alone (交通银行24小时自助银行(青禾路) / (云杉一路),
#: 某某超市(青禾路)): the road is the branch's name. Only right after a chain's kind of place; a side or
#: 口 after the road is part of the same name (青禾路南 and 青禾路 are one outlet: one name inside the other).
_CHAIN_ROAD_NOTE: Final[re.Pattern[str]] = re.compile(
    r"(?:银行|超市|便利店|加油站|药房|药店|酒店|宾馆|店)[(（](?!近|靠近|邻近|附近|位于|距)"
    r"([^()（）]{1,12}?(?:路|街|大道|大街)[东西南北]?口?)[)）]"
)
#: Typed numbers read straight off the normalized text, independent of the parser: they keep the hard
#: evidence when the parser mislabels a span (e.g. a building number tagged as poi). Keys are the
#: names the structured model's features carry (``t_hao_state`` ...); ``TYPED_OF`` maps components to them.
TYPED_PATTERNS: Final[dict[str, re.Pattern[str]]] = {
    # a list of numbers (76、78、80号: the normalizer keeps the 、) types its first number; 2号线 is a
    # metro line, not a door (1号线 / 4号线 name one interchange station)
    "t_hao": re.compile(r"(\d+)(?:、\d+)*(?:-\d+)?号(?!楼|院|线)"),
    "t_building": re.compile(r"(?:(\d+)(?:、\d+)*|([A-Za-z]\d*))(?:号楼|栋|幢|座|号院|#楼?)"),
    "t_unit": re.compile(r"(\d+)单元"),
    "t_floor": re.compile(r"(负?\d+)(?:层|楼(?!\d))"),  # 负1层: the normalizer's basement form
    "t_room": re.compile(r"(\d+)(?:室|房|号房)"),
}
#: The typed number of each hard-number component (road number, building, unit, floor, room).
TYPED_OF: Final[dict[str, str]] = {
    "roadno": "t_hao",
    "houseno": "t_building",
    "cellno": "t_unit",
    "floorno": "t_floor",
    "roomno": "t_room",
}

#: Characters that structure an address rather than name a place (suffixes, directions, unit words).
#: Overlap on the *other* characters says whether two addresses name the same thing; 路/号/市 are
#: shared by almost every pair and would drown that signal.
_FUNCTION_CHARS: Final[frozenset[str]] = frozenset(
    "省市区县旗镇乡街道路巷弄里号栋幢座楼单元层室村组社居委会小大厦广场中心花园苑府城东西南北内外旁对面附近侧口"
    "-() "
)
_SKELETON: Final[frozenset[str]] = frozenset(
    {"prov", "city", "district", "devzone", "town", "community", "road", "roadno", "subroad", "subroadno"}
)

Admin = tuple[str | None, str | None, str | None, str | None]

#: Parsed addresses a cache keeps by default (``--parse-cache``): at ~3 KB per compact view this bounds
#: the cache near 150 MB, which keeps ``geoalign serve`` (shipped models loaded) under ~1 GB RSS.
#: Measured by ``benchmarks/bench_parse_cache.py``.
DEFAULT_PARSE_CACHE: Final[int] = 50_000


@dataclass(frozen=True, slots=True)
class AddressView:
    """What the pair features and the rules need about one address; built once per distinct address.
    The character-level summaries (``chars``, ``bigrams``, ``positions`` and their ``content_``
    counterparts) are computed on each read, not stored (see the module docstring)."""

    text: str
    comps: dict[str, str]
    numbers: frozenset[str]
    latin: frozenset[str]
    typed: dict[str, str]
    paren: str
    #: text after the address skeleton (admin, road, road number): the POI / building part
    tail: str = ""
    #: the text without address-function characters and digits: what names the place
    content: str = ""
    #: completed admin names (prov, city, district, town) from the gazetteer; None where unknown
    admin: Admin = (None, None, None, None)
    #: for the rule layer: the admin names the text states (full current names, old names mapped; None
    #: for a level the text does not write) and the place text after the admin prefix, both resolved
    #: on the variant-folded normalized text (鼓搂 -> 鼓楼)
    canon_admin: Admin = (None, None, None, None)
    canon_rest: str = ""
    #: the branch a bracketed note names (如家酒店(望京店): 望京; (解放路支行): 解放路), read off the raw
    #: text: the parse may leave the note out of every component or read a road inside it
    branch: str = ""
    #: the branch is an outlet's road alone (自助银行(青禾路): ``_CHAIN_ROAD_NOTE``), not a name of its own
    branch_by_road: bool = False

    @property
    def bigrams(self) -> frozenset[str]:
        return _summary(self.text)[1]

    @property
    def chars(self) -> frozenset[str]:
        return _summary(self.text)[0]

    @property
    def content_chars(self) -> frozenset[str]:
        return _summary(self.content)[0]

    @property
    def positions(self) -> dict[str, list[int]]:
        """Where each character occurs (shared with other readers of this text: read it, never change it)."""
        return _summary(self.text)[2]

    @property
    def content_positions(self) -> dict[str, list[int]]:
        return _summary(self.content)[2]


def char_bigrams(text: str) -> frozenset[str]:
    """The character bigrams of ``text`` (one character alone stands for itself)."""
    if len(text) < 2:
        return frozenset((text,)) if text else frozenset()
    return frozenset(text[i : i + 2] for i in range(len(text) - 1))


#: Texts whose character summaries are kept: an address compared with many others (a query against its
#: candidates, a reference record) computes them once, and memory stays bounded (~12 KB per text).
SUMMARY_CACHE: Final[int] = 1024


@lru_cache(maxsize=SUMMARY_CACHE)
def _summary(text: str) -> tuple[frozenset[str], frozenset[str], dict[str, list[int]]]:
    """(characters, bigrams, character positions) of ``text``, for the pair features."""
    return frozenset(text), char_bigrams(text), char_positions(text)


#: A yard by number right after a road name (学院路30号院), or after a door's prefix (学院路甲30号院). As
#: the first numbered door of an address it is the door number: 学院路30号院3号楼 is building 3 behind
#: door 30, which 学院路30号3号楼 writes without the 院; so is a yard repeating the door before it
#: (政六街36号政六街36号院). After another door number, or after a compound's name (幸福路300号12号院,
#: 翠柏小区5号院), it is a yard of a compound: a building-level number, as before.
_YARD: Final[re.Pattern[str]] = re.compile(r"(?<=[路街道巷弄同段])[甲乙丙丁]?(\d+)号院")


def typed_numbers(text: str) -> dict[str, str]:
    """The first number of each typed form in ``text`` (key -> digits or building letter)."""
    found: dict[str, str] = {}
    for name, pattern in TYPED_PATTERNS.items():
        m = pattern.search(text)
        if m:
            found[name] = next(g for g in m.groups() if g)
    yard = _YARD.search(text) if "号院" in text else None
    if yard is None:
        return found
    door = TYPED_PATTERNS["t_hao"].search(text)
    if door is None or door.start() > yard.start():
        found["t_hao"] = yard.group(1)
    elif door.group(1) != yard.group(1):
        return found  # a yard of the compound behind that door: building-level, as typed
    building = _first_building_outside(text, yard.start(), yard.end())
    if building is None:
        found.pop("t_building", None)
    else:
        found["t_building"] = building
    return found


def _first_building_outside(text: str, start: int, end: int) -> str | None:
    """The first typed building number of ``text`` that is not the yard at ``text[start:end]``."""
    pattern = TYPED_PATTERNS["t_building"]
    m = pattern.search(text, 0, start) or pattern.search(text, end)
    return next(g for g in m.groups() if g) if m else None


def char_positions(text: str) -> dict[str, list[int]]:
    """Where each character occurs (computed once per address for ``longest_common_substring``)."""
    positions: dict[str, list[int]] = {}
    for j, ch in enumerate(text):
        positions.setdefault(ch, []).append(j)
    return positions


#: The municipalities written in full: the parse calls one a city (as the labelled data does) and its
#: short name a province; the views compare both at the province level.
_MUNICIPALITY_NAMES: Final[frozenset[str]] = frozenset({"北京市", "天津市", "上海市", "重庆市"})
_MUNICIPALITY_SHORT: Final[frozenset[str]] = frozenset(name[:2] for name in _MUNICIPALITY_NAMES)


#: A building letter and a room number read as one number (A801, C807室: the value A-801). The labelled
#: data tag such a run one way and another (NAACL: 50 whole rooms, 23 building + room, 11 whole
#: buildings), so the tagger does too; the view compares it as building + room either way.
_LETTERED_ROOM: Final[re.Pattern[str]] = re.compile(r"([A-Z])-(\d{3,4})")


def _split_lettered_room(comps: dict[str, str]) -> None:
    """Building + room for a lone building or room value A-801 when the other level is not stated, as the
    parse of A座801 and A-801 gives them (文三路369号A801 and 369号A座801 are one room)."""
    for name, other in (("houseno", "roomno"), ("roomno", "houseno")):
        value = comps.get(name)
        if value is None or other in comps:
            continue
        m = _LETTERED_ROOM.fullmatch(value)
        if m is not None:
            comps["houseno"], comps["roomno"] = m.group(1), m.group(2)
            return


#: A flat named by its floor and a letter (3栋12A, 3栋12B室, as Shenzhen writes flat A of floor 12), or a
#: room and a letter (501A, 501B室): the parse reads the run as a room (12-A), a unit (12-B), or a unit and
#: a room (12 + B), by the letter.
_FLOOR_FLAT: Final[re.Pattern[str]] = re.compile(r"\d{1,4}-[A-Z]")
_FLAT_LETTER: Final[re.Pattern[str]] = re.compile(r"[A-Z]")


def _room_with_letter(comps: dict[str, str], text: str) -> None:
    """One room, number-letter (12-A, 501-B), for a flat written by its floor or room number and a letter
    however the parse split it: a unit value 12-B with no room, a unit 12 and a room B where the text
    writes no unit (单元), or a floor 12 and a room B (12层B室: the floor is kept too). Read apart, 3栋12B
    and 3栋12B室 were two places (partial 0.98) and 3栋12A and 3栋12B (501A and 501B) shared no number to
    tell them apart."""
    cell, room = comps.get("cellno"), comps.get("roomno")
    if room is None:
        if cell is not None and _FLOOR_FLAT.fullmatch(cell):
            comps["roomno"] = cell
            del comps["cellno"]
        return
    if not _FLAT_LETTER.fullmatch(room):
        return
    if cell is not None and cell.isdigit() and len(cell) <= 4 and "单元" not in text:
        comps["roomno"] = f"{cell}-{room}"
        del comps["cellno"]
        return
    floor = comps.get("floorno")
    if floor is not None and floor.isdigit() and len(floor) <= 2:
        comps["roomno"] = f"{floor}-{room}"


#: A POI that is only a numbered yard (59号院): NAACL and CCKS tag a road's 59号院 as a POI, SuperMap as
#: its road number, and the tagger follows either.
_YARD_POI: Final[re.Pattern[str]] = re.compile(r"[甲乙丙丁]?(\d+)号院")


def _yard_as_road_number(comps: dict[str, str]) -> None:
    """The road number for a POI that is only a numbered yard right on a road with no number stated
    (南锣鼓巷59号院 is 南锣鼓巷59号, as ``typed_numbers`` reads it)."""
    poi = comps.get("poi")
    if poi is None or "roadno" in comps or "road" not in comps:
        return
    m = _YARD_POI.fullmatch(poi)
    if m is not None:
        comps["roadno"] = m.group(1)
        del comps["poi"]


def view_from_components(
    parsed: Components,
    text: str | None = None,
    admin: Admin = (None, None, None, None),
    canon_admin: Admin | None = None,
    canon_rest: str | None = None,
) -> AddressView:
    """Summarize one parsed address. ``text`` is the normalized text the text features use (default:
    ``parsed.normalized``); ``admin`` the gazetteer-completed admin names. Several components of one
    type are joined (a POI split in two parts is still one name); for numbers the first one counts
    (the coarsest, e.g. the road number). ``canon_admin``/``canon_rest`` default to ``admin`` and the
    text (what ``analyze`` computes on the variant-folded text).

    A component written wholly inside brackets is an aside (``(西门)``, ``(近学院路)``, ``【周末不收件】``):
    not compared as a component of the place. Its text still counts, as ``paren`` and in the text
    features. (The data sets label such an aside as a subpoi or assist like any other; whether the
    parser reads it as one must not decide whether two addresses are the same place.)"""
    asides = [m.span() for m in _PAREN.finditer(parsed.raw)]
    if asides and all(
        any(lo <= item.start and item.end <= hi for lo, hi in asides)
        for item in parsed.items
        if item.name in LEVELS
    ):
        asides = []  # the whole address in brackets (【文三路369号】) is no aside: it is the address
    comps: dict[str, str] = {}
    for item in parsed.items:
        name = item.name
        if name not in LEVELS:
            continue
        if asides and any(lo <= item.start and item.end <= hi for lo, hi in asides):
            continue
        value = (item.value or item.text).strip()
        if not value:
            continue
        if name == "city" and "prov" not in comps and value in _MUNICIPALITY_NAMES:
            name = "prov"  # 上海市 is compared where 上海 is, whichever level the parse names
        if name in comps:
            if name not in NUMBER_LEVELS:
                comps[name] += value
            continue
        comps[name] = value
    _split_lettered_room(comps)
    _yard_as_road_number(comps)
    text = parsed.normalized if text is None else text
    _room_with_letter(comps, text)
    # A value of a number level that is not a number (B座, 甲) keeps its text: still compared by equality.
    paren = "".join(_PAREN.findall(text))
    skeleton_end = max((c.end for c in parsed.items if c.name in _SKELETON), default=0)
    # Offsets index the raw input, not the normalized text (lengths differ), so the tail is raw text,
    # in simplified characters as the tagger read it (東門 and 东门 are one tail).
    folded_raw = fold_simplified(parsed.raw)
    tail = folded_raw[skeleton_end:]
    content = "".join(ch for ch in text if ch not in _FUNCTION_CHARS and not ch.isdigit())
    branch, branch_by_road = "", False
    if "(" in folded_raw or "（" in folded_raw:
        found = _BRANCH_NOTE.search(folded_raw)
        if found is None:
            found = _CHAIN_ROAD_NOTE.search(folded_raw)
            branch_by_road = found is not None
        branch = canonical_name(found.group(1)) if found else ""
    if not branch and _BANK_WORDS.search(folded_raw):
        branch = _bank_branch(folded_raw)
    return AddressView(
        text=text,
        comps=comps,
        numbers=frozenset(_DIGITS.findall(text)),
        latin=frozenset(m.upper() for m in _LATIN.findall(text)),
        typed=typed_numbers(text),
        paren=paren,
        admin=admin,
        tail=tail,
        content=content,
        canon_admin=admin if canon_admin is None else canon_admin,
        branch=branch,
        branch_by_road=branch_by_road,
        canon_rest=text if canon_rest is None else canon_rest,
    )


def analyze(text: str) -> AddressView:
    """Parse (which also normalizes) and resolve (gazetteer) one cleaned address into its view.

    The tagger sees the cleaned raw text, as in its training data; component values come back
    normalized (三幢 -> 3), and the text features use ``Components.normalized`` (the shared normalizer),
    so both sides of a pair are compared in one canonical spelling. Normalizing only once (inside
    parse) matters: it is a third of the per-address cost. The rule layer's fields are resolved again on
    the variant-folded text only where folding changed something.
    """
    from geoalign.address.parse import parse

    return _resolved_view(parse(text))


def analyze_many(texts: Sequence[str]) -> list[AddressView | ItemError]:
    """``analyze`` for many cleaned addresses at once: the parser tags them in one vectorised pass
    (``Parser.parse_many``, several times cheaper per address than one at a time). Each view equals
    ``analyze``'s; an address that cannot be analyzed is an ItemError in its slot."""
    from geoalign.address.parse import default_parser

    out: list[AddressView | ItemError] = []
    for parsed in default_parser().parse_many(texts):
        if isinstance(parsed, ItemError):
            out.append(parsed)
            continue
        try:
            out.append(_resolved_view(parsed))
        except Exception as exc:  # one address must not fail its batch; reported as analyze's would be
            out.append(_parse_failed(exc))
    return out


def _parse_failed(exc: Exception) -> ItemError:
    return ItemError("parse_failed", f"could not parse address: {type(exc).__name__}: {exc}")


def _bank_branch(text: str) -> str:
    """The finest branch of a bank a text names without brackets (``_BANK_BRANCH``, then each level
    ``_SUB_BRANCH`` reads right after it), or ""."""
    found = _BANK_BRANCH.search(text)
    if found is None:
        return ""
    name, end = found.group(1), found.end()
    while (finer := _SUB_BRANCH.match(text, end)) is not None:
        name, end = finer.group(1), finer.end()
    return canonical_name(name)


def _resolved_view(parsed: Components) -> AddressView:
    """The view of one parsed address: gazetteer resolution of its normalized text, the rule layer's
    stated admin levels, then ``view_from_components``."""
    resolution = gazetteer.resolve(parsed.normalized)
    admin = (resolution.prov, resolution.city, resolution.district, resolution.town)
    folded = fold_variants(parsed.normalized)
    if folded != parsed.normalized:
        resolution = gazetteer.resolve(folded)
    # only the levels the text states: a bare 江北区 completes to one of two cities, and a completed
    # name must not invent a conflict with the other address
    spans = resolution.spans
    stated = {
        span.level
        for i, span in enumerate(spans)
        if _states_level(span.text, span.level, span.old) and not _province_in_a_name(span, spans[i + 1 :])
    }
    if "district" not in stated and _short_district_after_city(parsed, resolution, folded):
        stated.add("district")
    if any(_states_province(span, parsed) for span in spans) and _writes_no_other_province(
        parsed, resolution
    ):
        stated.add("prov")
    canon_admin = (
        _stated_name(resolution, "prov", stated),
        _stated_name(resolution, "city", stated),
        _stated_name(resolution, "district", stated),
        resolution.town if "town" in stated else None,
    )
    # the place text starts where the admin prefix ends, or at a province's name that starts a name
    rest_from = spans[0].start if spans and _province_in_a_name(spans[0], spans[1:]) else resolution.end
    return view_from_components(parsed, parsed.normalized, admin, canon_admin, folded[rest_from:])


#: Joins the names a stated level may have where the gazetteer keeps several readings (江北区 alone: Ningbo's
#: 江北区, or Chongqing's former one, now 两江新区): ``conflicts.admin_names`` splits them again.
ADMIN_NAME_SEP: Final[str] = "|"


def _stated_name(resolution: Resolution, level: str, stated: Collection[str | None]) -> str | None:
    """The current name of a level the text states; where the readings disagree on it, every name they
    give, joined (a conflict then needs the other side to be none of them)."""
    if level not in stated:
        return None
    name: str | None = getattr(resolution, level)
    if name is not None or not resolution.ambiguous:
        return name
    names = sorted({d.name for path in resolution.candidates for d in path if d.level == level})
    return ADMIN_NAME_SEP.join(names) if names else None


_ADMIN_SUFFIX: Final[tuple[str, ...]] = ("省", "市", "区", "县", "州", "盟", "旗", "自治区")
#: The kinds of township a text states in full (虎门镇, 新安街道, and a street office written with its
#: office: 云杉街道办事处, 云杉街道办, the gazetteer's 云杉街道); ``conflicts`` strips them to compare a
#: township across a change of kind (永阳镇 / 永阳街道). Longest first, so that a stem loses the whole word.
TOWN_SUFFIXES: Final[tuple[str, ...]] = ("街道办事处", "街道办", "办事处", "镇", "乡", "街道", "苏木")


def _province_in_a_name(span: Span, after: Sequence[Span]) -> bool:
    """A province's short name that no division follows (山西新村, 江西工业区, 河北大厦): the start of a
    name, not the province (浙江杭州 is). Not a municipality's (北京长安街: the city is the province)."""
    return (
        span.level == "prov"
        and not span.text.endswith(_ADMIN_SUFFIX)
        and span.text[:2] not in _MUNICIPALITY_SHORT
        and not (after and after[0].start == span.end)
    )


def _states_province(span: Span, parsed: Components) -> bool:
    """Whether a city or district written in full states its province (衡阳市 and 象山县 are in one
    province each): an address in another province is another place, though the text leaves its province
    out. Not a short name (朝阳门 starts with 朝阳, a city of 辽宁省, and is a gate of 北京); a district
    only where the parse tags it one (莒县路 is a road of 青岛). The district's city is not stated here:
    the other side's short city names are read too readily (南昌村 in 深圳, 杭州湾新区 in 慈溪), and
    宝安区 / 慈溪市 then made 37 Shenzhen and 11 CCKS training pairs another city, each one place or
    partial (``conflicts.admin._district_city_conflict`` compares it with a city written in full)."""
    if span.level not in ("city", "district") or not span.text.endswith(_ADMIN_SUFFIX):
        return False
    return span.level == "city" or any(c.name == "district" and c.text == span.text for c in parsed)


def _writes_no_other_province(parsed: Components, resolution: Resolution) -> bool:
    """False where the parse reads a province the gazetteer did not resolve the text into (合肥市河南省…:
    a slip of one side, which then states no province of its own)."""
    written = next((c.text for c in parsed if c.name == "prov"), None)
    return written is None or resolution.prov is None or resolution.prov[:2] == written[:2]


def _short_district_after_city(parsed: Components, resolution: Resolution, text: str) -> bool:
    """Whether a current district is written by its short name right after its city (or
    municipality: 北京朝阳) and the parse tags it a district too (温州龙湾, 杭州市西湖: 温州龙湾人民东路 and
    温州鹿城人民东路 are two districts). A short name elsewhere (红星工业园) states no
    district; nor one followed by another division's full name (南京市秦淮溧水区: 溧水区 is what it says)."""
    spans = resolution.spans
    for before, span in pairwise(spans):
        if (
            span.level == "district"
            and not span.old
            and (before.level == "city" or before.text[:2] in _MUNICIPALITY_SHORT)
            and before.end == span.start
            and any(c.name == "district" and c.text == span.text for c in parsed)
            and not any(gazetteer.is_division_name(text[span.end : span.end + k]) for k in range(2, 6))
        ):
            return True
    return False


def _states_level(text: str, level: str | None, old: bool) -> bool:
    """Whether a resolved span really states its level: a district (or a former name) only when written
    in full with its suffix (红星工业园 must not read as the former 红星区); a province or city also by
    its short name (浙江杭州); a township only in full (虎门镇, 新安街道)."""
    if level is None:
        return False
    if level == "town":
        return text.endswith(TOWN_SUFFIXES)
    if text.endswith(_ADMIN_SUFFIX):
        return True
    return level in ("prov", "city") and not old


@lru_cache(maxsize=1 << 16)
def canonical_name(value: str) -> str:
    """One spelling of a road or area name for comparison: width, simplified script, numerals as digits
    (人民南路四段 -> 人民南路4段), variant spellings folded (``address.variants``)."""
    from geoalign.address.normalize import to_simplified, width

    text = to_simplified(width(value)).strip()
    text = NUMERAL_RUN.sub(numeral_as_digits, text)
    return fold_variants(text)


class ViewCache:
    """Views of recent addresses keyed by cleaned text, with a lock (the engine calls ``prepare`` from
    several threads; OrderedDict reordering is not atomic). A failed parse is cached as its ItemError.
    At most ``size`` entries are kept (least recently used out first; 0 keeps none)."""

    def __init__(self, size: int = DEFAULT_PARSE_CACHE) -> None:
        if size < 0:
            raise ValueError(f"a cache size is a number of entries >= 0, got {size}")
        self.size = size
        self.data: OrderedDict[str, AddressView | ItemError] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> AddressView | ItemError | None:
        with self._lock:
            value = self.data.get(key)
            if value is not None:
                self.data.move_to_end(key)
            return value

    def __len__(self) -> int:
        return len(self.data)

    def put(self, key: str, value: AddressView | ItemError) -> None:
        if self.size == 0:
            return
        with self._lock:
            self.data[key] = value
            if len(self.data) > self.size:
                self.data.popitem(last=False)

    def view(self, text: str) -> AddressView | ItemError:
        """The view of one cleaned address (analyzed on a miss); an ItemError where parsing fails."""
        cached = self.get(text)
        if cached is not None:
            return cached
        result: AddressView | ItemError
        try:
            result = analyze(text)
        except Exception as exc:  # one unparseable address must not fail its batch; it is reported
            result = _parse_failed(exc)
        self.put(text, result)
        return result

    def warm(self, texts: Sequence[str]) -> None:
        """Analyze the distinct uncached texts in one batch (``analyze_many``) and keep their views, so
        the ``view`` calls that follow are hits. One text alone goes through ``view`` as usual."""
        if self.size == 0:
            return
        todo = [t for t in dict.fromkeys(texts) if self.get(t) is None]
        if len(todo) < 2:
            return
        try:
            views = analyze_many(todo)
        except Exception:  # each text is then analyzed alone by view(), which reports its error
            return
        for text, view in zip(todo, views, strict=True):
            if isinstance(view, AddressView):  # a failure is left to view(), which words it as always
                self.put(text, view)
