"""The rule layer: decisions a person makes from the parsed components, applied over any scorer.

``with_rules(scorer)`` wraps a scorer (structured, neural, cascade) and keeps its staged protocol
(``prepare`` / ``run`` / ``finish`` / ``score`` / ``warmup``). After the wrapped scorer's ``finish`` each
answer is checked against the two analyzed addresses (``geoalign.address.analyze``):

* **Hard conflicts cap the label** (``geoalign.address.conflicts``): another province or city →
  not_match (two cities' 建国路88号 are two places); another district or township, another road name
  (one character is enough: 延安东路 / 延安西路; a section is part of the road), another numbered
  institution (第一小学 / 第二小学), another village of one name but its side (东闾村 / 西闾村), a
  street address located relative to (27号对面 / 27号), another zone of a compound (E1区 / E2区),
  another road number, building, unit, floor or room → never exact_match (the exact_match mass moves to
  partial_match; for another road, district, township, institution, village or a relative location,
  which name another place, the answer is conditioned on not exact_match instead: the scorer's
  partial : not ratio is kept).
* **Equivalence lifts the label**, only where nothing conflicts: the same cleaned text (``identical``,
  probability 1), the same normalized text (``same_normalized``: width, script, numerals, 号楼/栋/幢,
  towers, brackets, phone numbers and names folded), the same place text after the admin prefix where
  one side only omits admin levels that resolve the same (``admin_omitted``), the same up to a
  trailing 室/号 after the last number or a closing floor written 楼 or 层, a company's legal form, a kind
  of shop (``suffix_only``: 369号1楼 vs 369号1F, 云杉科技 vs 云杉科技有限公司), or one side adds the floor its
  room number already says or writes it with 楼 where the other writes 层 (``floor_in_room``: 2楼203 vs
  203室, 45楼4501 vs 45层4501室) → exact_match with at least the probability in ``LIFT_PROBABILITY``.

Every rule that changed an answer is named in ``explanation["rules"]`` and the answer's ``scorer``
becomes ``<inner>+rules`` (e.g. ``structured+rules``); an answer no rule touched is the wrapped
scorer's own. ``RULES_VERSION`` is part of ``model_id`` and so of every cache key. Which rules are
switched on was decided on real labels (``docs/rules.md``): ``DEFAULT_RULES``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from geoalign.address.analyze import BRANCH_WORDS, DEFAULT_PARSE_CACHE, AddressView, ViewCache
from geoalign.address.clean import DEFAULT_MAX_CHARS, Cleaned, clean
from geoalign.address.conflicts import Conflict, admin_names, conflicts
from geoalign.address.normalize import ADDRESS_TAGS, POLITE_NAME, fold_simplified
from geoalign.errors import InputError
from geoalign.types import LABELS, AddressPair, ItemError, Match, Prepared, PreparedItem, Raw, Result, Scorer

#: Bumped whenever a rule changes what it answers: part of ``model_id`` and so of every cache key.
#: v3: floors are read with their sign (负一层 / B1层 = -1, another floor than 一层) and without the
#: floor letter (11F = 11); another_zone (zones, phases, sides of a compound); a road number's
#: sub-number and a road's side section count; delivery notes are noise (docs/rules.md, session 14).
#: v4: under another road or district the answer is conditioned on not exact_match (the scorer's
#: partial : not ratio kept) instead of moving the exact mass to partial_match; a road number is also
#: compared without a road; admin_only (the same divisions alone, with or without the levels above);
#: a phone number after a room number and a space is noise (session 21).
#: v5: the two halves of one road (人民北路 / 人民南路) are another road even where both name the same
#: POI; a place word beside a phone number (金林路 13812345678) is no recipient's name; a phone number
#: after a room number written with a dash or five digits is noise; 29、三十一号 is a list and 3.5公里
#: keeps its decimal point; the same road and number in another district of the same city is another
#: place (another_district_same_road, not_match); road names that differ only in digits are two roads
#: even with a shared POI (11号大街 / 21号大街); without a road, a 号 number only typed counts as the
#: road number (星河小区23楼15号门市 / 16号门市); two phone numbers in a row are noise (session 22).
#: v6: floor_in_room also where both sides write the floor, one as 楼 (赛格广场45楼4501 / 45层4501室); a
#: numbered yard on a road is its door (学院路30号院3号楼 / 30号3号楼); a delivery note is noise; a section
#: with its side is part of the road (一环路北三段 / 北二段: another road) (session 25).
#: v7: the halves of one road are two roads without road numbers too (长青南路 / 长青北路), 内 and 外 tell
#: halves apart (东直门内大街 / 外大街) and a side before the number is part of the road (五和大道南2号 /
#: 北2号); another cross street or lane on one road is another road (古墩路与文一路交叉口 / 与文二路); a
#: building right after the building is part of its number (望京SOHO T1 A座 / T1 B座); institutions
#: numbered by an ordinal (第一小学 / 第二小学: another_numbered_place); a station's exits are zones (地铁站
#: B1出口 / B2出口); a closing floor written 楼 or 层 is suffix_only (369号1F / 一楼); a district's short
#: name right after its city is stated (温州鹿城 / 温州龙湾); an empty pair of brackets is no note;
#: another township written in full (东莞市虎门镇 / 厚街镇: another_town); a branch's name where the other
#: street address names none is no note (漕溪北路88号星巴克(徐家汇店) / 星巴克) (session 26).
#: v8: the gates of a place are zones (方恒国际中心东门 / 南门, 3号门 / 5号门); a bracketed note naming the
#: corner the place is near (人民路口), the courier (【顺丰】), a register's use or registration ((仅限办公),
#: (集群注册)) or the area the address lies in ((江宁开发区)) is noise (session 27).
#: v9: a street address located relative to is not the address (27号对面 / 27号: near_not_at); two
#: villages named apart by a side or age (东闾村 / 西闾村: another_community) and two groups of a village
#: (3组 / 5社: another_zone) are two places; two branches of a chain (如家酒店(望京店) / (国贸店):
#: another_branch), though their normalized texts are one (session 28).
#: v10: one village's name is the other's with a side before it (冉庄村 / 东冉庄村: another_community, unless
#: the other text writes the longer name too); a township in a district split off since is no other
#: district (宝安区龙华街道 / 龙华区龙华街道), and two current townships of one city are two though one is
#: written with its old district (宝安区龙华街道 / 宝安区西乡街道: another_town) (session 29).
#: v11: a bracketed note naming the recipient ((李先生), （王女士收）) is noise; the normalizer under the
#: rules reads a floor and door as the room (5楼1号 = 501), a lettered tower (B塔 = B座), a mall's level
#: (L3 = 3层), building-room with one dash (青松苑15-702) and drops place-holder divisions (市辖区)
#: (session 30).
#: v12: a district or county written in full states its province (象山县 / 江门市: another_province) and,
#: against a city written in full, its city (定海区 / 杭州市: another_city); two numbered lanes of a village
#: however the parse tags them (6巷 / 七巷: another_road); two villages or two communities of different
#: names (杨柳村 / 梅溪村: another_community); a door number written by the other text only as a whole
#: number (243号 does not write 3号); another door inside a village behind one road number (18号青禾村93号
#: / 18号青禾村9号: another_road_number); a ring road named by its number (东二环路 / 南二环: another_road);
#: a province's short name that no division follows starts a name and states no province (山西新村);
#: the normalizer drops the country before the divisions (中国浙江省…) (session 31).
#: v13: the gazetteer reads former county-level names (闸北区 = 静安区, 密云县 = 密云区), and two former
#: districts merged into one are two parts of it only where each text writes a recorded former name (a
#: district the parse joins from two spans, 临安市…临安区, is none); two stations of one kind named apart
#: (青禾路地铁站 / 云杉路地铁站: another_station); a metro line is no road number (1号线 / 4号线); two
#: gates named in notes the normalizer drops ((西南门) / (东南门): another_zone); a chain's outlets named by
#: their roads alone (自助银行(青禾一路) / (云杉路): another_branch); two named buildings of one estate
#: (云杉阁 / 云松阁: another_building) (session 32).
#: v14: one building number on two sides of an estate (东5栋 / 西5栋: another_building), two clusters (3组团
#: / 5组团: another_zone), two numbered lanes after the same words (云杉新村2巷 / 1巷: another_road), two
#: texts that name nothing but two roads (城关镇青禾路 / 城关镇云杉路: another_road), opposite directions
#: from one landmark (路口向西50米 / 向东50米: near_not_at), and a township the country has once against
#: another city (合德镇… / 武汉市…: another_city) (session 33).
#: v15: one lane number after the names of two villages (云杉新村3巷 / 青禾1区3巷: another_road), two lanes
#: by side and 坊 lanes (东二坊 / 西二坊: another_road), two townships of one city completed from the
#: districts (another_town), one number in two parks of different names (青禾工业区38号 / 云杉工业区38栋:
#: another_zone) (session 34).
#: v16: a closing N楼 the parse reads as floor N, after a name that is no housing estate's or park's, is
#: that floor (云杉城3楼 = 云杉城三层: suffix_only), and a closing numbered yard on the road is its door
#: (青禾大街1号院 = 青禾大街1号: suffix_only); a door's prefix is part of its number (甲12号 / 12号:
#: another_road_number); where both place texts are one once normalized, a hard-number conflict is the two
#: parses' and is dropped (1栋1单元1楼1号 / 1栋1单元101), and a bank's branch written without brackets is a
#: branch (工商银行云杉支行 / 工商银行松风支行: another_branch), and the kind of shop closing a name is
#: the name (星巴克咖啡 / 星巴克: suffix_only), as a numbered school's short name is its full one (第一中学
#: / 一中: suffix_only) (session 35).
#: v17: a bracketed note closing with 收 names who takes the parcel ((张三收): noise, as (李先生收) was),
#: and one starting with 原 what the place was called before ((原云杉大厦): noise) (session 36).
#: v18: a credit union's or a savings bank's office written without brackets is a branch, as a bank's is
#: (云杉信用社松风营业部 / 青禾营业部, 信用合作联社…信用分社: another_branch), and two numbered yards of one
#: estate are two compounds (青禾里3号院 / 5号院: another_zone), as are two sides of a floor or a road
#: (5楼东侧 / 西侧: another_zone), two chains named at one address are two places (中国石化加油站 /
#: 中国石油加油站, 肯德基 / 麦当劳: another_chain), and the tag an order export gives an address ((家),
#: 【公司】) is a noise note (session 37).
#: v19: a district carved out of another since (余杭区 / 临平区, 宝安区 / 龙华区), the same door or named
#: place written with either, is no other district, and a flat by its floor and letter is one room however
#: the parse split it (3栋12B = 3栋12B室, 12A / 12B: another room), and a school or a hospital named alone
#: may be lifted, a numbered hospital's full and short names being one (第一人民医院 = 一医院), and an
#: address pasted twice in a row is the address (same_normalized) (session 38). v20: two numbered
#: dormitories or teaching buildings of one campus are another building, not another road number (the
#: same cap, another name in the explanation; session 39). v21: two companies at one address are two places
#: (青禾路18号云杉科技有限公司 / 松风科技有限公司: another_company), and a company's legal forms are one
#: (股份有限公司 = 有限公司, in the normalizer), and one name closed by two kinds of facility is two places
#: (青禾超市 / 青禾药店, which suffix_only had lifted to exact_match; 青禾小学 / 青禾中学: another_kind)
#: (session 40). v22: a Mongolian village (嘎查) is the parse's village, so two of one 苏木 are two villages
#: (云杉嘎查 / 松风嘎查: another_community), and a village's 社 is read by its numeral (三社 = 3社, in the
#: normalizer), and two parts of one school or hospital are two kinds of facility (初中部 / 高中部, 门诊楼 /
#: 住院部: another_kind) (session 41). v23: a bracketed name of the building or estate at the address is read
#: as part of the address (青禾路18号(云杉大厦) = 青禾路18号云杉大厦, in the normalizer), and a number with
#: the floor letter is the floor after a road number too (青禾路18号3F-301 = 3楼301: floor_in_room), and a
#: company's name with or without its legal form is one (云杉科技 = 云杉科技有限公司: suffix_only), and two
#: compounds of one name but for their side or age are two (青禾东里 / 青禾西里, 青禾新村 / 青禾旧村:
#: another_community) (session 42). v24: a number and 层 is a floor whatever the tagger called it, and a
#: room written with its floor and no dash is that floor and room (云杉广场B1层B102号 = 负一楼B102,
#: 3F05 = 3楼05号, in the parse), the ground floor's words are floor 1 (首层, 底层, 底楼), and a village's
#: kind before 村 is no other name (云杉村 / 云杉自然村: no another_community), and a building's or a
#: yard's prefix counts as a door's does (甲1号楼 / 1号楼: another_building; 甲18号院 / 18号院:
#: another_road_number), and no admin_omitted lift joins two texts that resolve to two provinces
#: (咸宁青禾路18号 / 北京市门头沟区青禾路18号), and two crossings that do not share both roads are two
#: places (青禾路与云杉街交叉口 / 松风巷与云杉街交叉口: another_road), and two local offices of one kind
#: named by two places (云杉派出所 / 松风派出所, 青禾人民法庭 / 松风人民法庭: another_branch), and a road's
#: or a floor's two sides closing a text (中段路南 / 路北, 12楼东 / 12楼西: another_zone), and two branch
#: offices of one company named apart (…有限公司杭州分公司 / 宁波分公司: another_branch), and a market's
#: stall written 档 is a shop (A01档 = A01档口) and its rooms by ordinal are numbered places (第六间 / 第四间)
#: (session 43). v25: an avenue's middle part before its number is one of its named parts (中山大道中18号 /
#: 中山大道西18号: another_road), and a sub-number in words is read before a room in digits (18号之一101房 =
#: 18号之一101, in the normalizer), and two named places of one kind whose names share no character are two
#: (青禾大厦 / 云杉大厦: another_named_place), and an estate's sides written 园 are zones (东园 / 西园), and a
#: gate in a dropped note is compared with one the other text keeps ((西门) / (南1门)), and two communities'
#: own facilities are two (云杉社区卫生服务站 / 松风社区卫生服务站: another_community), and two numbered desks
#: of one shared office are two rooms (1201室1号工位 / 2号工位: another_room), and a road's or a hutong's
#: two ends are two places (青禾胡同东口 / 西口: another_zone), and Wuhan's floor and door with 室 is the
#: room (3层5室 = 305室, in the normalizer), and a note naming the premises ((办公场所)) is noise, and a
#: factory's dormitory and workshop are two buildings (宿舍楼A栋 / 厂房A栋: another_kind), and a village's
#: lane after its name and alone is one lane, its doors compared (云杉北四巷4号 / 北四巷22号), and two
#: numbered lanes are compared where the road names differ only weakly (十三巷 / 西二巷), and a village's
#: sections are zones (三片 / 六片), and an estate's courts named 苑 or 园 are named buildings (牡丹苑 /
#: 丹桂苑: another_building), and a bank's office is named by its finest level (…分行营业部云杉支行:
#: 云杉), and a village's rows are zones (六排 / 一排), and a district the gazetteer does not know leaves
#: the city the text's division (三明市梅列区 / 鲤城区: another_city) (session 44). v26: two roads named
#: alone are two with the side of the road closing the text (青禾路中段路西 / 云杉路中段路西: another_road),
#: and a village's industrial zones numbered without 第 are numbered places (四工业区 / 五工业区), and a
#: block's middle building is a side (北楼 / 中楼: another_zone), and one name after two regions' names is
#: two places (浙江青禾学院 / 陕西青禾学院: another_named_place), and a village's doors are compared where
#: one text names a road too (云杉村130号 / 云杉街云杉村131号: another_road_number), and a 里's doors are
#: numbered as a road's (青禾里156-6号 / 156-7号), and two departments of one university are two places
#: (…学院艺术设计系 / 美术教育系: another_named_place), and a floor against a room on another floor is
#: two places (4楼 / 501: another_floor), and two names ending alike are compared without their common end
#: (青禾时代广场 / 云杉时代广场), and buildings by use (宿舍楼 / 教学楼: another_kind), and three-digit zones,
#: street offices written with 办, villages of one community by age and side (上新村 / 中新村) and police
#: units numbered without 第, and police units named by their areas (青禾中队 / 云杉中队: another_branch) and
#: workshops numbered after their word (厂房五 / 厂房八), and two facilities of one place (饭店-足浴 /
#: 饭店停车场: another_named_place) (session 45).
RULES_VERSION: Final[str] = "rules/v26"

#: Cap rules: the conflict's rule name -> the best label it allows.
CAPS: Final[dict[str, str]] = {
    "another_province": "not_match",
    "another_city": "not_match",
    "another_district": "partial_match",
    "another_district_same_road": "not_match",
    "another_town": "partial_match",
    "another_road": "partial_match",
    "another_road_weak": "partial_match",
    "another_road_number": "partial_match",
    "another_building": "partial_match",
    "another_unit": "partial_match",
    "another_floor": "partial_match",
    "another_room": "partial_match",
    "another_zone": "partial_match",
    "another_numbered_place": "partial_match",
    "near_not_at": "partial_match",
    "another_community": "partial_match",
    "another_branch": "partial_match",
    "another_chain": "partial_match",
    "another_company": "partial_match",
    "another_kind": "partial_match",
    "another_station": "partial_match",
    "another_named_place": "partial_match",
}
#: Lift rules: name -> the exact_match probability an answer gets at least.
LIFT_PROBABILITY: Final[dict[str, float]] = {
    "identical": 1.0,
    "same_normalized": 0.99,
    "admin_omitted": 0.95,
    "admin_only": 0.95,
    "suffix_only": 0.95,
    "floor_in_room": 0.9,
}
ALL_RULES: Final[tuple[str, ...]] = (*CAPS, *LIFT_PROBABILITY)
#: Caps that say "another place" (another road or district) rather than "another part of this place":
#: the scorer's exact_match mass is not moved to partial_match for them, the answer is conditioned on
#: not exact_match instead (its partial : not ratio kept). A changed number (3栋 / 5栋) is another entity
#: of the same road or compound, which CCKS labels partial_match (60–89 % of such pairs in the training
#: part); under another road or district 73–81 % are not_match (docs/rules.md, rules/v4).
ANOTHER_PLACE: Final[frozenset[str]] = frozenset(
    {
        "another_district",
        "another_town",
        "another_road",
        "another_road_weak",
        "another_numbered_place",
        "near_not_at",
        "another_community",
        "another_branch",
        "another_chain",
        "another_company",
        "another_kind",
        "another_station",
        "another_named_place",
    }
)
#: The rules on by default (the evidence for each is in docs/rules.md): every rule but the weak road cap
#: (names far apart, a shared compound, no road numbers), which the real labels contradict: a corner
#: shop's record names the cross street, a compound fronts several roads.
DEFAULT_RULES: Final[tuple[str, ...]] = tuple(r for r in ALL_RULES if r != "another_road_weak")

_LABEL_RANK: Final[dict[str, int]] = {"not_match": 0, "partial_match": 1, "exact_match": 2}
#: A trailing room/house word after the last number (A座1201室 vs A座1201; 文三路369号 vs 文三路369).
_TRAILING_SUFFIX: Final[re.Pattern[str]] = re.compile(r"(\d)(?:室|号)$")
#: A closing floor written with 楼 after a door or a building (369号1楼, F1栋3楼; the normalizer writes 1F as
#: 1层): the floor word folded to 层. After a compound's name (幸福小区3楼) 楼 may be building 3: not folded.
_TRAILING_FLOOR: Final[re.Pattern[str]] = re.compile(r"(?<=[号栋幢座])(\d+)楼$")
#: A closing numbered yard right after the road (青禾大街1号院): the door's yard, the place 青禾大街1号 names
#: (``analyze._YARD`` reads it as that door); after a compound's name or another door it is a yard of the
#: compound (幸福小区5号院), not folded.
_TRAILING_YARD: Final[re.Pattern[str]] = re.compile(r"(?<=[路街道巷弄同段])(\d+)号院$")
#: The kind of shop closing a shop's name (星巴克咖啡, 华润万家超市, 云杉大药房): the name alone says the same
#: place. After two characters of a name only (18号超市 is a shop by its number, not a name).
_GENERIC_SHOP_END: Final[re.Pattern[str]] = re.compile(
    r"(?<=[\u4e00-\u9fffA-Za-z]{2})(?:超市|咖啡厅|咖啡馆|咖啡|餐厅|便利店|大药房|药房|药店|专卖店)$"
)
#: A company's legal form closing its name (云杉科技有限公司 = 云杉科技 at one door; the normalizer has made
#: every form 有限公司 already): the name alone says the same company. After two characters of a name.
_LEGAL_FORM_END: Final[re.Pattern[str]] = re.compile(r"(?<=[\u4e00-\u9fffA-Za-z]{2})(?:有限公司|公司)$")
#: A school numbered by an ordinal, written in full or short (云杉第一中学 = 云杉一中, 第二小学 = 二小): the
#: short form, for the lift's comparison only (the ordinal check still reads 第一 / 第二 in the text).
_SCHOOL_ORDINAL: Final[re.Pattern[str]] = re.compile(r"第([一二三四五六七八九十]{1,3})([中小])学")
#: A hospital numbered by an ordinal, written in full or short (云杉市第一人民医院 = 第一医院 = 云杉市一医院).
_HOSPITAL_ORDINAL: Final[re.Pattern[str]] = re.compile(r"第([一二三四五六七八九十]{1,3})(?:人民)?医院")
#: A named institution closing the place text (云杉三中, 第一人民医院, 云杉大学): one addressable place though
#: the text writes no number, so a lift may read it (a road or an area alone stays unlifted).
_INSTITUTION_END: Final[re.Pattern[str]] = re.compile(
    r"(?:中学|小学|大学|学院|学校|医院|卫生院|幼儿园|[一二三四五六七八九十]{1,3}[中小])$"
)
#: The folds of ``_suffix_folded``, in order: a closing yard on the road, a trailing 室/号, a closing N楼
#: after a door or building, a company's legal form, the kind of shop closing a name, a numbered school's
#: or hospital's full name.
_SUFFIX_FOLDS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (_TRAILING_YARD, r"\1"),
    (_TRAILING_SUFFIX, r"\1"),
    (_TRAILING_FLOOR, r"\1层"),
    (_LEGAL_FORM_END, ""),
    (_GENERIC_SHOP_END, ""),
    (_SCHOOL_ORDINAL, r"\1\2"),
    (_HOSPITAL_ORDINAL, r"\1医院"),
)
#: Any closing N楼: a floor where the parse says so (``_suffix_folded``), not after the name of a housing
#: estate, a village or a park (小区, 花园, 苑, 新村, 科技园...), whose numbered 楼 are its buildings.
_CLOSING_LOU: Final[re.Pattern[str]] = re.compile(r"(?<!\d)(\d+)楼$")
_HOUSING_NAME_END: Final[re.Pattern[str]] = re.compile(r"(?:小区|[园苑村庭府居里坊巷弄寓区])$")


#: An area written in front of the road (a development zone, park, street office, town), which the parser
#: does not always tag as such: 科技园科苑路15号 is 科苑路15号.
_AREA_NAME: Final[re.Pattern[str]] = re.compile(
    r"[\u4e00-\u9fff]{0,8}(?:科技园|工业园|产业园|园区|开发区|高新区|新区|街道|镇|乡)"
)


_DIGIT: Final[re.Pattern[str]] = re.compile(r"\d")
_OPENING: Final[re.Pattern[str]] = re.compile(r"[(（\[【〔]")
_NOTE: Final[re.Pattern[str]] = re.compile(r"[(（\[【〔]([^()（）\[\]【】〔〕]*)[)）\]】〕]")
#: A bracketed note that is about delivery or nearby landmarks, not the place itself (（近地铁站）,
#: 【周末不收件】, (送货上门), (人民路口): the corner it is near, 【顺丰】: the courier; a register's
#: (仅限办公), (集群注册), and the area the address lies in, (江宁开发区), (五常街道)). Any other note
#: two addresses differ by (（东门）, (北区), (二期)) can name a part of the place, and the CCKS labels
#: treat it so (docs/rules.md): no lift then.
_BRANCH_SUFFIX: Final[re.Pattern[str]] = re.compile(rf"(?:{BRANCH_WORDS})$")
_NOISE_NOTE: Final[re.Pattern[str]] = re.compile(
    r"^(?:近|靠近|邻近|附近|位于|放)|送|收件|收货|快递|工作日|周末|电话|联系|请|勿|谢谢|代收|门卫|驿站|前台|丰巢|自提"
    r"|路口$|交叉口|交汇处|顺丰|圆通|中通|申通|韵达|极兔|德邦"
    # a register's notes: what the premises may be used for, how the company registered there
    r"|仅限|用途|集群注册|住所申报|自主申报|托管|入驻|商务秘书|场所$|^办公$"
    # the area the address lies in, larger than it (a development zone, a street office)
    r"|(?:开发区|高新区|高新园|经济区|新区|园区|街道|镇|乡)$"
    # what the place was called before: (原云杉大厦)
    r"|^原"
    # the kind of address an order export tags it with: (家), [公司], 【学校】
    rf"|^(?:{ADDRESS_TAGS})$"
    # the recipient: (李先生), （王女士收）, (张三收): a note closing with 收 says who takes the parcel
    rf"|^{POLITE_NAME}收?$|^[\u4e00-\u9fff]{{1,4}}收$"
    # a landmark the address lies by, after the address itself: (华联超市对面), (银行旁边), (药店楼上); a side
    # alone, (东侧), names part of the place and stays
    r"|^\D{2,}(?:对面|旁边?|附近|隔壁|楼上|楼下|后面|背后|[东西南北]侧)$"
)


def _notes_are_noise(text_a: str, text_b: str) -> bool:
    """Whether every bracketed note one text has and the other lacks is noise (``_NOISE_NOTE``), restates
    the other text, or names a branch where the other names none."""
    if not _OPENING.search(text_a) and not _OPENING.search(text_b):
        return True
    text_a, text_b = fold_simplified(text_a), fold_simplified(text_b)  # (東門) and (东门) are one note
    # an empty pair of brackets (文三路369号（）, an export's empty field) is no note
    notes_a = {n for n in _NOTE.findall(text_a) if n.strip()}
    notes_b = {n for n in _NOTE.findall(text_b) if n.strip()}
    branch_a = any(_BRANCH_SUFFIX.search(n.strip()) for n in notes_a)
    branch_b = any(_BRANCH_SUFFIX.search(n.strip()) for n in notes_b)
    return all(
        _NOISE_NOTE.search(note)
        or _restates(note, text_b if note in notes_a else text_a)
        or _unnamed_branch(note, *((text_b, branch_b) if note in notes_a else (text_a, branch_a)))
        for note in notes_a ^ notes_b
    )


def _unnamed_branch(note: str, other: str, other_names_a_branch: bool) -> bool:
    """A branch's name where the other side, a street address, names no branch (漕溪北路88号星巴克(徐家汇店)
    vs 漕溪北路88号星巴克): it says which branch, and the address already says where. Two branch names do
    differ, and without a number (朝阳区如家酒店) the branch is all that tells one hotel of a chain from
    the next."""
    return (
        bool(_BRANCH_SUFFIX.search(note.strip()))
        and not other_names_a_branch
        and bool(_DIGIT.search(_NOTE.sub("", other)))
    )


def _restates(note: str, other: str) -> bool:
    """A branch note that only repeats what the other address says (星巴克(百隆店) vs 百隆广场星巴克)."""
    core = _BRANCH_SUFFIX.sub("", note.strip())
    return len(core) >= 2 and core in other


@dataclass(frozen=True, slots=True)
class Decision:
    """What the rules say about one pair: the label cap (None: no cap), the lift (None: none) and the
    conflicts that caused the cap."""

    cap: str | None
    cap_rules: tuple[str, ...]
    lift: str | None
    conflicts: tuple[Conflict, ...]


def _suffix_folded(view: AddressView) -> str:
    """The place text with what ``suffix_only`` reads as one place written two ways folded away, in order
    (``_SUFFIX_FOLDS``), and a closing N楼 after a name folded to N层 where the parse read it as floor N
    (云杉城3楼: the tagger's floor 3, as 云杉城三层 is), except after a housing estate's or a park's name,
    where N楼 is as often building N (幸福小区3楼): the tagger cannot tell them apart."""
    text = view.canon_rest
    for pattern, replacement in _SUFFIX_FOLDS:
        text = pattern.sub(replacement, text)
    closing = _CLOSING_LOU.search(text)
    if (
        closing is not None
        and view.comps.get("floorno") == closing.group(1)
        and not _HOUSING_NAME_END.search(text, 0, closing.start())
    ):
        return f"{text[: closing.start()]}{closing.group(1)}层"
    return text


def _province_of_stated(view: AddressView) -> str | None:
    """The province a view states, or the one its stated city is in."""
    stated = view.canon_admin[0]
    return stated if stated is not None or view.canon_admin[1] is None else view.admin[0]


def _admin_compatible(a: AddressView, b: AddressView) -> bool:
    """Every admin level both sides resolve is the same, or may be (a level read several ways shares a
    name with the other side's: ``conflicts.admin_names``); a level one side omits is compatible. The
    province of a stated city must agree too: 咸宁青禾路18号 states no province (a city's short name opening
    a text is too often a community's or a road's: 南昌 in 深圳's 西乡), but it is no text that merely
    omits 北京市门头沟区 from 北京市门头沟区青禾路18号. A province's short name alone (山西新村) is not
    read. CCKS training part: 2 answers moved, both to their labels (not_match)."""
    pa, pb = _province_of_stated(a), _province_of_stated(b)
    if pa is not None and pb is not None and admin_names(pa).isdisjoint(admin_names(pb)):
        return False
    return all(
        x is None or y is None or x == y or not admin_names(x).isdisjoint(admin_names(y))
        for x, y in zip(a.canon_admin, b.canon_admin, strict=True)
    )


#: The shortest text a whole repeat is looked for in: a shorter run written twice is a name (青青).
_REPEAT_MIN: Final[int] = 6


def _written_once(text: str) -> str:
    """A normalized text that is one address written twice in a row, whole (青禾路18号3栋青禾路18号3栋: an
    order export's address pasted into two fields), written once; any other text as it is. Read here,
    not by the normalizer: the CCKS records often join two forms of one name (云杉村14幢云杉村14栋), and
    the matcher learned their features as written (folding them moved three training answers, all away
    from their labels)."""
    if len(text) < 2 * _REPEAT_MIN or len(text) % 2:
        return text
    half = len(text) // 2
    return text[:half] if text[:half] == text[half:] else text


def _same_rest(a: AddressView, b: AddressView) -> bool:
    """The place text after the admin prefix is the same, or one side only adds its development zone,
    town or community in front of it (科技园科苑路15号 vs 科苑路15号)."""
    ra, rb = a.canon_rest, b.canon_rest
    if ra == rb:
        return True
    long, short = (a, b) if len(ra) > len(rb) else (b, a)
    if not short.canon_rest or not long.canon_rest.endswith(short.canon_rest):
        return False
    extra = long.canon_rest[: len(long.canon_rest) - len(short.canon_rest)]
    areas = {long.comps.get(level) for level in ("devzone", "town", "community")}
    return extra in areas or bool(_AREA_NAME.fullmatch(extra))


#: Components that are not admin levels: what a lift compares (the admin levels are compared resolved).
_ADMIN_LEVELS: Final[frozenset[str]] = frozenset({"country", "prov", "city", "district", "devzone", "town"})


def _floor_in_room(a: AddressView, b: AddressView) -> bool:
    """One side writes the floor that the other's room number already says (宝福大厦2楼203 vs
    宝福大厦203室: room 203 is on floor 2), or both write it, one as 楼 and one as 层 (赛格广场45楼4501 vs
    赛格广场45层4501室: 楼 before a room on that floor is the floor, not a building): every other place
    component is the same."""
    with_floor, without = (a, b) if "floorno" in a.comps else (b, a)
    floor, room = with_floor.comps.get("floorno"), with_floor.comps.get("roomno")
    if floor is None or room is None or without.comps.get("floorno", floor) != floor:
        return False
    if not (floor.isdigit() and room.isdigit() and len(room) > len(floor) and room.startswith(floor)):
        return False

    def place(view: AddressView) -> dict[str, str]:
        return {k: v for k, v in view.comps.items() if k not in _ADMIN_LEVELS and k != "floorno"}

    return place(with_floor) == place(without)


def cap_decision(a: AddressView, b: AddressView, enabled: frozenset[str] | None = None) -> Decision:
    """The cap rules alone (the conflicts of ``address.conflicts``): what the cascade applies after its
    neural stage, and the first half of ``decide_pair``."""
    on = frozenset(DEFAULT_RULES) if enabled is None else enabled
    found = [c for c in conflicts(a, b) if c.rule in on]
    if not found:
        return Decision(None, (), None, ())
    cap = min((CAPS[c.rule] for c in found), key=_LABEL_RANK.__getitem__)
    rules = tuple(dict.fromkeys(c.rule for c in found if CAPS[c.rule] == cap))
    return Decision(cap, rules, None, tuple(found))


def decide_pair(
    text_a: str, text_b: str, a: AddressView, b: AddressView, enabled: frozenset[str] | None = None
) -> Decision:
    """The rules' verdict on one pair of cleaned texts and their views (see the module docstring)."""
    on = frozenset(DEFAULT_RULES) if enabled is None else enabled
    capped = cap_decision(a, b, on)
    if capped.cap is not None:
        return capped
    lift: str | None = None
    if text_a == text_b:
        lift = "identical"
    elif not _notes_are_noise(text_a, text_b):
        lift = None  # a bracketed note names part of the place (东门, 北区): CCKS labels it partial
    elif _written_once(a.text) == _written_once(b.text):  # the same text, or one pasted twice
        lift = "same_normalized"
    elif not a.canon_rest and not b.canon_rest and a.admin == b.admin and any(a.admin):
        # only admin divisions, and they complete to the same ones (广西壮族自治区贵港市港南区 vs
        # 贵港市港南区): one division written with or without the levels above it
        lift = "admin_only"
    elif not _DIGIT.search(a.canon_rest) and not _INSTITUTION_END.search(a.canon_rest):
        lift = None  # no number: a road or an area, not one addressable place (unless an institution)
    elif _same_rest(a, b) and _admin_compatible(a, b):
        lift = "admin_omitted"
    elif a.canon_rest and _suffix_folded(a) == _suffix_folded(b) and _admin_compatible(a, b):
        lift = "suffix_only"
    elif _floor_in_room(a, b) and _admin_compatible(a, b):
        lift = "floor_in_room"
    if lift is not None and lift not in on:
        lift = None
    return Decision(None, (), lift, ())


def _capped(probabilities: dict[str, float], cap: str, rules: Iterable[str] = ()) -> dict[str, float]:
    probs: dict[str, float] = {name: float(probabilities[name]) for name in LABELS}
    if cap == "partial_match" and not ANOTHER_PLACE.isdisjoint(rules):
        _condition_on_not_exact(probs)
    elif cap == "partial_match":
        probs["partial_match"] += probs["exact_match"]
        probs["exact_match"] = 0.0
    elif cap == "not_match":
        probs["not_match"] += probs["exact_match"] + probs["partial_match"]
        probs["exact_match"] = probs["partial_match"] = 0.0
    return probs


def _condition_on_not_exact(probs: dict[str, float]) -> None:
    """The scorer's answer given that the pair is not exact_match: its partial : not ratio kept (a scorer
    sure of exact_match, with nothing left to condition on, gets partial_match, the nearest allowed)."""
    rest = probs["partial_match"] + probs["not_match"]
    if rest > 0.0:
        probs["partial_match"] /= rest
        probs["not_match"] /= rest
    else:
        probs["partial_match"] = 1.0
    probs["exact_match"] = 0.0


def _lifted(probabilities: dict[str, float], floor: float) -> dict[str, float]:
    probs: dict[str, float] = {name: float(probabilities[name]) for name in LABELS}
    if probs["exact_match"] >= floor:
        return probs
    rest = probs["partial_match"] + probs["not_match"]
    scale = (1.0 - floor) / rest if rest > 0 else 0.0
    return {
        "exact_match": floor,
        "partial_match": probs["partial_match"] * scale,
        "not_match": probs["not_match"] * scale,
    }


def _argmax(probs: dict[str, float]) -> str:
    return max(LABELS, key=lambda name: probs[name])


def apply_decision(match: Match, decision: Decision, scorer_name: str) -> Match:
    """``match`` after the rules: a new Match where a rule changed the probabilities (named in
    ``explanation.rules``, scorer ``scorer_name``), else ``match`` itself."""
    probs = dict(match.probabilities)
    fired: list[str] = []
    if decision.cap is not None:
        new = _capped(probs, decision.cap, decision.cap_rules)
        if new != {k: float(probs[k]) for k in LABELS}:
            probs, fired = new, list(decision.cap_rules)
    elif decision.lift is not None:
        new = _lifted(probs, LIFT_PROBABILITY[decision.lift])
        if new != {k: float(probs[k]) for k in LABELS}:
            probs, fired = new, [decision.lift]
    if not fired:
        return match
    explanation = dict(match.explanation or {})
    explanation["rules"] = fired
    if decision.conflicts:
        explanation["conflicts"] = [
            {"name": c.component, "a": c.a, "b": c.b, "rule": c.rule} for c in decision.conflicts
        ]
    label: Any = _argmax(probs)
    return Match(label, probs, scorer_name, match.model, explanation, match.timings_ms)


@dataclass(slots=True)
class _Item:
    """A rule-layer item: the wrapped scorer's prepared item and what the rules read (None where the
    rules cannot read the pair: the wrapped scorer's answer then stands)."""

    inner: PreparedItem
    texts: tuple[str, str] | None
    views: tuple[AddressView, AddressView] | None


class RuleScorer:
    """A scorer under the rule layer (module docstring). Attribute reads it does not define go to the
    wrapped scorer (``stats``, ``describe``, ``featurizer``, ...), so callers that look for a scorer's
    optional features find them."""

    def __init__(
        self,
        inner: Scorer,
        *,
        rules: Iterable[str] | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
        cache_size: int = DEFAULT_PARSE_CACHE,
    ) -> None:
        if isinstance(inner, RuleScorer):
            raise InputError("this scorer is already under the rule layer")
        chosen = tuple(DEFAULT_RULES if rules is None else rules)
        unknown = [r for r in chosen if r not in ALL_RULES]
        if unknown:
            raise InputError(f"unknown rule(s) {unknown}; choose from {', '.join(ALL_RULES)}")
        self.inner = inner
        self.name = inner.name
        self.enabled = frozenset(chosen)
        self.rules_version = RULES_VERSION
        self.max_chars = max_chars
        # the embedded matcher's own view cache where the wrapped scorer has one (views are then parsed
        # once for scoring and rules), else our own
        self._views: Any = _featurizer(inner) or ViewCache(cache_size)
        self.rules_ms = 0.0

    def __getattr__(self, name: str) -> Any:
        # only called for attributes not found on the wrapper itself
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    @property
    def explain(self) -> bool:
        return bool(getattr(self.inner, "explain", True))

    @explain.setter
    def explain(self, value: bool) -> None:
        if hasattr(self.inner, "explain"):
            self.inner.explain = value  # type: ignore[attr-defined]

    @property
    def model_id(self) -> str:
        return f"{self.inner.model_id}+{RULES_VERSION}"

    @property
    def scorer_name(self) -> str:
        """The name an answer carries when a rule changed it."""
        return f"{self.inner.name}+rules"

    def _side(self, value: Any) -> tuple[str, AddressView] | None:
        cleaned = clean(value, max_chars=self.max_chars)
        if not isinstance(cleaned, Cleaned):
            return None
        view = self._views.view(cleaned.text)
        return None if isinstance(view, ItemError) else (cleaned.text, view)

    def prepare(self, pairs: Sequence[AddressPair]) -> Prepared:
        inner = self.inner.prepare(pairs)
        start = time.perf_counter()
        items: list[PreparedItem | ItemError] = []
        for item, pair in zip(inner.items, pairs, strict=True):
            if isinstance(item, ItemError):
                items.append(item)
                continue
            views = _views_of(item)
            if views is not None:  # the structured stage's own views and cleaned texts: no second look-up
                items.append(
                    PreparedItem(
                        item.cost, item.seen, _Item(item, item.seen, views), item.timings_ms, cut=item.cut
                    )
                )
                continue
            side_a, side_b = self._side(pair.a), self._side(pair.b)
            if side_a is None or side_b is None:
                data = _Item(item, None, None)
            else:
                data = _Item(item, (side_a[0], side_b[0]), (side_a[1], side_b[1]))
            items.append(PreparedItem(item.cost, item.seen, data, item.timings_ms, cut=item.cut))
        self.rules_ms += (time.perf_counter() - start) * 1000.0
        return Prepared(items)

    def run(self, prepared: Prepared) -> Raw:
        inner = Prepared([_unwrap(item) for item in prepared.items])
        raw = self.inner.run(inner)
        return Raw(prepared, raw.outputs, raw.timings_ms)

    def finish(self, raw: Raw) -> list[Result]:
        inner_items = [_unwrap(item) for item in raw.prepared.items]
        results = self.inner.finish(Raw(Prepared(inner_items), raw.outputs, raw.timings_ms))
        start = time.perf_counter()
        out: list[Result] = []
        for item, result in zip(raw.prepared.items, results, strict=True):
            if isinstance(result, Match) and isinstance(item, PreparedItem):
                data: _Item = item.data
                if data.views is not None and data.texts is not None:
                    decision = decide_pair(*data.texts, *data.views, self.enabled)
                    result = apply_decision(result, decision, self.scorer_name)
            out.append(result)
        self.rules_ms += (time.perf_counter() - start) * 1000.0
        return out

    def score(self, pairs: Sequence[AddressPair]) -> list[Result]:
        return self.finish(self.run(self.prepare(pairs)))

    def warmup(self) -> None:
        self.inner.warmup()


def _views_of(item: PreparedItem) -> tuple[AddressView, AddressView] | None:
    """The address views a structured (or cascade) prepared item already carries, else None."""
    data = item.data
    inner = getattr(data, "inner", None)  # the cascade wraps the structured item
    if isinstance(inner, PreparedItem):
        data = inner.data
    data = getattr(data, "views", data)  # the structured scorer's PairViews
    if isinstance(data, tuple) and len(data) == 2 and all(isinstance(v, AddressView) for v in data):
        return data[0], data[1]
    return None


def _unwrap(item: PreparedItem | ItemError) -> PreparedItem | ItemError:
    """The wrapped scorer's item, carrying the per-call explanation switch set on ours (the engine's
    ``match_many(explain=...)``, ``Matcher``'s frames): without it the wrapped scorer built every
    explanation its own default asked for."""
    return item.data.inner.carrying(item.explain) if isinstance(item, PreparedItem) else item


def _featurizer(scorer: Scorer) -> Any:
    """The structured featurizer (``view(text)`` over a shared cache) of a structured or cascade scorer."""
    for candidate in (scorer, getattr(scorer, "structured", None)):
        featurizer = getattr(candidate, "featurizer", None)
        if featurizer is not None:
            return featurizer
    return None


def with_rules(scorer: Scorer, **options: Any) -> Scorer:
    """``scorer`` under the rule layer (the default judge is ``with_rules(StructuredScorer())``);
    ``options`` (``max_chars``, ``cache_size``) as ``RuleScorer`` takes them."""
    return RuleScorer(scorer, **options)


__all__ = [
    "ALL_RULES",
    "ANOTHER_PLACE",
    "CAPS",
    "DEFAULT_RULES",
    "LIFT_PROBABILITY",
    "RULES_VERSION",
    "Decision",
    "RuleScorer",
    "apply_decision",
    "cap_decision",
    "decide_pair",
    "with_rules",
]
