"""Chains' names written two ways fold into one (``geoalign.address.brands``), inside the normalizer."""

from __future__ import annotations

import pytest

from geoalign.address.brands import brand_names
from geoalign.address.normalize import normalize


@pytest.mark.parametrize(
    ("written", "folded"),
    [
        ("云杉路18号KFC", "云杉路18号肯德基"),
        ("云杉路18号Starbucks Coffee", "云杉路18号星巴克"),
        ("云杉路18号McDonald's", "云杉路18号麦当劳"),
        ("云杉路18号Pizza Hut", "云杉路18号必胜客"),
        ("云杉路18号FamilyMart", "云杉路18号全家"),
        # both names at once are one name, in either order
        ("云杉路18号肯德基KFC", "云杉路18号肯德基"),
        ("云杉路18号KFC肯德基", "云杉路18号肯德基"),
        ("云杉路18号IKEA宜家家居", "云杉路18号宜家家居"),
        # a bank's and an oil company's short names, also inside a building's name
        ("云杉路18号工行", "云杉路18号工商银行"),
        ("云杉路18号建行大厦", "云杉路18号建设银行大厦"),
        ("云杉路18号中石化加油站", "云杉路18号中国石化加油站"),
    ],
)
def test_a_chain_written_two_ways_normalizes_to_one_text(written: str, folded: str) -> None:
    assert normalize(written) == folded
    assert normalize(folded) == folded  # idempotent


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("云杉路18号化工行业协会", "化工行业"),  # 工行 inside another word
        ("云杉路18号新建行政楼", "新建行政楼"),
        ("云杉路18号高中行政楼", "高中行政楼"),  # 中行 is never folded
        ("云杉路18号MOS BURGER", "MOS BURGER"),  # BURGER alone names no listed chain
        ("云杉路18号SUBWAY STATION", "SUBWAY"),  # the metro in an English address
        ("云杉路7-11号", "7-11号"),  # a range of doors, not the shop
    ],
)
def test_other_words_are_left_alone(text: str, kept: str) -> None:
    assert kept in normalize(text)
    assert brand_names(normalize(text)) == normalize(text)


def test_every_english_name_folds_to_its_own_chinese_name() -> None:
    english = "KFC STARBUCKS MCDONALDS PIZZAHUT BURGERKING WALMART CARREFOUR IKEA COSTCO DECATHLON UNIQLO"
    chinese = "肯德基 星巴克 麦当劳 必胜客 汉堡王 沃尔玛 家乐福 宜家 开市客 迪卡侬 优衣库"
    more = {"WATSONS": "屈臣氏", "FAMILYMART": "全家", "LAWSON": "罗森", "LUCKIN": "瑞幸"}
    pairs = {**dict(zip(english.split(), chinese.split(), strict=True)), **more}
    for name, folded in pairs.items():
        assert brand_names(f"云杉路18号{name}") == f"云杉路18号{folded}", name


def test_the_step_is_named_in_the_detailed_report() -> None:
    from geoalign.address.normalize import normalize_detailed

    assert "names" in normalize_detailed("云杉路18号KFC").changed_by
    assert "names" not in normalize_detailed("云杉路18号肯德基").changed_by
