"""Normalize a Chinese address so that equal places are written equally.

The embedded matcher compares normalized text; neural scorers never see it (MGeo was trained on raw
text, see ARCHITECTURE.md). ``normalize(text) -> str`` is the whole contract for callers that only
want the text; ``normalize_detailed`` also says what changed.

The pipeline, in order (each step a small pure function on a string):

1. ``clean``: reject None / non-str / empty (``InputError``), drop control characters, trim, truncate
   to ``max_chars`` (shared with every scorer: ``geoalign.address.clean``).
2. ``width``: NFKC, so full-width Ａ１（ becomes A1(.
3. ``t2s``: traditional → simplified (OpenCC ``t2s``), only when the text has a traditional character.
   Nine characters that OpenCC would change but that official *simplified* names use (乾县, 於潜镇,
   濛阳街道…) are left as they are.
4. ``upper``: ASCII letters upper case (t1 = T1, soho = SOHO).
5. ``brackets``: a bracketed note without digits is dropped ((近地铁站), 【送货前电话联系】); one with digits
   is unwrapped ((3号楼) → 3号楼), since numbers are hard evidence, and so is a text that is all one
   bracket ((星河社区东门): the record itself, not a note on it), and so is a note that is the name of
   the building, estate or park the address holds (青禾路18号(云杉大厦): the place itself; not (近云杉大厦),
   (云杉广场店), (云杉大厦对面)), or a lettered building or zone ((B座), (云杉花园C区)). A note of what
   the place was ((原69号), (原云杉大厦)) is dropped, digits or not.
6. ``punctuation``: ``N#`` → ``N号``; dashes unified; ``-`` kept only between letters/digits
   (3-2-101); a list mark between two numbers (29、31号, 29，31号, 13.14栋; not 3.5公里) becomes ``、``
   and is kept; every other punctuation mark or symbol becomes a space.
7. ``noise``: phone numbers (mobile — masked ones too, 139****1234 —, landline, with their 电话/手机
   labels), recipient names next to a phone number or after 收件人/收货人/联系人, 先生/女士/师傅/老师 forms
   (also closing the address: 李先生收, …201 刘师傅), form labels (收货地址：, 地址：), postcodes
   (邮编310000), the statistics bureau's place-holder divisions (北京市市辖区朝阳区 → 北京市朝阳区) and a
   delivery note closing the address (…3栋501，快递放丰巢 / 到了打电话 / 送货前电话联系); then ``names``:
   a chain's English or short name becomes its Chinese name (KFC → 肯德基, 工行 → 工商银行, 中石化 → 中国石化;
   ``geoalign.address.brands``).
8. ``spaces``: whitespace removed, except one space between two Latin letters (Jianwai SOHO) or after a
   tower's number before another number (T1 3F, until the unit rules have read the tower number).
9. ``numerals``: Chinese numerals (capital ones too: 叁佰陆拾玖号) before a unit word become Arabic
   (三号楼 → 3号楼, 十二层 → 12层, 二零三室 → 203室, 第一单元 → 1单元), and a room written digit by
   digit that ends the address after a building, unit or floor word (2栋三零一 → 2栋301). Never inside
   names: a numeral not followed by a unit stays (文三路, 三里屯, 十里河) and official division names
   stay (二七区, 三号乡, 七百弄乡, 八区街道, 三座店镇).
10. ``units``: building/tower/room/floor/basement synonyms to canonical forms, and building-unit-room
    dashes to words (6-3-402 → 6栋3单元402, 青松苑15-702 → 青松苑15栋702), a floor and door to the room
    (3栋2单元5楼1号 → 3栋2单元501) (``geoalign.address.synonyms``);
    then ``ordinals``: 第 before a number and unit is dropped (第3层 → 3层), ``noise`` again, ``zeros``:
    a padded number of two to six digits reads plain (高新南一道008号 → 8号, A08栋 → A8栋, 3栋0801 →
    3栋801), and ``tidy`` removes spaces and dashes the unit rules left stranded. Steps 9-10 repeat
    until nothing changes (a unit rewrite can expose a numeral: T1三号楼 → T1栋三号楼 → T1栋3栋): one or
    two rounds for a real address, more for a run of repeats, never more rounds than characters.
11. truncation of the result to ``max_chars`` (the result can be longer than the input: 十 → 10).
12. optionally (``complete_admin=True``) the missing admin levels are prefixed when the gazetteer
    resolves the admin prefix unambiguously (榆阳区 → 陕西省榆林市榆阳区, 襄樊市 → 湖北省襄阳市).

Idempotent: ``normalize(normalize(x)) == normalize(x)``. Each step produces text no earlier step would
change again (property-tested with Hypothesis).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from geoalign.address import gazetteer
from geoalign.address.brands import brand_names
from geoalign.address.clean import DEFAULT_MAX_CHARS, Cleaned, clean
from geoalign.address.numerals import DIGITS, NUMERAL_CHARS, chinese_to_int
from geoalign.address.synonyms import canonical_units
from geoalign.errors import InputError

__all__ = ["DEFAULT_MAX_CHARS", "Normalized", "normalize", "normalize_detailed"]

# ------------------------------------------------------------------------------------------------ t2s

#: Characters OpenCC t2s changes but official simplified division names use: 乾安县, 於潜镇, 濛阳街道,
#: 南磑镇, 氾水镇, 垌塚镇, 洩湖镇, 花篢镇, 鴜鹭树镇. Converting them would break the gazetteer lookup.
_KEEP_IN_T2S: Final[frozenset[str]] = frozenset("乾於濛磑氾塚洩篢鴜")


@cache
def _opencc() -> Any:
    import opencc  # core dependency; imported lazily so `import geoalign.address.normalize` stays cheap

    return opencc.OpenCC("t2s")


@cache
def _traditional_chars() -> frozenset[str]:
    """Every character t2s changes on its own; a text without one of them needs no conversion.

    Converting all of CJK (U+3400–U+9FFF) once takes ~15 ms and makes the common case — already
    simplified text — a single set test.
    """
    block = "".join(chr(i) for i in range(0x3400, 0xA000))
    converted = _opencc().convert(block)
    return frozenset(a for a, b in zip(block, converted, strict=True) if a != b) - _KEEP_IN_T2S


def to_simplified(text: str) -> str:
    """Traditional → simplified, leaving the characters of ``_KEEP_IN_T2S`` alone."""
    trad = _traditional_chars()
    for _ in range(3):  # a few OpenCC entries need two steps (薴 → 苧 → 苎)
        if trad.isdisjoint(text):
            return text
        converted = _opencc().convert(text)
        if len(converted) == len(text) and not _KEEP_IN_T2S.isdisjoint(text):
            converted = "".join(o if o in _KEEP_IN_T2S else c for o, c in zip(text, converted, strict=True))
        text = converted
    return text


def fold_simplified(raw: str) -> str:
    """``raw`` in simplified characters where the conversion keeps every offset (one character for one),
    else ``raw`` itself: the text the taggers, the gazetteer and the neural matcher read. All of them
    learned simplified text (学林路18號星河美術館 tagged as written gave the POI 號星河美術館; 廣東省 is
    no division name; traditional characters are missing from the neural vocabulary), while the rest of
    the raw input (spacing, brackets, numbers) is what they were trained on. Offsets index both texts
    alike: a parsed component's ``text`` stays the raw input's, its ``value`` is read in this text."""
    folded = to_simplified(raw)
    return folded if len(folded) == len(raw) else raw


# ------------------------------------------------------------------------------------- simple steps

_ASCII_UPPER: Final[dict[int, int]] = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}


def width(text: str) -> str:
    """NFKC: full-width letters, digits and punctuation to their ordinary forms (Ａ１（ → A1()."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


_ASCII_LOWER: Final[re.Pattern[str]] = re.compile(r"[a-z]")


def upper(text: str) -> str:
    """Upper-case ASCII letters only (str.upper would turn ß into SS and change lengths)."""
    if text.isascii():
        return text.upper()
    return text.translate(_ASCII_UPPER) if _ASCII_LOWER.search(text) else text


_BRACKET: Final[re.Pattern[str]] = re.compile(
    r"[(\[{【〔〖「『]([^()\[\]{}【】〔〕〖〗「」『』]*)[)\]}】〕〗」』]"
)


#: A bracketed note that is the name of a building, an estate or a campus (青禾路18号(云杉大厦)): the place
#: the street address holds, as the same text without brackets names it. Not a note placing the address
#: near, beside or across from one (近/临/对面 …), nor a branch, a gate or a side (…店, 东门, 路北), which
#: do not end with these words.
_PLACE_NOTE: Final[re.Pattern[str]] = re.compile(
    r"(?!近|靠近|临近|邻近|毗邻|紧邻|临|邻|距|离|在|位于|旧)(?:[\u4e00-\u9fffA-Z]+"
    r"(?:大厦|大楼|广场|中心|花园|小区|公寓|家园|新村|花苑|雅苑|商场|商城|写字楼|科技园|产业园|工业园|工业区)"
    # ... or a lettered building, block or zone, alone or after its place's name: (B座), (云杉花园C区),
    # hard evidence as a number is
    r"|[\u4e00-\u9fff]*[A-Z](?:座|栋|幢|区|号楼|单元))"
)


def _bracket(match: re.Match[str]) -> str:
    inner = match.group(1)
    whole = match.start() == 0 and match.end() == len(match.string)  # (星河社区东门): the record itself
    if inner.startswith("原") and not whole:
        return " "  # what the place was (原云杉大厦, 原69号): a former name or number, not a second one
    kept = (
        whole
        or any(ch.isdigit() for ch in inner)
        or (_PLACE_NOTE.fullmatch(inner) is not None and not _restated(inner, match))
    )
    return f" {inner} " if kept else " "


def _restated(inner: str, match: re.Match[str]) -> bool:
    """A bracketed name the text outside the brackets already says (万达广场F1层…(万达广场)): written once."""
    text = match.string
    return inner in text[: match.start()] or inner in text[match.end() :]


def brackets(text: str) -> str:
    """Drop bracketed notes; unwrap brackets holding digits. Innermost first, so nesting works."""
    for _ in range(len(text)):
        new = _BRACKET.sub(_bracket, text)
        if new == text:
            return text
        text = new
    return text


_HASH_NUMBER: Final[re.Pattern[str]] = re.compile(r"(\d)\s*#")
#: A number marked # right before a room or a unit (恒基花园1#702, 27#3单元, 2#-104) is the building's, as
#: 3#楼 is building 3: not after a road word (南京路121#-107铺 is door 121) nor a shop's code in a list
#: (1#-1202#-1203#门面).
_HASH_BUILDING: Final[re.Pattern[str]] = re.compile(
    r"(?<![路街道巷弄\d])(\d{1,3})\s*#(?=\s*-?(?:\d{3,4}(?![\d#])|\d{1,2}单元))"
)
#: Every dash and tilde, and a run of them (1--3层, 1——3层: one range, not the number 13 once the dashes go)
_DASHES: Final[re.Pattern[str]] = re.compile(r"[‐‑‒–—―−~～-]{2,}|[‐‑‒–—―−~～]")
#: A list of numbers (29、31号; 102，103室; 13.14栋; 108/208室, 9/10号楼, 018/019号商铺): the mark between
#: two numbers is kept as 、, or the space step would glue them into one other number (2931号, 108208室).
#: The next number may be written in Chinese numerals before its unit (29、三十一号), which the numerals
#: step turns into digits later.
_LIST_NUMBER = rf"\d|[{NUMERAL_CHARS}]+(?:号|栋|幢|座|室|楼|层|单元)"
#: The decimal point of a distance (3.5公里), kept: as a space it would glue 3.5 into 35.
_DISTANCE = r"\d+\s*(?:公里|千米|米|km|KM)"
_DECIMAL_POINT = rf"(?<=\d)[.．](?={_DISTANCE})"
_NUMBER_LIST: Final[re.Pattern[str]] = re.compile(
    rf"(?<=\d)\s*(?:[、，,/／]|[.．](?!{_DISTANCE}))\s*(?={_LIST_NUMBER})"
)
_PUNCT: Final[re.Pattern[str]] = re.compile(
    rf"(?<!\d)、|、(?!{_LIST_NUMBER})|(?!{_DECIMAL_POINT})[^\w\s、-]|_"
)
_LONE_DASH: Final[re.Pattern[str]] = re.compile(r"(?<![0-9A-Za-z])-|-(?![0-9A-Za-z])")
#: A minus before a low floor is a basement (3号楼-1层, 华苑-1F, 北楼-3楼地下): read as 负, or the dash
#: would go and leave the ground floor. Not after a digit, a letter, another dash or a floor (1-3层,
#: 1--3层, 4层-5层 are ranges), nor after 地下 (地下-1层: the units rule reads it), and only floors 1 to
#: 3: in the address corpus a dash before floors 1-3 outnumbers one before floors 4-9 by 13 to 1 (1.8 to
#: 1 without the dash), and the higher ones read as separators (D座-18层).
_MINUS_FLOOR: Final[re.Pattern[str]] = re.compile(r"(?<![0-9A-Za-z层下-])-(?=[1-3](?:F(?![A-Z])|层|楼))")


def punctuation(text: str) -> str:
    """Punctuation and symbols to spaces; keep ``-`` inside 3-2-101 and 、 between two numbers (29、31号);
    ``3#`` is 3号, and 3栋 right before a room or a unit (3#501)."""
    if "#" in text:
        text = _HASH_NUMBER.sub(r"\1号", _HASH_BUILDING.sub(r"\1栋", text))
    text = _NUMBER_LIST.sub("、", text)
    text = _PUNCT.sub(" ", _DASHES.sub("-", text))
    if "-" not in text:
        return text
    return _LONE_DASH.sub(" ", _MINUS_FLOOR.sub("负", text))


_SPACE_RUN: Final[re.Pattern[str]] = re.compile(r"\s+")
#: A space that goes: every one but those between two Latin letters (JIANWAI SOHO) or two digits (the
#: digit spaces left after ``_DIGIT_GAP``).
_SPACE_NOT_BETWEEN_LATIN: Final[re.Pattern[str]] = re.compile(
    r"(?<![A-Za-z0-9]) | (?![A-Za-z0-9])|(?<=[A-Za-z]) (?=[0-9])|(?<=[0-9]) (?=[A-Za-z])"
)
#: A space between two numbers is kept only after a tower's or a lettered building's number (T1 3F, 塔1
#: 3层, 塔楼2 12层, B2 5层: glued, the number and the floor would run into one, T13); elsewhere the numbers
#: are glued as before (城发雅郡6 701 = 6701: one side with the space and one without stay one text).
_DIGIT_GAP: Final[re.Pattern[str]] = re.compile(r"((?:[A-Za-z]|塔楼?)?)(\d+) (?=\d)")


def _glue_digits(match: re.Match[str]) -> str:
    return match.group(0) if match.group(1) else match.group(2)


def spaces(text: str) -> str:
    """Chinese addresses need no spaces; keep one only between two Latin letters (JIANWAI SOHO) or after
    a tower's number before another number (T1 3F: ``tidy`` drops it once the unit rules have read the
    tower number, T1栋3层)."""
    if " " not in text:  # cleaned text has no other whitespace (clean() turns all of it into spaces)
        return text
    text = _DIGIT_GAP.sub(_glue_digits, _SPACE_RUN.sub(" ", text))
    return _SPACE_NOT_BETWEEN_LATIN.sub("", text).strip()


# ------------------------------------------------------------------------------------------- noise

# Digits of a phone number may be grouped by spaces or dashes (138 1234 5678); the boundaries refuse to
# cut a phone number out of a longer digit string, with or without such separators — but a digit group
# (up to 4 digits) that ends a lettered or hyphenated address number (T2, B12, 3-2-101) is not part of
# the number that follows it (文三路 T2 13812345678: the space must not glue the phone to the tower).
_D = r"[\s-]?\d"
_NOT_AFTER_DIGIT_GROUP = (
    r"(?:(?<!\d[\s-])" + "".join(rf"|(?<=[A-Za-z-]\d{{{n}}}[\s-])" for n in range(1, 5)) + ")"
)
# A mobile number may come masked, as shops print it on a label (139****1234; the punctuation step has
# made each * a space by the time noise runs).
_PHONE_CORE = (
    rf"(?:(?:\+?86[\s-]?)?1[3-9]\d(?:{_D}){{8}}|1[3-9]\d[*\s]{{4}}\d{{4}}|0\d{{2,3}}[\s-]?\d(?:{_D}){{6,7}})"
)
# Only the Latin labels need case folding: re.IGNORECASE over the whole pattern made Python fold every
# character of its CJK ranges at compile time (31 ms of each process's start-up, for the same matches).
_PHONE_LABEL = r"(?:联系电话|联系方式|电话号码|手机号码|手机号|电话|手机|座机|(?i:TEL|PHONE))\s*[:：]?\s*"
# A whole mobile number written after the address's last number and a space (6号楼101 13812345678): the
# number before the space ends at a Chinese character, so it is a room or house number, not the first
# group of a spaced phone number; only an unbroken 11-digit mobile or a landline with its dash
# (0571-88881234) is taken there (a spaced group could still be part of a longer code). The room number
# may stand one space after its word, where the punctuation step made a space of a dash (3栋-104 → 3栋 104).
_AFTER_ROOM_NUMBER = (
    "(?:"
    + "|".join(rf"(?<=[\u3400-\u9fff]{gap}\d{{{n}}}\s)" for n in range(1, 6) for gap in ("", r"\s"))
    + ")"
)
_PHONE_WHOLE = r"(?:(?:\+?86)?1[3-9]\d{9}|0\d{2,3}-\d{7,8})"
_PHONE_ANYWHERE: Final[re.Pattern[str]] = re.compile(_PHONE_CORE)  # cheap pre-check, no label/boundaries
#: Two or more whole phone numbers in a row (13812345678 13987654321, 138…/139…: a second contact), read
#: as one: otherwise each stands next to a digit group and neither is taken, and the space step glues
#: them into one 22-digit number.
_PHONE_RUN: Final[re.Pattern[str]] = re.compile(rf"(?<!\d)({_PHONE_WHOLE})(?:[\s、/]+{_PHONE_WHOLE})+(?!\d)")
#: An extension after a landline (0571-88881234转123, 分机 123): part of the phone number.
_EXTENSION = r"(?:\s*(?:转|分机)\s*\d{1,5})?"
_PHONE: Final[re.Pattern[str]] = re.compile(
    rf"(?:{_PHONE_LABEL})?(?:(?<!\d){_NOT_AFTER_DIGIT_GROUP}{_PHONE_CORE}|{_AFTER_ROOM_NUMBER}{_PHONE_WHOLE})"
    rf"{_EXTENSION}(?![\s-]?\d)",
)


def phone_spans(text: str) -> list[tuple[int, int]]:
    """Where ``text`` holds a phone number (with its label: 电话：138…), as (start, end): what ``noise``
    removes, for a reader of the text as written (the parser tags the raw text)."""
    if _PHONE_ANYWHERE.search(text) is None:
        return []
    return [m.span() for m in _PHONE.finditer(text)]


#: The ~150 commonest single-character surnames; a 2-3 character word next to a phone number that starts
#: with one of them is taken for the recipient's name.
_SURNAMES: Final[str] = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向"
    "汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单"
    "季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦"
    "戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻"
    "苑迟邝"
)
_SEP = r"[\s,，;；:：/|]"
#: Last characters of a place word, never of a person's name: 金林路 and 石林县 start with a surname
#: (金, 石) but are a road and a district, and an address that is only a road beside a phone number
#: must keep its road.
_PLACE_END = "省市区县镇乡村路街道巷弄号栋幢楼室层厦苑园庭府"
#: A name is 2-3 characters: a 4-character word beside a phone number is more often a place (金色花庭).
_NAME = rf"[{_SURNAMES}][\u4e00-\u9fff]{{1,2}}(?<![{_PLACE_END}])|[\u4e00-\u9fff]{{1,2}}(?:先生|女士|小姐)"
_NAME_BEFORE_PHONE: Final[re.Pattern[str]] = re.compile(rf"(?:^|(?<={_SEP}))(?:{_NAME}){_SEP}*(?=\x00)")
_NAME_AFTER_PHONE: Final[re.Pattern[str]] = re.compile(rf"(?<=\x00){_SEP}*(?:{_NAME})(?={_SEP}|$)")
_HAS_WORD: Final[re.Pattern[str]] = re.compile(r"[^\W_]")
_LABELLED_NAME: Final[re.Pattern[str]] = re.compile(
    r"(?:收件人|收货人|联系人|收件|姓名)\s*[:：]?\s*"
    rf"(?:(?:[\u4e00-\u9fff]{{1,4}}|[A-Za-z ]{{1,20}})(?={_SEP}|$))?"
)

#: Form-field labels in front of the address itself (收货地址：…; a register's 注册地址：, 公司地址：,
#: 住所：), at the start or after a separator. A run of them (地址地址：, 收货地址 详细地址：) goes in one
#: match: one a pipeline round left the rest for later rounds, and after the last round a label stayed
#: that the next normalize removed (not idempotent).
_FIELD_LABEL: Final[re.Pattern[str]] = re.compile(
    rf"(?:^|(?<={_SEP}))(?:(?:收货地址|收件地址|寄件地址|详细地址|所在地区"
    r"|注册地址|公司地址|经营地址|办公地址|通讯地址|通信地址|联系地址|家庭住址|家庭地址|单位地址|住址|住所"
    r"|地址)\s*[:：]?\s*)+"
)
_POSTCODE: Final[re.Pattern[str]] = re.compile(r"(?:邮编|邮政编码)\s*[:：]?\s*\d{6}(?!\d)")
#: A resident ID number an order carries (身份证号330106199001011234, or unlabelled): 18 characters, a
#: region code, a birth date in 19xx or 20xx and a check character; never part of an address.
_ID_NUMBER: Final[re.Pattern[str]] = re.compile(
    r"(?:身份证(?:号码|号)?\s*[:：]?\s*)?(?<!\d)[1-8]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
    r"\d{3}[\dX](?![\dA-Z])"
)
_LONG_DIGIT_RUN: Final[re.Pattern[str]] = re.compile(r"\d{17}")
#: A postcode closing the address without its label (…文一西路969号 310000, …14楼,330100): six digits
#: after a space or comma at the very end, after a word; after a number only behind a space, as a
#: postcode starts (…3栋501 310012: 0-8; the space step would glue it into room 501310012). Not after a
#: comma or 、 behind a digit (4,3,273888 and 196、197406 are lists of numbers); a run glued to the
#: address (166号325600) is left alone.
_TRAILING_POSTCODE: Final[re.Pattern[str]] = re.compile(
    r"(?:(?<=[^\d\s,，、])[\s,，]+\d{6}|(?<=\d)[ \t\u3000]+[0-8]\d{5})$"
)
_POSTCODE_SEPARATORS: Final[frozenset[str]] = frozenset(" \t\u3000,，")
#: A polite name closing the address with no phone beside it: 李先生收, or 王女士 / 刘师傅 / 陈老师 after a
#: space. Never a name run into the address without 收 (李先生牛肉面 is a shop, 托管李老师 a business).
_TITLES: Final[tuple[str, ...]] = ("先生", "女士", "小姐", "师傅", "老师", "经理")
POLITE_NAME: Final[str] = rf"[{_SURNAMES}][\u4e00-\u9fff]?(?:{'|'.join(_TITLES)})"
_NAME_AT_END: Final[re.Pattern[str]] = re.compile(rf"(?:{_SEP}+{POLITE_NAME}收?|{POLITE_NAME}收)$")
_TITLE: Final[re.Pattern[str]] = re.compile("|".join(_TITLES))
#: A recipient's name and 收 closing the address after a separator (…1号 张三收): 收 says it is a name. Not
#: without the separator (…大厦王府收 could be a place), not a word ending like a place (金林路收).
_RECEIVER_AT_END: Final[re.Pattern[str]] = re.compile(rf"{_SEP}+(?:{_NAME})收$")
#: A labelled note closing the address (…1号 备注：不要按门铃, 留言: 放门口): the label says the rest is
#: not the place. Not a note with a number (备注：3楼 may be the floor, as a bracketed note with digits is
#: kept). The colon is a space by now (``punctuation``); a label run into a word (留言板) is none.
_LABELLED_NOTE: Final[re.Pattern[str]] = re.compile(
    r"(?:买家留言|留言|订单备注|备注|配送说明)(?:\s*[:：]|\s)\D*$"
)


#: Where a parcel should be left, when to call: an order's delivery note closes its address (文三路369号
#: 快递放丰巢, …10栋到了打电话打不通放物业). Bracketed notes are gone already (``brackets``); these are the
#: ones written straight on. Each starts with a verb and a place to leave the parcel or a call to make, so a
#: place name holding one of the verbs (解放路, 送变电所) is no note; the note runs to the end of the text.
_NOTE_PLACE = (
    r"(?:家门口|门口|门卫室?|前台|快递柜|快递箱|丰巢|菜鸟驿站|菜鸟|驿站|物业|传达室|保安室?|收发室|邮件室|"
    r"自提点|代收点)"
)
_NOTE_POLITE = r"(?:帮我|帮忙|请|麻烦|可以|可|不要|不接受|拒绝|别|勿)?"
_NOTE_VERB = rf"{_NOTE_POLITE}(?:放|存放|寄存|送到|送至|交给|交到)(?:在|到|至|进)?"
#: Where a note may start: after a separator, a number or a word that ends an address (号, 楼, 单元, 村,
#: 店 …); never inside a name (南京的解放门口 is a place, not 解 + a note).
_NOTE_START = r"(?<=[\s\dA-Z号楼栋幢座室层元院店村组区户弄巷寓厦])"
_DELIVERY_NOTE: Final[re.Pattern[str]] = re.compile(
    rf"{_NOTE_START}(?:"
    rf"(?:快递|包裹)?{_NOTE_VERB}{_NOTE_PLACE}"
    r"|到了(?:之后|以后)?(?:请|先)?(?:(?:打|拨打|给我打|打个)?电话|电联|联系我?)"
    r"|(?:送货|配送|送)前(?:请|先)*(?:打|电话|联系|电联)"
    r"|(?:请|提前)?电联$"
    r"|(?:工作日|周末|节假日|双休日?)(?:均可|都可以?|才|只|不|不能)?(?:送货|配送|送达|收货|派送|送)"
    r"|(?:必须|请|直接)?送货上门)"
)
#: A landmark the address lies near, written after it as a clause of its own (…18号，近云杉公园: the comma is
#: a space by now): what a bracketed （近云杉公园） says, and the brackets are gone already. Only after a
#: number's word and a separator, and without a digit (…18号 近3号门 may say which door).
_LANDMARK_NOTE: Final[re.Pattern[str]] = re.compile(
    r"(?<=[号栋幢座室层元])\s+(?:近|靠近|邻近|临近)[^\d\s]{2,12}$"
)
#: The kind of address an order export appends as its tag (…3栋501室 家, …18号 公司: a shop's address
#: book labels each address home, company or school), after a number or its word and a separator.
#: Bracketed, the rule layer reads the same tags as noise notes (``scorers.rules._NOISE_NOTE``).
ADDRESS_TAGS: Final[str] = "家|家里|公司|单位|学校"
_TAG_AT_END: Final[re.Pattern[str]] = re.compile(rf"(?<=[\dA-Z号栋幢座室层元楼])\s+(?:{ADDRESS_TAGS})$")
#: A cheap guard: a character every note holds (one C-level scan; a set test per character cost twice as
#: much, and the note pattern itself five times).
_NOTE_GUARD: Final[re.Pattern[str]] = re.compile("[放存寄送交到日末假休联]")


def _without(pattern: re.Pattern[str], text: str) -> str:
    """``text`` up to where ``pattern`` first matches (a note that runs to the end), if a word of the
    address stands before it."""
    m = pattern.search(text)
    if m is None or not _HAS_WORD.search(text, 0, m.start()):
        return text
    return text[: m.start()]


#: A form's place-holder for an empty field closing the address after a space or separator (…369号 无,
#: …369号 null, …369号 N/A): an export wrote it, no one lives there.
_PLACEHOLDER_END: Final[re.Pattern[str]] = re.compile(
    r"[\s,，;；、/]+(?:暂无|无|空|(?i:null|none|nil|n[/\s]?a))\s*$"
)
_PLACEHOLDER_LAST: Final[frozenset[str]] = frozenset("无空LEAlea")


#: The statistics bureau's place-holder divisions, which exports of its code table write between real
#: ones (北京市市辖区朝阳区, 湖北省省直辖县级行政区划仙桃市, 重庆市县巫山县): no place of their own. 县 only
#: between 重庆市 and a county (重庆市县城 is no place-holder). The county-level one is also written
#: 县级行政区 or 县级行政单位, and starts some exports' addresses with no province before it.
_PLACEHOLDER_DIVISION: Final[re.Pattern[str]] = re.compile(
    r"(?:(?<=[省市区])[\s-]*|^)(?:省|自治区)直辖县级行政(?:区划|单位|区)"
    r"|(?<=[省市区])[\s-]*市辖区|(?<=重庆市)县(?=[\u4e00-\u9fff]{1,5}县)"
)


#: The country written before a division (中国浙江省…, 中华人民共和国北京市…, 中国·深圳…): the gazetteer
#: reads the divisions from the start of the text, and every address here is in the country. Not a name
#: that starts with it (中国银行, 中国计量大学, 中国(杭州)智慧产业园): ``_country_prefix`` checks that a
#: province or city follows.
_COUNTRY: Final[re.Pattern[str]] = re.compile(r"(?:中华人民共和国|中国大陆|中国)[\s,，·]*")


def _country_prefix(text: str) -> int:
    """The length of a country written before a province or city at the start of ``text`` (0: none)."""
    m = _COUNTRY.match(text)
    if m is None:
        return 0
    spans = gazetteer.resolve(text[m.end() :]).spans
    return m.end() if spans and spans[0].start == 0 and spans[0].level in ("prov", "city") else 0


def noise(text: str) -> str:
    """Remove phone numbers, recipient names and their labels, delivery notes, a landmark the address lies
    near, place-holder divisions, a country before the divisions and a closing place-holder (…369号 null):
    they are not part of the place."""
    if not text:
        return text
    if text[0] == "中":
        text = text[_country_prefix(text) :]
    if "辖" in text or "重庆市县" in text:
        # a text that is nothing but the place-holder (省直辖县级行政区划) keeps it: nothing else is left
        dropped = _PLACEHOLDER_DIVISION.sub("", text)
        text = dropped if dropped.strip() else text
    last = text[-1]
    if last in _PLACEHOLDER_LAST or (last.isspace() and text.rstrip()[-1:] in _PLACEHOLDER_LAST):
        kept = _PLACEHOLDER_END.sub("", text)
        if _HAS_WORD.search(kept):
            text = kept
    if _PHONE_ANYWHERE.search(text):
        text = _PHONE_RUN.sub(r"\1", text)
        # Mark each phone number with \x00 (a control character, never left in cleaned text) so names
        # right next to a phone number can be found, then drop names and marks together.
        marked = _PHONE.sub("\x00", text)
        if marked != text:
            unnamed = _NAME_AFTER_PHONE.sub("", _NAME_BEFORE_PHONE.sub("", marked))
            # the words beside the phone number were all there was: they were the place, not a name
            text = (unnamed if _HAS_WORD.search(unnamed) else marked).replace("\x00", " ")
    if "收" in text or "联系人" in text or "姓名" in text:
        text = _LABELLED_NAME.sub(" ", text)
    if "地址" in text or "地区" in text or "住" in text:
        text = _FIELD_LABEL.sub(" ", text)
    if "邮" in text:
        text = _POSTCODE.sub(" ", text)
    if _LONG_DIGIT_RUN.search(text):
        text = _ID_NUMBER.sub(" ", text)
    # the pattern's own test first, from the end: most addresses end in a digit, few in a postcode
    if len(text) > 7 and text[-7] in _POSTCODE_SEPARATORS and text[-6:].isdigit():
        text = _TRAILING_POSTCODE.sub("", text)
    if _TITLE.search(text):
        text = _NAME_AT_END.sub("", text.rstrip())
    if text.endswith("收"):
        text = _RECEIVER_AT_END.sub("", text)
    if "备注" in text or "留言" in text or "说明" in text:
        text = _without(_LABELLED_NOTE, text)
    if _NOTE_GUARD.search(text):
        text = _without(_DELIVERY_NOTE, text)  # the note runs to the end
    if "近" in text:
        text = _LANDMARK_NOTE.sub("", text)
    if " " in text and text[-1] in "家里司位校":
        text = _TAG_AT_END.sub("", text)
    return text


# ---------------------------------------------------------------------------------------- numerals

#: Words after which a number is a number: house 号, building 楼/栋/幢/座, unit 单元, floor 层, room 室,
#: lane 弄/巷, phase 期, area 区 (3区), village group 组 and team 队, road section 段 (人民南路四段 → 4段,
#: as orders write it), a village's 社 (Sichuan's and Guangdong's groups: 云杉村三社 = 3社; not 社区, 社会,
#: a village named 三社村); 房 is a room (二零三房 → 203房 → 203室).
_UNIT = r"(?:单元|号|楼|层|室|房|栋|幢|座|弄|巷|期|区|组|队|段|社(?![区会村]))"
#: A numeral run before a unit, with an optional ordinal 第. The run may not follow an Arabic digit
#: (13十 is no number) and may not start with 百/千/万 (百号 is not "100号") or 两 (两栋 means "two
#: buildings", a count, not building number 2).
_NUMERAL_BEFORE_UNIT: Final[re.Pattern[str]] = re.compile(
    rf"(?<![0-9{NUMERAL_CHARS}])(第*)([{NUMERAL_CHARS}]+)(?={_UNIT})"
)
_ORDINAL_ARABIC: Final[re.Pattern[str]] = re.compile(rf"第+(?=\d+{_UNIT})")
#: Digit-by-digit numerals longer than this are not house/room numbers (and could form a phone number).
_MAX_DIGIT_RUN: Final[int] = 6


@cache
def _protected_runs() -> dict[str, tuple[tuple[int, int, frozenset[str]], ...]]:
    """numeral run → (offset of the run in the name, name length, names) for 二七区, 三号乡, 七百弄乡…

    Grouped by (offset, length) so a check is one slice and one set lookup per group, not one
    comparison per name (一 alone occurs in hundreds of division names).
    """
    groups: dict[str, dict[tuple[int, int], set[str]]] = {}
    run = re.compile(f"[{NUMERAL_CHARS}]+")
    for name in gazetteer.numeral_names():
        for m in run.finditer(name):
            groups.setdefault(m.group(0), {}).setdefault((m.start(), len(name)), set()).add(name)
    return {
        r: tuple((offset, length, frozenset(names)) for (offset, length), names in by_shape.items())
        for r, by_shape in groups.items()
    }


def _inside_division_name(text: str, start: int, run: str) -> bool:
    for offset, length, names in _protected_runs().get(run, ()):
        begin = start - offset
        if begin >= 0 and text[begin : begin + length] in names:
            return True
    return False


_NUMERAL_SET: Final[frozenset[str]] = frozenset(NUMERAL_CHARS)
_NUMERAL_ANY: Final[re.Pattern[str]] = re.compile(f"[{NUMERAL_CHARS}]")


#: A room written digit by digit at the very end, after a building/unit/floor word (2栋三零一): a run of
#: digit characters only (no 十/百) of three to six, so a name (二七, 三元) is never read as a number.
_DIGIT_NUMERALS_AT_END: Final[re.Pattern[str]] = re.compile(
    r"(?:(?<=[栋幢座楼层号])|(?<=单元))([零〇一二三四五六七八九]{3,6})$"
)


#: The capital (banker's) numerals, as formal documents write them (叁佰陆拾玖号): read as the common ones,
#: but only in a run of two or more numerals before a unit word, or one capital as the house number
#: right after a road (步行街壹号), a building right after a door or a unit right after a building
#: (18号叁号楼, 3栋贰单元), or right before a building or floor word (伍幢, 叁层). Elsewhere one capital
#: before a unit is a name far more often than a number: 下陆区 and 陆丰 are divisions, 西湖壹号 and
#: 壹号院 are compounds (read as 1号 they would invent a road number); 陆家嘴 and 伍家岗区 have no unit
#: after the numeral at all.
_CAPITALS: Final[dict[int, int]] = str.maketrans("壹贰叁肆伍陆柒捌玖拾佰仟", "一二三四五六七八九十百千")
_CAPITAL_RUN: Final[re.Pattern[str]] = re.compile(
    f"(?<![壹贰叁肆伍陆柒捌玖拾佰仟{NUMERAL_CHARS}])"
    f"(?=[壹贰叁肆伍陆柒捌玖拾佰仟{NUMERAL_CHARS}]*[壹贰叁肆伍陆柒捌玖拾佰仟])"
    f"(?:[壹贰叁肆伍陆柒捌玖拾佰仟{NUMERAL_CHARS}]{{2,}}(?={_UNIT})"
    # one capital is a number only as the house number right after a road (步行街壹号 is number 1), as a
    # building right after a door (18号叁号楼, 18号伍栋) or a unit right after a building (3栋贰单元), and
    # right before a building or floor word (云杉小区伍幢, 步行街叁层: every such corpus line is a number)
    f"|(?<=[路街道巷弄同里])[壹贰叁肆伍陆柒捌玖](?=号)"
    f"|(?<=[0-9]号)[壹贰叁肆伍陆柒捌玖](?=号楼|号?[栋幢]|单元)"
    f"|(?<=[栋幢])[壹贰叁肆伍陆柒捌玖](?=单元)"
    f"|[壹贰叁肆伍陆柒捌玖](?=[栋幢座层]))"
)
_CAPITAL_ANY: Final[re.Pattern[str]] = re.compile("[壹贰叁肆伍陆柒捌玖拾佰仟]")


def numerals(text: str) -> str:
    """Chinese numerals before unit words to Arabic, except inside names (see module docstring); and a
    digit-by-digit room number that ends the address after a building, unit or floor (2栋三零一)."""
    if _CAPITAL_ANY.search(text):
        text = _CAPITAL_RUN.sub(lambda m: m.group(0).translate(_CAPITALS), text)
    if not _NUMERAL_ANY.search(text):  # a C-level scan: most addresses have no numeral character
        return text
    text = _chinese_numerals(text)
    return _DIGIT_NUMERALS_AT_END.sub(_numeral_digits, text) if text[-1] in _NUMERAL_SET else text


_DIGIT_OF: Final[dict[int, str]] = str.maketrans({ch: str(value) for ch, value in DIGITS.items()})


def _numeral_digits(match: re.Match[str]) -> str:
    return match.group(1).translate(_DIGIT_OF)


def ordinals(text: str) -> str:
    """第3层 → 3层. Runs after ``numerals`` and ``units`` so it also sees the numbers and unit words they
    produce (第三层 → 第3层, 第3F → 第3层)."""
    return _ORDINAL_ARABIC.sub("", text) if "第" in text else text


#: A number padded with zeros (高新南一道008号, A08栋, 负01层, 0801室, 3栋0801): door plates in some cities
#: pad to three digits and the orders written against them do not, so the padded and the plain number
#: must read alike, with or without the unit word after it. A whole run of two to six digits, not after
#: a decimal point (3.05) and not before one; longer runs are phone numbers or codes. A zero alone (0号)
#: stays a number.
_PADDED: Final[re.Pattern[str]] = re.compile(r"(?<![\d.:])(?=0\d{1,5}(?![\d:]|\.\d))0+(\d+)")


def zeros(text: str) -> str:
    """008号 → 8号, A08栋 → A8栋, 3栋0801 → 3栋801 (a padded number's leading zeros)."""
    return _PADDED.sub(r"\1", text) if "0" in text else text


def _chinese_numerals(text: str) -> str:
    out: list[str] = []
    last = 0
    for m in _NUMERAL_BEFORE_UNIT.finditer(text):
        run = m.group(2)  # group 1, the ordinal 第, is dropped: 第三层 and 三层 are the same floor
        if run[0] in "百千万两" or _inside_division_name(text, m.start(2), run):
            continue
        if all(ch in DIGITS for ch in run) and len(run) > _MAX_DIGIT_RUN:
            continue
        value = chinese_to_int(run)
        if value is None:
            continue
        out.append(text[last : m.start()])
        out.append(str(value))
        last = m.end()
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


# ------------------------------------------------------------------------------------------ driver


#: A list mark no longer between two numbers: the noise step took the number before it (a phone number:
#: 13812345678，三号楼 → 、3栋), or the numerals step left the next one in words (29、两栋).
_STRAY_LIST_MARK: Final[re.Pattern[str]] = re.compile(r"(?<!\d)、|、(?!\d)")


def tidy(text: str) -> str:
    """``spaces`` plus lone dashes and stray list marks: unit rules can leave a space or a dash where it
    no longer belongs (12F A → 12层 A, 0F-0 → 0层-0)."""
    if "、" in text:
        text = _STRAY_LIST_MARK.sub("", text)
    return spaces(_LONE_DASH.sub(" ", text)) if (" " in text or "-" in text) else text


#: Steps run once, in order.
_HEAD: Final[tuple[tuple[str, Callable[[str], str]], ...]] = (
    ("width", width),
    ("t2s", to_simplified),
    ("upper", upper),
    ("brackets", brackets),
    ("punctuation", punctuation),
    ("noise", noise),
    ("names", brand_names),
    ("spaces", spaces),
)
#: Steps repeated until nothing changes: a unit rewrite can expose a numeral the first round skipped
#: (T1三号楼: 三 follows a digit and is left alone; T1 → T1栋 then puts 栋 before it).
_TAIL: Final[tuple[tuple[str, Callable[[str], str]], ...]] = (
    ("numerals", numerals),
    ("units", canonical_units),
    ("ordinals", ordinals),
    # again: a unit rewrite can free a phone number (T1-13812345678 → T1栋13812345678)
    ("noise", noise),
    # after noise: a landline's area code (0571-…) is the phone's to remove, not a padded number
    ("zeros", zeros),
    ("tidy", tidy),
)
#: Rounds of ``_TAIL`` at least allowed before giving up on a fixed point. A real address settles in one
#: or two; a run of repeats (李先生收李先生收…, 第9第9第9…号) loses one repeat a round, so the bound
#: also grows with the text's length: stopping short left work that the next normalize did (not
#: idempotent). The bound only guarantees the loop ends.
_MAX_ROUNDS: Final[int] = 4


@dataclass(frozen=True, slots=True)
class Normalized:
    """A normalized address and what happened to it.

    ``changed_by`` names the steps that changed the text, in order of first change (``clean``: control,
    format or surrogate characters dropped; ``width``, ``t2s``, ``upper``, ``brackets``,
    ``punctuation``, ``noise``, ``names``, ``spaces``, ``numerals``, ``units``, ``ordinals``,
    ``zeros``, ``tidy``, ``admin``);
    ``truncated`` is True when the input or the result was cut to ``max_chars``; ``admin`` is the
    gazetteer's reading of the admin prefix when ``complete_admin`` was asked for.
    """

    text: str
    original: str
    changed_by: tuple[str, ...]
    truncated: bool
    admin: gazetteer.Resolution | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "text": self.text,
            "original": self.original,
            "changed_by": list(self.changed_by),
            "truncated": self.truncated,
        }
        if self.admin is not None:
            a = self.admin
            out["admin"] = {
                "prov": a.prov,
                "city": a.city,
                "district": a.district,
                "town": a.town,
                "code": a.code,
                "ambiguous": a.ambiguous,
                "candidates": ["".join(d.name for d in p) for p in a.candidates],
                "renamed": [{"old": old, "new": new.name} for old, new in a.renamed],
            }
        return out


def _cleaned(value: Any, max_chars: int) -> Cleaned:
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1:
        raise InputError(f"max_chars must be a positive integer, got {max_chars!r}")
    if isinstance(value, str) and value.isprintable():
        # Fast path, same result as clean(): a printable string has no control, format, surrogate,
        # private-use or unassigned character (and no whitespace but U+0020), so cleaning is only
        # collapsing spaces and truncating. clean() walks the text character by character otherwise.
        text = " ".join(value.split())
        if text:
            if len(text) <= max_chars:
                return Cleaned(text, False, 0)
            return Cleaned(text[:max_chars].rstrip(), True, 0)
    result = clean(value, max_chars=max_chars)
    if not isinstance(result, Cleaned):
        raise InputError(f"{result.code}: {result.message}")
    return result


def _run(steps: tuple[tuple[str, Callable[[str], str]], ...], text: str, changed: list[str] | None) -> str:
    for name, step in steps:
        new = step(text)
        if changed is not None and new != text:
            changed.append(name)
        text = new
    return text


def _pipeline(text: str, changed: list[str] | None) -> str:
    text = _run(_HEAD, text, changed)
    for _ in range(max(_MAX_ROUNDS, len(text))):
        round_changed: list[str] = []
        new = _run(_TAIL, text, round_changed)
        if changed is not None:
            changed.extend(round_changed)
        if new == text:
            break
        text = new
        # Shortcut for the common case: when only numerals/units changed, the only step that can have
        # new work is ``numerals`` (units may have put a unit word after a numeral run, T1三号楼); the
        # later steps of this round already saw the units' output. Skip the full second round if
        # numerals has nothing to do. Not after ``zeros``: a number without its zeros can be what a
        # unit rule reads (苑0983-2-501 → 苑983-2-501 → 苑983栋2单元501; a fuzz run found the second
        # normalize doing that step).
        if set(round_changed) <= {"numerals", "units"} and numerals(text) == text:
            break
    return text


def _name_kept(text: str, resolution: gazetteer.Resolution) -> str:
    """The text after the admin prefix, with the last division's short name kept where it starts a new
    area's name (兰州新区, 南沙新区: completed to 甘肃省兰州市兰州新区, not 甘肃省兰州市新区)."""
    rest = text[resolution.end :]
    last = resolution.spans[-1] if resolution.spans else None
    if last is None or last.code is None or not rest.startswith("新区"):
        return rest
    division = gazetteer.get(last.code)
    # a name written in full (兰州市新区) is followed by a place word, not a new area's name
    return rest if division is None or division.name == last.text else last.text + rest


def _complete_admin(text: str) -> tuple[str, gazetteer.Resolution]:
    resolution = gazetteer.resolve(text, anywhere=True)
    if resolution.code is None:  # nothing found, or ambiguous: never guess
        return text, resolution
    completed = text[: resolution.start] + resolution.prefix() + _name_kept(text, resolution)
    # A reading that would change again when read back (a repeated province in front of a chain found
    # further on: 陕西陕西商洛… ) is unstable: never guess, so normalize stays idempotent.
    again = gazetteer.resolve(completed, anywhere=True)
    if again.code is None or completed[: again.start] + again.prefix() + completed[again.end :] != completed:
        return text, gazetteer.Resolution()
    return completed, resolution


def normalize_detailed(
    value: Any, *, max_chars: int = DEFAULT_MAX_CHARS, complete_admin: bool = False
) -> Normalized:
    """Normalize one address and report what changed. Raises ``InputError`` for unusable input
    (None, not a string, empty, or nothing left after removing noise such as a lone phone number)."""
    cleaned = _cleaned(value, max_chars)
    # control, format and surrogate characters dropped by the cleaning: said, so that a character of
    # ``original`` missing from ``text`` always has a step that took it
    changed: list[str] = ["clean"] if cleaned.removed_controls else []
    text = _pipeline(cleaned.text, changed)
    truncated = cleaned.truncated
    admin = None
    if complete_admin:
        new, admin = _complete_admin(text)
        if new != text:
            changed.append("admin")
            # the prefix can free a rule the bare name blocked (河北塔一: 北塔 reads as a north tower; in
            # 河北省塔一 it is tower 1), so the completed text is settled again: normalize stays idempotent
            new = _pipeline(new, None)
        text = new
    if len(text) > max_chars:
        # The result grew past the limit (十 → 10, admin prefix); cut it and let the pipeline settle the
        # cut end (a cut can leave e.g. "12F" where "12FX" was), so the result is itself normalized.
        truncated = True
        text = _pipeline(text[:max_chars], None)[:max_chars].strip()
    if not text:
        raise InputError("empty: nothing is left of the address after removing punctuation and noise")
    return Normalized(text, value, tuple(dict.fromkeys(changed)), truncated, admin)


def normalize(text: str, *, max_chars: int = DEFAULT_MAX_CHARS, complete_admin: bool = False) -> str:
    """The normalized address text (see the module docstring). Idempotent.

    Raises ``InputError`` for None, non-strings, empty input, or input with nothing left after noise
    removal.
    """
    return normalize_detailed(text, max_chars=max_chars, complete_admin=complete_admin).text
