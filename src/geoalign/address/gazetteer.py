"""The official administrative divisions of China down to township, and old → new names.

Data: the Ministry of Civil Affairs table (see ``geoalign/data/README.md``; ``data_version()`` says which
one) with 41,934 divisions on four levels — ``prov`` (省/自治区/直辖市/特别行政区), ``city`` (地级),
``district`` (县级) and ``town`` (乡级: 镇/乡/街道/苏木) — plus 124 renamings/mergers since 2002.

Two shapes of the hierarchy matter: municipalities (北京市, 上海市, 天津市, 重庆市) have districts directly
under the province, so their ``city`` is None; cities without counties (东莞市, 中山市, 儋州市, 嘉峪关市)
have towns directly under the city, so their ``district`` is None. Province-administered county-level
cities (仙桃市, 济源市, 石河子市…) also sit directly under the province.

API (pure, data loaded once, lazily, at first use):

- ``lookup(name)`` — divisions whose full name, alias (海西州, 大厂县) or short name (北京, 朝阳) is ``name``.
- ``resolve(text)`` — the admin prefix of an address: which names it starts with, where they are, and the
  completed hierarchy, or the candidates when a name has several possible parents.
- ``is_division_name(name)`` — for the normalizer's numeral protection (二七区 stays 二七区).
- ``renamed(old)`` — the current divisions an old name became (襄樊 → 襄阳市; 江干区 → 上城区, 钱塘区).
- ``data_version()`` — which data is shipped (shown by ``geoalign --version``); reads no division data.

Short names are derived by stripping the level suffix (省, 市, 自治区 + the peoples' names, 自治州, 地区,
盟, 区, 县, 旗…) only when at least two characters remain: 城区 and 郊区 have no short name. Town-level short
names (望京 for 望京街道) are answered by ``lookup`` but never used by ``resolve``, because they are far
too often also the names of roads, neighbourhoods and buildings; county-level short names (朝阳 for
朝阳区) are used only after a province or city has been matched (北京朝阳 yes, 建安楼 no).
"""

from __future__ import annotations

import gc
import gzip
import hashlib
import itertools
import json
import logging
import marshal
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple

Level = Literal["prov", "city", "district", "town"]

LEVELS: Final[tuple[Level, ...]] = ("prov", "city", "district", "town")
_LEVEL_BY_NUMBER: Final[dict[str, Level]] = {"1": "prov", "2": "city", "3": "district", "4": "town"}

#: The 55 recognised minority peoples plus 汉族, as they appear inside autonomous-area names
#: (广西壮族自治区, 海西蒙古族藏族自治州, 大厂回族自治县). Stripped to form short names.
_PEOPLES: Final[tuple[str, ...]] = (
    "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜", "满", "侗", "瑶", "白", "土家",
    "哈尼", "哈萨克", "傣", "黎", "傈僳", "佤", "畲", "高山", "拉祜", "水", "东乡", "纳西", "景颇",
    "柯尔克孜", "土", "达斡尔", "仫佬", "羌", "布朗", "撒拉", "毛南", "仡佬", "锡伯", "阿昌", "普米",
    "塔吉克", "怒", "乌孜别克", "俄罗斯", "鄂温克", "德昂", "保安", "裕固", "京", "塔塔尔", "独龙",
    "鄂伦春", "赫哲", "门巴", "珞巴", "基诺", "汉",
)  # fmt: skip
_PEOPLES_SUFFIX: Final[re.Pattern[str]] = re.compile(
    "(?:" + "|".join(sorted((p + "族" for p in _PEOPLES), key=len, reverse=True)) + ")+$"
)

#: Level suffixes, longest first per level. Autonomous-area suffixes also drop the peoples' names.
_SUFFIXES: Final[dict[Level, tuple[str, ...]]] = {
    "prov": ("特别行政区", "自治区", "省", "市"),
    "city": ("自治州", "地区", "盟", "市"),
    "district": ("自治县", "自治旗", "林区", "特区", "新区", "区", "县", "市", "旗"),
    "town": ("街道办事处", "街道", "民族苏木", "苏木", "民族乡", "区公所", "镇", "乡"),
}
#: Common spoken alias of an autonomous area: 海西蒙古族藏族自治州 → 海西州, 大厂回族自治县 → 大厂县, and an
#: autonomous region called a province, 广西壮族自治区 → 广西省, 新疆维吾尔自治区 → 新疆省 (only the
#: province level ends in 自治区). Unread, 广西省 ended the admin prefix before it began: nothing of
#: 广西省南宁市青秀区… resolved, so no division was compared or completed.
_AUTONOMOUS_ALIAS: Final[dict[str, str]] = {"自治州": "州", "自治县": "县", "自治旗": "旗", "自治区": "省"}
#: Short forms people write that the suffix rule does not give (内蒙古 is the stem of 内蒙古自治区; 内蒙
#: alone is as common in addresses, and unread it left completion writing the province before it again;
#: the region's name writes 维吾尔 without 族, so the peoples' rule leaves 新疆维吾尔, and 新疆 read only as
#: a township of 哈尔滨: 新疆乌鲁木齐市… resolved no province). Each also takes the autonomous alias
#: (内蒙省, 新疆省).
_EXTRA_SHORT: Final[dict[str, tuple[str, ...]]] = {"内蒙古自治区": ("内蒙",), "新疆维吾尔自治区": ("新疆",)}
#: Full names people still write for a current division, by its code, that no table of the ministry
#: holds: Shenzhen's functional areas (新区), made districts in 2016 (龙华, 坪山) and 2018 (光明); 大鹏新区
#: is still one, its townships are 龙岗区's in the ministry's table. Unread, 深圳市光明新区公明街道… read
#: 光明 by its short name and stopped at 新区: the township after it was never resolved (338 corpus lines,
#: 82 CCKS lines write one of them).
_EXTRA_FULL: Final[dict[str, tuple[str, ...]]] = {
    "440309": ("龙华新区",),
    "440310": ("坪山新区",),
    "440311": ("光明新区",),
    "440307": ("大鹏新区",),
}

#: After a *short* name, these mean the name belongs to something else: a road (太原路, 北京东路, and
#: with one more character 金凤凰大道; a numbered one, 中山东二路, 中山北一路; a ring road, 雁塔南二环,
#: 高邮外环路), a station or building (北京南站, 北京大学), a mall written as the name plus 城 (天河城),
#: a village (朝阳村), or a different division written in full (五常街道 is a 街道 of 杭州, not 五常市;
#: 北京朝阳市 is not 北京朝阳区).
_NOT_A_DIVISION_AFTER_SHORT: Final[re.Pattern[str]] = re.compile(
    r"[东西南北中]?(?:路|街|大街|大道|道|巷|弄|胡同|村|桥|站|广场|大厦|公园|小区|花园|中学|小学|大学|学院"
    r"|医院|酒店|宾馆|饭店|机场|银行|商场|公司|厂|码头|港)"
    r"|[\u4e00-\u9fff][东西南北中]?(?:路|街|大街|大道|巷|弄|胡同)"
    r"|[东西南北中]?[一二三四五六七八九十0-9]{1,2}[东西南北中]?(?:路|街|大街|大道|巷|弄|环)"
    r"|[东西南北中内外][一二三四五六七八九十]?环"
    r"|城(?![\u4e00-\u9fff])"  # 城关镇, 城厢区 … go on with a character; a mall's name ends here
    r"|(?:省|市|区|县|州|旗|盟|镇|乡|街道|苏木)"
)

#: Which levels' short names ``resolve`` uses, at the start of an address and after an ancestor.
#: Township short names (望京 for 望京街道) never: they are far too often roads, areas and buildings.
_SHORT_LEVELS_AT_START: Final[frozenset[str]] = frozenset({"prov", "city"})
_SHORT_LEVELS_IN_CONTEXT: Final[frozenset[str]] = frozenset({"prov", "city", "district"})

#: Separators a writer may put between admin names (北京市 朝阳区, 广东省,深圳市, 浙江-杭州).
_SEPARATORS: Final[frozenset[str]] = frozenset(" \u3000,，、-—/|·")


class Division(NamedTuple):
    """One administrative division. ``short_name`` equals ``name`` when no safe short form exists.

    A NamedTuple rather than a frozen dataclass: 41,934 of them are built at load, and a tuple is
    several times cheaper to create.
    """

    code: str
    name: str
    short_name: str
    level: Level
    parent_code: str  # "" for provinces


@dataclass(frozen=True, slots=True)
class Span:
    """One admin name found by ``resolve``: ``text == input[start:end]``.

    ``level`` and ``code`` are set when every remaining reading of the span agrees on them; ``old`` is
    True when the text is a former name (襄樊) read as its current division.
    """

    start: int
    end: int
    text: str
    level: Level | None
    code: str | None
    old: bool = False


@dataclass(frozen=True, slots=True)
class Resolution:
    """The admin prefix of an address.

    ``prov``/``city``/``district``/``town`` are full current names, filled wherever every remaining
    reading agrees (so 朝阳区 alone gives district=朝阳区 but no prov or city). ``ambiguous`` is True when
    several divisions remain; ``candidates`` then lists their full paths (province first). ``end`` is
    where the admin prefix stops in the input (0 when nothing matched), after a repeat of its last name
    (``repeat_end``: 余杭区余杭区滨河路 ends at 6), which is skipped and not kept as a span.
    """

    spans: tuple[Span, ...] = ()
    prov: str | None = None
    city: str | None = None
    district: str | None = None
    town: str | None = None
    code: str | None = None
    ambiguous: bool = False
    candidates: tuple[tuple[Division, ...], ...] = ()
    renamed: tuple[tuple[str, Division], ...] = field(default=())
    repeat_end: int = 0

    @property
    def end(self) -> int:
        return max(self.spans[-1].end, self.repeat_end) if self.spans else 0

    @property
    def start(self) -> int:
        """Where the admin names begin (0 unless found inside prose with ``resolve(anywhere=True)``)."""
        return self.spans[0].start if self.spans else 0

    def prefix(self) -> str:
        """The completed admin prefix, coarse to fine: 陕西省榆林市榆阳区 for 榆阳区."""
        return "".join(n for n in (self.prov, self.city, self.district, self.town) if n)


def _by_last_char(suffixes: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for suffix in suffixes:  # keeps the longest-first order within each last character (民族乡 before 乡)
        out.setdefault(suffix[-1], []).append(suffix)
    return {k: tuple(v) for k, v in out.items()}


#: level → last character → suffixes ending with it: one dict lookup instead of a loop of endswith.
_SUFFIX_INDEX: Final[dict[Level, dict[str, tuple[str, ...]]]] = {
    level: _by_last_char(suffixes) for level, suffixes in _SUFFIXES.items()
}


def short_name(name: str, level: Level) -> str:
    """Drop the level suffix (and peoples' names of an autonomous area) when two or more characters remain."""
    for suffix in _SUFFIX_INDEX[level].get(name[-1:], ()):
        if name.endswith(suffix) and len(name) > len(suffix):
            stem = name[: -len(suffix)]
            if suffix.startswith("自治") or suffix == "特别行政区":
                stem = _PEOPLES_SUFFIX.sub("", stem) or stem
            return stem if len(stem) >= 2 else name
    return name


def _aliases(name: str, short: str) -> list[str]:
    """Other full-looking forms people write: 海西州 for 海西蒙古族藏族自治州, 大厂县 for 大厂回族自治县, and
    a district named with a people, 管城区 for 管城回族区 (four such districts: unread, 郑州市管城区 resolved
    no district)."""
    if name.endswith("族区") and not name.endswith("自治区"):
        stem = _PEOPLES_SUFFIX.sub("", name[:-1])
        return [stem + "区"] if len(stem) >= 2 else []
    if "自治" not in name or short == name:
        return []
    return [short + alias for suffix, alias in _AUTONOMOUS_ALIAS.items() if name.endswith(suffix)]


def _street_office_names(name: str, short: str) -> tuple[str, ...]:
    """A street (街道) named by its office, as registers and orders often write it: 望京街道办事处,
    望京街道办, 望京办事处 for 望京街道. Unread, the office's words stayed outside the division (望京街道 +
    a POI 办事处, or a road 办望京西路), though the labelled data tags the whole as the township."""
    forms = (name + "办事处", name + "办")
    return (*forms, short + "办事处") if short != name else forms


class _Data:
    """All indexes, built once. ``full`` holds full names and aliases; ``short`` the short names."""

    def __init__(self, rows: Iterable[tuple[str, str, str, str]], changes: Iterable[Sequence[str]]) -> None:
        self._ancestors: dict[str, frozenset[str]] = {}
        # Start-up of every `geoalign parse` pays for this loop (41,934 divisions): names looked up once,
        # lists appended in place (the same lists, in the same order, as setdefault(...).append).
        by_code: dict[str, Division] = {}
        full: dict[str, list[str]] = {}
        short: dict[str, list[str]] = {}
        level_of = _LEVEL_BY_NUMBER
        for code, parent, level_number, name in rows:
            level = level_of[level_number]
            stem = short_name(name, level)
            by_code[code] = Division(code, name, stem, level, parent)
            found = full.get(name)
            if found is None:
                full[name] = [code]
            else:
                found.append(code)
            if stem != name:
                for alias in _aliases(name, stem):
                    full.setdefault(alias, []).append(code)
                found = short.get(stem)
                if found is None:
                    short[stem] = [code]
                else:
                    found.append(code)
            for extra in _EXTRA_SHORT.get(name, ()):
                short.setdefault(extra, []).append(code)
                for alias in _aliases(name, extra):
                    full.setdefault(alias, []).append(code)
            for alias in _EXTRA_FULL.get(code, ()):
                full.setdefault(alias, []).append(code)
            if level == "town" and name.endswith("街道"):
                for alias in _street_office_names(name, stem):
                    full.setdefault(alias, []).append(code)
        self.by_code, self.full, self.short = by_code, full, short
        # old name → current codes. Keyed by the old full name and the old short name (襄樊市, 襄樊).
        self.old: dict[str, list[str]] = {}
        self.old_is_short: set[str] = set()
        for _date, _approval, old_path, old_short, new_code, _new_path, _source in changes:
            old_full = old_path.rsplit("/", 1)[-1]
            for key in (old_full, old_short):
                if len(key) >= 2 and new_code not in self.old.get(key, []):
                    self.old.setdefault(key, []).append(new_code)
            if old_short != old_full:
                self.old_is_short.add(old_short)
        # first two characters → the name lengths that exist, longest first: resolve tries only those.
        # Grouped per key, then each key's few lengths sorted: sorting all ~60,000 (key, length) tuples
        # at once was half of this build (tuple comparisons), for the same dictionary in the same order.
        by_key: dict[str, set[int]] = {}
        for name in itertools.chain(full, short, self.old):
            found_set = by_key.get(name[:2])
            if found_set is None:
                by_key[name[:2]] = {len(name)}
            else:
                found_set.add(len(name))
        self.lengths: dict[str, tuple[int, ...]] = {
            key: tuple(sorted(by_key[key], reverse=True)) for key in sorted(by_key, reverse=True)
        }

    def payload(self) -> tuple[Any, ...]:
        """The indexes as plain values (marshal's types), in ``from_payload``'s order."""
        divisions = [tuple(division) for division in self.by_code.values()]
        return divisions, self.full, self.short, self.old, self.old_is_short, self.lengths

    @classmethod
    def from_payload(cls, payload: tuple[Any, ...]) -> _Data:
        """The indexes ``payload`` holds, as ``__init__`` would have built them from the same data."""
        divisions, full, short, old, old_is_short, lengths = payload
        data = cls.__new__(cls)
        data._ancestors = {}
        data.by_code = {row[0]: Division(*row) for row in divisions}
        data.full, data.short, data.old = full, short, old
        data.old_is_short, data.lengths = old_is_short, lengths
        return data

    def path(self, code: str) -> tuple[Division, ...]:
        out = []
        while code:
            division = self.by_code[code]
            out.append(division)
            code = division.parent_code
        return tuple(reversed(out))

    def is_under(self, code: str, ancestor: str) -> bool:
        """True when ``ancestor`` is a strict ancestor of ``code``."""
        return ancestor in self.ancestors(code)

    def ancestors(self, code: str) -> frozenset[str]:
        """The strict ancestors of ``code``, kept once computed: ``resolve`` asks "is this name under
        one of those?" for every candidate name, the parser once per address (a walk up the parent
        chain each time was a fifth of ``resolve``)."""
        found = self._ancestors.get(code)
        if found is None:
            parent = self.by_code[code].parent_code
            found = frozenset((parent, *self.ancestors(parent))) if parent else frozenset()
            self._ancestors[code] = found
        return found


def _data_file(name: str) -> bytes:
    return resources.files("geoalign").joinpath("data", name).read_bytes()


_log = logging.getLogger(__name__)

#: The indexes of ``_Data``, built from the two data files and stored beside them (``write_index``):
#: loading them takes half the time of building them (0.075 s against 0.147 s of CPU, measured), which
#: every process that parses pays once: each ``geoalign score`` / ``parse`` worker, a cold ``geoalign match``.
INDEX_FILE: Final = "divisions.index"
#: Part of the index's key with the data files: bump it whenever ``_Data`` builds its indexes
#: differently (short names, aliases, the length table), so an index of the old build is not used.
#: 3: autonomous regions written as provinces (广西省); 4: Shenzhen's functional areas (光明新区);
#: 5: districts named with a people written without it (管城区).
INDEX_BUILD: Final = 6


def _index_key(divisions: bytes, changes: bytes) -> bytes:
    """What an index was built from: the data files' bytes, the build's version and the marshal format
    (marshal's data format may change between Python versions)."""
    digest = hashlib.sha256()
    for part in (divisions, changes, f"build {INDEX_BUILD}, marshal {marshal.version}".encode()):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.digest()


def _parse_sources(divisions: bytes, changes: bytes) -> _Data:
    text = gzip.decompress(divisions).decode("utf-8")
    rows = (line.split("\t") for line in text.splitlines() if line)
    change_text = changes.decode("utf-8")
    change_rows = (line.split("\t") for line in change_text.splitlines() if line and not line.startswith("#"))
    return _Data(rows, change_rows)  # type: ignore[arg-type]


def _from_index(blob: bytes, key: bytes) -> _Data | None:
    """The indexes stored in ``blob`` (key, then zlib-compressed marshal), or None with the reason
    logged when the file is of other data, another build or unreadable here."""
    if blob[: len(key)] != key:
        _log.warning(
            "geoalign: the gazetteer index %s was not built from the shipped data with this build and this "
            "Python; building the indexes from the data (about 0.15 s a process). Regenerate it with "
            "scripts/build_gazetteer_index.py",
            INDEX_FILE,
        )
        return None
    try:
        return _Data.from_payload(marshal.loads(zlib.decompress(blob[len(key) :])))
    except (ValueError, EOFError, TypeError, zlib.error) as exc:
        _log.warning(
            "geoalign: the gazetteer index %s is unreadable (%s); building from the data", INDEX_FILE, exc
        )
        return None


def write_index(path: str | Path) -> None:
    """Build the indexes from the shipped data files and write them to ``path`` (the package's copy is
    ``geoalign/data/divisions.index``; ``scripts/build_gazetteer_index.py`` writes it)."""
    divisions, changes = _data_file("divisions.tsv.gz"), _data_file("changes.tsv")
    payload = marshal.dumps(_parse_sources(divisions, changes).payload())
    # level 9: the file is written once and read by every process (same decompression speed)
    Path(path).write_bytes(_index_key(divisions, changes) + zlib.compress(payload, 9))


@cache
def _data() -> _Data:
    divisions, changes = _data_file("divisions.tsv.gz"), _data_file("changes.tsv")
    # ~200,000 long-lived objects in one go: the cyclic collector would scan the growing heap a few
    # dozen times for nothing (a quarter of the build); none of them is garbage.
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            blob = _data_file(INDEX_FILE)
        except FileNotFoundError:
            _log.warning("geoalign: no gazetteer index %s; building from the data", INDEX_FILE)
        else:
            data = _from_index(blob, _index_key(divisions, changes))
            if data is not None:
                return data
        return _parse_sources(divisions, changes)
    finally:
        if collecting:
            gc.enable()


@cache
def data_version() -> str:
    """Which gazetteer data is shipped, e.g. ``MCA Xzqh20251231 (as of 2025-12-31) via ...``."""
    meta = json.loads(_data_file("gazetteer_meta.json"))
    return str(meta["version"])


def get(code: str) -> Division | None:
    """The division with this MCA code, if any."""
    return _data().by_code.get(code)


def path(code: str) -> tuple[Division, ...]:
    """Province-first chain of divisions ending at ``code`` (KeyError for an unknown code)."""
    return _data().path(code)


def lookup(name: str) -> list[Division]:
    """Divisions named ``name`` in full (朝阳区), by alias (海西州) or by short name (朝阳, 望京)."""
    data = _data()
    codes = data.full.get(name, []) + data.short.get(name, [])
    return [data.by_code[c] for c in dict.fromkeys(codes)]


def is_division_name(name: str, *, short: bool = False) -> bool:
    """True for a current or former full division name or alias (二七区, 三号乡, 海西州, 襄樊市).

    With ``short=True`` short names (二七, 朝阳) count too; the normalizer does not use them because a
    short name alone (三里) says nothing about whether the text is that division.
    """
    data = _data()
    if name in data.full or (name in data.old and name not in data.old_is_short):
        return True
    return short and (name in data.short or name in data.old)


@cache
def numeral_names() -> frozenset[str]:
    """Full names and aliases (current and former) that contain a Chinese numeral character.

    The normalizer protects these from numeral conversion: 二七区 must not become 27区.
    """
    from geoalign.address.numerals import NUMERAL_CHARS

    data = _data()
    names = [*data.full, *(n for n in data.old if n not in data.old_is_short)]
    return frozenset(n for n in names if any(ch in NUMERAL_CHARS for ch in n))


@cache
def _children() -> dict[str, tuple[Division, ...]]:
    """parent code → its divisions, built once (a pass over the 41,934 divisions) on first use."""
    out: dict[str, list[Division]] = {}
    for division in _data().by_code.values():
        out.setdefault(division.parent_code, []).append(division)
    return {parent: tuple(children) for parent, children in out.items()}


def siblings(code: str) -> tuple[Division, ...]:
    """The other divisions under the same parent at the same level (西湖区 → 上城区, 拱墅区 …), in the
    data's order; empty for an unknown code."""
    division = _data().by_code.get(code)
    if division is None:
        return ()
    return tuple(
        d for d in _children().get(division.parent_code, ()) if d.code != code and d.level == division.level
    )


@cache
def _former_full_names() -> dict[str, tuple[str, ...]]:
    """current code → its recorded former full names that name it alone and no current division."""
    data = _data()
    out: dict[str, list[str]] = {}
    for old, codes in data.old.items():
        if len(codes) == 1 and old not in data.old_is_short and old not in data.full:
            out.setdefault(codes[0], []).append(old)
    return {code: tuple(names) for code, names in out.items()}


def former_names(code: str) -> tuple[str, ...]:
    """Former full names of the division ``code`` (襄阳市 → 襄樊市) that became it alone and are no
    current division's name: each reads as this division and nothing else."""
    return _former_full_names().get(code, ())


#: Districts carved out of another district that still exists, by the new district's code: the older
#: district's code(s). The ministry's change table records renames and mergers (``renamed``), not these,
#: so a record written before the split names the older district for a place now in the newer one
#: (深圳市宝安区青禾路18号, written before 2016, is 龙华区青禾路18号 today). Only splits of the last two
#: decades of cities whose records say so, each checked against the State Council's approvals: 龙华区 and
#: 坪山区 (2016, from 宝安区 and 龙岗区), 光明区 (2018, from 宝安区), 临平区 and 钱塘区 (2021, from 余杭区
#: and 萧山区; 钱塘区's other part, 江干区, is a former name), 南沙区 (2005, from 番禺区), 翔安区 (2003,
#: from 同安区).
SPLIT_FROM: Final[dict[str, tuple[str, ...]]] = {
    "440309": ("440306",),
    "440310": ("440307",),
    "440311": ("440306",),
    "330113": ("330110",),
    "330114": ("330109",),
    "440115": ("440113",),
    "350213": ("350212",),
}


def split_apart(code_a: str, code_b: str) -> bool:
    """Whether one of these two districts was carved out of the other (``SPLIT_FROM``)."""
    return code_b in SPLIT_FROM.get(code_a, ()) or code_a in SPLIT_FROM.get(code_b, ())


def renamed(old: str) -> list[Division]:
    """Current divisions a former name became: 襄樊/襄樊市 → [襄阳市]; 江干区 → [上城区, 钱塘区].

    Empty when ``old`` is not a recorded former name. A name can be both former and current (公主岭市
    moved from 四平 to 长春; 城区 of 大同 became 平城区 while other cities keep a 城区).
    """
    data = _data()
    return [data.by_code[c] for c in data.old.get(old, [])]


# ---------------------------------------------------------------------------------------------- resolve


@dataclass(slots=True)
class _Match:
    start: int
    end: int
    codes: list[str]
    old: bool


def _candidates_at(data: _Data, text: str, pos: int, context: list[str]) -> _Match | None:
    """Longest admin name starting exactly at ``pos`` that continues the hierarchy in ``context``.

    Matching only at the current position (never inside a word) is what keeps 青海西宁 from being read
    as 海西州: after 青海 the next name must start at 西.

    Most names tried are no division at all (two in three): those cost three dictionary reads and
    nothing else (no copied code list, no look-ahead slice, no hierarchy test).
    """
    room = len(text) - pos
    full_index, short_index, old_index = data.full, data.short, data.old
    for length in data.lengths.get(text[pos : pos + 2], ()):
        if length > room:
            continue
        piece = text[pos : pos + length]
        full = full_index.get(piece)
        short_codes = short_index.get(piece)
        if short_codes is not None and not _NOT_A_DIVISION_AFTER_SHORT.match(
            text[pos + length : pos + length + 4]
        ):
            # Province and city short names are distinctive (山东, 广州); a county-level short name at
            # the very start is as often a POI (建安楼, 安定门, 桃源居, 凤凰庄), so it counts only after
            # an ancestor has been matched (广州白云, 昆明官渡区).
            allowed = _SHORT_LEVELS_IN_CONTEXT if context else _SHORT_LEVELS_AT_START
            by_code = data.by_code
            codes = [*(full or ()), *(c for c in short_codes if by_code[c].level in allowed)]
        else:
            codes = full or []
        if codes:
            codes = _continuing(data, codes, context)
            if codes:
                # a current name that is also another division's former full name reads both ways (江北区
                # alone: Ningbo's, or Chongqing's former one); the former names' own short forms do not
                if full is not None and piece in old_index and piece not in data.old_is_short:
                    codes = [*codes, *_continuing(data, old_index[piece], context)]
                return _Match(pos, pos + length, list(dict.fromkeys(codes)), old=False)
        old_codes = old_index.get(piece)
        if old_codes and (
            piece not in data.old_is_short
            or not _NOT_A_DIVISION_AFTER_SHORT.match(text[pos + length : pos + length + 4])
        ):
            old_codes = _continuing(data, old_codes, context)
            if old_codes:
                return _Match(pos, pos + length, list(dict.fromkeys(old_codes)), old=True)
    return None


def _continuing(data: _Data, codes: list[str], context: list[str]) -> list[str]:
    """The codes lying under one of ``context`` (all of them when there is no context; the list given
    is then returned as is: callers copy before keeping it)."""
    if not context:
        return codes
    known = data._ancestors
    return [c for c in codes if not (known.get(c) or data.ancestors(c)).isdisjoint(context)]


def _skip_separators(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _SEPARATORS:
        pos += 1
    return pos


def resolve(text: str, *, anywhere: bool = False) -> Resolution:
    """Find the admin names an address starts with and complete the hierarchy.

    With ``anywhere``, an address inside prose is found too (我家的地址是江苏淮安清江浦区...): when
    nothing matches at the start, the first later position where a chain of at least two admin names
    begins is used (one name alone in running text is too often an ordinary word to trust).

    Names are matched left to right, each starting where the previous one ended (separators skipped),
    longest first, and each must lie under the previous one (any number of levels down: 北京望京街道 is
    fine). A name that fits nowhere under the previous one ends the prefix. When a name has several
    readings they are all kept and narrowed by what follows (吉林 + 船营区 → 吉林市); what remains at
    the end is the answer, ambiguous if more than one (朝阳区 alone: 北京 or 长春).
    """
    data = _data()
    if text in _AT_START:
        found = _AT_START[text]
    else:
        matches, repeat_end = _chain(data, text, _skip_separators(text, 0))
        found = _with_repeat(_finish(data, text, matches), repeat_end) if matches else None
        if len(_AT_START) >= _FINISHED_MAX:
            _AT_START.clear()
        _AT_START[text] = found
    if found is not None:
        return found
    if anywhere:
        for start in range(1, len(text) - 1):
            if text[start : start + 2] in data.lengths:
                matches, repeat_end = _chain(data, text, start)
                if len(matches) >= 2:
                    return _with_repeat(_finish(data, text, matches), repeat_end)
    return _NOTHING


#: ``resolve``'s answer for the names a text starts with (None: no name starts it), by text. The parser
#: resolves an address's raw text and the matcher its normalized text, most often the same string.
_AT_START: dict[str, Resolution | None] = {}
_NOTHING: Final = Resolution()


def _chain(data: _Data, text: str, pos: int) -> tuple[list[_Match], int]:
    """Admin names matched left to right from ``pos``, each under the previous one, and where the last
    repeat skipped after them ends (0 where none written in full closes the prefix)."""
    matches: list[_Match] = []
    context: list[str] = []
    repeat_end = 0
    while pos < len(text):
        match = _candidates_at(data, text, pos, context)
        if match is None:
            repeat = _repeated(data, text, pos, matches[-1]) if matches else None
            if repeat is None:
                break
            # the prefix ends after a repeat written in full (余杭区余杭区); a short one may start a
            # name (兰州市兰州新区: the new area, not a repeat)
            written = text[repeat.start : repeat.end]
            full = (repeat.old and written not in data.old_is_short) or any(
                data.by_code[c].name == written for c in repeat.codes
            )
            repeat_end = repeat.end if full else 0
            pos = _skip_separators(text, repeat.end)  # 上海市上海市浦东新区: a form's two fields, one name
            continue
        matches.append(match)
        context = match.codes
        repeat_end = 0
        pos = _skip_separators(text, match.end)
    return matches, repeat_end


def _with_repeat(found: Resolution, repeat_end: int) -> Resolution:
    """``found`` ending after the repeat of its last name that closes the prefix (余杭区余杭区滨河路): the
    place text starts after it, as after 上海市上海市 it starts after 浦东新区."""
    return replace(found, repeat_end=repeat_end) if repeat_end > found.end else found


def _repeated(data: _Data, text: str, pos: int, previous: _Match) -> _Match | None:
    """The name at ``pos`` if it names again the division just matched (上海市上海市, 重庆重庆市, 北京市北京:
    an address typed into a form's province and city fields, both the municipality), else None. The
    repeat is skipped, not kept as a span: the chain goes on under the division it repeats."""
    # a division's names share their first character: most chains end here
    if text[pos] != text[previous.start]:
        return None
    again = _candidates_at(data, text, pos, [])
    if again is None or set(again.codes).isdisjoint(previous.codes):
        return None
    # a former name repeated as written (杭州市江干区江干区: one name, whatever it became), but not a
    # former name against a current one
    if (again.old or previous.old) and text[again.start : again.end] != text[previous.start : previous.end]:
        return None
    return again


#: ``_finish``'s answers by what they depend on (the names matched, where, and their readings): most
#: addresses of a table share a few admin prefixes, and the answer is immutable, so it is shared.
_FINISHED: dict[tuple[object, ...], Resolution] = {}
_FINISHED_MAX: Final[int] = 1 << 15


def _finish(data: _Data, text: str, matches: list[_Match]) -> Resolution:
    key = (text[matches[0].start : matches[-1].end], *[(m.start, m.end, m.old, *m.codes) for m in matches])
    found = _FINISHED.get(key)
    if found is None:
        found = _finish_uncached(data, text, matches)
        if len(_FINISHED) >= _FINISHED_MAX:
            _FINISHED.clear()
        _FINISHED[key] = found
    return found


def _finish_uncached(data: _Data, text: str, matches: list[_Match]) -> Resolution:
    final = matches[-1].codes
    # 吉林 alone reads as 吉林省 or 吉林市; the city lies under the province, so the province is the answer.
    if len(final) > 1:
        final = [c for c in final if not any(data.is_under(c, other) for other in final if other != c)]
    paths = [data.path(c) for c in final]
    on_paths = {d.code for p in paths for d in p}
    spans = []
    renames: list[tuple[str, Division]] = []
    for m in matches:
        kept = [c for c in m.codes if c in on_paths]
        levels = {data.by_code[c].level for c in kept}
        piece = text[m.start : m.end]
        spans.append(
            Span(
                m.start,
                m.end,
                piece,
                next(iter(levels)) if len(levels) == 1 else None,
                kept[0] if len(kept) == 1 else None,
                m.old,
            )
        )
        if m.old:
            renames.extend((piece, data.by_code[c]) for c in kept)
    by_level: dict[Level, str | None] = {level: None for level in LEVELS}
    if len(paths) == 1:
        by_level.update((d.level, d.name) for d in paths[0])
    else:  # a level is filled only where every remaining reading agrees on its name
        for level in LEVELS:
            names = {next((d.name for d in p if d.level == level), None) for p in paths}
            by_level[level] = names.pop() if len(names) == 1 else None
    return Resolution(
        spans=tuple(spans),
        prov=by_level["prov"],
        city=by_level["city"],
        district=by_level["district"],
        town=by_level["town"],
        code=final[0] if len(final) == 1 else None,
        ambiguous=len(final) > 1,
        candidates=tuple(paths) if len(final) > 1 else (),
        renamed=tuple(renames),
    )
