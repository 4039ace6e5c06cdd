"""Canonical forms (what the matcher compares):

============  ===========================================  ==========
what          written as                                   canonical
============  ===========================================  ==========
building      3号楼, 3幢, 3座, 3栋, A座, A幢, A塔           3栋, A栋
tower         塔1, 塔一, 塔楼1, 1号塔楼, T1, T1座, T1栋        T1栋
room          203室, 203房, 203房间, 203号房                 203室
floor         12层, 12F, 12楼层, L12层, F12层, L12 (closing)  12层
ground floor  首层, 底层, 底楼                                 1层
basement      负一层, 负1楼, 地下1层, 地下室1层, B1层, B1F       负1层
house number  3#, 3号                                      3号
bldg-unit-rm  6-3-402, D2-1-1703 (after a name or 号)        6栋3单元402
bldg-room     青松苑15-702, 369号3-501 (closing the text)    15栋702
unit          3号楼2门501, 3幢一门 (a building's door, north)  3栋2单元501, 3栋1单元
floor + door  3栋2单元5楼1号, 3栋12层3号 (Sichuan)            3栋2单元501, 3栋1203
floor + room  A栋12楼01室, A栋12层01, A栋12F-01 (closing)      A栋1201室, A栋1201
part + room   2栋A403, 2号楼A403 (Shenzhen)                  2栋A栋403
sub-number    168号之一, 168号之1                          168-1号
annex number  32号附5号, 32附5号, 32号附5                   32-5号
own number    18号自编3栋, 自编A7铺                           18号3栋, A7铺
shop          108铺, 108号铺位, 108号门面, 108号门市             108号商铺
range         18至20号, 18号至20号, 1至2层                      18-20号, 1-2层
crossing      交汇处, 交叉路口, 交汇口, 交会处, 交叉处;      交叉口
              after a road: 交口, 路口
side gate     东大门, 正大门                               东门, 正门
committee     居民委员会, 村民委员会                         居委会, 村委会
village       云杉行政村 (an administrative village)          云杉村
inside        18号内, 18号内3栋                              18号, 18号3栋
dormitory     7舍 (after a name)                           7号宿舍楼
lettered bldg B-10栋, H-2座                                 B10栋, H2栋
company       股份有限公司, 有限责任公司                     有限公司
government    人民政府, 人民法院, 人民检察院, 监督管理局          政府, 法院, 检察院, 监管局
property      物业服务中心, 物业管理处, 物业办公室               物业
airport       国际机场; T3航站楼, 3号航站楼, 航站楼T3            机场; T3栋
railway       杭州火车东站, 虹桥火车站                          杭州东站, 虹桥站
station exit  站A出口, 站B1出入口, 站2号出口               站A口, 站B1口, 站2号口
============  ===========================================  ==========

The tower keeps a building word (T1栋, not T1) so that a following number never runs into it:
"塔1 3层" must not become "T13层". ``楼`` alone is left alone: 3楼 is the 3rd floor as often as
building 3. Every rule maps to a form no rule matches again, so applying them twice changes nothing
(the normalizer's idempotence relies on it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from geoalign.address.numerals import NUMERAL_CHARS, chinese_to_int, number_value

#: 塔 + number is tower N (塔1, 塔楼2), except after a side (东塔, 西塔: a named tower, the number after it is
#: its floor or room), where the number is a floor (塔12层, 塔12F: the tower's 12th floor), and where a
#: place word follows (铁塔七街, 灯塔六村, 云家塔二巷: a street or village named after a tower). A tower has
#: one or two digits: 金塔317号 is door 317 after a name.
NOT_AFTER_TOWER_NUMBER: Final[str] = "层F路街道巷村队组弄里交"
#: For a numeral, an F that a floor's number follows (塔一F十二层) writes that floor, as F12层 does, so the
#: tower stands: the floor rule leaves 塔一12层 behind, which the next call read as tower 1 (idempotence).
_TOWER_CHINESE: Final[re.Pattern[str]] = re.compile(
    f"(?<![东西南北中])塔楼?([{NUMERAL_CHARS}]+)"
    f"(?![{NUMERAL_CHARS}]*(?:[{NOT_AFTER_TOWER_NUMBER.replace('F', '')}]|F(?![0-9{NUMERAL_CHARS}])))"
    "(?:号)?(?:栋|座|楼|幢)?"
)
#: A tower named by a letter (B塔, A塔楼: tower B, as B座 is) is that lettered building; not a letter that
#: ends a word (SOHO塔1 is tower 1 of SOHO), nor one right after a building word (T1栋F塔: the letter
#: is that building's part, and T1F塔 becomes T1栋F塔 below, so reading it here broke idempotency).
#: First, or 塔2501 after it would read as tower 2501.
_LETTER_TOWER: Final[re.Pattern[str]] = re.compile(r"(?<![A-Z0-9栋])([A-Z])塔楼?")
_TOWER_RULES: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    # a padded number (001塔, 塔01) is its number: the normalizer drops the zeros after these rules ran
    (re.compile(rf"(?<!\d)0*(\d{{1,2}})号?塔楼?(?![{NOT_AFTER_TOWER_NUMBER}])"), r"T\1栋"),
    (
        re.compile(
            rf"(?<![东西南北中])塔楼?0*(\d{{1,2}})(?![\d{NOT_AFTER_TOWER_NUMBER}])(?:号)?(?:栋|座|楼|幢)?"
        ),
        r"T\1栋",
    ),
    # A Latin T is a tower only as a word of its own: after a space (望京SOHO T1, the space is dropped)
    # or after a non-letter (望京T1座); in SOHOT1 it is part of a name. T and three digits or more is a
    # shop's code (T308号).
    (re.compile(r"(?: |(?<![A-Z]))T(\d{1,2})(?!\d)(?:号)?(?:栋|座|楼|幢)?"), r"T\1栋"),
)
#: What a shop numbered along a floor or a street is called after its number (108铺, 108号门面; 门市, 商服 and
#: 商网 in the north-east; 档口, 档 and 摊位 in a market): one shop, written 108号商铺. Not 门市部, a name's
#: sales office, nor 档案 (archives).
#: The ground floor's words: Guangdong's 首层, and Shanghai's and Jiangsu's 底层 / 底楼 (floor 1; the
#: parse's ``floor_value`` reads them so too).
GROUND_FLOOR_WORDS: Final[str] = "首层|底[层楼]"
SHOP_WORDS: Final[str] = "商铺|铺位|铺面|门面房?|门市房?(?!部)|商服|商网|档口|档(?![案次期])|摊位|铺"
#: One of these characters is in every shop word: a cheap guard before the pattern.
SHOP_WORD_CHARS: Final[str] = "铺门服网档摊"
#: The English words for a building, a tower, a floor and a room (Block A, Tower 2, Floor 12, Room 1201),
#: upper case as the normalizer sees them; ``parse.english_units`` matches them in any case.
EN_BUILDING: Final[str] = "BUILDING|BLDG|BLOCK|BLK"
EN_TOWER: Final[str] = "TOWER"
EN_FLOOR: Final[str] = "FLOOR|FL"
EN_ROOM: Final[str] = "ROOM|RM"

#: (pattern, replacement, characters of which one must be present for the pattern to match): the
#: character test is a cheap guard that skips most regex calls on most addresses.
_OTHER_RULES: Final[tuple[tuple[re.Pattern[str], str, str], ...]] = (
    (re.compile(r"(\d+|(?<![A-Z])[A-Z])(?:号楼|幢|座)"), r"\1栋", "楼幢座"),
    (re.compile(r"(\d+)(?:号房间|号房|房间|房)"), r"\1室", "房"),
    # A numbered warehouse however it is called (3号仓 = 3号库 = 3号库房 = 3号仓库), closing a word only
    # (not 3号仓山, a district's name after a door number)
    (re.compile(r"(\d+)号(?:仓库|库房|库|仓)(?![\u4e00-\u9fff])"), r"\1号仓库", "仓库"),
    # Below ground before the plain floor rule (B1F is the first basement, not floor B1). B only
    # directly before the number and not after another letter or digit; not with 楼 (B1楼 is as often
    # building B1). 负1层 is matched again by the first rule and left as it is.
    (re.compile(r"(?:地下室?|负)(\d+)(?:层|楼(?!\d)|F(?![A-Z]))"), r"负\1层", "负地"),
    (re.compile(r"(?<![A-Z0-9])B(\d+)(?:层|F(?![A-Z]))"), r"负\1层", "B"),
    # ... and a low B number before a car park is its basement level (B2停车场 = 负2层停车场)
    (re.compile(r"(?<![A-Z0-9])B([1-6])(?=停车场|停车库|车库)"), r"负\1层", "B"),
    # (not 3F栋 / 3F幢: a building named 3F, as the parse reads it)
    (re.compile(r"(\d+)(?:F(?![A-Z栋])|楼层)"), r"\1层", "F楼"),
    # A mall's level written L3 or F3 (L3层, F3层, or L3 closing the text): floor 3. Not L3-12 or L3012, a
    # shop's code that starts with its level, nor L6栋 or F3 alone, a building.
    (re.compile(r"(?<![A-Z0-9])(?:L(\d{1,2})(?:层|(?=\s*$))|F(\d{1,2})层)"), r"\1\2层", "LF"),
    # A lettered part of a building written straight before its room (2栋A403, as Shenzhen writes 2栋A座403):
    # the part is a building word's, so that A403 is not read as one room A-403 against A座403.
    (re.compile(r"(?<=\d栋)([A-Z])(\d{3,4})(?![\dA-Z-])"), r"\1栋\2", "栋"),
    # A range of numbers written with 至 (18至20号, 18号至20号, 1至2层): the dash the normalizer writes for
    # 18~20号 and 18-20号. Only between two plain numbers before a number's word (101-01至101-03 stays).
    (re.compile(r"(?<![\d-])(\d+)号?至(\d+)(?=[号层楼栋幢座])"), r"\1-\2", "至"),
    # The ground floor as Guangdong writes it (大厦首层, 首层106), and as Shanghai and Jiangsu do (100号底层,
    # 3号楼底楼101室): floor 1.
    (re.compile(GROUND_FLOOR_WORDS), "1层", "首底"),
    # An administrative village written so (云杉行政村): the village, 云杉村, as addresses write it; not
    # after a village's name that ends in 村 (云村行政村 would become 云村村).
    (re.compile(r"(?<=[\u4e00-\u9fff])(?<!村)行政村"), "村", "政"),
    # A numbered yard written 大院 (青禾街7号大院) or located inside (青禾路8号院内): the yard, 7号院, which a
    # yard on a road reads as its door (``analyze._YARD``). Not 内科, 内部 after the yard.
    (re.compile(r"(?<=\d号)大院"), "院", "院"),
    (re.compile(r"(?<=\d号院)内(?![科部环])"), "", "院"),
    # Inside a door's number (青禾路233号内, 松风路1005号内50幢): the door, closing the text or before what
    # is inside it; not 内蒙古, 内江 after a number.
    (re.compile(r"(?<=\d号)内(?=$|\d|第)"), "", "内"),
    # A number its owner gave (Guangzhou's 自编3栋, 自编A7铺, 自编四巷: building 3 as the estate numbers
    # it): the number, as the same place is as often written without the word. Only before a building, a
    # lane or a shop, and not after a digit or letter: 105号(自编2号) gives a second door number for the
    # same door, and in 105(自编2号), which is 105自编2号 by now, the numbers would run together.
    (re.compile(f"(?<![\\dA-Z])自编(?=[\\dA-Z{NUMERAL_CHARS}]+号?[栋幢座楼巷街铺])"), "", "编"),
    # A crossing of two roads, however it is worded (云杉路与松风路交汇处, 交叉路口, 交会处): 交叉口, as the
    # address corpus writes it seven times in ten. Not 交口 (a place name: 交口县) nor 交界处 (a border).
    (re.compile(r"交(?:汇处|汇口|会处|叉路口|叉处)"), "交叉口", "交"),
    # ... and written short right after a road's name (青禾路云杉街路口, 青禾大街和云杉路交口): 交叉口 too;
    # not a village or a town named so (路口村).
    (re.compile(r"(?<=[路街道巷])(?:交口|路口)(?![村镇乡])"), "交叉口", "口"),
    # A gate by its side written 大门 (东大门, 正大门): the gate (东门).
    (re.compile(r"(?<=[东西南北正])大门"), "门", "门"),
    # An airport by its short name (杭州萧山国际机场 = 杭州萧山机场) and a terminal however numbered
    # (T3航站楼, 3号航站楼, 航站楼T3: T3栋, as the tower rule writes T3 alone); a railway station with 火车
    # written after its name (杭州火车东站 = 杭州东站, 上海虹桥火车站 = 上海虹桥站), not after an admin or
    # road word, a metro line, a shop or a word like 老, 新 or 距离 (杭州市火车站, 老火车站, 5号线火车站,
    # 距离火车东站 name no station by its name), nor before a road or 前 (火车南站西路, 火车站前).
    (re.compile(r"国际机场"), "机场", "际"),
    (re.compile(r"(?:T(\d)栋|(\d)号)航站楼"), r"T\1\2栋", "航"),
    (re.compile(r"航站楼(?=T\d栋)"), "", "航"),
    (
        re.compile(
            r"(?<=[\u4e00-\u9fff]{2})(?<![市区县镇乡路街道号省老新旧原内边近离距往线段站店场处行])"
            r"火车([东南西北]?)站(?![东南西北]?[路街]|前)"
        ),
        r"\1站",
        "车",
    ),
    # A government office by the name people use (西湖区人民政府 = 西湖区政府, 人民法院 = 法院, 人民检察院 =
    # 检察院, 市场监督管理局 = 市场监管局).
    (re.compile(r"人民(?=政府|法院|检察院)"), "", "民"),
    (re.compile(r"监督管理局"), "监管局", "监"),
    # An estate's property office however it is called (物业服务中心, 物业管理处, 物业办公室): 物业, as the
    # address corpus writes it most; not a property company (物业管理有限公司), which is a company.
    (
        re.compile(r"物业(?:服务中心|服务处|管理处|管理中心|管理办公室|管理部|办公室|中心|处|部)"),
        "物业",
        "业",
    ),
    # A community's or a village's committee written in full (云杉社区居民委员会, 云杉村村民委员会): its
    # short name, 居委会 and 村委会, as the address corpus writes it four times in five.
    (re.compile(r"([居村])民委员会"), r"\1委会", "委"),
    # A company's legal form (云杉科技股份有限公司, 云杉科技有限责任公司): 有限公司, the address corpus's most
    # common form. A name is registered once whatever the form, so the forms name one company (an LLC
    # turned joint-stock keeps its name); unfolded, they read as two companies (not_match 0.11). Not a
    # Shenzhen village's 股份合作公司, a collective of another kind. 股份 written twice goes in one pass
    # (idempotence).
    (re.compile(r"(?:(?:股份)+有限|有限责任)公司"), "有限公司", "限"),
    # A campus dormitory by its number (青禾大学7舍, 白沙3舍: dormitory building 7, as 7号宿舍楼 writes it),
    # after a name; not a number before a door (云杉村4舍58号).
    (re.compile(r"(?<=[\u4e00-\u9fff])(\d{1,2})舍(?!\d+号)"), r"\1号宿舍楼", "舍"),
    # A lettered building's number written with a dash (B-10栋, M-6幢, H-2座: building B10, as B10栋).
    (re.compile(r"(?<![A-Za-z0-9至-])([A-Z])-(\d{1,2})(?=[栋幢座])"), r"\1\2", "-"),
    # A shop numbered along a floor or a street, however it is called (108铺, 108号铺位, 108号门面房):
    # 108号商铺, the address corpus's most common form. Unfolded, the tagger read 1层108铺 as a person's
    # name and 1层109铺 as room 109, so two shops' numbers were never compared.
    (re.compile(rf"(\d+)号?(?:{SHOP_WORDS})"), r"\1号商铺", SHOP_WORD_CHARS),
    # A building, tower, floor or room by its English word in a Chinese address (青禾大厦Block A, Tower 2,
    # Floor 12, Room 1201: A栋, T2栋, 12层, 1201室), as bilingual office addresses and orders write them; the
    # word before one letter or a number (not a range: BUILDING 1-2), never inside a longer word
    # (CLASSROOM1). Buildings first: the spaces step glues BLOCK 3 ROOM 502 into BLOCK3ROOM502, and a
    # room read first would run 3 into 502.
    (re.compile(rf"(?<![A-Z])(?:{EN_BUILDING}|{EN_TOWER})\.?\s?([A-Z])(?![A-Z])"), r"\1栋", "BT"),
    (re.compile(rf"(?<![A-Z])(?:{EN_BUILDING})\.?\s?(\d{{1,3}})(?![\d-])"), r"\1栋", "B"),
    (re.compile(rf"(?<![A-Z])(?:{EN_TOWER})\s?(\d{{1,2}})(?![\d-])"), r"T\1栋", "T"),
    (re.compile(rf"(?<![A-Z])(?:{EN_FLOOR})\.?\s?(\d{{1,3}})(?![\d-])"), r"\1层", "F"),
    (re.compile(rf"(?<![A-Z])(?:{EN_ROOM})\.?\s?(\d{{1,5}}[A-Z]?)(?![\dA-Z-])"), r"\1室", "R"),
    # A station's exit written 出口 or 出入口 (地铁站A出口, 1号出入口): 口, as 地铁站A口 writes it.
    (re.compile(r"(?<=站)([A-Z]\d{0,2}|\d{1,2}号?)(?:出入口|出口)"), r"\1口", "口"),
    # Building-unit-room written with dashes (6-3-402: building 6, unit 3, room 402), as in 6号楼3单元402.
    # Only after a Chinese character that is not a road word (复康路23-3-402 starts with a road number)
    # and only a room of three or four digits at the end of the group (12-1-3 says too little).
    (
        re.compile(r"(?<=[\u4e00-\u9fff])(?<![路街道巷弄])([A-Z]?\d{1,3})-(\d{1,2})-(\d{3,4})(?![\d\-A-Z])"),
        r"\1栋\2单元\3",
        "-",
    ),
    # Building-room written with a dash closing the text (青松苑15-702, 369号3-501: building 15, room 702).
    # Not after a road word (人民路37-405 is a road number and its sub-number), a building, floor or unit
    # word (B座6-203 already says the building), nor a range of rooms (1201-1205); not a padded number
    # (2-038) or after a shop, a market or a mall (商铺2-138, 广场1-153: a shop's code).
    (
        re.compile(
            r"(?<=[\u4e00-\u9fff])(?<![路街道巷弄栋幢座楼层元铺面市档场])(\d{1,2})-([1-9]\d{2,3})(?=室?\s*$)"
        ),
        r"\1栋\2",
        "-",
    ),
    # Unit-room written with a dash after the building (3栋1-501, 15栋2-1106: unit 1, room 501, as
    # 3栋1单元501; the Shenzhen pairs match a building's N-room with its unit N), unless the first
    # number is the building's own, written again (26栋26-802: building 26, room 802).
    (re.compile(r"(?<![\dA-Z])([A-Z]?\d{1,3})栋\1-([1-9]\d{2,3})(?=室?\s*$)"), r"\1栋\2", "-"),
    (re.compile(r"(?<=[\dA-Z]栋)(\d{1,2})-([1-9]\d{2,3})(?=室?\s*$)"), r"\1单元\2", "-"),
)
#: A floor and a door closing a building or unit (3栋2单元5楼1号: door 1 on floor 5, as Sichuan and Chongqing
#: write room 501; 3层5室, as Wuhan writes it, keeps its 室). Only straight after the building or unit, a
#: door of one digit, and at the end of the text: 9栋1层35号门面 and 1层7号商铺 number shops along a floor
#: (7号 is not room 107), and 5楼1号楼 is a building. After the rules above (5F1号 is 5层1号 by then).
_FLOOR_DOOR: Final[re.Pattern[str]] = re.compile(r"(单元|栋)(\d{1,2})[楼层]([1-9])(?:号|(室))$")
#: A floor and a room written with its leading zero closing the text (A座12楼01室, 12层01, 12F-01: room
#: 1201, as offices number rooms by floor); before ``zeros`` reads 01 as 1. Not with 号 (1层06号 numbers a
#: shop along a floor).
_ROOM_END: Final[frozenset[str]] = frozenset("室123456789")
_FLOOR_ROOM: Final[re.Pattern[str]] = re.compile(r"(?<![\d-])(\d{1,2})[楼层]-?(0[1-9])(室?)$")
#: Each rule's cheap guard as one character class (a C-level scan; a generator over the characters cost
#: as much as the rules themselves on text that needs none).
_GUARDS: Final[tuple[re.Pattern[str], ...]] = tuple(
    re.compile(f"[{re.escape(needs)}]") for _, _, needs in _OTHER_RULES
)
#: A sub-number written 之一 (168号之一: number 168-1, as Guangdong and Taiwan write it).
#: Not where a unit word follows (168号之一号楼 is building 1 of number 168); a room in digits after a
#: sub-number in words is the room (168号之一101房 = 168-1号101室, as 168号之一101 already was).
_ZHI_NUMBER: Final[re.Pattern[str]] = re.compile(
    f"(\\d+)号之([{NUMERAL_CHARS}]+(?![{NUMERAL_CHARS}]*[号栋幢楼层室座单])|\\d+(?!\\d*[号栋幢楼层室座单]))"
)


#: An annex number written with 附 (江大路32号附5号, 32附5号: door 5 of the annex of number 32, as Chongqing,
#: Wuhan and Chengdu write it) is a sub-number like 之一. Not where a unit word follows (21号附11栋 is
#: building 11; 附1-20 and 附1、2号 are left as written), and not 附近 (near): a digit must follow 附.
_FU_NUMBER: Final[re.Pattern[str]] = re.compile(
    r"(\d+)(号?)附(\d+)(?:(号)(?![楼院])|()(?![\d号栋幢楼层室座单、-]))"
)


def _fu_number(match: re.Match[str]) -> str:
    number, hao, sub, hao_after, _ = match.groups()
    return f"{number}-{sub}号" if hao or hao_after else f"{number}-{sub}"


def _zhi_number(match: re.Match[str]) -> str:
    sub = match.group(2)
    value = number_value(sub)
    return match.group(0) if value is None else f"{match.group(1)}-{value}号"


#: A unit written 门 right after a building (3号楼2门501, 3栋一门, 3幢3门, 3栋1门5楼: the north and north-east
#: write the unit so; the labelled sets tag such a 门 as the unit in 12 of 13 addresses): only there, so
#: a gate (3号门, 南门) stays a gate, and not before a word 门 starts (门面, 门市, 门诊, 门口, 门卫 ...).
_BUILDING_DOOR_UNIT: Final[re.Pattern[str]] = re.compile(
    r"(?<=栋)(\d{1,2}|[一二三四五六七八九十]{1,2})门(?![面市商网旁诊口卫店厅岗洞])"
)


def _door_unit(match: re.Match[str]) -> str:
    value = number_value(match.group(1))
    return match.group(0) if value is None else f"{value}单元"


def _tower_chinese(match: re.Match[str]) -> str:
    value = chinese_to_int(match.group(1))
    return match.group(0) if value is None else f"T{value}栋"


def canonical_units(text: str) -> str:
    """Rewrite building/tower/room/floor words to their canonical forms (see the module table)."""
    if "塔" in text:
        text = _TOWER_CHINESE.sub(_tower_chinese, _LETTER_TOWER.sub(r"\1栋", text))
    if "塔" in text or "T" in text:
        for pattern, repl in _TOWER_RULES:
            text = pattern.sub(repl, text)
    for (pattern, repl, _), guard in zip(_OTHER_RULES, _GUARDS, strict=True):
        if guard.search(text):
            text = pattern.sub(repl, text)
    if "门" in text:
        text = _BUILDING_DOOR_UNIT.sub(_door_unit, text)
    if text.endswith(("号", "室")):
        text = _FLOOR_DOOR.sub(r"\1\g<2>0\3\4", text)
    if ("楼" in text or "层" in text) and text[-1:] in _ROOM_END:
        text = _FLOOR_ROOM.sub(r"\1\2\3", text)
    if "之" in text:
        text = _every_sub_number(_ZHI_NUMBER, _zhi_number, "之", text)
    if "附" in text:
        text = _every_sub_number(_FU_NUMBER, _fu_number, "附", text)
    return text


_Rewrite = Callable[[re.Match[str]], str]


def _every_sub_number(pattern: re.Pattern[str], repl: _Rewrite, mark: str, text: str) -> str:
    """A sub-number of a sub-number (168号之一之二, 32号附5号附1号) is read in the same call: one pass leaves
    168-1号之二, which the next normalize would change again. Each pass removes a mark, so this ends."""
    while True:
        new = pattern.sub(repl, text)
        if new == text or mark not in new:
            return new
        text = new
