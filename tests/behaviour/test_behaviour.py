"""The default judge (structured scorer + rule layer) must get every behaviour pair right (issue 13).

The suite was written and committed before the rule layer, so it tests the rules rather than describes
them. A failure names the case, its category and what the judge answered.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from tests.behaviour.suite import Case, load_suite

from geoalign.types import AddressPair, Match

CASES = load_suite()

#: Categories the issue asks for, each with at least this many hand-written pairs.
REQUIRED_CATEGORIES = {
    "admin_omitted", "numerals", "building_word", "tower", "full_width", "traditional", "noise_brackets",
    "noise_phone", "noise_name", "suffix", "old_names", "typo", "identical", "another_building",
    "another_unit", "another_floor", "another_room", "another_roadno", "road_one_char", "road_section",
    "another_district", "another_city", "unrelated",
    # session 14: floors written with a letter (11F) and basements (负一层 / 地下一层 / B1层 vs 一层)
    "floor_letter", "basement_forms", "basement_vs_ground",
    # building-unit-room written with dashes (5-2-1101), a room written digit by digit (3栋五零二)
    "unit_dashes", "room_digits",
    # zones of a compound: one zone written two ways (三区 / 3区), two zones (E1区 / E2区)
    "zone_numerals", "another_zone",
    # a sub-number written 之一 (219号之一 = 219-1号)
    "sub_number",
    # session 25: a numbered yard on a road (101号院1号楼 = 101号1号楼), a division named twice
    # (北京市北京市海淀区), a delivery note closing the address (，快递放门口)
    "yard", "repeated_admin", "noise_note",
    # session 26: a cross street or lane on one road (古墩路与文一路交叉口), institutions numbered by an
    # ordinal (第一小学 / 第二小学), a postcode closing the address (…969号 310000)
    "cross_street", "numbered_place", "noise_postcode",
    # session 27: two gates of one place (东门 / 南门), a building letter and room written as one number
    # (A801 = A座801)
    "gate", "lettered_room",
    # session 28: a street address located relative to (27号对面 / 27号), villages named apart by a side
    # (东闾村 / 西闾村) and groups of a village (3组 / 5组), two branches of a chain (如家酒店(望京店) /
    # (国贸店))
    "relative", "village", "branch", "station",
    # session 33: two roads named apart where the texts name nothing else, two numbered lanes of a village
    "another_road",
    # session 34: two townships of one district (a township written with the district it belonged to)
    "another_town",
    # session 35: a Latin word the tagger cut between two components (KFC肯德基 = 肯德基)
    "latin_word",
    # session 36: a shop's number however the shop is called (1层108铺 = 一楼108号商铺; 108铺 / 109铺)
    "shop_number",
    # session 37: a chain's English or short name (星巴克 / Starbucks, 工行 / 工商银行)
    "chain_name",
    # session 38: an office written in full or short (居民委员会 = 居委会, 人民政府 = 政府)
    "office_name",
    # session 40: a company's legal form (股份有限公司 / 有限责任公司 / 有限公司 name one company)
    "company_form",
    # session 40: one name closed by two kinds of facility (青禾超市 / 青禾药店, 青禾小学 / 青禾中学)
    "facility_kind",
    # session 41: a room, floor, building or tower by its English word (Room 1201 = 1201室, Tower 2 = T2栋)
    "english_unit",
}  # fmt: skip


def test_suite_is_well_formed() -> None:
    assert len(CASES) >= 120
    assert len({c.id for c in CASES}) == len(CASES), "duplicate case ids"
    counts = Counter(c.category for c in CASES)
    assert set(counts) == REQUIRED_CATEGORIES
    assert min(counts.values()) >= 4
    assert len({(c.a, c.b) for c in CASES}) == len(CASES), "duplicate pairs"


@pytest.fixture(scope="module")
def answers() -> dict[str, Any]:
    from geoalign.scorers.rules import with_rules
    from geoalign.scorers.structured import StructuredScorer

    judge = with_rules(StructuredScorer())
    results = judge.score([AddressPair(c.a, c.b) for c in CASES])
    return {c.id: r for c, r in zip(CASES, results, strict=True)}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_default_judge(case: Case, answers: dict[str, Any]) -> None:
    result = answers[case.id]
    assert isinstance(result, Match), f"{case.id}: {result}"
    assert case.passes(result.label), (
        f"{case.id} [{case.category}] expected {case.expect}, got {result.label} "
        f"{result.probabilities} rules={(result.explanation or {}).get('rules')}: {case.a} | {case.b}"
    )
