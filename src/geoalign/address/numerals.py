"""Chinese numerals → integers.

Addresses write numbers in three ways: positional (二十三 = 23, 一百零五 = 105, 两百 = 200), digit by digit
(二零三 = 203, 幺零一 = 101 — how room numbers are read aloud) and Arabic. Only the first two need this
module. Which numerals in an address *are* numbers (三号楼) and which are parts of names (文三路, 三里屯)
is decided by the normalizer, not here: this module only converts a string that is entirely a numeral.
"""

from __future__ import annotations

import re
from typing import Final

#: Digit characters. 〇/零 are zero, 两 is "two" used before a magnitude, 幺 is "one" as read in numbers
#: (phone, room) to avoid confusion with 七.
DIGITS: Final[dict[str, int]] = {
    "〇": 0,
    "零": 0,
    "一": 1,
    "幺": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}

#: Magnitude characters below 万. 万 is handled separately because it scales a whole group (三千二百万).
SMALL_UNITS: Final[dict[str, int]] = {"十": 10, "百": 100, "千": 1000}
BIG_UNIT: Final[str] = "万"

#: Every character that can appear in a Chinese numeral, as a regex character class body.
NUMERAL_CHARS: Final[str] = "".join(DIGITS) + "".join(SMALL_UNITS) + BIG_UNIT
NUMERAL_RUN: Final[re.Pattern[str]] = re.compile(f"[{NUMERAL_CHARS}]+")

_ZEROS = frozenset("〇零")


def _digit_by_digit(text: str) -> int | None:
    """二零三 → 203. Only digit characters; 两 is not used this way (nobody reads 203 as 两零三)."""
    if "两" in text:
        return None
    return int("".join(str(DIGITS[ch]) for ch in text))


def _below_wan(text: str) -> int | None:
    """Positional numeral below 10,000: 三千零二, 二十三, 十五, 一百二 (colloquial 120)."""
    total = 0
    digit: int | None = None  # pending digit not yet multiplied by a magnitude
    last_unit = 10_000  # magnitudes must strictly decrease: 三百二十, never 三十二百
    zero_pending = False  # a 零 marks a skipped magnitude: 一百零五 is 105, never 150
    for ch in text:
        if ch in DIGITS:
            value = DIGITS[ch]
            if value == 0:
                if digit is not None:  # 二零十: a zero after an unscaled digit is not positional
                    return None
                zero_pending = True
            elif digit is not None:  # two digits in a row: 二三百 is not a number
                return None
            else:
                digit = value
            continue
        unit = SMALL_UNITS[ch]
        if unit >= last_unit:
            return None
        if digit is None:
            # A bare 十 means 10 only at the very start (十五); 百 and 千 always need a digit.
            if unit != 10 or total or zero_pending:
                return None
            digit = 1
        total += digit * unit
        digit = None
        last_unit = unit
        zero_pending = False
    if digit is not None:
        # Trailing digit: after 零 or 十 it is the units digit (一百零五, 二十三); otherwise colloquial
        # shorthand for one magnitude lower (一百二 = 120, 三千五 = 3500).
        if zero_pending or last_unit in (10, 10_000):
            total += digit
        else:
            total += digit * (last_unit // 10)
    elif zero_pending:  # trailing 零 (一百零) is not a number
        return None
    return total


def chinese_to_int(text: str) -> int | None:
    """Value of a Chinese numeral, or None if ``text`` is not one.

    >>> chinese_to_int("二十三"), chinese_to_int("一百零五"), chinese_to_int("十"), chinese_to_int("一零一")
    (23, 105, 10, 101)

    Digit-by-digit strings (only 〇零一二…九幺, more than one character) are read digit by digit; a single
    digit character is that digit. Strings with 十百千万 are read positionally. Anything else (empty,
    other characters, malformed order such as 三十二百 or 十十) gives None.
    """
    if not text or any(ch not in DIGITS and ch not in SMALL_UNITS and ch != BIG_UNIT for ch in text):
        return None
    if all(ch in DIGITS for ch in text):
        if len(text) == 1:
            return DIGITS[text]
        return _digit_by_digit(text)
    if text.count(BIG_UNIT) > 1:
        return None
    if BIG_UNIT in text:
        high, low = text.split(BIG_UNIT)
        high_value = _below_wan(high) if high else None
        if not high_value:
            return None
        if low and all(ch in DIGITS for ch in low):
            # 一万二 → 12000 (colloquial: one magnitude below 万), 一万零二 → 10002.
            if len(low) == 1 and low not in _ZEROS:
                return high_value * 10_000 + DIGITS[low] * 1000
            if low[0] in _ZEROS and len(low) == 2 and low[1] not in _ZEROS:
                return high_value * 10_000 + DIGITS[low[1]]
            return None
        low_text = low[1:] if low[:1] in _ZEROS else low
        low_value = _below_wan(low_text)
        if low_value is None:
            return None
        return high_value * 10_000 + low_value
    return _below_wan(text)


def number_value(text: str) -> int | None:
    """Value of a number written in digits (12, full width too) or as a Chinese numeral (十二); None if
    ``text`` is neither."""
    return int(text) if text.isdigit() else chinese_to_int(text)


def numeral_as_digits(match: re.Match[str]) -> str:
    """A matched run of Chinese numerals as Arabic digits, or as written where it is no number (十十):
    a ``re.sub`` callback (``NUMERAL_RUN.sub(numeral_as_digits, text)``)."""
    value = chinese_to_int(match.group(0))
    return match.group(0) if value is None else str(value)
