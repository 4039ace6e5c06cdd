"""Admin divisions: province, city and district as the gazetteer resolves them, former districts, a
district against a city written in full, and townships (``admin_conflicts``)."""

from __future__ import annotations

from functools import lru_cache

from geoalign.address import gazetteer
from geoalign.address.analyze import (
    ADMIN_NAME_SEP,
    TOWN_SUFFIXES,
    TYPED_OF,
    AddressView,
)
from geoalign.address.conflicts.base import ADMIN_COMPARED, RULE_OF, Conflict, same_poi
from geoalign.address.conflicts.roads import road_key
from geoalign.address.gazetteer import short_name


def admin_conflicts(a: AddressView, b: AddressView) -> list[Conflict]:
    """Province / city / district resolved on both sides and different (or two former districts of one
    current one: ``_two_former_districts``); else, within them, another township written in full on both
    sides (``another_town``)."""
    out: list[Conflict] = []
    for level, i in ADMIN_COMPARED:
        va, vb = a.canon_admin[i], b.canon_admin[i]
        if not va or not vb:
            continue
        if level != "district" and (_named_inside_poi(a, b, level) or _named_inside_poi(b, a, level)):
            continue
        names_a, names_b = admin_names(va), admin_names(vb)
        if not names_a.isdisjoint(names_b):
            if level != "district" or not _two_former_districts(a, b, names_a | names_b):
                continue
            va, vb = a.comps["district"], b.comps["district"]  # the names the texts write tell them apart
        elif level == "district" and (_town_moved(a, b) or _split_since(a, b)):
            continue
        rule = RULE_OF[level]
        if level == "district" and not out and _one_street_address(a, b):
            rule = "another_district_same_road"
        out.append(Conflict(level, va, vb, rule))
    if not out:
        city = (
            _district_city_conflict(a, b)
            or _district_city_conflict(b, a)
            or _town_city_conflict(a, b)
            or _town_city_conflict(b, a)
        )
        if city is not None:
            out.append(city)
    if not out:
        town = _town_conflict(*_towns(a, b))
        if town is not None:
            out.append(town)
    return out


def _named_inside_poi(a: AddressView, b: AddressView, level: str) -> bool:
    """The province or city ``a`` writes is part of a name the other text writes (天津银行(滨江支行)
    against 滨江区…天津银行: the bank's name, not the province the branch is in)."""
    written = a.comps.get(level)
    if not written:
        return False
    return any(written in b.comps.get(name, "") for name in ("poi", "subpoi"))


def _district_city_conflict(district_side: AddressView, city_side: AddressView) -> Conflict | None:
    """A district written in full and not the other text's city (定海区 is in 舟山市, not 杭州市): the one
    side states a district, which the parse tags so (莒县路 is a road of 青岛), but no city; the other a
    city written in full (杭州市, as the parse tags it) and no district at all (杭州市鄞州区 writes one
    that is not in its city: a slip of one side). Only against a city written so: a short city name
    read inside a village's or a zone's name (南昌村 in 深圳, 杭州湾新区 in 慈溪) says nothing, and
    compared with the district's city it made 37 Shenzhen and 11 CCKS training pairs another city
    (docs/rules.md, session 30)."""
    district, city = district_side.canon_admin[2], city_side.canon_admin[1]
    implied = district_side.admin[1]
    if (
        not district
        or not city
        or implied is None
        or district_side.canon_admin[1] is not None
        or ADMIN_NAME_SEP in district
        or district_side.comps.get("district") is None
        or _writes_a_known_district(city_side)
        or not city_side.comps.get("city", "").endswith("市")
        or implied in admin_names(city)
    ):
        return None
    return Conflict("city", implied, city, RULE_OF["city"])


def _writes_a_known_district(view: AddressView) -> bool:
    """The text writes a district the gazetteer knows somewhere (杭州市鄞州区: a slip of one side, so its
    city says nothing sure). A name it does not know (三明市梅列区: a district merged away that the
    gazetteer's timeline lacks) leaves the city the text's only division."""
    district = view.comps.get("district")
    return district is not None and gazetteer.is_division_name(district)


def _town_city_conflict(town_side: AddressView, other: AddressView) -> Conflict | None:
    """A township written without its city or district (合德镇青禾路66号), whose name the gazetteer knows
    in one place only (合德镇: 江苏省盐城市射阳县), against a city or a province the other text states
    that is not that place's (武汉市): another city. The name is read without its kind (合德), since a
    township made a street office keeps its old name in records (南曹乡 is now 郑州市南曹街道, while
    another 南曹乡 is in 开封市); a name that several townships hold (城关镇: 82; 南曹: 2) says nothing.
    Districts are not compared, since townships moved between districts of one city (深圳市宝安区观澜街道,
    written before 龙华区 was split off) while their city stayed."""
    town = town_side.canon_admin[3]
    if not town or any(town_side.canon_admin[:3]):
        return None
    level, stated = ("city", other.canon_admin[1]) if other.canon_admin[1] else ("prov", other.canon_admin[0])
    if not stated:
        return None
    above = _above_unique_town(town)
    if above is None or not admin_names(stated).isdisjoint(d.name for d in above):
        return None
    # the town's division at the level the other text states (a municipality's town has no city: its province)
    found = next((d.name for d in above if d.level == level), above[0].name)
    return Conflict(level, found, stated, RULE_OF[level])


@lru_cache(maxsize=4096)
def _above_unique_town(town: str) -> tuple[gazetteer.Division, ...] | None:
    """The divisions above the one township of this name in the country, whatever its kind (镇, 乡,
    街道 …: ``_town_stem``), province first; None where there is not exactly one."""
    stem = _town_stem(town)
    if len(stem) < 2:  # a one-character stem names nothing on its own
        return None
    found = {d.code for d in (*gazetteer.lookup(town), *gazetteer.lookup(stem)) if d.level == "town"}
    if len(found) != 1:
        return None
    return gazetteer.path(found.pop())[:-1]


def _town_moved(a: AddressView, b: AddressView) -> bool:
    """Both texts write one township, which the gazetteer places in one side's district and not in the
    other's, a district made later than the other's: a district split off since (深圳市宝安区龙华街道 /
    龙华区龙华街道, 2016; 杭州市余杭区临平街道 / 临平区临平街道, 2021), and the township names the place.
    The ministry's table lists current townships only, so the side written before the split resolves
    none; a new district takes the next free code in its city (宝安区 440306, 龙华区 440309), so a
    township of the older district written with the newer one (龙华区新安街道) stays a conflict."""
    ta, tb = a.comps.get("town"), b.comps.get("town")
    if not ta or not tb or _town_stem(ta) != _town_stem(tb):
        return False
    city = _one_city(a, b)  # 海安县海阳镇 / 休宁县海阳镇: two provinces
    if city is None or (a.canon_admin[3] is None) == (b.canon_admin[3] is None):
        return False
    now, written = (a, b) if a.canon_admin[3] else (b, a)
    new, old = _district_code(city, now.canon_admin[2]), _district_code(city, written.canon_admin[2])
    return new is not None and old is not None and new > old


def _split_since(a: AddressView, b: AddressView) -> bool:
    """Two districts of one city, one carved out of the other since (宝安区 / 龙华区, 余杭区 / 临平区:
    ``gazetteer.SPLIT_FROM``), and the rest of the two texts one place: the same road and number, or the
    same named place. A record written before the split names the older district: 余杭区青禾路18号 and
    临平区青禾路18号 are one door, and a road's number is unique along it. 龙华区 alone is Shenzhen's or
    Haikou's: the other text's city says which. Not where a township is written (``_town_moved`` reads
    those: 龙华区新安街道 names 宝安区's office, a slip of the district), nor for two texts naming nothing
    finer than the districts."""
    if a.comps.get("town") or b.comps.get("town") or not districts_split_apart(a, b):
        return False
    return _one_street_address(a, b) or same_poi(a, b)


def districts_split_apart(a: AddressView, b: AddressView) -> bool:
    """The two texts state two districts of one city, one carved out of the other since
    (``gazetteer.SPLIT_FROM``: 余杭区 / 临平区). A district alone that several cities have (龙华区: Shenzhen's
    or Haikou's) is read in the city the other text states."""
    city_a, city_b = a.canon_admin[1] or a.admin[1], b.canon_admin[1] or b.admin[1]
    if city_a and city_b and city_a != city_b:
        return False
    city = city_a or city_b
    if not city:
        return False
    code_a, code_b = _district_code(city, a.canon_admin[2]), _district_code(city, b.canon_admin[2])
    return code_a is not None and code_b is not None and gazetteer.split_apart(code_a, code_b)


def _one_city(a: AddressView, b: AddressView) -> str | None:
    """The city both texts are in, each stated or completed from its district, else None."""
    city = a.canon_admin[1] or a.admin[1]
    return city if city and city == (b.canon_admin[1] or b.admin[1]) else None


def _towns(a: AddressView, b: AddressView) -> tuple[str | None, str | None]:
    """The townships to compare: the gazetteer's; where one side's does not resolve in its district
    (深圳市宝安区龙华街道, written before 龙华区 was split off), the names both texts write, when each is
    a current township of their one city (西乡街道 and 龙华街道 both are: two townships). The city may be
    the one the gazetteer completes from the district (a township of a district split off since, written
    with the old district, against another township of that district, no city written: a
    corpus table held such pairs in one cluster; training parts: CCKS 7 more fires, one exact_match — two
    industrial zones of two towns —, Shenzhen 27, all labelled two places)."""
    ta, tb = a.canon_admin[3], b.canon_admin[3]
    if (ta and tb) or not (ta or tb):
        return ta, tb
    city = _one_city(a, b)
    wa, wb = a.comps.get("town"), b.comps.get("town")
    if not city or not wa or not wb:
        return ta, tb
    code_a, code_b = _town_code(city, wa), _town_code(city, wb)
    if code_a is None or code_b is None:
        return ta, tb
    return (None, None) if code_a == code_b else (wa, wb)  # 西乡 / 西乡街道: one township


def _town_code(city: str, town: str) -> str | None:
    """The code of the one current township of this name (or stem) in ``city``, else None."""
    return _code_in_city(city, "town", (town, _town_stem(town)))


def _district_code(city: str, district: str | None) -> str | None:
    """The code of the one current district of this name in ``city``, else None."""
    if not district or ADMIN_NAME_SEP in district:
        return None
    return _code_in_city(city, "district", (district,))


@lru_cache(maxsize=4096)
def _code_in_city(city: str, level: str, names: tuple[str, ...]) -> str | None:
    """The code of the one current division of ``level`` in ``city`` that one of ``names`` names (in
    full, by alias or by short name: ``gazetteer.lookup``), else None."""
    found = {
        d.code
        for name in names
        for d in gazetteer.lookup(name)
        if d.level == level and city in {p.name for p in gazetteer.path(d.code)}
    }
    return found.pop() if len(found) == 1 else None


def _two_former_districts(a: AddressView, b: AddressView, current: frozenset[str]) -> bool:
    """Both texts write a former district that the gazetteer merged into one current division, and not
    the same one (重庆市渝北区 / 江北区, both read as 两江新区 from the ministry's table): two parts of it,
    not one place. One side with the current name (宣武区 / 西城区 after the merger) stays compatible, and
    so does a text whose district the parse joined from two spans (临安市…临安区: no former name)."""
    sa, sb = a.comps.get("district"), b.comps.get("district")
    if not sa or not sb or sa in current or sb in current:
        return False
    if not gazetteer.renamed(sa) or not gazetteer.renamed(sb):
        return False
    return short_name(sa, "district") != short_name(sb, "district")


def _town_conflict(ta: str | None, tb: str | None) -> Conflict | None:
    """Another township (东莞市虎门镇 / 厚街镇: 东莞 has no districts, its towns are the level below the
    city; 龙岗区布吉街道 / 南湾街道). On the Shenzhen train split 904 of the 907 pairs in one district
    whose street offices differ are labelled another place; on the CCKS training part 3 of 69 pairs
    without a district on both sides are labelled exact_match (docs/rules.md)."""
    if not ta or not tb or ta == tb:
        return None
    if _town_stem(ta) == _town_stem(tb):  # 永阳镇 and 永阳街道: one township made a street office
        return None
    return Conflict("town", ta, tb, RULE_OF["town"])


def _town_stem(name: str) -> str:
    """A township's name without its kind (``analyze.TOWN_SUFFIXES``)."""
    for suffix in TOWN_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def admin_names(value: str) -> frozenset[str]:
    """The names one stated admin level may have (several where the gazetteer keeps several readings:
    ``analyze.ADMIN_NAME_SEP``); two sides conflict only when they share none."""
    return frozenset(value.split(ADMIN_NAME_SEP)) if ADMIN_NAME_SEP in value else frozenset((value,))


def _one_street_address(a: AddressView, b: AddressView) -> bool:
    """The same road and road number, and nothing finer that pins one place: no shared POI, no shared
    town or street office (龙华区新安街道: the office of 宝安区 makes that a slip of the district).
    In another district that is another place (杭州市西湖区文三路369号 / 杭州市上城区文三路369号);
    the scorer, seeing every other word agree, said partial_match."""
    ra = road_key(a)
    if ra is None or ra != road_key(b):
        return False
    number = a.typed.get(TYPED_OF["roadno"])
    if number is None or number != b.typed.get(TYPED_OF["roadno"]):
        return False
    town = a.comps.get("town")  # the parse's town: the gazetteer drops one
    return not same_poi(a, b) and not (town and town == b.comps.get("town"))
