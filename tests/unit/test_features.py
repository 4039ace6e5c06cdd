"""Pair features and component comparisons of the structured matcher, on hand-built parses.

The components are written by hand (no parser model needed), so these tests pin the feature rules:
numbers are hard evidence, text components are compared fuzzily, and the features are asymmetric.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from geoalign.scorers.features import FEATURE_NAMES, compare_components, pair_features, view_from_components
from geoalign.types import Component, Components


def view(text: str, *parts: tuple[str, str, str], admin=(None, None, None, None)):
    """A view of ``text`` whose components are (name, surface text, normalized value)."""
    items, pos = [], 0
    for name, surface, value in parts:
        start = text.index(surface, pos)
        items.append(Component(name, surface, start, start + len(surface), value))
        pos = start + len(surface)
    return view_from_components(Components(text, text, tuple(items)), text, admin)


def feats(a, b) -> dict[str, float]:
    values = pair_features(a, b)
    assert len(values) == len(FEATURE_NAMES)
    return dict(zip(FEATURE_NAMES, values, strict=True))


A = view(
    "江苏省南京市鼓楼区中山北路30号3栋2单元501室",
    ("prov", "江苏省", "江苏省"),
    ("city", "南京市", "南京市"),
    ("district", "鼓楼区", "鼓楼区"),
    ("road", "中山北路", "中山北路"),
    ("roadno", "30号", "30"),
    ("houseno", "3栋", "3"),
    ("cellno", "2单元", "2"),
    ("roomno", "501室", "501"),
)
SAME = view(
    "中山北路30号3栋2单元501室",
    ("road", "中山北路", "中山北路"),
    ("roadno", "30号", "30"),
    ("houseno", "3栋", "3"),
    ("cellno", "2单元", "2"),
    ("roomno", "501室", "501"),
)
OTHER_BUILDING = view(
    "中山北路30号5栋2单元501室",
    ("road", "中山北路", "中山北路"),
    ("roadno", "30号", "30"),
    ("houseno", "5栋", "5"),
    ("cellno", "2单元", "2"),
    ("roomno", "501室", "501"),
)


def by_name(comparisons):
    return {c.name: c for c in comparisons}


def test_building_number_conflict_is_hard_evidence():
    f = feats(A, OTHER_BUILDING)
    assert f["houseno_state"] == 4.0  # both present, different
    assert f["houseno_sim"] == 0.0  # never a "near match" although 3 and 5 differ by one character
    assert f["hard_conflict"] == 1.0 and f["hard_agree"] == 3.0
    assert f["t_building_state"] == 4.0  # the text rule sees the same conflict without the parser
    cmp = by_name(compare_components(A, OTHER_BUILDING))
    assert cmp["houseno"].status == "conflict"
    assert (cmp["houseno"].a, cmp["houseno"].b) == ("3", "5")


def test_same_numbers_agree_and_missing_admin_is_only_a():
    f = feats(A, SAME)
    assert f["hard_conflict"] == 0.0 and f["hard_agree"] == 4.0
    assert f["b_substring_of_a"] == 1.0 and f["a_substring_of_b"] == 0.0
    assert f["bigram_b_in_a"] == 1.0 and f["bigram_a_in_b"] < 1.0
    cmp = by_name(compare_components(A, SAME))
    assert cmp["prov"].status == "only_a" and cmp["prov"].b is None
    assert cmp["roomno"].status == "agree"
    # a component in neither address is left out of the explanation
    assert "floorno" not in cmp


def test_features_are_asymmetric():
    ab, ba = feats(A, SAME), feats(SAME, A)
    assert ab["prov_state"] == 1.0 and ba["prov_state"] == 2.0
    assert ab["lcs_over_b"] == ba["lcs_over_a"]
    assert ab["b_substring_of_a"] != ba["b_substring_of_a"]


def test_missing_values_are_nan_not_zero():
    f = feats(A, SAME)
    assert math.isnan(f["prov_sim"])  # only in a: no similarity to speak of
    assert math.isnan(f["floorno_b_in_a"])
    assert f["floorno_state"] == 0.0


def test_text_components_similar_vs_conflict():
    a = view(
        "科苑路15号科兴科学园",
        ("road", "科苑路", "科苑路"),
        ("roadno", "15号", "15"),
        ("poi", "科兴科学园", "科兴科学园"),
    )
    near = view(
        "科苑路15号科兴科学园A区",
        ("road", "科苑路", "科苑路"),
        ("roadno", "15号", "15"),
        ("poi", "科兴科学园A区", "科兴科学园A区"),
    )
    far = view(
        "科苑路15号腾讯大厦",
        ("road", "科苑路", "科苑路"),
        ("roadno", "15号", "15"),
        ("poi", "腾讯大厦", "腾讯大厦"),
    )
    assert by_name(compare_components(a, near))["poi"].status == "similar"
    assert by_name(compare_components(a, far))["poi"].status == "conflict"
    assert feats(a, near)["poi_sim"] > feats(a, far)["poi_sim"]
    assert feats(a, near)["text_agree"] == 2.0 and feats(a, far)["text_conflict"] == 1.0


def test_one_division_however_written_agrees():
    """杭州 / 杭州市: one division, which the explanation used to call only similar."""
    from geoalign.address.analyze import analyze

    cmp = by_name(compare_components(analyze("杭州西湖区青禾路8号"), analyze("浙江省杭州市西湖区青禾路8号")))
    assert cmp["city"].status == "agree"
    other = by_name(compare_components(analyze("浙江杭州市青禾路8号"), analyze("浙江省宁波市青禾路8号")))
    assert other["prov"].status == "agree"
    assert other["city"].status == "conflict"


def test_a_district_carved_out_of_the_other_is_similar_unless_the_rules_call_it_another():
    """余杭区 / 临平区 at one door: the older record's district, which the explanation calls similar, not a
    conflict beside an exact answer; at two doors the rule layer names the district, and so does it."""
    from geoalign.address.analyze import analyze

    a = analyze("浙江省杭州市余杭区青禾路18号")
    same_door = by_name(compare_components(a, analyze("浙江省杭州市临平区青禾路18号")))
    assert same_door["district"].status == "similar"
    other_door = by_name(compare_components(a, analyze("浙江省杭州市临平区青禾路20号")))
    assert other_door["district"].status == "conflict"
    never_split = by_name(compare_components(a, analyze("浙江省杭州市西湖区青禾路18号")))
    assert never_split["district"].status == "conflict"


def test_a_conflict_inside_a_text_component_makes_it_a_conflict():
    """Two yards of one estate read as sub-POIs look similar (3号院 / 5号院), but the rule layer calls
    them two places: the explanation says conflict, as the rules line does."""
    from geoalign.address.analyze import analyze

    a, b = analyze("北京市朝阳区青禾里3号院3号楼"), analyze("北京市朝阳区青禾里5号院3号楼")
    statuses = {c.name: c.status for c in compare_components(a, b)}
    assert "conflict" in statuses.values()
    assert statuses.get("poi") != "conflict"  # 青禾里 itself is one name
    same = analyze("北京市朝阳区青禾里3号院3号楼")
    assert "conflict" not in {c.status for c in compare_components(a, same)}


def test_numbers_and_latin_sets():
    a = view("科苑路15号科兴科学园T1栋")
    b = view("科苑路15号科兴科学园T3栋")
    f = feats(a, b)
    assert f["nums_common"] == 1.0  # 15
    assert f["nums_b_not_a"] == 1.0  # 3 (from T3)
    assert f["latin_common"] == 0.0 and f["latin_b_not_a"] == 1.0  # T1 vs T3


def test_gazetteer_admin_agreement_and_conflict():
    a = view("湖北省襄阳市樊城区人民路88号", admin=("湖北省", "襄阳市", "樊城区", None))
    same = view("襄阳市樊城区人民路88号", admin=("湖北省", "襄阳市", "樊城区", None))
    other = view("南京市鼓楼区人民路88号", admin=("江苏省", "南京市", "鼓楼区", None))
    assert feats(a, same)["gaz_conflict"] == 0.0 and feats(a, same)["gaz_agree"] == 3.0
    assert feats(a, other)["gaz_conflict"] == 3.0


def test_empty_component_list_still_gives_full_vector():
    f = feats(view("文三路369号"), view("文三路371号"))
    assert f["n_comps_a"] == 0.0
    assert f["t_hao_state"] == 4.0  # 369号 vs 371号 read from the text
    assert f["nums_common"] == 0.0


def _reference_lcsubstr(a: str, b: str) -> int:
    """The obvious O(n^3) definition, to hold the fast version to."""
    best = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a) + 1):
            if a[i:j] in b:
                best = max(best, j - i)
    return best


def test_longest_common_substring_examples():
    from geoalign.scorers.features import longest_common_substring

    assert longest_common_substring("艺苑村8号楼", "艺苑村6幢") == 3
    assert longest_common_substring("中山北路30号", "北路30") == 4
    assert longest_common_substring("", "x") == 0 and longest_common_substring("ab", "cd") == 0


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="路号3村a0艺苑", max_size=14), st.text(alphabet="路号3村a0艺苑", max_size=14))
def test_longest_common_substring_matches_reference(a: str, b: str):
    from geoalign.scorers.features import char_positions, longest_common_substring

    expected = _reference_lcsubstr(a, b)
    assert longest_common_substring(a, b) == expected
    assert longest_common_substring(b, a) == expected
    assert longest_common_substring(a, b, char_positions(b)) == expected


_ALPHABET = "路号3村a0艺苑"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_ALPHABET, min_size=1, max_size=8), st.text(alphabet=_ALPHABET, max_size=20))
def test_found_in_is_partial_ratio(value: str, text: str):
    """The substring shortcut gives partial_ratio's own number, inside the text or not."""
    from rapidfuzz import fuzz

    from geoalign.scorers.features import _found_in

    assert _found_in(value, text) == fuzz.partial_ratio(value, text) / 100.0
    assert _found_in(value, text + value + text) == fuzz.partial_ratio(value, text + value + text) / 100.0


def test_char_weights_favour_rare_characters():
    from geoalign.scorers.features import CharWeights

    texts = ["文三路1号", "文三路2号", "中山路3号", "翠苑路4号", "翠苑一区"]
    w = CharWeights.fit(texts)
    assert w.weights["路"] < w.weights["翠"]  # in 4 of 5 vs 2 of 5 addresses
    assert "中" not in w.weights and w.default >= max(w.weights.values())  # seen once: not stored
    a = view("翠苑路5号")
    rare, common = view("翠苑东门"), view("路号东门")  # each shares two characters with a
    assert feats_w(a, rare, w)["idf_b_in_a"] > feats_w(a, common, w)["idf_b_in_a"]
    assert feats(a, rare)["idf_b_in_a"] == feats(a, common)["idf_b_in_a"] == 0.5  # uniform weights


def feats_w(a, b, weights) -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, pair_features(a, b, weights), strict=True))


def test_every_block_lands_under_its_own_name():
    """Values computed block by block must line up with FEATURE_NAMES (a shifted block would still
    train, but every name in importances and explanations would be wrong)."""
    a = view(
        "中山北路30号翠苑3栋501室",
        ("road", "中山北路", "中山北路"),
        ("roadno", "30号", "30"),
        ("poi", "翠苑", "翠苑"),
        ("houseno", "3栋", "3"),
        ("roomno", "501室", "501"),
        admin=("江苏省", "南京市", None, None),
    )
    b = view(
        "中山北路30号翠苑",
        ("road", "中山北路", "中山北路"),
        ("roadno", "30号", "30"),
        ("poi", "翠苑", "翠苑"),
        admin=("江苏省", "苏州市", None, None),
    )
    f = feats(a, b)
    assert f["len_a"] == len(a.text) and f["len_b"] == len(b.text)
    assert f["content_len_b"] == len(b.content)
    assert f["lcsubstr"] == len(b.text)
    assert f["tail_len_a"] == len("翠苑3栋501室") and f["tail_len_b"] == len("翠苑")
    assert f["idf_b_in_a"] == 1.0 and f["idf_a_not_b"] == len(a.chars - b.chars)
    assert f["finest_a"] == 15.0 and f["finest_b"] == 10.0  # roomno, poi
    assert f["t_room_state"] == 1.0 and f["t_hao_state"] == 3.0
    assert f["gaz_prov_state"] == 3.0 and f["gaz_city_state"] == 4.0 and f["gaz_conflict"] == 1.0
    assert f["roomno_state"] == 1.0 and f["road_state"] == 3.0 and f["houseno_state"] == 1.0


def test_a_component_the_rules_call_another_place_is_a_conflict_however_similar():
    from geoalign.address.analyze import analyze

    a, b = analyze("杭州市人民北路88号星光咖啡"), analyze("杭州市人民南路88号星光咖啡")
    cmp = by_name(compare_components(a, b))
    assert cmp["road"].status == "conflict"
    assert cmp["poi"].status == "agree"
    district = by_name(
        compare_components(analyze("杭州市西湖区文三路369号"), analyze("杭州市上城区文三路369号"))
    )
    assert district["district"].status == "conflict"


def test_a_municipality_is_compared_at_one_level_whichever_the_parse_names() -> None:
    """The parse calls 上海市 a city (as the labelled data does) and 上海 a province; the views compare
    both as the province, so 上海市 vs 上海 agree instead of reading as a city on one side only."""
    full = view("上海市闵行区龙吴路1号", ("city", "上海市", "上海市"), ("district", "闵行区", "闵行区"))
    short = view("上海闵行区龙吴路1号", ("prov", "上海", "上海"), ("district", "闵行区", "闵行区"))
    assert full.comps == {"prov": "上海市", "district": "闵行区"}
    assert "city" not in short.comps
    twice = view("重庆市重庆市渝北区", ("city", "重庆市", "重庆市"), ("city", "重庆市", "重庆市"))
    assert twice.comps == {"prov": "重庆市", "city": "重庆市"}
    # a prefecture-level city stays a city
    assert view("南京市鼓楼区", ("city", "南京市", "南京市")).comps == {"city": "南京市"}


def test_a_building_letter_and_room_read_as_one_number_are_compared_as_building_and_room() -> None:
    """The data tag 369号A801 as one house number (value A-801), one room (C807室) or building + room,
    and the tagger follows either; the view compares it as A座801 is read."""
    one_span = view(
        "文三路369号A801",
        ("road", "文三路", "文三路"),
        ("roadno", "369号", "369"),
        ("houseno", "A801", "A-801"),
    )
    as_room = view(
        "文三路369号C807室",
        ("road", "文三路", "文三路"),
        ("roadno", "369号", "369"),
        ("roomno", "C807室", "C-807"),
    )
    written = view(
        "文三路369号A座801",
        ("road", "文三路", "文三路"),
        ("roadno", "369号", "369"),
        ("houseno", "A座", "A"),
        ("roomno", "801", "801"),
    )
    assert (
        one_span.comps
        == written.comps
        == {"road": "文三路", "roadno": "369", "houseno": "A", "roomno": "801"}
    )
    assert (as_room.comps["houseno"], as_room.comps["roomno"]) == ("C", "807")
    # both levels stated: nothing to split
    both = view("3栋A801", ("houseno", "3栋", "3"), ("roomno", "A801", "A-801"))
    assert both.comps == {"houseno": "3", "roomno": "A-801"}


def test_a_flat_by_its_floor_and_letter_is_one_room_however_the_parse_split_it() -> None:
    """3栋12A: the parse reads a room 12-A, a unit 12-B, or a unit 12 and a room B, by the letter; the
    view compares one room, floor-letter, and keeps a floor the text writes (12层B室)."""
    as_room = view("3栋12A", ("houseno", "3栋", "3"), ("roomno", "12A", "12-A"))
    as_unit = view("3栋12B", ("houseno", "3栋", "3"), ("cellno", "12B", "12-B"))
    unit_and_room = view("3栋12B室", ("houseno", "3栋", "3"), ("cellno", "12", "12"), ("roomno", "B室", "B"))
    floor_and_room = view(
        "3栋12层B室", ("houseno", "3栋", "3"), ("floorno", "12层", "12"), ("roomno", "B室", "B")
    )
    assert as_room.comps == {"houseno": "3", "roomno": "12-A"}
    assert as_unit.comps == unit_and_room.comps == {"houseno": "3", "roomno": "12-B"}
    assert floor_and_room.comps == {"houseno": "3", "floorno": "12", "roomno": "12-B"}
    # a unit the text writes stays the unit
    written = view("3栋2单元B室", ("houseno", "3栋", "3"), ("cellno", "2单元", "2"), ("roomno", "B室", "B"))
    assert written.comps == {"houseno": "3", "cellno": "2", "roomno": "B"}
    # a room number and a letter the same way (501B read as a unit: room 501-B)
    assert view("3栋501B", ("houseno", "3栋", "3"), ("cellno", "501B", "501-B")).comps["roomno"] == "501-B"


def test_a_poi_that_is_only_a_numbered_yard_on_a_road_is_its_road_number() -> None:
    """NAACL and CCKS tag a road's 59号院 as a POI, SuperMap as its number; compared as the number."""
    yard = view("南锣鼓巷59号院", ("road", "南锣鼓巷", "南锣鼓巷"), ("poi", "59号院", "59号院"))
    door = view("南锣鼓巷59号", ("road", "南锣鼓巷", "南锣鼓巷"), ("roadno", "59号", "59"))
    assert yard.comps == door.comps == {"road": "南锣鼓巷", "roadno": "59"}
    # a named POI, or a yard with no road, stays a POI
    assert view("幸福社区6号院", ("poi", "6号院", "6号院")).comps == {"poi": "6号院"}


def test_an_address_wholly_in_brackets_is_the_address_not_an_aside() -> None:
    bracketed = view("(文三路369号)", ("road", "文三路", "文三路"), ("roadno", "369号", "369"))
    assert bracketed.comps == {"road": "文三路", "roadno": "369"}
    # a bracketed part beside the address stays an aside
    aside = view(
        "文三路369号(3栋)", ("road", "文三路", "文三路"), ("roadno", "369号", "369"), ("houseno", "3栋", "3")
    )
    assert aside.comps == {"road": "文三路", "roadno": "369"}
