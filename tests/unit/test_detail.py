"""What an address states below its door (``address.detail``, ``dedupe --same-detail``)."""

from __future__ import annotations

import pytest

from geoalign.address.analyze import analyze
from geoalign.address.detail import detail_tokens, same_detail


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # one place below the door, however it is written or parsed
        ("浙江省杭州市西湖区文三路369号801室", "杭州市西湖区文三路369号801号"),
        ("浙江省杭州市西湖区文三路369号8楼801", "杭州市西湖区文三路369号801"),  # room 801 is on the 8th floor
        ("北京市海淀区中关村大街27号中关村大厦12层1208", "北京市海淀区中关村大街27号中关村大厦1208室"),
        ("深圳市南山区科技南路18号生态园12栋B座2301", "深圳市南山区科技南路18号生态园12-B-2301"),
        ("广州市越秀区东风中路168号之一", "广州市越秀区东风中路168-1号"),
        ("四川省绵阳市三台县芦溪镇白衣村5社28号", "四川省绵阳市三台县芦溪镇白衣村五社28号"),
        ("杭州市西湖区文三路108号二〇一室", "杭州市西湖区文三路108号201室"),
        ("深圳市南山区南油第三工业区5栋", "深圳市南山区南油第3工业区5栋"),
        ("北京市朝阳区望京SOHO塔1", "北京望京SOHO T1"),
        ("北京市海淀区颐和园路5号北京大学", "北京市海淀区北京大学"),  # the road's number is no detail
        ("浙江省杭州市西湖区文三路369号", "浙江省杭州市西湖区文三路369号文三路369号"),  # written twice
    ],
)
def test_one_place_below_the_door_is_one_detail(a: str, b: str) -> None:
    assert same_detail(analyze(a), analyze(b)), (detail_tokens(analyze(a)), detail_tokens(analyze(b)))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "杭州市西湖区文三路478号华星时代广场A座",
            "杭州市西湖区文三路478号华星时代广场A座10楼",
        ),  # a tower and its floor
        ("北京市海淀区中关村大街27号中关村大厦12层", "北京市海淀区中关村大街27号中关村大厦12层1208"),
        ("杭州市西湖区古墩路8号1幢1单元101", "杭州市西湖区古墩路8号1幢101"),  # a unit stated on one side only
        ("上海市浦东新区张杨路500号华润时代广场", "上海市浦东新区张杨路500号华润时代广场15楼"),
    ],
)
def test_a_finer_record_states_more_detail(a: str, b: str) -> None:
    assert not same_detail(analyze(a), analyze(b))


def test_detail_tokens_read_numbers_and_building_letters_not_latin_names() -> None:
    assert detail_tokens(analyze("杭州市西湖区文三路478号华星时代广场A座10楼")) == ("10", "A")
    assert detail_tokens(analyze("成都市锦江区红星路3段1号IFS国际金融中心")) == ()
    assert detail_tokens(analyze("北京市朝阳区建国路87号SKP商场B1层B101")) == detail_tokens(
        analyze("北京市朝阳区建国路87号SKP商场负一层B101")
    )
