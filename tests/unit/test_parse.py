"""The address parser: known addresses, offsets/values, and invariants under arbitrary input.

Examples are written by hand (the NAACL-2019 data is research-only and never used by tests). They check
what any usable parser must get right on clean, typical addresses; they are not a measure of accuracy
(that is ``geoalign eval-parse`` on the dev split, recorded in docs/benchmarks.md).
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geoalign.address import gazetteer
from geoalign.address.chartagger import FEATURE_VERSION, Lexicon, save_model
from geoalign.address.normalize import normalize
from geoalign.address.parse import (
    MAX_TAG_CHARS,
    NUMERIC_ELEMENTS,
    Parser,
    align_admin,
    attach_basement,
    english_units,
    floor_by_word,
    floor_value,
    forced_admin,
    gacha_as_village,
    join_building_letter,
    join_door_letter,
    keep_latin_words,
    lettered_floor,
    numeric_value,
    parse,
    parse_many,
    phone_as_redundant,
    shop_number_as_room,
    tower_as_building,
)
from geoalign.address.schemes import ELEMENTS, Example
from geoalign.address.tagger import FEATURE_VERSION as CRF_FEATURE_VERSION
from geoalign.errors import InputError, ModelLoadError
from geoalign.types import Components, ItemError


def _by_name(c: Components) -> dict[str, str]:
    return {item.name: item.text for item in c}


def _assert_invariants(raw: str, result: Components) -> None:
    assert result.raw == raw
    last_end = 0
    for item in result:
        assert item.name in ELEMENTS
        assert 0 <= item.start < item.end <= len(raw)
        assert raw[item.start : item.end] == item.text
        assert item.start >= last_end, "components overlap or are out of order"
        last_end = item.end
        assert item.value, "a component's value is never empty"


def test_the_issue_example() -> None:
    raw = "浙江省杭州市余杭区五常街道文一西路969号3号楼5层"
    result = parse(raw)
    _assert_invariants(raw, result)
    parts = _by_name(result)
    assert parts["prov"] == "浙江省"
    assert parts["city"] == "杭州市"
    assert parts["district"] == "余杭区"
    assert parts["town"] == "五常街道"
    assert parts["road"] == "文一西路"
    assert result.get("roadno") is not None and result.get("roadno").value == "969"  # type: ignore[union-attr]
    assert result.get("houseno").value == "3"  # type: ignore[union-attr]
    assert result.get("floorno").value == "5"  # type: ignore[union-attr]
    roadno = result.get("roadno")
    assert roadno is not None and (roadno.start, roadno.end) == (17, 21)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "浙江省宁波市鄞州区首南街道日丽中路757号",
            {"district": "鄞州区", "road": "日丽中路", "roadno": "757号"},
        ),
        ("杭州市西湖区文三路478号华星时代广场A座1202室", {"road": "文三路", "roomno": "1202室"}),
        ("温州市鹿城区五马街道解放街128号", {"city": "温州市", "town": "五马街道", "roadno": "128号"}),
    ],
)
def test_typical_addresses(raw: str, expected: dict[str, str]) -> None:
    result = parse(raw)
    _assert_invariants(raw, result)
    parts = _by_name(result)
    for name, text in expected.items():
        assert parts.get(name) == text, (name, parts)


def test_full_width_digits_keep_raw_offsets_and_get_ascii_values() -> None:
    raw = "浙江省杭州市余杭区文一西路９６９号"
    result = parse(raw)
    _assert_invariants(raw, result)
    roadno = result.get("roadno")
    assert roadno is not None
    assert roadno.text == "９６９号"
    assert roadno.value == "969"


def test_traditional_characters_parse_as_simplified_with_raw_offsets() -> None:
    """The tagger learned simplified text: a traditional address is tagged as its simplified twin,
    component texts stay the input's, values are simplified."""
    raw = "廣東省深圳市福田區深南中路1002號星河美術館"
    result = parse(raw)
    _assert_invariants(raw, result)
    twin = parse("广东省深圳市福田区深南中路1002号星河美术馆")
    assert [(c.name, c.start, c.end, c.value) for c in result.items] == [
        (c.name, c.start, c.end, c.value) for c in twin.items
    ]
    poi = result.get("poi")
    assert poi is not None and poi.text == "星河美術館" and poi.value == "星河美术馆"


def test_spaces_and_controls_do_not_shift_offsets() -> None:
    raw = "  浙江省 杭州市\t余杭区\u200b文一西路969号  "
    result = parse(raw)
    _assert_invariants(raw, result)
    assert result.get("roadno") is not None


@pytest.mark.parametrize("separator", ["\x02", "\u200b", "\ufeff"])
def test_a_separator_between_every_character_is_read_through(separator: str) -> None:
    """Some exports put a control or format character between every character: the tagger reads the
    address without them, the components keep the raw offsets and texts, and the values are the
    address's own (1<sep>8号 is door 18, not the range 1-8)."""
    plain = "浙江省杭州市西湖区云杉路18号3栋501室"
    raw = separator.join(plain)
    result = parse(raw)
    _assert_invariants(raw, result)
    assert [(c.name, c.value) for c in result.items] == [(c.name, c.value) for c in parse(plain).items]
    roadno = result.get("roadno")
    assert roadno is not None and roadno.value == "18" and roadno.text == separator.join("18号")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("969号", "969"),
        ("三号楼", "3"),
        ("二十三层", "23"),
        ("B座", "B"),
        ("b座", "B"),
        ("0501室", "501"),
        ("12-3", "12-3"),
        ("１２号", "12"),
        ("顶楼", "顶楼"),
        ("0", "0"),
    ],
)
def test_numeric_value(text: str, value: str) -> None:
    assert numeric_value(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("11F", "11"),
        ("F11", "11"),
        ("11楼", "11"),
        ("十一层", "11"),
        ("3L", "3"),
        ("负一层", "-1"),
        ("地下1层", "-1"),
        ("地下室2层", "-2"),
        ("B1层", "-1"),
        ("ｂ２层", "-2"),
        ("B1F", "-1"),
        ("12-3层", "12-3"),
        ("顶楼", "顶楼"),
        ("地下室", "地下室"),
        # the ground floor by its words: the first floor
        ("首层", "1"),
        ("底层", "1"),
        ("底楼", "1"),
    ],
)
def test_floor_value(text: str, value: str) -> None:
    """The floor letter is how a floor is written, not its number; below ground is signed."""
    assert floor_value(text) == value


@pytest.mark.parametrize(
    ("raw", "spans", "expected"),
    [
        # the marker tagged as a POI of its own, inside a POI, as a building, or left untagged
        ("商场地下一层", [("poi", 0, 4), ("floorno", 4, 6)], [("poi", 0, 2), ("floorno", 2, 6)]),
        ("地下一层", [("poi", 0, 2), ("floorno", 2, 4)], [("floorno", 0, 4)]),
        (
            "3号B1层",
            [("roadno", 0, 2), ("houseno", 2, 3), ("floorno", 3, 5)],
            [("roadno", 0, 2), ("floorno", 2, 5)],
        ),
        ("3号Ｂ1层", [("roadno", 0, 2), ("floorno", 3, 5)], [("roadno", 0, 2), ("floorno", 2, 5)]),
        ("负一层", [("floorno", 1, 3)], [("floorno", 0, 3)]),
        # a marker the tagger cut in two: no span may overlap the floor afterwards
        (
            "楼地下室一层",
            [("poi", 0, 2), ("subpoi", 2, 4), ("floorno", 4, 6)],
            [("poi", 0, 1), ("floorno", 1, 6)],
        ),
        # not a basement: B before 楼 (building B1), B after a letter or digit, B before no digit
        ("3号B1楼", [("roadno", 0, 2), ("houseno", 2, 3), ("floorno", 3, 5)], None),
        ("AB1层", [("poi", 0, 2), ("floorno", 2, 4)], None),
        ("3B1层", [("houseno", 0, 2), ("floorno", 2, 4)], None),
        ("B座一层", [("houseno", 0, 2), ("floorno", 2, 4)], None),
        ("文三路1层", [("road", 0, 3), ("floorno", 3, 5)], None),
    ],
)
def test_attach_basement(raw: str, spans: list[Any], expected: list[Any] | None) -> None:
    assert attach_basement(raw, spans) == (spans if expected is None else expected)


def _resolution(raw: str, *names: tuple[str, str]) -> gazetteer.Resolution:
    """A resolution holding the given (level, name) spans of ``raw``, in order."""
    spans = []
    for level, name in names:
        start = raw.index(name)
        spans.append(gazetteer.Span(start, start + len(name), name, level, None))  # type: ignore[arg-type]
    return gazetteer.Resolution(spans=tuple(spans))


def test_align_admin_keeps_a_name_that_holds_the_admin_name_whole() -> None:
    """The labelled data writes 余杭经济开发区 and 余杭区人民法院 as one devzone / POI: the admin name is
    part of the name, so a tagged name that reaches past the admin prefix is kept whole (dropping it lost
    经济开发区 from the components) and the gazetteer's span inside it gives way."""
    raw = "杭州市余杭经济开发区兴国路1号"
    spans = [("city", 0, 3), ("devzone", 3, 10), ("road", 10, 13), ("roadno", 13, 15)]
    resolution = _resolution(raw, ("city", "杭州市"), ("district", "余杭"))
    assert align_admin(spans, resolution) == spans
    # a tagged span that does not reach two characters past the prefix is the gazetteer's reading
    raw = "杭州市余杭区文一西路1号"
    spans = [("city", 0, 3), ("poi", 3, 7), ("road", 7, 11), ("roadno", 11, 13)]
    resolution = _resolution(raw, ("city", "杭州市"), ("district", "余杭区"))
    expected = [("city", 0, 3), ("district", 3, 6), ("road", 7, 11), ("roadno", 11, 13)]
    assert align_admin(spans, resolution) == expected


def test_align_admin_keeps_what_a_span_holds_past_the_admin_names() -> None:
    """The gazetteer's spans win inside a tagged span, but the words after them stay, under the
    tagger's name: a branch written after its city and district in brackets lost 文化广场店."""
    raw = "文晖路350号锦江酒店(杭州西湖文化广场店)"
    start = raw.index("杭州")
    spans = [("road", 0, 3), ("roadno", 3, 7), ("poi", 7, 11), ("redundant", 11, 12)]
    spans += [("person", start, len(raw) - 1), ("redundant", len(raw) - 1, len(raw))]
    resolution = _resolution(raw, ("city", "杭州"), ("district", "西湖"))
    out = align_admin(spans, resolution)
    assert ("person", start + 4, len(raw) - 1) in out
    assert ("city", start, start + 2) in out and ("district", start + 2, start + 4) in out
    # a tagged admin level past the gazetteer's name is the gazetteer's to place (街道办事处 → 街道)
    raw = "新华街道办事处人民路1号"
    spans = [("town", 0, 7), ("road", 7, 10), ("roadno", 10, 12)]
    out = align_admin(spans, _resolution(raw, ("town", "新华街道")))
    assert out == [("town", 0, 4), ("road", 7, 10), ("roadno", 10, 12)]


def test_align_admin_keeps_a_road_or_place_named_after_an_admin_division() -> None:
    """A road, gate or market named after a division (曹县路, 中山门, 沙湾市场) is one name: the tagger's
    span is kept whole where it starts at the admin name and ends one name-ending character past it."""
    raw = "曹县路8号"
    spans = [("road", 0, 3), ("roadno", 3, 5)]
    assert align_admin(spans, _resolution(raw, ("district", "曹县")), raw) == spans
    # the same one character past the name, but not a name ending: the gazetteer's reading (a slip)
    raw = "曹县文8号"
    spans = [("poi", 0, 3), ("roadno", 3, 5)]
    out = align_admin(spans, _resolution(raw, ("district", "曹县")), raw)
    assert out == [("district", 0, 2), ("roadno", 3, 5)]
    # without the text the ending is not known, and the admin reading wins as before
    raw = "曹县路8号"
    spans = [("road", 0, 3), ("roadno", 3, 5)]
    expected = [("district", 0, 2), ("roadno", 3, 5)]
    assert align_admin(spans, _resolution(raw, ("district", "曹县"))) == expected


def test_align_admin_a_name_starting_inside_an_admin_name_does_not_take_it() -> None:
    """河南 + 省副食品有限公司 read as one company: the province stays the gazetteer's, the rest the
    tagger's name (a company named after its province starts at the province, not inside it)."""
    raw = "河南省副食品有限公司"
    spans = [("prov", 0, 2), ("poi", 2, 10)]
    out = align_admin(spans, _resolution(raw, ("prov", "河南省")), raw)
    assert out == [("prov", 0, 3), ("poi", 3, 10)]


def test_a_municipality_written_with_shi_is_a_city_as_the_labelled_data_writes_it() -> None:
    def first_two(raw: str) -> list[tuple[str, str]]:
        return [(c.name, c.text) for c in parse(raw)][:2]

    assert first_two("上海市闵行区龙吴路1号") == [("city", "上海市"), ("district", "闵行区")]
    assert first_two("北京朝阳区") == [("prov", "北京"), ("district", "朝阳区")]
    assert first_two("江苏省南京市鼓楼区") == [("prov", "江苏省"), ("city", "南京市")]


@settings(max_examples=800, deadline=None)
@given(
    st.lists(st.integers(1, 30), min_size=1, max_size=8),
    st.lists(st.sampled_from(["poi", "road", "town", "city", "person", "redundant"]), min_size=8, max_size=8),
    st.lists(st.tuples(st.integers(0, 29), st.integers(1, 6)), max_size=4),
    st.text(alphabet="路门x", min_size=30, max_size=30),
)
def test_align_admin_keeps_spans_ordered_apart_and_inside_the_text(
    cuts: list[int], names: list[str], admin: list[tuple[int, int]], text: str
) -> None:
    """Whatever the tagger's spans and the gazetteer's names, the aligned spans are left to right, inside
    the text and never overlap (the remainder kept past an admin name included)."""
    bounds = sorted({0, 30, *cuts})
    spans = [(names[k % len(names)], a, b) for k, (a, b) in enumerate(itertools.pairwise(bounds))]
    found, last = [], 0
    for start, length in sorted(admin):
        start = max(start, last)
        end = min(start + length, 30)
        if start < end:
            found.append(gazetteer.Span(start, end, "x" * (end - start), "district", None))
            last = end
    out = align_admin(spans, gazetteer.Resolution(spans=tuple(found)), text)
    assert all(0 <= a < b <= 30 for _, a, b in out)
    assert all(prev[2] <= nxt[1] for prev, nxt in itertools.pairwise(out))


@pytest.mark.parametrize(
    ("raw", "name", "text"),
    [
        ("中山东二路58号外滩SOHO大厦C栋19楼", "road", "中山东二路"),
        ("西安市雁塔南二环东段2号西安监狱", "road", "雁塔南二环东段"),
        ("广州天河城", "poi", "天河城"),
    ],
)
def test_a_road_or_mall_named_after_a_division_keeps_its_name(raw: str, name: str, text: str) -> None:
    assert (name, text) in [(c.name, c.text) for c in parse(raw)]


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.text(alphabet="地下室负Bb一1层楼号A", min_size=1, max_size=8),
    st.lists(st.tuples(st.sampled_from(["poi", "floorno", "houseno"]), st.integers(0, 12)), max_size=6),
)
def test_attach_basement_keeps_spans_ordered_and_apart(raw: str, cuts: list[tuple[str, int]]) -> None:
    """Whatever the tagger's spans, the result is left to right, inside the text, with no overlaps."""
    bounds = sorted({min(c, len(raw)) for _, c in cuts} | {0, len(raw)})
    names = [name for name, _ in cuts] or ["floorno"]
    spans = [(names[k % len(names)], a, b) for k, (a, b) in enumerate(itertools.pairwise(bounds))]
    out = attach_basement(raw, spans)
    assert all(0 <= a < b <= len(raw) for _, a, b in out)
    assert all(prev[2] <= nxt[1] for prev, nxt in itertools.pairwise(out))


@pytest.mark.parametrize("tail", ["地下一层", "B1层", "负一层"])
def test_a_basement_floor_is_one_component_with_a_signed_value(tail: str) -> None:
    raw = "上海市闵行区七莘路3588号" + tail
    result = parse(raw)
    _assert_invariants(raw, result)
    floor = result.get("floorno")
    assert floor is not None and floor.text == tail and floor.value == "-1"
    assert parse("上海市闵行区七莘路3588号一层").get("floorno").value == "1"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("raw", "spans", "expected"),
    [
        # a letter and 号 split off a road number: joined
        (
            "学林路109A号101",
            [("road", 0, 3), ("roadno", 3, 6), ("houseno", 6, 8), ("roomno", 8, 11)],
            [("road", 0, 3), ("roadno", 3, 8), ("roomno", 8, 11)],
        ),
        # a building letter after the 号 is a building: kept
        ("学林路109号A座", [("road", 0, 3), ("roadno", 3, 7), ("houseno", 7, 9)], None),
        # a letter span that is more than one letter and 号, or not right after the number: kept
        ("学林路109A号楼", [("road", 0, 3), ("roadno", 3, 6), ("houseno", 6, 9)], None),
        ("学林路109 A号", [("road", 0, 3), ("roadno", 3, 6), ("houseno", 7, 9)], None),
        # only after a road number
        ("花园9A号", [("poi", 0, 2), ("houseno", 2, 3), ("cellno", 3, 5)], None),
    ],
)
def test_join_door_letter(raw: str, spans: list[Any], expected: list[Any] | None) -> None:
    assert join_door_letter(raw, spans) == (spans if expected is None else expected)


@pytest.mark.parametrize(
    ("raw", "spans", "expected"),
    [
        # a building letter and one or two digits read as a unit: one building (B22 = B22栋)
        (
            "商务园B22",
            [("poi", 0, 3), ("houseno", 3, 4), ("cellno", 4, 6)],
            [("poi", 0, 3), ("houseno", 3, 6)],
        ),
        (
            "科技园W1",
            [("poi", 0, 3), ("houseno", 3, 4), ("cellno", 4, 5)],
            [("poi", 0, 3), ("houseno", 3, 5)],
        ),
        # a unit word after the number: a unit after all
        ("商务园B2单元", [("poi", 0, 3), ("houseno", 3, 4), ("cellno", 4, 7)], None),
        ("商务园B2门", [("poi", 0, 3), ("houseno", 3, 4), ("cellno", 4, 5)], None),
        # three digits are a room number's length (B507: room 507 of building B); not after a Chinese word
        ("华安园B507", [("poi", 0, 3), ("houseno", 3, 4), ("cellno", 4, 7)], None),
        ("华安园东2", [("poi", 0, 3), ("houseno", 3, 4), ("cellno", 4, 5)], None),
    ],
)
def test_join_building_letter(raw: str, spans: list[Any], expected: list[Any] | None) -> None:
    assert join_building_letter(raw, spans) == (spans if expected is None else expected)


@pytest.mark.parametrize(
    ("raw", "spans", "expected"),
    [
        # a phone number's digits read as house and unit numbers: redundant, as SuperMap tags a phone
        (
            "文三路369号 13812345678",
            [("road", 0, 3), ("roadno", 3, 7), ("houseno", 8, 11), ("cellno", 11, 19)],
            [("road", 0, 3), ("roadno", 3, 7), ("redundant", 8, 11), ("redundant", 11, 19)],
        ),
        # a span reaching into the phone keeps its part outside it
        (
            "3栋501 电话:0571-88881234",
            [("houseno", 0, 2), ("cellno", 2, 8)],
            [("houseno", 0, 2), ("cellno", 2, 5), ("redundant", 6, 8)],
        ),
        # already redundant character by character: left as it was
        ("文三路1号13812345678", [("road", 0, 3), ("roadno", 3, 5), ("redundant", 5, 6)], None),
        # no phone: nothing to do
        ("文三路369号801", [("road", 0, 3), ("roadno", 3, 7), ("roomno", 7, 10)], None),
    ],
)
def test_phone_as_redundant(raw: str, spans: list[Any], expected: list[Any] | None) -> None:
    assert phone_as_redundant(raw, spans) == (spans if expected is None else expected)


@pytest.mark.parametrize(
    ("raw", "spans", "expected"),
    [
        # a brand cut between a building letter and a name: the word goes to the name
        (
            "青禾路9号KFC松风店",
            [("road", 0, 3), ("roadno", 3, 5), ("houseno", 5, 6), ("poi", 6, 11)],
            [("road", 0, 3), ("roadno", 3, 5), ("poi", 5, 11)],
        ),
        # letter by letter across a building letter and noise: one span, the name's
        (
            "云杉超市ATM(松风路)",
            [("poi", 0, 4), ("houseno", 4, 5), ("redundant", 5, 6), ("redundant", 6, 7), ("road", 8, 11)],
            [("poi", 0, 4), ("redundant", 4, 7), ("road", 8, 11)],
        ),
        # noise letter by letter, as SuperMap writes it: left as read
        (
            "云杉镇null松风村",
            [("town", 0, 3), *(("redundant", i, i + 1) for i in range(3, 7))],
            None,
        ),
        # cut between two names: the span with most of its letters takes it, and what is left of the other
        # loses the space at its edge
        (
            "云杉SOHO T3",
            [("poi", 0, 5), ("houseno", 5, 9)],
            [("poi", 0, 6), ("houseno", 7, 9)],
        ),
        # cut between two spans of one name: joined in the one with most of it
        ("云杉SOHO大厦", [("poi", 0, 4), ("poi", 4, 8)], [("poi", 0, 6), ("poi", 6, 8)]),
        # already one span, a single letter, or letters touching digits (a code, B22, SOHOT1): left as read
        ("云杉SOHO大厦", [("poi", 0, 8)], None),
        ("青禾园B座", [("poi", 0, 3), ("houseno", 3, 5)], None),
        ("云杉SOHOT1", [("poi", 0, 5), ("houseno", 5, 8)], None),
    ],
)
def test_keep_latin_words(raw: str, spans: list[Any], expected: list[Any] | None) -> None:
    assert keep_latin_words(raw, spans) == (spans if expected is None else expected)


@pytest.mark.parametrize(
    ("raw", "spans", "expected"),
    [
        # a tower inside a name: cut out as the building
        ("云杉中心塔2", [("poi", 0, 6)], [("poi", 0, 4), ("houseno", 4, 6)]),
        # a tower and a floor read as one floor number (1-12): tower 1, floor 12
        (
            "云杉中心塔1 12层",
            [("poi", 0, 4), ("floorno", 4, 10)],
            [("poi", 0, 4), ("houseno", 4, 6), ("floorno", 7, 10)],
        ),
        (
            "云杉中心2号塔楼",
            [("poi", 0, 4), ("houseno", 4, 7), ("subpoi", 7, 8)],
            [("poi", 0, 4), ("houseno", 4, 8)],
        ),
        # already the building: left as read
        ("云杉中心T2座", [("poi", 0, 4), ("houseno", 4, 7)], None),
        # a name that starts with it, as the tagger read it: kept
        ("松风大道T1公馆5栋", [("road", 0, 4), ("poi", 4, 8), ("houseno", 8, 10)], None),
        # no tower: a named one after a side, a street named after a tower, a door after a name, a shop's code
        ("云杉中心东塔12层", [("poi", 0, 6), ("floorno", 6, 9)], None),
        ("铁塔七街5号", [("road", 0, 4), ("roadno", 4, 6)], None),
        ("青禾路金塔317号", [("road", 0, 3), ("poi", 3, 5), ("roadno", 5, 9)], None),
        ("青禾大厦T308号", [("poi", 0, 4), ("roomno", 4, 9)], None),
    ],
)
def test_tower_as_building(raw: str, spans: list[Any], expected: list[Any] | None) -> None:
    assert tower_as_building(raw, spans) == (spans if expected is None else expected)


@pytest.mark.parametrize(
    ("raw", "spans", "expected"),
    [
        # a shop's number read as a person's name: the number is the room, the word redundant
        (
            "青禾路18号1层108铺",
            [("road", 0, 3), ("roadno", 3, 6), ("floorno", 6, 8), ("person", 8, 12)],
            [("road", 0, 3), ("roadno", 3, 6), ("floorno", 6, 8), ("roomno", 8, 11), ("redundant", 11, 12)],
        ),
        # the number already the room: the word that was a person's name becomes redundant
        (
            "云杉广场108号铺位",
            [("poi", 0, 4), ("roomno", 4, 8), ("person", 8, 10)],
            [("poi", 0, 4), ("roomno", 4, 8), ("redundant", 8, 10)],
        ),
        # a room that holds the word: left as read
        ("青禾路1层109铺", [("road", 0, 3), ("floorno", 3, 5), ("roomno", 5, 9)], None),
        # a door number with its shop front: the door stays the door
        ("青禾路5号门面", [("road", 0, 3), ("roadno", 3, 7)], None),
        # no number before the word: a village's name; a number inside a longer code is not the shop's
        ("五里铺村3组", [("community", 0, 4), ("road", 4, 6)], None),
        ("龙泰小区BC13号门市", [("poi", 0, 4), ("houseno", 4, 6), ("person", 6, 11)], None),
        # the north-east's shop words
        (
            "云杉小区9号楼6号商服",
            [("poi", 0, 4), ("houseno", 4, 7), ("person", 7, 11)],
            [("poi", 0, 4), ("houseno", 4, 7), ("roomno", 7, 9), ("redundant", 9, 11)],
        ),
    ],
)
def test_shop_number_as_room(raw: str, spans: list[Any], expected: list[Any] | None) -> None:
    assert shop_number_as_room(raw, spans) == (spans if expected is None else expected)


@pytest.mark.parametrize(
    ("raw", "spans", "expected"),
    [
        # a Mongolian village read as a POI: the village; its committee stays a POI, as 村委会's does
        ("那日图苏木云杉嘎查", [("town", 0, 5), ("poi", 5, 9)], [("town", 0, 5), ("community", 5, 9)]),
        (
            "那日图苏木云杉嘎查村委会3组",
            [("town", 0, 5), ("poi", 5, 12), ("road", 12, 14)],
            [("town", 0, 5), ("community", 5, 9), ("poi", 9, 12), ("road", 12, 14)],
        ),
        ("那日图苏木云杉嘎查村", [("town", 0, 5), ("subpoi", 5, 10)], [("town", 0, 5), ("community", 5, 10)]),
        # a village already found, or a POI that only holds the word (a school of the village): as read
        ("松风村云杉嘎查", [("community", 0, 3), ("poi", 3, 7)], None),
        ("云杉嘎查小学", [("poi", 0, 6)], None),
    ],
)
def test_gacha_as_village(raw: str, spans: list[Any], expected: list[Any] | None) -> None:
    assert gacha_as_village(raw, spans) == (spans if expected is None else expected)


@pytest.mark.parametrize(
    ("raw", "spans", "expected"),
    [
        # the tagger's reading of a tower and a room by their English words: the elements they name
        (
            "青禾大厦Tower 2 Room 1201",
            [("poi", 0, 4), ("subpoi", 4, 16), ("roomno", 17, 21)],
            [("poi", 0, 4), ("houseno", 4, 11), ("roomno", 12, 21)],
        ),
        (
            "青禾大厦Block A Floor 12",
            [("poi", 0, 4), ("subpoi", 4, 17), ("floorno", 18, 20)],
            [("poi", 0, 4), ("houseno", 4, 11), ("floorno", 12, 20)],
        ),
        # a range of buildings, a word inside a longer one, no number after the word: as read
        ("青禾路18号Building 1-2", [("road", 0, 3), ("roadno", 3, 6), ("poi", 6, 18)], None),
        ("青禾小学classroom1", [("poi", 0, 4), ("subpoi", 4, 14)], None),
        ("青禾大厦Tower", [("poi", 0, 9)], None),
    ],
)
def test_english_units(raw: str, spans: list[Any], expected: list[Any] | None) -> None:
    assert english_units(raw, spans) == (spans if expected is None else expected)


@pytest.mark.parametrize(
    ("raw", "spans", "expected"),
    [
        # a number and the floor letter read as a building or a room: the floor
        (
            "青禾路18号3F-301",
            [("road", 0, 3), ("roadno", 3, 6), ("houseno", 6, 8), ("redundant", 8, 9), ("roomno", 9, 12)],
            [("road", 0, 3), ("roadno", 3, 6), ("floorno", 6, 8), ("redundant", 8, 9), ("roomno", 9, 12)],
        ),
        ("云杉广场１２ｆ", [("poi", 0, 4), ("roomno", 4, 7)], [("poi", 0, 4), ("floorno", 4, 7)]),
        # a building named with the letter (3F栋), a lettered building (F3), a road number: as read
        ("青禾路18号3F栋", [("road", 0, 3), ("roadno", 3, 6), ("houseno", 6, 9)], None),
        ("青禾路18号F3-301", [("road", 0, 3), ("roadno", 3, 6), ("houseno", 6, 8), ("roomno", 9, 12)], None),
        ("青禾路100F号", [("road", 0, 3), ("roadno", 3, 8)], None),
        # a room read whole with its floor before it: the floor, then the room (as 3F-05 is read)
        (
            "云杉广场3F05",
            [("poi", 0, 4), ("roomno", 4, 8)],
            [("poi", 0, 4), ("floorno", 4, 6), ("roomno", 6, 8)],
        ),
        (
            "云杉广场12F019室",
            [("poi", 0, 4), ("roomno", 4, 11)],
            [("poi", 0, 4), ("floorno", 4, 7), ("roomno", 7, 11)],
        ),
        # a building with such a number, a room with more after it, a lettered room: as read
        ("青禾路18号3F05", [("road", 0, 3), ("roadno", 3, 6), ("houseno", 6, 10)], None),
        ("云杉广场3F05-06", [("poi", 0, 4), ("roomno", 4, 11)], None),
        ("云杉广场F305", [("poi", 0, 4), ("roomno", 4, 8)], None),
    ],
)
def test_lettered_floor(raw: str, spans: list[Any], expected: list[Any] | None) -> None:
    assert lettered_floor(raw, spans) == (spans if expected is None else expected)


@pytest.mark.parametrize(
    ("raw", "spans", "expected"),
    [
        # a number and 层 read as a cell, a building or a sub-POI: the floor
        (
            "云杉广场B1层",
            [("poi", 0, 4), ("houseno", 4, 5), ("cellno", 5, 7)],
            [("poi", 0, 4), ("houseno", 4, 5), ("floorno", 5, 7)],
        ),
        ("青禾小学二层", [("poi", 0, 4), ("subpoi", 4, 6)], [("poi", 0, 4), ("floorno", 4, 6)]),
        # a floor written twice stays the repeat; a span with more than the floor word stays as read
        (
            "青禾路18号2层二层",
            [("road", 0, 3), ("roadno", 3, 6), ("floorno", 6, 8), ("redundant", 8, 10)],
            None,
        ),
        ("青禾路18号2层301", [("road", 0, 3), ("roadno", 3, 6), ("houseno", 6, 11)], None),
        ("青禾路18号", [("road", 0, 3), ("roadno", 3, 6)], None),
    ],
)
def test_floor_by_word(raw: str, spans: list[Any], expected: list[Any] | None) -> None:
    assert floor_by_word(raw, spans) == (spans if expected is None else expected)


def test_a_basement_floor_read_as_a_building_and_a_cell_is_the_basement() -> None:
    """云杉广场B1层B102号 after an admin prefix: the tagger read building B and cell 1层, so it never met
    云杉广场负一楼B102 (floor -1, room 102)."""
    values = {item.name: item.value for item in parse("浙江省杭州市西湖区云杉广场B1层B102号").items}
    assert (values.get("houseno"), values.get("cellno"), values["floorno"]) == (None, None, "-1")
    assert {item.name: item.value for item in parse("浙江省杭州市西湖区云杉广场3F05").items}["floorno"] == "3"


def test_a_lettered_floor_after_a_road_number_is_the_floor() -> None:
    values = {item.name: item.value for item in parse("浙江省杭州市西湖区青禾路18号3F-301").items}
    assert (values.get("houseno"), values["floorno"], values["roomno"]) == (None, "3", "301")


def test_english_unit_values_are_the_chinese_words_values() -> None:
    """Tower 2 is building T-2 as 塔2 and T2 are; Room 1201 room 1201; Floor 12 floor 12."""
    parsed = parse("浙江省杭州市西湖区文三路18号青禾大厦Tower 2, Floor 12, Room 1201")
    values = {item.name: item.value for item in parsed.items}
    assert (values["houseno"], values["floorno"], values["roomno"]) == ("T-2", "12", "1201")
    assert {item.name: item.value for item in parse("青禾大厦塔2").items}["houseno"] == "T-2"


def test_a_tower_reads_as_one_building_however_it_is_written() -> None:
    """北京市朝阳区望京SOHO塔1 | 北京望京SOHO T1, the question geoalign is built to answer: the tower was a
    POI's end on one side and building 1 after POI 望京SOHO T on the other."""
    for text in ("北京市朝阳区云杉SOHO塔1", "北京市朝阳区云杉SOHO T1", "北京市朝阳区云杉SOHO T1座"):
        result = parse(text)
        assert result.get("poi").value == "云杉SOHO", text  # type: ignore[union-attr]
        assert result.get("houseno").value == "T-1", text  # type: ignore[union-attr]
    assert parse("北京市朝阳区云杉SOHO 1号塔楼").get("houseno").value == "T-1"  # type: ignore[union-attr]
    assert parse("北京市朝阳区云杉SOHO塔1 12层").get("floorno").value == "12"  # type: ignore[union-attr]


def test_a_brand_written_in_letters_stays_a_name() -> None:
    """文三路369号KFC肯德基 read building K: the same shop written without KFC conflicted on the building."""
    result = parse("浙江省杭州市西湖区青禾路369号KFC肯德基")
    assert result.get("houseno") is None
    assert any(item.text.startswith("KFC") for item in result.items)


def test_an_order_with_a_phone_number_parses_as_the_address_alone() -> None:
    with_phone = parse("浙江省杭州市西湖区文三路369号 收件人张三 13812345678")
    compared = {c.name for c in with_phone.items} - {"redundant", "person", "otherinfo", "assist"}
    assert compared == {c.name for c in parse("浙江省杭州市西湖区文三路369号").items}


def test_a_lettered_building_reads_the_same_with_or_without_its_word() -> None:
    with_word, without = (
        parse("北京市朝阳区酒仙桥路10号恒通商务园B22栋"),
        parse("北京市朝阳区酒仙桥路10号恒通商务园B22"),
    )
    for result in (with_word, without):
        assert result.get("houseno").value == "B-22" and result.get("cellno") is None  # type: ignore[union-attr]


def test_one_door_reads_the_same_with_or_without_the_admin_prefix() -> None:
    """The tagger split 109A号 as road number 109 + building A behind an admin prefix, and kept it whole
    without one: the same door then conflicted with itself."""
    long, short = parse("广东省深圳市龙岗区布吉街道学林路109A号101"), parse("布吉街道学林路109A号101")
    for result in (long, short):
        assert result.get("roadno").value == "109-A" and result.get("houseno") is None  # type: ignore[union-attr]


def test_non_numeric_elements_keep_width_folded_text() -> None:
    result = parse("浙江省杭州市西湖区ＡＢＣ大厦")
    for item in result:
        if item.name not in NUMERIC_ELEMENTS:
            assert "Ａ" not in item.value


@pytest.mark.parametrize("bad", [None, 42, b"bytes", "", "   ", "\t\n"])
def test_unusable_input_is_a_clear_input_error(bad: object) -> None:
    with pytest.raises(InputError):
        parse(bad)  # type: ignore[arg-type]


def test_parse_many_keeps_bad_items_in_their_slot() -> None:
    out = parse_many(["杭州市文一西路969号", None, "", "宁波市中山东路1号"])
    assert isinstance(out[0], Components) and isinstance(out[3], Components)
    assert isinstance(out[1], ItemError) and out[1].code == "invalid_input"
    assert isinstance(out[2], ItemError)


@pytest.mark.parametrize("model", ["linear", "neural"])
def test_a_lone_surrogate_is_an_input_error_in_its_own_slot(model: str) -> None:
    """Python strings can hold a lone surrogate, no encoding can: the tagger's featurizer raised
    UnicodeEncodeError, and in ``parse_many`` that failed the whole batch, not the one address."""
    with pytest.raises(InputError, match=r"surrogate U\+D800 at character 3 is not text$"):
        parse("文三路\ud800369号", model=model)
    with pytest.raises(
        InputError, match=re.escape("U+DCFF at character 0 is not text (the undecodable byte 0xFF)")
    ):
        parse("\udcff文三路", model=model)  # a command-line byte that is not UTF-8 (surrogateescape)
    out = parse_many(["文三路369号", "文三路\udfff369号", "宁波市中山东路1号"], model=model)
    assert isinstance(out[0], Components) and isinstance(out[2], Components)
    assert isinstance(out[1], ItemError) and out[1].code == "invalid_input"
    assert "surrogate" in out[1].message


def test_very_long_input_is_tagged_only_up_to_the_limit() -> None:
    raw = "浙江省杭州市文一西路969号" * 8000  # 112,000 characters
    result = parse(raw)
    _assert_invariants(raw, result)
    assert result.items, "the tagged prefix still yields components"
    assert max(item.end for item in result) <= MAX_TAG_CHARS


def test_load_loads_the_tagger_up_front_and_raises_its_errors(tmp_path) -> None:
    parser = Parser()
    parser.load()  # model in a helper thread, gazetteer here: the tagger must be this thread's
    assert parser._local.tagger is not None
    assert parser.parse("杭州市西湖区文三路478号") == parse("杭州市西湖区文三路478号")
    with pytest.raises(ModelLoadError, match="manifest"):
        Parser(tmp_path).load()


def test_unusable_model_directory_is_a_model_load_error(tmp_path) -> None:
    with pytest.raises(ModelLoadError, match="manifest"):
        Parser(tmp_path).parse("杭州市")
    manifest: dict[str, Any] = {
        "format": "crfsuite",
        "feature_version": CRF_FEATURE_VERSION,
        "stages": ["crf.model"],
    }
    (tmp_path / "parser.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="not found"):
        Parser(tmp_path).parse("杭州市")
    (tmp_path / "crf.model").write_bytes(b"not a crfsuite model")
    with pytest.raises(ModelLoadError, match="cannot load"):
        Parser(tmp_path).parse("杭州市")
    manifest["feature_version"] = CRF_FEATURE_VERSION + 1
    (tmp_path / "parser.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="retrain"):
        Parser(tmp_path).parse("杭州市")
    manifest = {
        "format": "chartagger",
        "feature_version": FEATURE_VERSION,
        "model": "t.npz",
        "default_domain": "naacl",
    }
    (tmp_path / "parser.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="tagger manifest"):
        Parser(tmp_path).parse("杭州市")
    (tmp_path / "t.npz.json").write_text(
        json.dumps({"labels": ["O"], "bits": 4, "domains": ["naacl"], "feature_version": FEATURE_VERSION}),
        encoding="utf-8",
    )
    (tmp_path / "t.npz").write_bytes(b"not an npz")
    with pytest.raises(ModelLoadError, match="cannot load"):
        Parser(tmp_path).parse("杭州市")
    manifest["feature_version"] = FEATURE_VERSION + 1
    (tmp_path / "parser.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="retrain"):
        Parser(tmp_path).parse("杭州市")


def test_parse_many_equals_parse_one_by_one() -> None:
    texts = [
        "浙江省杭州市余杭区文一西路969号",
        "  宁波市 中山东路1号",
        "北京市朝阳区望京街道8号楼2单元301室",
    ] * 3
    assert parse_many(texts) == [parse(t) for t in texts]


def test_admin_spans_agree_with_the_gazetteer_also_inside_prose() -> None:
    raw = "我家的地址是江苏淮安清江浦区人民路111号"
    result = parse(raw)
    _assert_invariants(raw, result)
    parts = _by_name(result)
    assert (parts.get("prov"), parts.get("city"), parts.get("district")) == ("江苏", "淮安", "清江浦区")
    assert normalize(raw, complete_admin=True).startswith("我家的地址是江苏省淮安市清江浦区")


def test_an_admin_name_is_not_swallowed_by_a_redundant_span() -> None:
    """The tagger read the README's short address as one ``redundant`` span, which made every
    component disappear; redundant means a repeated copy, so the text is decoded again around 北京."""
    for raw in ("北京望京SOHO T1", "北京望京SOHOT1"):
        result = parse(raw)
        _assert_invariants(raw, result)
        items = list(result)
        names = [c.name for c in items]
        assert (items[0].name, items[0].text) == ("prov", "北京")
        assert "redundant" not in names
        assert "poi" in names


def test_a_repeated_admin_prefix_is_left_to_the_tagger() -> None:
    """Which copy of a repeated prefix is ``redundant`` is the tagger's learned convention: nothing is
    forced there, in full or short form; a single prefix is forced as resolved."""
    once = "浙江省杭州市西湖区文三路1号"
    resolution = gazetteer.resolve(once)
    assert forced_admin(once, resolution) == [("prov", 0, 3), ("city", 3, 6), ("district", 6, 9)]
    twice = "浙江省杭州市西湖区浙江省杭州市西湖区文三路1号"
    assert forced_admin(twice, gazetteer.resolve(twice)) == []
    short_again = "天津市河西区友谊路街道友谊路1号"
    found = gazetteer.resolve(short_again)
    assert any(s.text == "友谊路街道" for s in found.spans)
    assert forced_admin(short_again, found) == []
    assert forced_admin(once, None) == []


# --- properties -------------------------------------------------------------------------------------

_ADDRESSY = st.text(
    alphabet=st.sampled_from(list("浙江省杭州市余杭区街道路号楼单元层室村0123456789ABab-－１２ 　\t一二三")),
    max_size=60,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=80), _ADDRESSY))
def test_any_unicode_gives_components_or_input_error(raw: str) -> None:
    try:
        result = parse(raw)
    except InputError as exc:
        # Only input with no address in it is refused: blank, or nothing left for the normalizer.
        assert str(exc)
        if raw.strip():
            with pytest.raises(InputError):
                normalize(raw)
        return
    _assert_invariants(raw, result)
    assert result.normalized == normalize(raw)


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=40), st.text(max_size=10))
def test_parsing_is_deterministic_and_prefix_padding_shifts_offsets(raw: str, pad: str) -> None:
    pad = " " * len(pad)
    try:
        first = parse(raw)
    except InputError:
        return
    assert parse(raw) == first
    # Whitespace is never shown to the tagger, so leading spaces only shift every offset.
    shifted = parse(pad + raw)
    _assert_invariants(pad + raw, shifted)
    assert [(c.name, c.start - len(pad), c.end - len(pad), c.value) for c in shifted] == [
        (c.name, c.start, c.end, c.value) for c in first
    ]


# --- a tiny model trained in the test (exercises training, export, the manifest and loading) ---------


def _example(parts: list[tuple[str, str]]) -> Example:
    spans, pos = [], 0
    for piece, name in parts:
        spans.append((name, pos, pos + len(piece)))
        pos += len(piece)
    return Example("".join(p for p, _ in parts), tuple(spans), "naacl")


def test_a_tiny_model_trains_exports_loads_and_tags(tmp_path) -> None:
    from geoalign.address.tagger_train import train_model

    examples = [
        _example([("杭州市", "city"), ("文一西路", "road"), ("969号", "roadno"), ("西溪园", "poi")]),
        _example([("宁波市", "city"), ("中山东路", "road"), ("1号", "roadno"), ("天一广场", "poi")]),
        _example([("温州市", "city"), ("解放街", "road"), ("128号", "roadno"), ("五马大厦", "poi")]),
        _example([("杭州市", "city"), ("文三路", "road"), ("478号", "roadno"), ("华星大厦", "poi")]),
    ] * 3
    params: dict[str, Any] = {"c1": 0.0, "c2": 0.01, "max_iterations": 50}
    model = train_model([("naacl", examples)], bits=14, lexicon=Lexicon.build({}), params=params)
    assert model.labels[0] == "O" and set(model.elements) == {"city", "road", "roadno", "poi"}
    save_model(model, tmp_path, "tagger.npz")
    manifest = {
        "format": "chartagger",
        "feature_version": FEATURE_VERSION,
        "model": "tagger.npz",
        "default_domain": "naacl",
    }
    (tmp_path / "parser.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="domain"):
        Parser(tmp_path, domain="klingon").parse("杭州市")
    result = Parser(tmp_path, admin_from_gazetteer=False).parse("宁波市文一西路478号")
    assert [(c.name, c.text, c.value) for c in result] == [
        ("city", "宁波市", "宁波市"),
        ("road", "文一西路", "文一西路"),
        ("roadno", "478号", "478"),
    ]
