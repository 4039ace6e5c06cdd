"""Blocking: keys from parsed views, the inverted index against brute force, caps, diagnostics, recall."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geoalign.errors import InputError
from geoalign.link.blocking import (
    BlockIndex,
    BlockingDiagnostics,
    admin_codes,
    format_report,
    parse_rules,
    record_keys,
    remember_pairs,
)
from geoalign.link.candidates import Record, SamePlaceJudge
from geoalign.scorers.features import AddressView, view_from_components
from geoalign.types import Component, Components

HANGZHOU_XIHU = ("浙江省", "杭州市", "西湖区", None)


def view(
    comps: dict[str, str], admin: tuple = (None, None, None, None), text: str | None = None
) -> AddressView:
    """A parsed view built through the public constructor, from hand-written components."""
    text = "".join(comps.values()) if text is None else text
    items = tuple(Component(name, value, 0, len(value), value) for name, value in comps.items())
    return view_from_components(Components(text, text, items), text, admin)


def test_admin_codes_resolve_real_divisions() -> None:
    codes = admin_codes(HANGZHOU_XIHU)
    assert codes.area == "330106"  # 西湖区, Hangzhou
    assert codes.town is None
    # a city without a district name: the city code is the area
    assert admin_codes(("浙江省", "杭州市", None, None)).area == "330100"


def test_ambiguous_district_gets_no_area_code() -> None:
    # 朝阳区 exists in Beijing and in Changchun: no code rather than a wrong one
    assert admin_codes((None, None, "朝阳区", None)).area is None
    assert admin_codes(("北京市", None, "朝阳区", None)).area == "110105"


def test_record_keys_per_rule() -> None:
    v = view({"road": "文三路", "roadno": "369", "poi": "华星大厦"}, HANGZHOU_XIHU)
    keys = dict(
        (k, r) for r, k in record_keys(v, ("area_road_no", "road_no", "area_poi", "poi", "area_road"))
    )
    # road names in one spelling: 文三路 and 文3路 are one road (users write both)
    assert "area_road_no:330106|文3路|369" in keys
    assert "road_no:文3路|369" in keys
    assert {"area_poi:330106|华星大", "area_poi:330106|星大厦"} <= set(keys)
    assert {"poi:华星大", "poi:星大厦"} <= set(keys)
    # area_road is only for records without a road number
    assert not any(k.startswith("area_road:") for k in keys)
    no_number = view({"road": "文三路"}, HANGZHOU_XIHU)
    assert [k for _, k in record_keys(no_number, ("area_road",))] == ["area_road:330106|文3路"]


def test_a_road_name_written_with_digits_or_numerals_shares_its_keys() -> None:
    as_numerals = view({"road": "科技南十二路", "roadno": "18"}, HANGZHOU_XIHU)
    as_digits = view({"road": "科技南12路", "roadno": "18"}, HANGZHOU_XIHU)
    rules = parse_rules(None)
    assert [k for _, k in record_keys(as_numerals, rules)] == [k for _, k in record_keys(as_digits, rules)]


def test_a_word_the_parse_took_into_the_road_name_still_shares_the_road_tail_key() -> None:
    # 鄂尔多斯伊金霍洛旗郡王府街1号: the parse reads the road as 王府街 where the full address has 郡王府街
    full = view({"road": "郡王府街", "roadno": "1"}, HANGZHOU_XIHU)
    cut = view({"road": "王府街", "roadno": "1"}, HANGZHOU_XIHU)
    other_number = view({"road": "王府街", "roadno": "2"}, HANGZHOU_XIHU)
    rule = ("area_road_tail_no",)
    key = "area_road_tail_no:330106|王府街|1"
    assert key in [k for _, k in record_keys(full, rule)]
    assert key in [k for _, k in record_keys(cut, rule)]
    assert key not in [k for _, k in record_keys(other_number, rule)]
    # no area, no key (a bare road name in any city would make huge blocks)
    assert record_keys(view({"road": "郡王府街", "roadno": "1"}), rule) == []


def test_a_room_of_a_big_building_keeps_its_own_duplicates_among_its_candidates() -> None:
    """Sixty rooms on one road number share every road key; the per-record cut (ties by record number)
    dropped a later writing of the same room. The door key (building, unit, room) ranks it first."""
    rooms = [
        view({"road": "文三路", "roadno": "369", "houseno": "A", "roomno": str(801 + i)}, HANGZHOU_XIHU)
        for i in range(60)
    ]
    again = view({"road": "文三路", "roadno": "369", "houseno": "A", "roomno": "859"}, HANGZHOU_XIHU)
    index = BlockIndex()
    rules = parse_rules(None)
    for i, v in enumerate([*rooms, again]):
        index.add(i, record_keys(v, rules))
    best, total = index.candidates(record_keys(again, rules), max_candidates=20, accept=lambda r: r != 60)
    assert total == 60 and best[0] == 58  # room 859, written first as record 58
    door = [k for _, k in record_keys(again, ("door",))]
    assert door == ["door:330106|文3路|369|A||859"]
    # without a road number the POI places the door; a floor is no part of it; nothing to key, no key
    in_compound = view({"poi": "翠苑小区", "houseno": "3", "floorno": "5", "roomno": "501"}, HANGZHOU_XIHU)
    assert [k for _, k in record_keys(in_compound, ("door",))] == ["door:330106|翠苑小区|3||501"]
    assert record_keys(view({"road": "文三路", "roadno": "369"}, HANGZHOU_XIHU), ("door",)) == []


def test_a_village_and_its_committee_and_an_estate_part_with_and_without_its_word_share_keys() -> None:
    village = view({"town": "盖山镇", "community": "义序村"}, HANGZHOU_XIHU)
    committee = view({"town": "盖山镇", "community": "义序村委会"}, HANGZHOU_XIHU)
    rule = ("community",)
    assert record_keys(village, rule) == record_keys(committee, rule) == [("community", "community:义序村")]
    residents = view({"poi": "海旺社区居委会"}, HANGZHOU_XIHU)
    assert record_keys(residents, rule) == [("community", "community:海旺社区")]
    with_word = view({"poi": "翠苑小区", "subpoi": "一区", "houseno": "15"}, HANGZHOU_XIHU)
    without = view({"poi": "翠苑一区", "houseno": "15"}, HANGZHOU_XIHU)
    shared = {k for _, k in record_keys(with_word, ("area_poi",))} & {
        k for _, k in record_keys(without, ("area_poi",))
    }
    assert shared == {"area_poi:330106|翠苑1", "area_poi:330106|苑1区"}
    # a part written with a digit or a numeral is one name (翠苑1区 / 翠苑一区), as a community is
    digit = view({"poi": "翠苑1区", "houseno": "15"}, HANGZHOU_XIHU)
    assert {k for _, k in record_keys(digit, ("area_poi",))} >= shared
    assert record_keys(view({"community": "大磡二村"}), ("community",)) == [
        ("community", "community:大磡2村")
    ]


def test_a_street_the_parse_missed_is_read_off_the_text() -> None:
    """上地10街10号: the shipped tagger (trained on 上地十街) reads a township, a unit and a room; the street
    and its door are read off the place text, so both writings share the road keys."""
    from geoalign.address.analyze import analyze

    rule = ("area_road_no",)
    digits, numerals = analyze("北京市海淀区上地10街10号"), analyze("北京市海淀区上地十街10号")
    assert (
        record_keys(digits, rule)
        == record_keys(numerals, rule)
        == [("area_road_no", "area_road_no:110108|上地10街|10")]
    )
    # after 香港特别行政区 the tagger reads the street as redundant
    full, short = analyze("香港特别行政区九龙尖沙咀弥敦道100号"), analyze("香港九龙尖沙咀弥敦道100号")
    assert ("road_no", "road_no:9龙尖沙咀弥敦道|100") in record_keys(full, ("road_no",))
    assert record_keys(full, ("road_no",)) == record_keys(short, ("road_no",))


def test_records_naming_only_divisions_share_the_admin_key() -> None:
    # a county that became a district (双流县 -> 双流区) and 街道 / 镇 forms of one township
    old = view({"city": "成都市", "district": "双流县", "town": "东升街道"}, ("四川省", "成都市", None, None))
    new = view(
        {"city": "成都市", "district": "双流区", "town": "东升街道"},
        ("四川省", "成都市", "双流区", "东升街道"),
    )
    rule = ("admin_only",)
    assert record_keys(old, rule) == record_keys(new, rule) == [("admin_only", "admin_only:成都|双流|东升")]
    # a record with anything below its township (a road, a POI) gets no admin key
    assert (
        record_keys(
            view({"district": "双流区", "road": "东升路"}, ("四川省", "成都市", "双流区", None)), rule
        )
        == []
    )


def test_a_poi_split_in_two_by_the_parse_gives_the_grams_of_the_whole() -> None:
    split = view({"poi": "翠苑", "subpoi": "一区", "houseno": "15"}, HANGZHOU_XIHU)
    whole = view({"poi": "翠苑一区", "houseno": "15"}, HANGZHOU_XIHU)
    shared = {k for _, k in record_keys(split, ("area_poi",))} & {
        k for _, k in record_keys(whole, ("area_poi",))
    }
    assert "area_poi:330106|翠苑1" in shared  # names in the judge's spelling: numerals as digits


def test_a_community_name_tagged_poi_on_one_side_shares_the_community_key() -> None:
    # the parser tags 青禾社区 poi in one address and community in the other: both give the key
    as_poi = view({"road": "松林路", "poi": "青禾社区", "houseno": "4"})
    as_community = view({"community": "青禾社区", "houseno": "4"}, (None, "北京市", "海淀区", None))
    key = "community:青禾社区"
    assert key in [k for _, k in record_keys(as_poi, parse_rules(None))]
    assert key in [k for _, k in record_keys(as_community, parse_rules(None))]
    # other POIs, and names that are little more than the suffix, give no community key
    for poi in ("华星大厦", "新村", "小区", "东小区"):
        assert [k for _, k in record_keys(view({"poi": poi}), ("community",))] == [], poi
    assert [k for _, k in record_keys(view({"poi": "桂香小区"}), ("community",))] == ["community:桂香小区"]
    assert [k for _, k in record_keys(view({"poi": "柳湾村"}), ("community",))] == ["community:柳湾村"]


def test_record_without_admin_still_blocks_on_road_and_poi() -> None:
    v = view({"road": "桐和街", "roadno": "6", "poi": "依家小店"})
    keys = [k for _, k in record_keys(v, parse_rules(None))]
    assert "road_no:桐和街|6" in keys
    assert not any(k.startswith(("area_", "town_")) for k in keys)


def test_parse_rules() -> None:
    assert parse_rules("road_no, poi") == ("road_no", "poi")
    assert parse_rules(None)[0] == "area_road_no"
    with pytest.raises(InputError, match="unknown blocking rule"):
        parse_rules("road_no,zip")
    with pytest.raises(InputError):
        parse_rules("")


def _brute_force(query: set[str], indexed: list[set[str]], max_block: int) -> set[int]:
    sizes: dict[str, int] = {}
    for keys in indexed:
        for k in keys:
            sizes[k] = sizes.get(k, 0) + 1
    return {i for i, keys in enumerate(indexed) if any(sizes[k] <= max_block for k in keys & query)}


KEYS = st.sets(st.sampled_from([f"r:{c}" for c in "abcdefgh"]), max_size=4)


@settings(max_examples=200, deadline=None)
@given(indexed=st.lists(KEYS, max_size=30), query=KEYS, max_block=st.integers(1, 8))
def test_candidates_equal_brute_force(indexed: list[set[str]], query: set[str], max_block: int) -> None:
    index = BlockIndex(max_block_size=max_block)
    for i, keys in enumerate(indexed):
        index.add(i, [("r", k) for k in sorted(keys)])
    found, total = index.candidates([("r", k) for k in sorted(query)], max_candidates=10_000)
    expected = _brute_force(query, indexed, max_block)
    assert set(found) == expected
    assert total == len(expected)
    assert len(found) == len(set(found))


def test_candidates_are_ranked_by_rare_shared_keys_and_cut() -> None:
    index = BlockIndex(max_block_size=100)
    # record 0 shares the rare road+number key; records 1..9 share only a common POI gram
    index.add(0, [("road_no", "road_no:文三路|369"), ("poi", "poi:大厦")])
    for i in range(1, 10):
        index.add(i, [("poi", "poi:大厦")])
    query = [("road_no", "road_no:文三路|369"), ("poi", "poi:大厦")]
    best, total = index.candidates(query, max_candidates=3)
    assert best[0] == 0
    assert best == [0, 1, 2]  # ties in record order: deterministic
    assert total == 10
    later, _ = index.candidates(query, max_candidates=100, accept=lambda r: r > 5)
    assert later == [6, 7, 8, 9]


def test_oversized_blocks_are_skipped_and_reported() -> None:
    index = BlockIndex(max_block_size=3)
    for i in range(5):
        index.add(i, [("poi", "poi:大厦"), ("road_no", f"road_no:路|{i}")])
    diag = BlockingDiagnostics(index)
    for i in range(2):
        keys = [("poi", "poi:大厦"), ("road_no", f"road_no:路|{i}")]
        best, total = index.candidates(keys, max_candidates=10)
        assert best == [i]  # the big 大厦 block contributes nothing
        diag.observe(keys, total, len(best))
        remember_pairs(diag, f"L{i}", [f"R{c}" for c in best])
    report = diag.report(true_pairs=[("L0", "R0"), ("L1", "R4")], n_index=5)
    assert report["skipped_blocks"] == 1
    assert report["largest_skipped_blocks"][0]["key"] == "poi:大厦"
    assert report["largest_skipped_blocks"][0]["pairs"] == 2 * 5
    assert report["rules"]["poi"]["skipped_pairs"] == 10
    assert report["rules"]["road_no"]["pairs"] == 2
    assert report["candidate_pairs"] == 2
    assert report["full_comparison_pairs"] == 2 * 5
    assert report["blocking_recall"] == 0.5
    text = format_report({**report, "max_candidates": 10})
    assert "poi:大厦" in text and "recall 0.5000" in text


def test_dedupe_diagnostics_count_pairs_within_blocks() -> None:
    index = BlockIndex(max_block_size=10)
    members = {"k:a": [0, 1, 2], "k:b": [2, 3]}
    for key, records in members.items():
        for r in records:
            index.add(r, [("k", key)])
    diag = BlockingDiagnostics(index, dedupe=True)
    report = diag.report(n_index=4)
    expected = sum(len(list(itertools.combinations(r, 2))) for r in members.values())
    assert report["rules"]["k"]["pairs"] == expected == 4
    assert report["full_comparison_pairs"] == 6


class _TableScorer:
    """Fake scorer: p(exact) from a table keyed by (a, b); records every pair it is asked."""

    name = "structured"
    model_id = "table"

    def __init__(self, table: dict[tuple[str, str], float]) -> None:
        self.table = table
        self.asked: list[tuple[str, str]] = []

    def score(self, pairs):
        from geoalign.types import Match

        out = []
        for p in pairs:
            self.asked.append((p.a, p.b))
            e = self.table.get((p.a, p.b), 0.05)
            out.append(Match.from_probabilities((e, (1 - e) / 2, (1 - e) / 2), scorer="t", model="t"))
        return out


def _record(rid: str, comps: dict[str, str], text: str | None = None) -> Record:
    return Record(rid, rid, view=view(comps, text=text))


def test_same_place_needs_both_directions_and_no_hard_conflict() -> None:
    q = [_record("q1", {"road": "文三路", "roadno": "369"}), _record("q2", {"road": "文三路", "roadno": "5"})]
    c = [
        _record("c1", {"road": "文三路", "roadno": "369"}, "文三路369号"),  # exact both ways
        _record("c2", {"road": "文三路", "roadno": "369", "poi": "店"}),  # exact one way only
        _record("c3", {"road": "文三路", "roadno": "368"}),  # conflicting number: never scored
        _record("c4", {"road": "文三路", "roadno": "7"}),
    ]
    table = {("q1", "c1"): 0.9, ("c1", "q1"): 0.8, ("q1", "c2"): 0.9, ("c2", "q1"): 0.2, ("q1", "c3"): 0.99}
    scorer = _TableScorer(table)
    judge = SamePlaceJudge(scorer, threshold=0.5)  # type: ignore[arg-type]
    judged = judge.judge(q, c, [(0, 0), (0, 1), (0, 2), (1, 2), (1, 3)])
    same = {(j.q, j.c) for j in judged if j.same_place}
    assert same == {(0, 0)}
    assert ("q1", "c3") not in scorer.asked  # q1 has conflict-free candidates
    # q2's candidates all conflict: the nearest one is still scored, to show the nearest record (7号
    # for 5号, though the blocks listed 368号 first)
    assert ("q2", "c4") in scorer.asked and ("q2", "c3") not in scorer.asked
    assert set(scorer.asked) >= {("c1", "q1"), ("c2", "q1")}  # reverse only for forward exact
    assert ("c4", "q2") not in scorer.asked
    assert judge.stats.skipped_hard_numbers == 2
    assert judge.stats.forward_pairs == 3 and judge.stats.reverse_pairs == 2
    nearest = next(j for j in judged if j.q == 1)
    assert nearest.conflicts == ["roadno"] and not nearest.same_place


def test_identical_normalized_text_is_the_same_place_without_the_model_deciding() -> None:
    comps = {"road": "文三路", "roadno": "369"}
    q = [Record("q", "文三路369号", view=view(comps, text="文三路369号"))]
    c = [
        Record("c", "文三路 ３６９号", view=view(comps, text="文三路369号")),
        # the normalizer drops parentheses: same normalized text, but a shop is not its building
        Record("d", "文三路369号(小卖部)", view=view(comps, text="文三路369号")),
    ]
    scorer = _TableScorer({})  # p(exact) 0.05 both ways: the model alone would say no
    judge = SamePlaceJudge(scorer, threshold=0.5)  # type: ignore[arg-type]
    same, shop = judge.judge(q, c, [(0, 0), (0, 1)])
    assert same.same_place and same.identical and same.score == 1.0
    assert not shop.same_place and not shop.identical
    assert ("文三路369号", "文三路 ３６９号") in scorer.asked  # still scored, for the reported probabilities
    assert judge.stats.identical == 1


def test_dedupe_scores_road_names_merely_far_apart_as_the_judge_reads_them() -> None:
    """建国门外大街 / 建外大街: two names far apart (``another_road_weak``), on which the judge's rules do
    not act; dedupe scores the pair and takes the judge's answer. Another road by one character (文三路 /
    文二路, a strong conflict) is still never the same place."""
    q = [_record("q", {"road": "建国门外大街", "roadno": "1"})]
    c = [
        _record("c", {"road": "建外大街", "roadno": "1"}),
        _record("d", {"road": "建国门内大街", "roadno": "1"}),
    ]
    table = {("q", "c"): 0.9, ("c", "q"): 0.9, ("q", "d"): 0.9, ("d", "q"): 0.9}
    for rank_all in (False, True):
        judge = SamePlaceJudge(_TableScorer(table), threshold=0.5)  # type: ignore[arg-type]
        judged = judge.judge(q, c, [(0, 0), (0, 1)], rank_all=rank_all)
        assert {j.c for j in judged if j.same_place} == {0}, rank_all


def test_road_names_far_apart_with_different_road_numbers_are_still_two_places() -> None:
    """秋涛路99号美美药店 / 创新北路33号美美药店: one chain's name on two roads at two doors."""
    q = [_record("q", {"road": "秋涛路", "roadno": "99", "poi": "美美药店"})]
    c = [
        _record("c", {"road": "创新北路", "roadno": "33", "poi": "美美药店"}),
        _record("d", {"road": "秋涛大街", "roadno": "99", "poi": "美美药店"}),  # far apart, same door
    ]
    table = {("q", "c"): 0.9, ("c", "q"): 0.9, ("q", "d"): 0.9, ("d", "q"): 0.9}
    judge = SamePlaceJudge(_TableScorer(table), threshold=0.5)  # type: ignore[arg-type]
    judged = judge.judge(q, c, [(0, 0), (0, 1)], rank_all=False)
    assert {j.c for j in judged if j.same_place} == {1}


def test_a_metro_station_shares_its_key_with_and_without_ditie() -> None:
    long = view({"poi": "国贸地铁站"}, HANGZHOU_XIHU)
    short = view({"poi": "国贸站"}, HANGZHOU_XIHU)
    rule = ("area_poi",)
    assert {k for _, k in record_keys(long, rule)} & {k for _, k in record_keys(short, rule)}


@pytest.mark.parametrize(
    ("candidates", "shown"),
    [
        # the nearer number wins over the order of the blocks (30号: 31号, not 20号)
        ([{"roadno": "20"}, {"roadno": "31"}, {"roadno": "29"}], "c1"),
        # one level in conflict is nearer than two, however near the numbers
        ([{"roadno": "31", "houseno": "5"}, {"roadno": "90", "houseno": "3"}], "c1"),
        # numbers that are no plain integers leave the spelling to decide, then the order of the blocks
        ([{"roadno": "30", "houseno": "B"}, {"roadno": "30", "houseno": "3A"}], "c1"),
        ([{"roadno": "20"}, {"roadno": "40"}], "c0"),
    ],
)
def test_a_query_whose_candidates_all_conflict_shows_the_nearest(
    candidates: list[dict[str, str]], shown: str
) -> None:
    query = {"road": "青禾路", "roadno": "30", "houseno": "3"}
    q = [_record("q", query, "青禾路30号3栋")]
    c = [
        _record(f"c{i}", {"road": "青禾路", "houseno": "3", **comps}, _spelled(comps))
        for i, comps in enumerate(candidates)
    ]
    scorer = _TableScorer({})
    judge = SamePlaceJudge(scorer, threshold=0.5)  # type: ignore[arg-type]
    judge.judge(q, c, [(0, i) for i in range(len(c))])
    assert scorer.asked == [("q", shown)]
    assert judge.stats.skipped_hard_numbers == len(c) - 1


def _spelled(comps: dict[str, str]) -> str:
    return f"青禾路{comps['roadno']}号{comps.get('houseno', '3')}栋"
