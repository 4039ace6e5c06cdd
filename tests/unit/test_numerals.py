from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geoalign.address.numerals import NUMERAL_CHARS, chinese_to_int, number_value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("一", 1),
        ("十", 10),
        ("十五", 15),
        ("二十", 20),
        ("二十三", 23),
        ("一十二", 12),
        ("一百", 100),
        ("一百零五", 105),
        ("一百二十", 120),
        ("一百二", 120),  # colloquial: one magnitude below the last
        ("两百", 200),
        ("三千零二", 3002),
        ("一千零二十", 1020),
        ("三千五", 3500),
        ("十万", 100_000),
        ("一万二", 12_000),
        ("一万零二", 10_002),
        ("一万二千", 12_000),
        ("一万零二百", 10_200),
        ("零", 0),
        ("〇", 0),
        ("两", 2),
        ("幺", 1),
    ],
)
def test_positional_and_single(text: str, value: int) -> None:
    assert chinese_to_int(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [("一零一", 101), ("二零三", 203), ("幺零一", 101), ("二〇二五", 2025), ("零一", 1), ("九九九", 999)],
)
def test_digit_by_digit(text: str, value: int) -> None:
    assert chinese_to_int(text) == value


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "三路",
        "十十",
        "三十二百",
        "二三百",
        "百",
        "千五",
        "一百零",
        "两零一",
        "万",
        "一万万",
        "二零十",
        "3十",
    ],
)
def test_not_a_numeral(text: str) -> None:
    assert chinese_to_int(text) is None


def _reference(n: int) -> str:
    """A straightforward writer of positional numerals below 10,000 (the standard written form)."""
    digits = "零一二三四五六七八九"
    if n == 0:
        return "零"
    parts: list[str] = []
    zero = False
    for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d, n = divmod(n, unit)[0], n % unit
        if d:
            if zero and parts:
                parts.append("零")
            parts.append(digits[d] + name)
            zero = False
        else:
            zero = True
    text = "".join(parts)
    return text[1:] if text.startswith("一十") else text  # 十五, not 一十五


@given(st.integers(min_value=0, max_value=9999))
def test_round_trip_with_reference_writer(n: int) -> None:
    assert chinese_to_int(_reference(n)) == n


@given(st.text(alphabet=NUMERAL_CHARS + "ab路3", max_size=12))
def test_never_raises_and_is_non_negative(text: str) -> None:
    value = chinese_to_int(text)
    assert value is None or value >= 0


def test_number_value_reads_digits_and_numerals() -> None:
    texts = ("12", "１２", "十二", "一零一", "12a", "")
    assert [number_value(t) for t in texts] == [12, 12, 12, 101, None, None]
