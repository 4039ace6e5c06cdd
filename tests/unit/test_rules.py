"""The rule layer and the one conflict definition (address.conflicts) it shares with link and the
structured model: caps, lifts, naming, the staged protocol, the cascade and the link judge's branches."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from geoalign.address.analyze import analyze
from geoalign.address.conflicts import HARD_NUMBERS, conflicts, names_two_roads
from geoalign.errors import InputError
from geoalign.link.candidates import Record, SamePlaceJudge, view_conflicts
from geoalign.scorers.rules import RULES_VERSION, RuleScorer, decide_pair, with_rules
from geoalign.types import AddressPair, ItemError, Match, Prepared, PreparedItem, Raw, Result


class FixedScorer:
    """A model that answers the same probabilities for every pair (exact 0.7 by default) and, when asked,
    an explanation marking the road number as conflicting for pairs whose a is in ``conflict_when_a``."""

    name = "fixed"
    model_id = "fixed-v1"

    def __init__(
        self, probs: tuple[float, float, float] = (0.7, 0.2, 0.1), conflict_when_a: str = ""
    ) -> None:
        self.probs = probs
        self.conflict_when_a = conflict_when_a
        self.explain = True

    def prepare(self, pairs: Sequence[AddressPair]) -> Prepared:
        items: list[PreparedItem | ItemError] = []
        for p in pairs:
            if not isinstance(p.a, str) or not isinstance(p.b, str):
                items.append(ItemError("bad_input", "not a string"))
            else:
                items.append(PreparedItem(1, (p.a, p.b), (p.a, p.b)))
        return Prepared(items)

    def run(self, prepared: Prepared) -> Raw:
        return Raw(prepared, [None if isinstance(i, ItemError) else self.probs for i in prepared.items])

    def finish(self, raw: Raw) -> list[Result]:
        out: list[Result] = []
        for item, probs in zip(raw.prepared.items, raw.outputs, strict=True):
            if isinstance(item, ItemError):
                out.append(item)
                continue
            status = "conflict" if item.data[0] == self.conflict_when_a else "agree"
            explanation = {"components": [{"name": "roadno", "a": "1", "b": "2", "status": status}]}
            out.append(
                Match.from_probabilities(
                    probs, scorer=self.name, model=self.model_id, explanation=explanation
                )
            )
        return out

    def score(self, pairs: Sequence[AddressPair]) -> list[Result]:
        return self.finish(self.run(self.prepare(pairs)))

    def warmup(self) -> None:
        pass


def rules_of(conflict_list: list) -> list[str]:
    return [c.rule for c in conflict_list]


# ------------------------------------------------------------------------------------------ conflicts


def test_hard_numbers_are_one_list_in_order() -> None:
    assert HARD_NUMBERS == ("roadno", "houseno", "cellno", "floorno", "roomno")


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("江苏省南京市鼓楼区汉中路8号3栋", "江苏省南京市鼓楼区汉中路8号5栋", ["another_building"]),
        ("上海市静安区延平路121号2单元", "上海市静安区延平路121号3单元", ["another_unit"]),
        ("深圳市福田区深南中路1002号12层", "深圳市福田区深南中路1002号13层", ["another_floor"]),
        ("上海市浦东新区张杨路500号1508室", "上海市浦东新区张杨路500号1509室", ["another_room"]),
        ("杭州市西湖区文三路369号", "杭州市西湖区文三路371号", ["another_road_number"]),
        ("上海市黄浦区延安东路100号", "上海市黄浦区延安西路100号", ["another_road"]),
        ("南京市玄武区长江路200号", "南京市玄武区长江中路200号", ["another_road"]),
        ("成都市锦江区红星路三段99号", "成都市锦江区红星路一段99号", ["another_road"]),
        ("成都市锦江区春熙路南段8号", "成都市锦江区春熙路北段8号", ["another_road"]),
        ("成都市锦江区春熙路南段8号", "成都市锦江区春熙路8号", []),  # one side omits the section
        # a shared POI makes a one-character road difference a likely misspelling, but not between
        # the halves of one road (a chain's branches on 人民北路 and 人民南路 are two shops)
        ("杭州市人民北路88号星光咖啡", "杭州市人民南路88号星光咖啡", ["another_road"]),
        ("杭州市人民路88号星光咖啡", "杭州市人明路88号星光咖啡", ["another_road_weak"]),
        # ... nor between two numbered roads (a digit is not what a misspelling changes)
        ("杭州市下沙11号大街88号星河机械公司", "杭州市下沙21号大街88号星河机械公司", ["another_road"]),
        # two lanes of a village, one tagged a sub-road of no road, the other the road: their numbers differ
        ("青禾村6巷7号201", "福田区青禾村七巷7号", ["another_road"]),
        ("青禾村6巷7号201", "福田区青禾村六巷7号", []),
        # ... and the same lane so tagged is one street: its doors compare
        ("福田区青禾社区青禾村4巷7号404", "福田区青禾社区青禾村四巷4号", ["another_road_number"]),
        # ... read whole: the tagger can split the numeral (二 | 十三巷), which is still the lane 二十三巷
        ("青禾新村二十三巷6号205", "福田区青禾社区青禾新村二十三巷6号", []),
        # a ring road is named by its number, with or without 路
        ("石家庄市东二环路1888号", "石家庄市南二环1888号", ["another_road"]),
        ("北京市朝阳区东三环中路1号", "北京市朝阳区东三环1号", []),
        # a 号 number only typed, no road on either side: two doors (shops) of one compound, which the parse
        # also reads as two shops' numbers (rooms)
        ("铁岭市星河小区23楼15号门市", "铁岭市星河小区23楼16号门市", ["another_road_number", "another_room"]),
        # ... but a unit-room run after it is no sub-number of that door (5号5-206号: unit 5, room 206)
        ("芜湖市星河时代广场5#-5-206号", "芜湖市星河时代广场5#-5-206", []),
        # the parse cuts 中关村南大街 into 中关村 | 南大街: the road takes its name back
        ("北京市海淀区中关村大街27号", "北京市海淀区中关村南大街27号", ["another_road"]),
        ("北京市朝阳区建国路88号", "上海市浦东新区建国路88号", ["another_province", "another_district"]),
        # a city written in full states its province, though the text leaves it out
        ("衡阳市解放大道8号", "江西省南昌市解放大道8号", ["another_province", "another_city"]),
        ("衡阳市解放大道8号", "江西省解放大道8号", ["another_province"]),
        ("衡阳市解放大道8号", "湖南省解放大道8号", []),
        ("朝阳门内大街8号", "北京市东城区朝阳门内大街8号", []),  # a short city name (朝阳) states no province
        # a district does not state its city: another side's short city name is read too readily
        ("宝安区西乡街道南昌新村3巷1号", "南昌新村3巷1号", []),
        # a district or county written in full states its province (象山县 is in 浙江省), where the parse
        # tags it a district: not a county's name inside a road's (青岛's 莒县路)
        ("象山县青禾路8号", "江门市青禾路8号", ["another_province"]),
        ("象山县青禾路8号", "宁波市青禾路8号", []),
        ("萧山区星光路8号", "广东省星光路8号", ["another_province"]),
        ("莒县路8号", "青岛市莒县路8号", []),
        ("莒县路8号", "上海市莒县路8号", []),
        # ... nor against a province's short name starting a name (山西新村, 江西工业区: no division follows)
        ("龙岗区横岗街道山西新村8号", "山西新村8号", []),
        ("宝安区沙井街道江西工业区8栋", "江西工业区8栋", []),
        ("浙江杭州文三路8号", "江苏省南京市文三路8号", ["another_province", "another_city"]),
        ("北京长安街1号", "上海市长安街1号", ["another_province"]),  # a municipality's is the city
        # ... nor where the text writes another province than its city's (合肥市河南省…: a slip)
        ("合肥市河南省永城市东城路1号", "永城市东城路1号", []),
        # ... and its city against a city written in full that writes no district (定海区 is in 舟山市)
        ("定海区星禾路8号", "杭州市星禾路8号", ["another_city"]),
        ("定海区星禾路8号", "舟山市星禾路8号", []),
        ("定海区星禾路8号", "杭州市余杭区星禾路9号", ["another_district", "another_road_number"]),
        # ... not against a city the other text writes beside a district of another city (a slip of one
        # side), nor against a district name shared by cities (鼓楼区: 南京, 福州, 开封, 徐州)
        ("定海区星禾路8号", "杭州市普陀区星禾路8号", []),
        ("鼓楼区中山路8号", "福州市中山路8号", []),
        # the same street address in another district of the same city: another place outright
        ("杭州市西湖区文三路369号", "杭州市上城区文三路369号", ["another_district_same_road"]),
        ("杭州市西湖区文三路369号", "杭州市上城区文三路371号", ["another_district", "another_road_number"]),
        # ... unless a shared street office or POI pins the place (the district is then a slip)
        ("深圳市宝安区新安街道学林路12号", "深圳市龙华区新安街道学林路12号", ["another_district"]),
        # a township now in a district split off since: the address written before the split is no other
        # place (龙华区 was made from 宝安区; 新安街道 above stayed in 宝安区, so 龙华区新安街道 conflicts)
        ("深圳市宝安区龙华街道人民路100号", "深圳市龙华区龙华街道人民路100号", []),
        ("杭州市余杭区临平街道世纪大道100号", "杭州市临平区临平街道世纪大道100号", []),
        # ... and without a township: a district carved out of the other since (gazetteer.SPLIT_FROM),
        # the same road and number or the same named place, is the older record of one place; 龙华区
        # alone is Shenzhen's by the other text's city; a township of the older district that stayed
        # there (福永), another number, or nothing finer than the districts keep the conflict
        ("杭州市余杭区青禾路18号", "杭州市临平区青禾路18号", []),
        ("杭州市萧山区松风路9号", "杭州市钱塘区松风路9号", []),
        ("杭州市余杭区松风路9号", "杭州市钱塘区松风路9号", ["another_district_same_road"]),
        ("深圳市宝安区青禾路18号", "龙华区青禾路18号", []),
        ("深圳市龙岗区云杉花园3栋501", "深圳市坪山区云杉花园3栋501", []),
        (
            "深圳市宝安区青禾路18号",
            "海口市龙华区青禾路18号",
            ["another_province", "another_city", "another_district"],
        ),
        ("深圳市宝安区福永街道青禾路18号", "深圳市龙华区青禾路18号", ["another_district_same_road"]),
        ("深圳市宝安区青禾路18号", "深圳市龙华区青禾路20号", ["another_district", "another_road_number"]),
        ("深圳市宝安区", "深圳市龙华区", ["another_district"]),
        # ... and two current townships of the city stay two, though one is written with its old district
        ("深圳市宝安区龙华街道人民路100号", "深圳市宝安区西乡街道人民路100号", ["another_town"]),
        ("深圳市宝安区西乡人民路100号", "深圳市宝安区西乡街道人民路100号", []),  # 乡 is part of 西乡's name
        ("杭州市西湖区文三路369号星河大厦", "杭州市上城区文三路369号星河大厦", ["another_district"]),
        # typed numbers first: two writings of one number agree
        ("杭州市西湖区人民路三百六十号", "杭州市西湖区人民路360号", []),
        ("上海市浦东新区张杨路500号0501室", "上海市浦东新区张杨路500号501室", []),
        # old names resolve to current ones; listed variant spellings fold
        ("湖北省襄樊市樊城区人民路88号", "湖北省襄阳市樊城区人民路88号", []),
        ("江苏省南京市鼓楼区中山路321号", "江苏省南京市鼓搂区中山路321号", []),
        ("成都市武侯区人民南路四段27号", "成都市武侯区人民南路4段27号", []),
        # a section with its side (北三段) is part of the road's name too: 北三段 and 北二段 are two roads
        ("成都市金牛区一环路北三段1号", "成都市金牛区一环路北二段1号", ["another_road"]),
        ("成都市金牛区一环路北三段1号", "成都市金牛区一环路北3段1号", []),
        # a bare district completes to one city; a completed name never invents a province conflict
        ("重庆市江北区观音桥步行街8号", "江北区观音桥步行街8号", []),
        # two former districts that the table merged into one (两江新区) are two parts of it; a former
        # and the current name are compatible
        ("重庆市渝北区金龙路100号", "重庆市江北区金龙路100号", ["another_district_same_road"]),
        ("重庆市渝北区金龙路100号", "重庆市两江新区金龙路100号", []),
        # two districts of a merger and a former county of its name (the code timeline, session 32); a
        # district the parse joins from two spans (临安市…临安区) is no former name
        ("江苏省苏州市沧浪区人民路1288号", "江苏省苏州市平江区人民路1288号", ["another_district_same_road"]),
        ("上海市闸北区天目西路1186号", "上海市黄浦区天目西路1186号", ["another_district_same_road"]),
        ("上海市闸北区天目西路1186号", "上海市静安区天目西路1186号", []),
        ("临安市青禾街8号附近临安区图书馆", "临安市青禾街8号附近临安市图书馆", []),
        # two stations of one kind named apart; one name inside the other, or one character off, is one
        ("萧山区2号线青禾路地铁站D口", "萧山区2号线云杉路地铁站D口", ["another_station"]),
        ("淳安县云杉收费站(G60高速入口)", "淳安县富春青禾收费站(G60高速入口)", ["another_station"]),
        ("2号线青禾地铁站C口", "2号线青禾东地铁站C口", []),
        ("2号线青禾路地铁站C口", "2号线青和路地铁站C口", []),
        # two named buildings of one estate, one character apart; the same building written more fully
        (
            "深圳市南山区青禾路2099号云杉庄园云杉阁",
            "深圳市南山区青禾路2099号云杉庄园云松阁",
            ["another_building"],
        ),
        ("青禾花园城松风轩3栋2单元", "青禾路8号青禾花园城竹韵轩", ["another_building"]),
        ("云杉庄园云杉阁3栋", "青禾路8号云杉庄园云杉阁3栋", []),
        ("青禾大学行政楼", "云杉学院教学楼", []),  # not one estate before them
        # a chain's outlets named by their roads alone; against a branch's own name nothing is said
        ("交通银行自助银行(青禾一路)", "交通银行自助银行(云杉路)", ["another_branch"]),
        ("中国石化加油站(青禾路南)", "中国石化加油站(青禾路)", []),
        ("青禾超市(云杉路)", "青禾超市(云杉花苑店)", []),
        ("如家酒店(文三路店)", "如家酒店(国贸店)", ["another_branch"]),
        # two gates of one kind named in notes the normalized text drops (the texts are equal without them)
        ("青禾轧钢有限公司(西南门)", "青禾轧钢有限公司(东南门)", ["another_zone"]),
        ("青禾小区(北2门)", "青禾路8号青禾小区(北1门)", ["another_zone"]),
        ("青禾科技有限公司(南门)", "青禾科技有限公司(3号门)", []),  # a side and a number: not compared
        ("青禾小区(西北3门)", "青禾路8号青禾小区(西北3门)", []),
        # a gate in a dropped note (no digit) against one the place text keeps (its digit)
        ("云杉雅园松风苑(西门)", "青禾路558号附近云杉雅园松风苑(南1门)", ["another_zone"]),
        ("云杉雅园松风苑(南1门)", "青禾路558号附近云杉雅园松风苑(南1门)", []),
        # a metro line is no road number: 1号线 / 4号线 name one interchange station
        ("1号线云杉东站地铁站B口", "4号线云杉东站地铁站B口", []),
        # a bare 江北区 is Ningbo's or Chongqing's former district: another district only against a third
        ("江北区人民路1号", "宁波市江北区人民路1号", []),
        ("江北区人民路1号", "宁波市海曙区人民路1号", ["another_district_same_road"]),
        # zones of a compound named by a letter or a number; a named 区 is a district or an area
        ("成都市天府大道1700号环球中心E1区1204", "成都市天府大道1700号环球中心E2区1204", ["another_zone"]),
        ("杭州市西湖区文三路8号万科城三区5栋", "杭州市西湖区文三路8号万科城5区5栋", ["another_zone"]),
        ("杭州市西湖区文三路8号万科城三区5栋", "杭州市西湖区文三路8号万科城3区5栋", []),
        ("杭州市西湖区文三路8号万科城3区5栋", "杭州市西湖区文三路8号万科城5栋", []),  # one side omits it
        ("上海市世纪大道8号国金中心东塔20层", "上海市世纪大道8号国金中心西塔20层", ["another_zone"]),
        ("南京市鼓楼区汉中路2号金陵饭店北楼", "南京市鼓楼区汉中路2号金陵饭店南楼", ["another_zone"]),
        ("杭州市西湖区青禾路248号云杉景苑东园2幢", "杭州市西湖区云杉景苑西园2幢", ["another_zone"]),
        # a road's or a hutong's two ends; a road named 南口路 is no end
        ("北京市东城区青禾胡同东口", "北京市东城区青禾胡同西口", ["another_zone"]),
        ("北京市昌平区城南街道南口路29号", "北京市昌平区城南街道南口路29号院", []),
        # two named places of one kind whose names share no character; one name written in both texts
        ("青禾银行大厦地下停车场(出入口)", "杭州云杉大厦地下停车场(出入口)", ["another_named_place"]),
        ("杭州市西湖区青禾花园3栋", "杭州市西湖区松风花园3栋", ["another_named_place"]),
        ("杭州市西湖区青禾花园3栋", "杭州市西湖区青河花园3栋", []),  # one character apart: a typo
        ("青禾路58号云杉大厦(原松风大厦)7楼", "青禾路58号松风大厦7楼", []),
        # two named courts of one estate (苑 and 园, as 阁 and 轩 were); a side is a zone's
        ("云杉绿城丽园6幢", "云杉绿城慧园6幢", ["another_building"]),
        ("青禾大道85号云杉花城牡丹苑A座", "青禾大道85号云杉花城丹桂苑A座", ["another_building"]),
        # two numbered lanes after the same words, though the parse read the side into one lane's name;
        # two numbered sections of a village
        ("宝安区福永街道云杉新村西十三巷13号", "宝安区福永街道云杉新村西二巷13号207", ["another_road"]),
        ("宝安区新安街道青禾村三片28号504", "青禾村六片28号504", ["another_zone"]),
        ("宝安区新安街道青禾村三片28号", "宝安区新安街道青禾村3片28号", []),
        ("光明区公明街道云杉新村六排7栋", "光明区公明街道云杉新村一排7栋", ["another_zone"]),
        ("光明区公明街道云杉新村六排7栋", "光明区公明街道云杉新村6排7栋", []),
        # a district the gazetteer does not know (merged away) leaves the city the text's division
        ("三明市梅列区青禾北路18号", "鲤城区青禾北路18号", ["another_city"]),
        # a factory's dormitory and its workshop building; a village's lane after its name and alone
        ("深圳市宝安区青禾工业园宿舍楼A栋A203", "深圳市宝安区青禾工业园厂房A栋", ["another_kind"]),
        ("宝安区新安街道云杉新村云杉北四巷4号", "宝安区新安街道云杉北四巷22号", ["another_road_number"]),
        # two numbered desks of one shared office (a register's cluster registration); one side without
        ("青禾路18号1幢1201室1号工位", "青禾路18号1幢1201室2号工位", ["another_room"]),
        ("青禾路18号1幢1201室A区-01工位", "青禾路18号1幢1201室A区1号工位", []),
        ("青禾路18号1幢1201室工位3", "青禾路18号1幢1201室", []),
        # a facility every community has of its own, in two communities
        ("西湖区云杉社区居家养老服务照料中心", "西湖区松风社区居家养老服务照料中心", ["another_community"]),
        # a school's campuses by side; a campus named after a place (河东) is no side
        ("武汉市珞喻路1037号华中科技大学东校区", "武汉市珞喻路1037号华中科技大学西校区", ["another_zone"]),
        ("临沂市兰山区临沂职业学院河东校区", "临沂市兰山区临沂职业学院河东区校区", []),
        # two gates of one place are two places to meet or deliver (CCKS training part: none of the 11
        # such pairs is labelled exact_match)
        ("杭州市西湖区文三路369号东门", "杭州市西湖区文三路369号西门", ["another_zone"]),
        ("杭州市西湖区翠苑小区3号门", "杭州市西湖区翠苑小区5号门", ["another_zone", "another_road_number"]),
        ("杭州市西湖区翠苑小区3号门", "杭州市西湖区翠苑小区南门", []),  # the south gate may be gate 3
        ("杭州市西湖区翠苑小区正门", "杭州市西湖区翠苑小区南门", []),  # the main gate may be the south one
        ("深圳市罗湖区东门中路12号", "深圳市罗湖区西门中路12号", ["another_road"]),  # roads, not gates
        ("杭州市西湖区翠苑小区西南门", "杭州市西湖区翠苑小区南门", ["another_zone"]),
        # exits of a station, 出口 and 口 one word
        ("广州市天河区珠江新城地铁站B1出口", "广州市天河区珠江新城地铁站B2出口", ["another_zone"]),
        ("北京市朝阳区国贸地铁站C口", "北京市朝阳区国贸地铁站d出口", ["another_zone"]),
        ("成都市锦江区春熙路地铁站A出口", "成都市锦江区春熙路地铁站A口", []),
        ("杭州市莫干山路100号耀江广厦二期3幢", "杭州市莫干山路100号耀江广厦3期3幢", ["another_zone"]),
        # a sub-number is part of the road number (之三 = -3); one side without it is another door
        ("中山市孙文中路166号之三", "中山市孙文中路166号之四", ["another_road_number"]),
        ("广州市北京路168-1号", "广州市北京路168号", ["another_road_number"]),
        ("广州市北京路168号之一", "广州市北京路168-1号", []),
        ("武汉市江岸区江大路32附5号", "武汉市江岸区江大路32号附5号", []),  # was road number 5 against 32
        ("武汉市江岸区江大路32附5号", "武汉市江岸区江大路32号附6号", ["another_road_number"]),
        # a door's prefix (甲12号: the door added beside 12号) is part of the road number
        ("北京市西城区青禾胡同甲12号", "北京市西城区青禾胡同12号", ["another_road_number"]),
        ("北京市西城区青禾胡同甲12号", "西城区青禾胡同甲12号", []),
        ("北京市西城区甲秀路12号", "北京市西城区甲秀路12号3栋", []),  # 甲 in the road's name
        # ... and of the yard behind it; a building's prefix (甲1号楼: the building added beside 1号楼)
        ("北京市海淀区青禾路18号院1号楼", "北京市海淀区青禾路甲18号院1号楼", ["another_road_number"]),
        ("北京市海淀区青禾路甲18号院", "北京市海淀区青禾路乙18号院", ["another_road_number"]),
        ("北京市海淀区青禾路18号院甲1号楼", "北京市海淀区青禾路18号院1号楼", ["another_building"]),
        ("北京市海淀区青禾路18号院甲1号楼", "北京市海淀区青禾路18号院乙1号楼", ["another_building"]),
        ("北京市海淀区青禾路18号院甲1号楼", "北京市海淀区青禾路18号院甲1号楼3单元", []),
        # without a road on either side a 号 number is a door of the village or compound the text names
        ("深圳市福田区沙头街道青石村55号", "深圳市福田区沙头街道青石村56号", ["another_road_number"]),
        # ... unless one text also writes the other's number (a record naming its neighbour's door first)
        ("深圳市罗湖区东晓街道石化村18号石化村19号旁B栋", "深圳市罗湖区东晓街道石化村19号B栋", []),
        # the same road number, then the same village and another door inside it
        ("罗湖区翠竹街道青禾路18号青禾村93号", "罗湖区翠竹街道青禾路18号青禾村9号", ["another_road_number"]),
        ("罗湖区翠竹街道青禾路18号青禾村21号301", "罗湖区翠竹街道青禾路18号青禾村21号", []),
        # ... as a whole number: 243号 does not write door 3
        ("福田区青禾社区青禾东村243号", "福田区青禾社区青禾东村3号", ["another_road_number"]),
        # the same numbers in the same order, cut apart differently by the parse: no conflict
        ("山东省济南市华府商城D323号", "山东省济南市华府商城D323", []),
        ("吉林省长春市朝阳区桂园小区14栋2单元3楼52号", "吉林省长春市朝阳区桂园小区14栋2单元3楼52", []),
        # one side with a road: its number says nothing about a compound's building number
        ("翠柏小区12号", "和平路300号翠柏小区12号", []),
        # an admin name is no side
        ("天津市河西区友谊路35号", "天津市河东区友谊路35号", ["another_district_same_road"]),
        # a basement and the ground floor are two floors; a floor letter is how the floor is written
        ("上海市闵行区七莘路3588号B1层", "上海市闵行区七莘路3588号1层", ["another_floor"]),
        # a building written right after the building (a tower's 座, a numbered yard's building) is part of
        # the building's number: T1 A座 and T1 B座 are two buildings
        ("北京市朝阳区望京SOHO T1 A座", "北京市朝阳区望京SOHO T1 B座", ["another_building"]),
        ("郑州市金水区幸福社区6号院3栋", "郑州市金水区幸福社区6号院5栋", ["another_building"]),
        # a number before a kind of building types as 号 but is the building's: a campus's dormitories
        # are two buildings, a road's number before its dormitory stays the road's door
        ("北京市海淀区青禾大学3号宿舍楼", "北京市海淀区青禾大学4号宿舍楼", ["another_building"]),
        ("北京市海淀区青禾大学3号教学楼201", "北京市海淀区青禾大学5号教学楼201", ["another_building"]),
        ("北京市海淀区青禾路18号宿舍楼", "北京市海淀区青禾路20号宿舍楼", ["another_road_number"]),
        ("北京市朝阳区望京SOHO T1 A座", "北京市朝阳区望京SOHO T1", []),  # one side omits it
        ("北京市朝阳区望京SOHO T1 A座", "北京市朝阳区望京SOHO T1 a座", []),
        # a district written by its short name right after its city is stated (温州鹿城 / 温州龙湾) …
        ("温州鹿城人民东路168号", "温州龙湾人民东路168号", ["another_district_same_road"]),
        ("北京朝阳建国路88号", "北京市海淀区建国路88号", ["another_district_same_road"]),
        ("杭州西湖文三路369号", "浙江省杭州市西湖区文三路369号", []),
        # … but not one followed by another division written in full (秦淮溧水区: 溧水区 is what it says)
        ("江苏省南京市秦淮溧水区秦淮路809号", "南京市秦淮区秦淮路809号", []),
        # another township written in full (东莞 has no districts: its towns are the level below the city)
        ("广东省东莞市虎门镇连升路1号", "广东省东莞市厚街镇连升路1号", ["another_town"]),
        ("深圳市龙岗区布吉街道中兴路1号", "深圳市龙岗区南湾街道中兴路1号", ["another_town"]),
        ("广东省东莞市虎门镇连升路1号", "广东省东莞市连升路1号", []),  # one side omits it
        ("南京市溧水区永阳街道人民路1号", "南京市溧水区永阳镇人民路1号", []),  # made a street office
        # the halves of one road are two roads without road numbers too
        ("广东省东莞市长安镇长青南路", "广东省东莞市长安镇长青北路", ["another_road"]),
        # an avenue's middle part before the number is one of its named parts (中山大道中 / 中山大道西)
        ("广州市越秀区青禾大道中18号", "广州市越秀区青禾大道西18号", ["another_road"]),
        ("广州市越秀区青禾大道中18号", "广州市越秀区青禾大道18号", []),
        # institutions of one kind numbered by an ordinal; numerals read as numbers; other kinds no conflict
        ("北京市海淀区中关村第一小学", "北京市海淀区中关村第二小学", ["another_numbered_place"]),
        (
            "天津市河西区青禾路10号云杉市场第六间",
            "天津市河西区青禾路10号云杉市场第四间",
            ["another_numbered_place"],
        ),
        ("杭州市上城区第十四中学", "杭州市上城区第4中学", ["another_numbered_place"]),
        ("深圳市南山区南油第三工业区5栋", "深圳市南山区南油第3工业区5栋", []),
        ("南京市鼓楼区第一医院", "南京市鼓楼区第二人民医院", []),
        ("杭州市滨江区江南大道3850号11F", "杭州市滨江区江南大道3850号11层", []),
        # a street address located relative to (opposite, beside, 50 m east of) is not the address ...
        ("北京市海淀区中关村大街27号对面", "北京市海淀区中关村大街27号", ["near_not_at"]),
        ("上海市徐汇区漕溪北路88号往东50米", "上海市徐汇区漕溪北路88号", ["near_not_at"]),
        ("广州市天河区天河路385号3栋旁边", "广州市天河区天河路385号3栋", ["near_not_at"]),
        ("北京市海淀区中关村南大街5号院附近", "北京市海淀区中关村南大街5号院", ["near_not_at"]),
        # ... but a landmark's own record is what CCKS calls relevant to a query off a named landmark, a
        # locator in the middle names the place after it, and both sides located so are the scorer's
        ("杭州市西湖区翠苑小区对面", "杭州市西湖区翠苑小区", []),
        ("杭州市西湖区文三路369号附近翠苑小区", "杭州市西湖区文三路369号翠苑小区", []),
        ("深圳市龙岗区平湖街道横岭路1号后面401", "深圳市龙岗区平湖街道横岭路1号后面", []),
        ("杭州市西湖区文三路369号旁", "杭州市西湖区文三路369号对面", []),
        # two villages named apart by a side or age, or by a number; one other character is the scorer's
        ("河北省保定市清苑区东闾乡东闾村", "河北省保定市清苑区东闾乡西闾村", ["another_community"]),
        ("山东省临沂市兰山区白沙埠镇前村", "山东省临沂市兰山区白沙埠镇后村", ["another_community"]),
        ("河北省保定市清苑区冉庄镇大王庄村", "河北省保定市清苑区冉庄镇小王庄村", ["another_community"]),
        ("江苏省苏州市吴中区木渎镇金山村", "江苏省苏州市吴中区木渎镇金星村", []),
        # two compounds (POIs) of one name but for their side: Beijing's 东里 / 西里; not a zone's word, nor
        # one character other than a side
        ("北京市朝阳区青禾西里3号楼", "北京市朝阳区青禾东里3号楼", ["another_community"]),
        ("北京市朝阳区青禾南院5号", "北京市朝阳区青禾北院5号", ["another_zone", "another_community"]),
        ("北京市朝阳区东青禾3号院", "北京市朝阳区西青禾3号院", ["another_community"]),
        ("广东省深圳市南山区青禾新村3栋", "广东省深圳市南山区青禾旧村3栋", ["another_community"]),  # 新 / 旧
        ("北京市朝阳区青禾西里3号楼", "北京市朝阳区青禾新里3号楼", []),
        # one village's name is the other's with a side before it, unless the other text writes it too
        ("河北省保定市清苑区冉庄村", "河北省保定市清苑区东冉庄村", ["another_community"]),
        ("江苏省徐州市睢宁县姚洼村", "江苏省徐州市睢宁县下姚洼村12号", ["another_community"]),
        ("深圳市福田区下梅林村25号101", "深圳市福田区梅林村25号", ["another_community"]),
        ("河北省保定市清苑区冉庄镇冉庄村", "河北省保定市清苑区冉庄村", []),
        # two villages or two communities of different names (not a one-character misspelling)
        ("江西省上饶市鄱阳县青禾镇杨柳村", "江西省上饶市鄱阳县青禾镇梅溪村", ["another_community"]),
        ("宝安区西乡街道星河社区青禾路8号", "宝安区西乡街道碧海社区青禾路8号", ["another_community"]),
        ("广东省广州市白云区青禾潭村星光幼儿园", "青禾谭村南新大街星光幼儿园", []),
        # a village's kind written before 村 (行政村, 自然村) is no other name
        ("河南省周口市太康县青禾镇云杉村", "河南省周口市太康县青禾镇云杉自然村", []),
        ("河南省周口市太康县青禾镇云杉村", "河南省周口市太康县青禾镇云杉行政村", []),
        ("河南省周口市太康县青禾镇云杉行政村", "河南省周口市太康县青禾镇松风自然村", ["another_community"]),
        # a Mongolian village (嘎查, which the tagger reads as a POI) is a village, its groups a village's
        ("锡林郭勒盟正蓝旗那日图苏木云杉嘎查", "锡林郭勒盟正蓝旗那日图苏木松风嘎查", ["another_community"]),
        ("正蓝旗那日图苏木云杉嘎查", "正蓝旗那日图苏木云杉嘎查村委会", []),
        ("正蓝旗那日图苏木云杉嘎查3组", "正蓝旗那日图苏木云杉嘎查5组", ["another_zone"]),
        # ... nor a village against a community named after another one, which covers more
        ("南京市栖霞区青禾街道合兴村经5路92号星城西区9栋", "星城西区9栋兴旺村社区星城西区9栋", []),
        # a register listing every floor or building it holds names the other's too: no conflict
        ("广州市天河区水荫路119号星光映景中心5A层、6层、30层", "广州市天河区水荫路119号星光映景中心30层", []),
        ("杭州市西湖区文三路369号3栋、5栋", "杭州市西湖区文三路369号5栋", []),
        ("广州市水荫路119号星光映景中心6层", "广州市水荫路119号星光映景中心30层", ["another_floor"]),
        # two branches of one chain, though notes leave the normalized texts one; one branch is a note
        ("北京市朝阳区如家酒店(望京店)", "北京市朝阳区如家酒店(国贸店)", ["another_branch"]),
        ("上海市漕溪北路88号星巴克(徐家汇店)", "上海市漕溪北路88号星巴克(美罗城店)", ["another_branch"]),
        ("星巴克(望京SOHO店)", "星巴克(国贸店)", ["another_branch"]),
        # a bank's and a telecom shop's branches; a note the parse leaves out of every component
        ("中国工商银行(文二路支行)", "中国工商银行(解放路支行)", ["another_branch"]),
        # a bank's branch written without brackets, against one in brackets or another without
        ("杭州市青禾路18号中国工商银行云杉支行", "杭州市青禾路18号中国工商银行松风支行", ["another_branch"]),
        ("杭州市青禾路18号中国工商银行云杉支行", "杭州市青禾路18号工商银行(松风支行)", ["another_branch"]),
        ("杭州市青禾路18号中国工商银行云杉支行", "杭州市青禾路18号工商银行(云杉支行)", []),
        # the finest level of a bank's office names it: two sub-branches of one provincial branch's office
        ("工商银行浙江分行营业部云杉支行", "工商银行浙江分行营业部松风路支行自助服务区", ["another_branch"]),
        ("工商银行浙江分行营业部云杉支行", "杭州市工商银行浙江分行营业部云杉支行", []),
        # a credit union's and the postal savings bank's offices, however each is called
        ("杭州市云杉农村信用社松风营业部", "杭州市云杉农村信用社青禾营业部", ["another_branch"]),
        ("云杉农村信用合作联社松风信用分社", "云杉农村信用合作联社青禾信用分社", ["another_branch"]),
        ("杭州市邮政储蓄银行松风营业所", "杭州市邮政储蓄银行松风营业所", []),
        ("杭州市云杉信用联社松风分社", "杭州市云杉信用联社松风分社(青禾路18号)", []),
        ("中国移动(文三路营业厅)", "中国移动(学院路营业厅)", ["another_branch"]),
        ("宁波银行24小时自助银行(学院路支行)", "浙商银行24小时自助银行(湖滨支行)", ["another_branch"]),
        ("杭州市文三路369号(近肯德基店)", "杭州市文三路369号(近麦当劳店)", []),  # landmarks, not branches
        # a lettered building after the same words; not after other words, nor one code written twice
        ("深圳市宝安区松岗街道学林路18号C6宿舍", "深圳市宝安区学林路18号C8宿舍", ["another_building"]),
        ("深圳市龙岗区工业区星河A17星河公司", "深圳市龙岗区工业区星河A15星河公司", ["another_building"]),
        ("深圳市宝安区学林路18号C6宿舍", "深圳市宝安区学林路18号星河大厦C8", []),
        ("深圳市宝安区学林路18号C6宿舍", "深圳市宝安区学林路18号C06宿舍", []),
        # gates named by a side and a number
        ("杭州市下城区和睦新村(东南3门)", "杭州市下城区和睦新村(东南2门)", ["another_zone"]),
        ("北京市朝阳区如家酒店(望京店)", "北京市朝阳区如家酒店(望京分店)", []),
        ("杭州市文三路100号肯德基(文三路店)", "杭州市文三路100号肯德基(文三分店)", []),
        ("北京市朝阳区如家酒店(望京店)", "北京市朝阳区如家酒店", []),
        # two groups of a village, however the group is called
        ("河南省周口市淮阳县王店乡李庄村三组15号", "河南省周口市淮阳县王店乡李庄村四组", ["another_zone"]),
        ("四川省成都市郫都区宝华村5社28号", "四川省成都市郫都区宝华村6社28号", ["another_zone"]),
        ("四川省成都市郫都区安德街道安龙村6组", "四川省成都市郫都区安德街道安龙村六组", []),
        # one building number on two sides of an estate; one side alone says nothing
        ("深圳市龙岗区青禾路18号云杉花园东5栋", "深圳市龙岗区青禾路18号云杉花园西5栋", ["another_building"]),
        ("深圳市龙岗区青禾路18号云杉花园东5栋", "深圳市龙岗区青禾路18号云杉花园5栋", []),
        # two clusters of an estate (组团), however the tagger read each
        ("深圳市南山区松风路88号青禾名城三组团7栋", "深圳市南山区青禾名城5组团7栋", ["another_zone"]),
        # two numbered yards of one estate (Beijing's 号院); a yard on a road is its door, compared as one
        ("北京市朝阳区青禾里3号院3号楼2单元501", "北京市朝阳区青禾里5号院3号楼2单元501", ["another_zone"]),
        ("北京市朝阳区青禾里3号院3号楼", "北京市朝阳区青禾里3号院", []),
        ("北京市朝阳区青禾里3号院3号楼", "北京市朝阳区青禾里3号楼", []),
        # two sides of a floor or a road; a corner shares a side with either of its sides
        ("杭州市云杉路18号3号楼5楼东侧", "杭州市云杉路18号3号楼5楼西侧", ["another_zone"]),
        ("杭州市云杉路南侧松风大厦", "杭州市云杉路北侧松风大厦", ["another_zone"]),
        ("河南省开封市杞县青禾大道中段路南", "河南省开封市杞县青禾大道中段路北", ["another_zone"]),
        ("河南省开封市杞县青禾路南", "河南省开封市杞县青禾路北", []),  # perhaps 青禾南路, as written
        ("杭州市青禾路18号云杉大厦12楼东", "杭州市青禾路18号云杉大厦12楼西", ["another_zone"]),
        ("杭州市青禾路18号云杉大厦12楼东", "杭州市青禾路18号云杉大厦12楼东侧", []),
        ("杭州市云杉路与青禾路交叉口东南侧", "杭州市云杉路与青禾路交叉口东侧", []),
        # two branch offices of one company named apart; one named two ways; a branch and its head office
        (
            "杭州市青禾路18号云杉科技有限公司杭州分公司",
            "杭州市青禾路18号云杉科技有限公司宁波分公司",
            ["another_branch"],
        ),
        ("杭州市青禾路18号云杉科技有限公司杭州分公司", "杭州市青禾路18号云杉科技有限公司杭州市分公司", []),
        ("杭州市青禾路18号云杉科技有限公司杭州分公司", "杭州市青禾路18号云杉科技有限公司", []),
        # two local offices of one kind named by two places; one office written with or without more
        ("杭州市公安局西湖分局云杉派出所", "杭州市公安局西湖分局明月派出所", ["another_branch"]),
        ("杭州市拱墅区云杉街道社区卫生服务中心", "杭州市拱墅区松风街道社区卫生服务中心", ["another_branch"]),
        ("杭州市余杭区青禾人民法庭", "杭州市余杭区松风人民法庭", ["another_branch"]),
        ("杭州市西湖区云杉派出所", "杭州市公安局西湖分局云杉派出所", []),
        ("河南省周口市太康县青禾镇卫生院", "河南省周口市太康县青禾镇中心卫生院", []),
        # two crossings that share one road or none are two places, however each is worded; one crossing
        # with its roads in the other order, or one road misspelt, is one
        ("南京市秦淮区青禾路与云杉街交叉口", "南京市秦淮区松风巷与云杉街交叉口", ["another_road"]),
        (
            "石家庄市长安区青禾大街和云杉路交口北行100米",
            "石家庄市长安区松风路与青禾大街交叉口南行200米",
            ["another_road"],
        ),
        ("杭州市青禾路与云杉路交叉口停车场", "杭州市松风路与明月路交叉口停车场", ["another_road"]),
        ("南京市秦淮区青禾路与云杉街交叉口", "南京市秦淮区云杉街与青禾路交叉口", []),
        ("杭州市余杭区松风大道与青禾公路交叉口", "杭州市余杭区松峰大道与青禾公路交叉口", []),
        ("南京市秦淮区青禾路与云杉街交叉口", "南京市秦淮区青禾路云杉街路口", []),
        # two chains at one address, one character apart or not; one chain written two ways is one
        ("杭州市云杉路18号中国石化加油站", "杭州市云杉路18号中国石油加油站", ["another_chain"]),
        ("杭州市云杉路18号肯德基", "杭州市云杉路18号麦当劳", ["another_chain"]),
        ("杭州市云杉路18号建行大厦", "杭州市云杉路18号建设银行大厦", []),
        ("杭州市云杉路18号中国工商银行", "杭州市云杉路18号工商银行(松风支行)", []),
        # two companies at one address; not one company with or without its city, an abbreviation, a
        # misspelling, one trade name in two industries, a branch, nor a name read from an address word
        ("杭州市云杉路18号杭州青禾科技有限公司", "杭州市云杉路18号杭州松风科技有限公司", ["another_company"]),
        ("杭州市云杉路18号3楼青禾贸易有限公司", "杭州市云杉路18号3楼松风电子有限公司", ["another_company"]),
        ("杭州市云杉路18号杭州青禾科技有限公司", "杭州市云杉路18号青禾科技公司", []),
        ("杭州市云杉路18号中国移动通信集团浙江有限公司", "杭州市云杉路18号浙江移动公司", []),
        ("杭州市云杉路18号青禾科技有限公司", "杭州市云杉路18号青和科技有限公司", []),
        ("杭州市云杉路18号青禾科技有限公司", "杭州市云杉路18号青禾电子有限公司", []),
        ("杭州市云杉路18号青禾科技有限公司", "杭州市云杉路18号青禾科技有限公司松风分公司", []),
        ("开发区西区青禾生物科技有限公司", "省道北100米浙江青禾生物科技有限公司", []),
        # one name closed by two kinds of facility; one kind written two ways; a name without a kind
        ("杭州市云杉路18号青禾超市", "杭州市云杉路18号青禾药店", ["another_kind"]),
        ("杭州市云杉路18号青禾小学", "杭州市云杉路18号青禾中学", ["another_kind"]),
        ("杭州市云杉路18号青禾大药房", "杭州市云杉路18号青禾药房", []),
        ("杭州市云杉路18号青禾大酒店", "杭州市云杉路18号青禾宾馆", []),
        ("杭州市云杉路18号青禾小学", "杭州市云杉路18号松风中学", []),
        ("杭州市云杉路18号青禾超市", "杭州市云杉路18号青禾", []),
        # two parts of one school or hospital; a part against the whole place is not two places
        ("杭州市西湖区青禾中学初中部", "杭州市西湖区青禾中学高中部", ["another_kind"]),
        ("杭州市西湖区青禾医院门诊楼", "杭州市西湖区青禾医院住院部", ["another_kind"]),
        ("杭州市西湖区青禾医院门诊楼", "杭州市西湖区青禾医院门诊部", []),
        ("杭州市西湖区青禾中学", "杭州市西湖区青禾中学初中部", []),
        # two numbered lanes after the same words; not after other words
        ("深圳市宝安区石岩街道云杉新村二巷4栋", "深圳市宝安区云杉新村1巷4栋", ["another_road"]),
        ("深圳市宝安区云杉新村二巷4栋", "深圳市宝安区青禾花园1巷4栋", []),
        # opposite directions from one crossing; directions that share a side may be one place
        ("济南市青禾路与云杉路交叉口向西50米", "济南市青禾路与云杉路交叉口向东50米", ["near_not_at"]),
        ("济南市青禾路与云杉路交叉口东南50米", "济南市青禾路与云杉路交叉口南50米", []),
        # a township the country has once, against another city; one named in several places says nothing
        ("武汉市武昌区青禾路66号", "合德镇青禾路66号", ["another_city"]),
        ("盐城市射阳县青禾路66号", "合德镇青禾路66号", []),
        ("武汉市武昌区青禾路66号", "城关镇青禾路66号", []),
        # two texts that name nothing but their roads: two roads; not two orders of one name's characters
        ("河南省周口市太康县城关镇青禾路南段", "太康县城关镇云杉路南段", ["another_road"]),
        ("大连市沙河口区青禾街", "大连市沙河口区禾青街", ["another_road_weak"]),
        ("太康县城关镇青禾路南段星光超市", "太康县城关镇云杉路南段星光超市", ["another_road_weak"]),
        # one lane number after the names of two villages; not where the names share one (a community
        # written before the village, a typo), nor two lanes of other numbers
        ("深圳市龙岗区布吉街道云杉新村三巷83号", "深圳市龙岗区布吉街道青禾一区3巷83号", ["another_road"]),
        ("深圳市龙岗区平湖街道松风5巷6号", "深圳市龙岗区平湖街道大禾园五巷6号", ["another_road"]),
        ("深圳市南山区云杉社区云杉旧村五巷8号", "南山区蛇口云杉旧村5巷8号301", []),
        ("宝安区青禾新村七巷3号", "宝安区青河新村7巷3号", []),
        # two lanes by side after the same words (坊 is a lane too)
        ("深圳市南山区云杉洲东二坊87号", "深圳市南山区云杉洲西二坊87号", ["another_road"]),
        # two townships of the city the district is in, one written before its district was split off
        ("宝安区公明街道青禾路5号", "宝安区西乡街道青禾路5号", ["another_town"]),
        # one number in two parks of different names; not a one-character difference, nor a park in another
        ("深圳市宝安区西乡街道青禾工业区59号", "深圳市宝安区西乡街道云杉工业区59栋", ["another_zone"]),
        ("深圳市宝安区青禾工业区59号", "深圳市宝安区青河工业区59号", []),
        ("深圳市宝安区云杉工业区青禾工业园6栋", "深圳市宝安区青禾工业园6栋", []),
        # two roads named alone with the side of the road closing the text; one road's two sides
        ("河南省遂平县青禾路中段路西", "河南省遂平县云杉路中段路西", ["another_road"]),
        ("遂平县青禾路东侧", "遂平县云杉路东侧", ["another_road"]),
        ("遂平县青禾路中段路西", "遂平县青禾路中段路东", ["another_zone"]),
        # a village's industrial zones numbered without 第, against each other and against 第N
        ("光明区公明街道青禾村四工业区4栋", "光明区公明街道青禾村五工业区A区4号", ["another_numbered_place"]),
        ("宝安区青禾村一工业区云杉厂", "宝安区青禾村第二工业区云杉厂", ["another_numbered_place"]),
        ("宝安区青禾村一工业区云杉厂宿舍", "宝安区青禾村第一工业区云杉厂宿舍", []),
        # the middle building of a block against a side one; a school's 初中楼 is no side
        ("青禾大学松风北楼(西门)", "江干区青禾大学松风中楼(西门)", ["another_zone"]),
        ("青禾中学初中楼", "青禾中学东楼", []),
        # one name after two regions' names; one of them written alone (the region left out)
        ("浙江青禾职业技术学院-宿舍楼2", "文景路19号陕西青禾职业技术学院宿舍楼", ["another_named_place"]),
        ("浙江青禾职业技术学院", "青禾职业技术学院", []),
        ("浙江青禾职业技术学院", "陕西省西安市青禾路1号浙江青禾职业技术学院", []),
        # two doors of one village, one text naming a road too; the same door
        ("福田区南园街道云杉村130号", "福田区南园街道云杉街云杉村131号", ["another_road_number"]),
        ("福田区南园街道云杉村130号", "福田区南园街道云杉街云杉村130号", []),
        # two doors of one neighbourhood named 里 (a northern city's lane, tagged a POI)
        ("锦州市古塔区青禾里156-6号", "辽宁省锦州市古塔区青禾里156-7号", ["another_road_number"]),
        ("锦州市古塔区青禾里156-6号", "辽宁省锦州市古塔区青禾里156-6号2单元", []),
        # two schools or departments of one university; one school written two ways
        ("青禾美术学院(象山校区)-艺术设计系", "青禾美术学院象山校区-美术教育系", ["another_named_place"]),
        ("勾庄路青禾职业技术学院运输管理学院", "勾庄路16号青禾职业技术学院海运学院", ["another_named_place"]),
        ("青禾大学计算机学院", "青禾大学计算机科学与技术学院", []),
        ("青禾大学计算机学院", "松风大学建筑学院", []),
        # a floor against a room on another floor; a room on that floor, a door written 102号, a building
        ("深圳市罗湖区深南东路2102号青禾大厦501", "深圳市罗湖区深南东路2102号青禾大厦4楼", ["another_floor"]),
        ("深圳市罗湖区深南东路2102号青禾大厦501", "深圳市罗湖区深南东路2102号青禾大厦5楼", []),
        ("宝安区西乡街道青禾新村三区102号4层", "宝安区西乡街道青禾新村三区102号", []),
        ("南山区青禾街2号11栋101", "南山区青禾街2号11栋", []),
        # zones numbered with three digits
        ("宝安区西乡街道青禾机场311区25号", "宝安区西乡街道青禾机场305区25号", ["another_zone"]),
        # two named places whose names end alike; the same name after a city and a district
        ("杭州市西湖区青禾时代广场A座", "杭州市西湖区云杉时代广场A座", ["another_named_place"]),
        ("拱墅青禾广场", "杭州青禾广场", []),
        # a school's dormitory and its teaching building
        (
            "福田区青禾路6号云杉小学宿舍楼",
            "福田区青禾路6号云杉小学教学楼",
            ["another_building", "another_kind"],
        ),
        # street offices written with 办; one of them written two ways
        ("罗平县罗雄街道办青禾街", "云南省曲靖市罗平县腊山街道办青禾街", ["another_town"]),
        ("罗平县罗雄街道办青禾街", "云南省曲靖市罗平县罗雄街道青禾街", []),
        # two villages of one community by age and side (上新村 / 中新村)
        (
            "宝安区石岩街道罗租社区青禾上新村十一巷2号",
            "宝安区石岩街道罗租社区青禾中新村十一巷2号",
            ["another_community"],
        ),
        # police units numbered without 第
        ("南京市秦淮区青禾路1号交警三大队", "南京市秦淮区青禾路1号交警二大队", ["another_numbered_place"]),
        ("青禾村三大队", "青禾村第三大队", []),
        # two traffic police units named by their areas under one brigade; numbered workshops
        ("交警支队西湖大队青禾中队", "杭州市交警支队西湖大队云杉中队", ["another_branch"]),
        ("宝安区青禾工业区厂房五整套", "宝安区青禾工业区厂房八整套", ["another_numbered_place"]),
        ("宝安区青禾工业区厂房八整套", "宝安区青禾工业区厂房8号", []),
        # two facilities of one place; a facility written with and without a dash; a delivery note
        ("申花路796号青禾国际饭店-足浴", "申花路796号青禾国际饭店停车场", ["another_named_place"]),
        ("青禾体育职业技术学院网球场", "青禾体育职业技术学院便利店", ["another_named_place"]),
        ("青禾国际饭店-足浴", "申花路796号青禾国际饭店足浴", []),
        ("青禾国际酒店前台收", "青禾国际酒店-洗手间", []),
    ],
)
def test_conflicts(a: str, b: str, expected: list[str]) -> None:
    assert rules_of(conflicts(analyze(a), analyze(b))) == expected
    assert rules_of(conflicts(analyze(b), analyze(a))) == expected  # symmetric


def test_structured_decision_rule_reads_the_same_list() -> None:
    """number_conflict_mask marks a floor conflict (the list of address.conflicts), road number only on
    the same road: the decision rule the shipped model was tuned with, unchanged."""
    from geoalign.scorers.features import FEATURE_NAMES, pair_features
    from geoalign.scorers.structured import number_conflict_mask

    pairs = [
        ("深圳市福田区深南中路1002号12层", "深圳市福田区深南中路1002号13层", True),
        ("杭州市西湖区文三路369号", "杭州市西湖区文三路371号", True),
        ("杭州市西湖区文三路369号", "杭州市西湖区文二路371号", False),
        ("杭州市西湖区文三路369号", "杭州市西湖区文三路369号", False),
    ]
    matrix = np.array([pair_features(analyze(a), analyze(b)) for a, b, _ in pairs])
    assert matrix.shape[1] == len(FEATURE_NAMES)
    assert number_conflict_mask(matrix).tolist() == [want for *_, want in pairs]


# ------------------------------------------------------------------------------------------ the layer


def judge(probs: tuple[float, float, float] = (0.7, 0.2, 0.1)) -> RuleScorer:
    scorer = with_rules(FixedScorer(probs))
    assert isinstance(scorer, RuleScorer)
    return scorer


def test_cap_another_building_moves_exact_to_partial() -> None:
    [m] = judge().score([AddressPair("南京市鼓楼区汉中路8号3栋", "南京市鼓楼区汉中路8号5栋")])
    assert isinstance(m, Match)
    assert m.label == "partial_match"
    assert m.probabilities == pytest.approx({"exact_match": 0.0, "partial_match": 0.9, "not_match": 0.1})
    assert m.scorer == "fixed+rules" and m.model == "fixed-v1"
    assert m.explanation is not None and m.explanation["rules"] == ["another_building"]
    assert m.explanation["conflicts"] == [{"name": "houseno", "a": "3", "b": "5", "rule": "another_building"}]
    assert m.explanation["components"]  # the wrapped scorer's explanation is kept


def test_cap_another_road_conditions_on_not_exact() -> None:
    """Another road names another place: the answer is the scorer's, given not exact_match (its
    partial : not ratio kept), where a changed building number moves the exact mass to partial."""
    pair = AddressPair("杭州市西湖区文三路369号", "杭州市西湖区文二路369号")
    [m] = judge((0.6, 0.1, 0.3)).score([pair])
    assert isinstance(m, Match)
    assert m.explanation is not None and m.explanation["rules"] == ["another_road"]
    assert m.label == "not_match"
    assert m.probabilities == pytest.approx({"exact_match": 0.0, "partial_match": 0.25, "not_match": 0.75})
    # a scorer sure of exact_match leaves nothing to condition on: the nearest allowed label
    [sure] = judge((1.0, 0.0, 0.0)).score([pair])
    assert isinstance(sure, Match) and sure.label == "partial_match"
    assert sure.probabilities == pytest.approx({"exact_match": 0.0, "partial_match": 1.0, "not_match": 0.0})
    # another district: the same conditioning
    [district] = judge((0.6, 0.1, 0.3)).score(
        [AddressPair("浙江省宁波市鄞州区天童南路588号", "浙江省宁波市海曙区学林路588号")]
    )
    assert isinstance(district, Match) and district.explanation is not None
    assert district.explanation["rules"] == ["another_district"] and district.label == "not_match"
    assert district.probabilities == pytest.approx(
        {"exact_match": 0.0, "partial_match": 0.25, "not_match": 0.75}
    )
    # ... but the same street address in another district is another place: not_match outright
    [same_road] = judge((0.6, 0.3, 0.1)).score(
        [AddressPair("浙江省宁波市鄞州区天童南路588号", "浙江省宁波市海曙区天童南路588号")]
    )
    assert isinstance(same_road, Match) and same_road.explanation is not None
    assert same_road.explanation["rules"] == ["another_district_same_road"]
    assert same_road.probabilities == pytest.approx(
        {"exact_match": 0.0, "partial_match": 0.0, "not_match": 1.0}
    )


def test_cap_another_city_is_not_match() -> None:
    [m] = judge().score([AddressPair("北京市朝阳区建国路88号", "上海市浦东新区建国路88号")])
    assert isinstance(m, Match)
    assert m.label == "not_match" and m.probabilities["not_match"] == pytest.approx(1.0)
    assert m.explanation is not None and m.explanation["rules"] == ["another_province"]


def test_lifts_name_their_rule_and_probability() -> None:
    scorer = judge((0.2, 0.5, 0.3))
    pairs = [
        ("杭州市西湖区文三路369号", "杭州市西湖区文三路369号", "identical", 1.0),
        ("杭州市西湖区文三路369号", "杭州市西湖区文三路三百六十九号", "same_normalized", 0.99),
        ("浙江省杭州市西湖区文三路369号", "文三路369号", "admin_omitted", 0.95),
        ("北京市朝阳区阜通东大街6号A座1201室", "北京市朝阳区阜通东大街6号A座1201", "suffix_only", 0.95),
        ("福建省厦门市思明区湖滨南路819号宝福大厦2楼203", "湖滨南路819号宝福大厦203室", "floor_in_room", 0.9),
        (
            "深圳市福田区华强北路1002号赛格广场45楼4501",
            "华强北路1002号赛格广场45层4501室",
            "floor_in_room",
            0.9,
        ),
        ("广西壮族自治区贵港市港南区", "贵港市港南区", "admin_only", 0.95),
    ]
    results = scorer.score([AddressPair(a, b) for a, b, *_ in pairs])
    for (_a, _b, rule, p), m in zip(pairs, results, strict=True):
        assert isinstance(m, Match)
        assert m.label == "exact_match", rule
        assert m.probabilities["exact_match"] == pytest.approx(p)
        assert sum(m.probabilities.values()) == pytest.approx(1.0)
        assert m.explanation is not None and m.explanation["rules"] == [rule]
        assert m.scorer == "fixed+rules"


def test_admin_only_lifts_only_the_same_division() -> None:
    """Two texts of admin divisions alone are one place only where they complete to the same divisions:
    a city and one of its districts are not (the coarser is partial)."""
    scorer = judge((0.2, 0.5, 0.3))
    pairs = [("浙江省杭州市", "浙江省杭州市西湖区"), ("杭州市", "杭州市西湖区文三路369号")]
    for m in scorer.score([AddressPair(a, b) for a, b in pairs]):
        assert isinstance(m, Match) and m.label == "partial_match" and m.scorer == "fixed"


def test_no_lift_across_the_provinces_two_texts_resolve_to() -> None:
    """A city's short name opening a text states no province (南昌 is also a community of 深圳), but a text
    resolved into 湖北省 does not merely omit 北京市门头沟区: no admin_omitted lift."""
    scorer = judge((0.2, 0.5, 0.3))
    [other, same] = scorer.score(
        [
            AddressPair("北京市门头沟区青禾路18号", "咸宁青禾路18号"),
            AddressPair("湖北省咸宁市青禾路18号", "咸宁青禾路18号"),
        ]
    )
    assert isinstance(other, Match) and other.label == "partial_match" and other.scorer == "fixed"
    assert isinstance(same, Match) and same.label == "exact_match"
    assert same.explanation is not None and same.explanation["rules"] == ["admin_omitted"]


def test_untouched_answer_keeps_the_scorer_name() -> None:
    """A rule that would not change the answer does not fire: a confident exact pair stays the model's."""
    [m] = judge((0.995, 0.004, 0.001)).score(
        [AddressPair("杭州市西湖区文三路369号", "杭州市西湖区文三路三百六十九号")]
    )
    assert isinstance(m, Match)
    assert m.scorer == "fixed" and "rules" not in (m.explanation or {})
    [m] = judge((0.0, 0.6, 0.4)).score([AddressPair("杭州市西湖区文三路369号", "杭州市西湖区学院路20号")])
    assert isinstance(m, Match) and m.scorer == "fixed"  # another road: already not exact


def test_staged_protocol_and_errors_in_their_slots() -> None:
    scorer = judge()
    pairs = [
        AddressPair("南京市鼓楼区汉中路8号3栋", "南京市鼓楼区汉中路8号5栋"),
        AddressPair(None, "文三路369号"),
        AddressPair("文三路369号", "文三路369号"),
    ]
    staged = scorer.finish(scorer.run(scorer.prepare(pairs)))
    direct = scorer.score(pairs)
    assert [r.to_dict() for r in staged] == [r.to_dict() for r in direct]
    assert isinstance(direct[1], ItemError) and direct[1].code == "bad_input"
    assert scorer.model_id == f"fixed-v1+{RULES_VERSION}"
    assert scorer.rules_version == RULES_VERSION
    assert scorer.name == "fixed"


def test_explain_is_forwarded_and_wrapping_twice_is_refused() -> None:
    inner = FixedScorer()
    scorer = with_rules(inner)
    scorer.explain = False  # type: ignore[attr-defined]
    assert inner.explain is False
    with pytest.raises(InputError, match="already"):
        with_rules(scorer)
    with pytest.raises(InputError, match="unknown rule"):
        RuleScorer(inner, rules=["no_such_rule"])


def test_decide_pair_with_a_rule_switched_off() -> None:
    a, b = analyze("杭州市西湖区文三路369号"), analyze("杭州市上城区文三路369号")
    assert decide_pair(a.text, b.text, a, b).cap == "not_match"
    off = frozenset({"another_building"})
    decision = decide_pair(a.text, b.text, a, b, off)
    assert decision.cap is None and decision.lift is None


def test_structured_under_rules_never_exact_on_another_building() -> None:
    from geoalign.scorers.structured import StructuredScorer

    scorer = with_rules(StructuredScorer())
    results = scorer.score(
        [
            AddressPair("上海市闵行区建设大道901号29栋2单元809室", "闵行区建设大道901号31栋2单元809室"),
            AddressPair("浙江省杭州市西湖区文三路369号", "杭州市西湖区文三路369号"),
        ]
    )
    assert [r.label for r in results if isinstance(r, Match)] == ["partial_match", "exact_match"]


# ------------------------------------------------------------------------------------------ cascade


def test_cascade_final_answer_passes_the_caps() -> None:
    """The neural stage says exact for 3栋 vs 5栋; the cascade's answer must not be exact."""
    from geoalign.scorers.cascade import CascadeScorer
    from geoalign.scorers.structured import StructuredScorer

    cascade = CascadeScorer(StructuredScorer(), FixedScorer((0.9, 0.05, 0.05)), threshold=1.0)
    pairs = [
        AddressPair("江苏省南京市鼓楼区汉中路8号3栋", "江苏省南京市鼓楼区汉中路8号5栋"),
        AddressPair("北京市朝阳区建国路88号", "上海市浦东新区建国路88号"),
        AddressPair("浙江省杭州市西湖区文三路369号", "杭州市西湖区文三路369号"),
    ]
    results = cascade.score(pairs)
    labels = [r.label for r in results if isinstance(r, Match)]
    assert labels == ["partial_match", "not_match", "exact_match"]
    first = results[0]
    assert isinstance(first, Match) and first.explanation is not None
    assert first.explanation["rules"] == ["another_building"]
    assert first.explanation["cascade"]["stage"] == "neural"


# ------------------------------------------------------------------------------------------ link judge


def record(rid: str, address: str, *, with_view: bool = True) -> Record:
    return Record(rid, address, view=analyze(address) if with_view else None)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("杭州市西湖区人民路三百六十号", "杭州市西湖区人民路360号"),
        ("上海市浦东新区张杨路500号0501室", "上海市浦东新区张杨路500号501室"),
    ],
)
def test_link_typed_numbers_agree(a: str, b: str) -> None:
    assert view_conflicts(record("q", a), record("c", b)) == []
    judged = SamePlaceJudge(FixedScorer((0.9, 0.05, 0.05))).judge(
        [record("q", a)], [record("c", b)], [(0, 0)]
    )
    assert judged[0].same_place and judged[0].conflicts == []


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("上海市闵行区七莘路3588号负一层", "上海市闵行区七莘路3588号一层"),
        ("上海市闵行区七莘路3588号地下一层", "上海市闵行区七莘路3588号1楼"),
        ("上海市闵行区七莘路3588号B1层", "上海市闵行区七莘路3588号1F"),
    ],
)
def test_a_basement_is_another_floor_than_the_ground_floor(a: str, b: str) -> None:
    assert view_conflicts(record("q", a), record("c", b)) == ["floorno"]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # one building behind one door, written with and without 院: no conflict (was: building 30 vs 3)
        ("北京市海淀区学院路30号院3号楼", "北京市海淀区学院路30号3号楼", []),
        ("北京市海淀区学院路30号院3号楼", "北京市海淀区学院路30号院5号楼", ["houseno"]),
        ("北京市海淀区学院路30号院3号楼", "北京市海淀区学院路32号院3号楼", ["roadno"]),
    ],
)
def test_a_yard_on_a_road_is_read_as_its_door(a: str, b: str, expected: list[str]) -> None:
    assert view_conflicts(record("q", a), record("c", b)) == expected


def test_link_typed_numbers_conflict() -> None:
    q, c = record("q", "上海市浦东新区张杨路500号0501室"), record("c", "上海市浦东新区张杨路500号502室")
    assert view_conflicts(q, c) == ["roomno"]
    judge_ = SamePlaceJudge(FixedScorer((0.9, 0.05, 0.05)))
    judged = judge_.judge([q], [c], [(0, 0)])
    assert not judged[0].same_place and judged[0].conflicts == ["roomno"]


def test_link_not_match_both_ways_is_never_one_place() -> None:
    """A pair the judge calls not_match both ways is no same-place edge, though its exact_match
    probability (0.3) is over the threshold (0.2); called partial_match both ways, it is one."""
    q, c = record("q", "甲地址", with_view=False), record("c", "乙地址", with_view=False)
    [item] = SamePlaceJudge(FixedScorer((0.3, 0.2, 0.5))).judge([q], [c], [(0, 0)])
    assert item.reverse is not None and not item.same_place and item.conflicts == []
    [item] = SamePlaceJudge(FixedScorer((0.3, 0.5, 0.2))).judge([q], [c], [(0, 0)])
    assert item.same_place


def test_link_conflict_seen_only_in_reverse_direction() -> None:
    """Without parsed views the judge reads the explanations: the forward one agrees, the reverse one
    marks a road-number conflict -> not the same place, and the conflict is reported."""
    q, c = record("q", "甲地址", with_view=False), record("c", "乙地址", with_view=False)
    judge_ = SamePlaceJudge(FixedScorer((0.9, 0.05, 0.05), conflict_when_a="乙地址"))
    [item] = judge_.judge([q], [c], [(0, 0)])
    assert item.reverse is not None
    assert not item.same_place
    assert item.conflicts == ["roadno"]
    assert judge_.stats.refused_by_hard_numbers == 1


@pytest.mark.parametrize(
    ("a", "b", "lift"),
    [
        ("杭州市西湖区文三路369号", "杭州市西湖区文三路369号(近地铁站)", "same_normalized"),
        ("西安市雁塔区小寨东路126号百隆广场星巴克", "小寨东路126号百隆广场星巴克(百隆店)", "admin_omitted"),
        ("杭州市西湖区文三路369号", "杭州市西湖区文三路369号(东门)", None),  # a gate is part of the place
        ("杭州市西湖区文三路369号", "杭州市西湖区文三路369号（）", "same_normalized"),  # an empty field
        # the corner it is near, the courier, a register's notes, the area it lies in: noise
        ("苏州市姑苏区干将西路1号(人民路口)", "苏州市姑苏区干将西路1号", "same_normalized"),
        ("苏州市姑苏区干将西路1号【顺丰】", "苏州市姑苏区干将西路1号", "same_normalized"),
        (
            "广州市天河区黄埔大道西100号1501房(仅限办公用途)",
            "广州市天河区黄埔大道西100号1501室",
            "same_normalized",
        ),
        ("北京市海淀区中关村大街1号(集群注册)", "北京市海淀区中关村大街1号", "same_normalized"),
        ("深圳市南山区青禾路18号201(办公场所)", "深圳市南山区青禾路18号201", "same_normalized"),
        ("深圳市南山区青禾路18号201(生产经营场所)", "深圳市南山区青禾路18号201", "same_normalized"),
        ("南京市江宁区秣周东路12号(江宁开发区)", "南京市江宁区秣周东路12号", "same_normalized"),
        ("杭州市西湖区文三路369号(北区)", "杭州市西湖区文三路369号", None),  # a part of the place
        # the recipient, a landmark the address lies by: noise; a side alone names part of the place
        ("杭州市西湖区文三路369号(李先生)", "杭州市西湖区文三路369号", "same_normalized"),
        ("杭州市西湖区文三路369号（王女士收）", "杭州市西湖区文三路369号", "same_normalized"),
        ("杭州市西湖区文三路369号(张三收)", "杭州市西湖区文三路369号", "same_normalized"),
        # what the place was called before, or its former number: noise
        ("杭州市西湖区文三路369号青禾大厦(原云杉大厦)", "杭州市西湖区文三路369号青禾大厦", "same_normalized"),
        ("杭州市西湖区文三路369号(原69号)", "杭州市西湖区文三路369号", "same_normalized"),
        # the kind of address an order export tags it with; not a place's own part (宿舍)
        ("杭州市西湖区文三路369号3栋501室(家)", "杭州市西湖区文三路369号3栋501室", "same_normalized"),
        ("杭州市西湖区文三路369号【公司】", "杭州市西湖区文三路369号", "same_normalized"),
        ("杭州市西湖区文三路369号(宿舍)", "杭州市西湖区文三路369号", None),
        ("杭州市西湖区文三路369号(联华超市斜对面)", "杭州市西湖区文三路369号", "same_normalized"),
        ("杭州市西湖区文三路369号(工商银行旁边)", "杭州市西湖区文三路369号", "same_normalized"),
        ("杭州市西湖区文三路369号(东侧)", "杭州市西湖区文三路369号", None),
        # a branch's name where the other street address names none; two branches; no street address
        ("上海市徐汇区漕溪北路88号星巴克(徐家汇店)", "上海市徐汇区漕溪北路88号星巴克", "same_normalized"),
        ("上海市徐汇区漕溪北路88号星巴克(徐家汇店)", "上海市徐汇区漕溪北路88号星巴克(美罗城店)", None),
        ("北京市朝阳区如家酒店(国贸店)", "北京市朝阳区如家酒店", None),
        ("杭州市西湖区文三路", "文三路", None),  # no number: a road, not one addressable place
        # a closing floor written 楼 or 层 (1F is written 1层): one floor
        ("杭州市西湖区文三路369号1F", "杭州市西湖区文三路369号一楼", "suffix_only"),
        ("杭州市西湖区文三路369号3楼", "杭州市西湖区文三路369号3层", "suffix_only"),
        ("杭州市西湖区文三路369号3楼", "杭州市西湖区文三路369号4层", None),  # another floor
        ("杭州市西湖区文三路369号3号楼", "杭州市西湖区文三路369号3层", None),  # a building, not a floor
        ("杭州市西湖区幸福小区3楼", "杭州市西湖区幸福小区3层", None),  # after a compound: maybe building 3
        # after a mall or a tower's name, a floor where the parse reads one (it reads 3 楼 as floor 3)
        ("广州市天河区青禾路208号云杉城3楼", "广州市天河区青禾路208号云杉城三层", "suffix_only"),
        ("广州市天河区青禾路208号云杉城3楼", "广州市天河区青禾路208号云杉城4层", None),
        ("广州市天河区松风花园3楼", "广州市天河区松风花园3层", None),
        # one place text once normalized (1楼1号 is room 101): the parse's floor 1 + room 1 is no conflict
        ("四川省成都市锦江区青禾路18号1栋1单元1楼1号", "成都市锦江区青禾路18号1栋1单元101", "admin_omitted"),
        ("四川省成都市锦江区青禾路18号1栋1单元1楼1号", "成都市锦江区青禾路18号1栋1单元102", None),
        # the kind of shop closing a name; not a shop named by its number, nor another name
        ("杭州市西湖区青禾路18号云杉万家超市", "杭州市西湖区青禾路18号云杉万家", "suffix_only"),
        ("杭州市西湖区青禾路18号松风咖啡", "杭州市西湖区青禾路18号松风", "suffix_only"),
        ("杭州市西湖区青禾路18号超市", "杭州市西湖区青禾路18号", None),
        ("杭州市西湖区青禾路18号松风咖啡", "杭州市西湖区青禾路18号云杉咖啡", None),
        # a numbered school written in full or short; not another number
        ("杭州市西湖区青禾路18号云杉第一中学", "杭州市西湖区青禾路18号云杉一中", "suffix_only"),
        ("杭州市西湖区青禾路18号云杉第一中学", "杭州市西湖区青禾路18号云杉二中", None),
        # an address pasted twice is the address; a text that only starts again is not
        ("杭州市西湖区青禾路18号 杭州市西湖区青禾路18号", "杭州市西湖区青禾路18号", "same_normalized"),
        ("青禾路18号三号楼 青禾路18号3号楼", "青禾路18号3栋", "same_normalized"),
        ("杭州市西湖区青禾路18号 杭州市西湖区青禾路20号", "杭州市西湖区青禾路18号", None),
        # ... a school or a hospital named alone, no door number (an institution is one place); a numbered
        # hospital in full or short; a road or an area alone stays unlifted
        ("杭州市第三中学", "杭州三中", "suffix_only"),
        ("衢州市第一人民医院", "衢州市一医院", "suffix_only"),
        ("衢州市第一人民医院", "衢州市第一医院", "suffix_only"),
        ("衢州市第一人民医院", "衢州市二医院", None),
        ("杭州市第三中学", "杭州市第四中学", None),
        ("杭州市青禾路", "杭州青禾路", None),
        # a closing yard on the road is its door's; a compound's numbered yard is not
        ("北京市海淀区青禾大街1号院", "北京市海淀区青禾大街1号", "suffix_only"),
        ("北京市海淀区青禾大街1号院", "北京市海淀区青禾大街3号", None),
        ("北京市海淀区松风小区5号院", "北京市海淀区松风小区5号", None),
    ],
)
def test_lift_conditions(a: str, b: str, lift: str | None) -> None:
    va, vb = analyze(a), analyze(b)
    assert decide_pair(a, b, va, vb).lift == lift


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("湖滨南路819号宝福大厦3楼203", "湖滨南路819号宝福大厦203室"),  # room 203 is not on floor 3
        ("湖滨南路819号宝福大厦2楼203", "湖滨南路819号金山大厦203室"),  # another building
        ("湖滨南路819号宝福大厦2楼203", "湖滨南路819号宝福大厦2楼"),  # no room on one side
        ("湖滨南路819号宝福大厦2楼203", "湖滨南路819号宝福大厦3层203室"),  # both write a floor: another
    ],
)
def test_a_floor_lifts_only_when_the_room_number_says_it(a: str, b: str) -> None:
    (m,) = judge((0.2, 0.5, 0.3)).score([AddressPair(a, b)])
    assert isinstance(m, Match)
    assert "floor_in_room" not in ((m.explanation or {}).get("rules") or [])


@pytest.mark.parametrize(
    ("ra", "rb", "expected"),
    [
        ("人民北路", "人民南路", True),
        ("庆丰西路", "庆丰东路", True),
        ("延安中路", "延安东路", True),
        ("人民路", "人民南路", False),  # one side without the direction: not two halves
        ("人民路", "人明路", False),
        ("北京路", "南京路", True),  # two roads named after directions: no misspelling either
        ("11号大街", "21号大街", True),  # two numbered roads
        ("文1路", "文2路", True),
        ("文1路", "文12路", False),  # not one digit for another: left to the near-miss rule
        ("人民北路", "人民北路", False),
    ],
)
def test_names_two_roads(ra: str, rb: str, expected: bool) -> None:
    assert names_two_roads(ra, rb) is expected


def test_the_per_call_explanation_switch_reaches_the_wrapped_scorer() -> None:
    """``match_many(explain=False)`` through the rule layer: no component table is built (the wrapped
    scorer used to build every explanation its own default asked for); a rule that fired is still
    named; ``explain=True`` builds the table again."""
    from geoalign.engine.sync import SyncEngine
    from geoalign.scorers.structured import StructuredScorer

    same = AddressPair("浙江省杭州市西湖区文三路369号", "文三路369号华星大厦")
    other = AddressPair("杭州市云杉路18号青禾超市", "杭州市云杉路18号青禾药店")
    with SyncEngine(with_rules(StructuredScorer())) as engine:
        plain = engine.match_many([same, other], explain=False)
        full = engine.match_many([same, other], explain=True)
    assert all(isinstance(r, Match) for r in [*plain, *full])
    assert plain[0].explanation is None
    assert plain[1].explanation is not None and "components" not in plain[1].explanation
    assert plain[1].explanation["rules"] == ["another_kind"]
    assert all("components" in (r.explanation or {}) for r in full)
