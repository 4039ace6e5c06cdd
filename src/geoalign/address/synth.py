"""Rule-made training pairs: from a real address, variants whose label the rules decide.

``generate_pairs(addresses, seed, per_address)`` rewrites each address a few ways and labels each pair
by what the rewrite means, the same judgement as the rule layer (``scorers/rules.py``):

===================  ==============================================================  ==============
transformation       what changes                                                    label
===================  ==============================================================  ==============
drop_province        the province is left out (浙江省杭州市… → 杭州市…)                exact_match
drop_admin           every admin level before the road is left out                   exact_match
chinese_numerals     one number written in Chinese numerals (369号 → 三百六十九号)      exact_match
full_width           digits and Latin letters full-width (369 → ３６９)                exact_match
building_word        栋 / 号楼 / 幢 / 座 swapped                                       exact_match
room_suffix          室 after the room number dropped, or 号 after the road number    exact_match
noise_phone          a phone number (and a recipient name) added                     exact_match
noise_brackets       a bracketed note added (（近地铁站）)                              exact_match
another_road_number  the road number changed (369号 → 371号)                          partial_match
another_building     the building number changed (3栋 → 5栋)                          partial_match
another_unit         the unit number changed                                         partial_match
another_floor        the floor changed                                               partial_match
another_room         the room number changed                                         partial_match
another_road         one character of the road name changed (延安东路 → 延安西路)       not_match
===================  ==============================================================  ==============

A number changed is the same road or compound, another entity in it: partial_match, as the CCKS
guidelines label "same road, another number". Another road name is another place. Seed addresses must
come from training data only (never a test fold or dev set); the output is reproducible: the same
addresses, seed and ``per_address`` give the same pairs in the same order, in any process (each address
gets its own generator seeded by ``seed`` and its text, so adding addresses does not change the pairs of
the others).

Example (a made-up address)::

    >>> pairs = generate_pairs(["浙江省杭州市西湖区文三路369号3栋2单元501室"], seed=1, per_address=3)
    >>> [(b, label, how) for _a, b, label, how in pairs]
    [('浙江省杭州市西湖区文三路369号3栋二单元501室', 'exact_match', 'chinese_numerals'), \
('杭州市西湖区文三路369号3栋2单元501室', 'exact_match', 'drop_province'), \
('浙江省杭州市西湖区文三路３６９号３栋２单元５０１室', 'exact_match', 'full_width')]

More rewrites (another district, traditional characters, a former division name, the room left out,
a form's field label) are in ``synth_eval``: they are for evaluating a judge, not in these training
pairs.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from geoalign.types import Label

Transform = Callable[[str, random.Random], str | None]

_FULL_WIDTH: Final[dict[int, int]] = {c: c + 0xFEE0 for c in range(0x21, 0x7F) if chr(c).isalnum()}
_CN_DIGITS: Final[str] = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """A Chinese numeral as people write house numbers (369 → 三百六十九, 12 → 十二, 105 → 一百零五)."""
    if n < 10:
        return _CN_DIGITS[n]
    if n < 20:
        return "十" + (_CN_DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        return _CN_DIGITS[n // 10] + "十" + (_CN_DIGITS[n % 10] if n % 10 else "")
    if n < 1000:
        rest = n % 100
        head = _CN_DIGITS[n // 100] + "百"
        if rest == 0:
            return head
        if rest < 10:
            return head + "零" + _CN_DIGITS[rest]
        return head + _CN_DIGITS[rest // 10] + "十" + (_CN_DIGITS[rest % 10] if rest % 10 else "")
    return "".join(_CN_DIGITS[int(d)] for d in str(n))  # 1208 → 一二零八 (how rooms are read out)


# Numbers by their unit word, on the raw text. The (?<!\d) guards keep a match on a whole number.
_ROAD_NO: Final[re.Pattern[str]] = re.compile(r"(?<![\d\-])(\d{1,5})(号)(?!楼|院|房)")
_BUILDING: Final[re.Pattern[str]] = re.compile(r"(?<![\d\-])(\d{1,3})(栋|幢|座|号楼)")
_UNIT: Final[re.Pattern[str]] = re.compile(r"(?<![\d\-])(\d{1,2})(单元)")
_FLOOR: Final[re.Pattern[str]] = re.compile(r"(?<![\d\-])(\d{1,2})(层|楼(?!\d))")
_ROOM: Final[re.Pattern[str]] = re.compile(r"(?<![\d\-])(\d{2,5})(室)")
_ADMIN_HEAD: Final[re.Pattern[str]] = re.compile(
    r"^(?:[\u4e00-\u9fff]{2,8}?(?:省|自治区))?(?:[\u4e00-\u9fff]{2,8}?(?:市|自治州|地区|盟))?"
    r"(?:[\u4e00-\u9fff]{1,6}?(?:区|县|旗))?"
)
_ROAD: Final[re.Pattern[str]] = re.compile(
    r"([\u4e00-\u9fff]{1,6}?)(东|西|南|北|中)?(路|街|大道)(?=\d|[一二三四五六七八九十]+段|$)"
)
_PHONES: Final[tuple[str, ...]] = ("13812345678", "15998765432", "18623456789", "021-62781234")
_NAMES: Final[tuple[str, ...]] = ("王先生", "李女士", "张伟", "陈小姐", "刘洋")
#: delivery notes that change nothing about the place (a gate does: synth_eval's gate_note, partial_match)
_NOTES: Final[tuple[str, ...]] = ("(近地铁站)", "（送货上门）", "【工作日送达】", "(放快递柜)")
_SWAP_DIRECTION: Final[dict[str, str]] = {"东": "西", "西": "东", "南": "北", "北": "南", "中": "东"}
_ROAD_CHARS: Final[str] = "安平华兴宁康和阳光明新民府院"


def _other_number(n: int, rng: random.Random) -> int:
    step = rng.choice((1, 2, 3, 5, 10))
    other = n + step if rng.random() < 0.5 or n - step < 1 else n - step
    return other if other != n else n + 1


def _change_number(pattern: re.Pattern[str]) -> Transform:
    def change(text: str, rng: random.Random) -> str | None:
        m = pattern.search(text)
        if m is None:
            return None
        n = int(m.group(1))
        width = len(m.group(1)) if m.group(1).startswith("0") else 0
        other = str(_other_number(n, rng)).zfill(width)
        return text[: m.start(1)] + other + text[m.end(1) :]

    return change


def _drop_province(text: str, rng: random.Random) -> str | None:
    m = re.match(r"^[\u4e00-\u9fff]{2,8}?(?:省|自治区)(?=[\u4e00-\u9fff]{2,8}?市)", text)
    return text[m.end() :] if m else None


def _drop_admin(text: str, rng: random.Random) -> str | None:
    m = _ADMIN_HEAD.match(text)
    if not m or not m.group(0) or not _ROAD.search(text[m.end() :]):
        return None
    return text[m.end() :]


def _chinese_numerals(text: str, rng: random.Random) -> str | None:
    found = [m for p in (_ROAD_NO, _BUILDING, _UNIT, _FLOOR) for m in p.finditer(text)]
    if not found:
        return None
    m = rng.choice(found)
    n = int(m.group(1))
    if m.group(1).startswith("0") or n == 0:
        return None
    return text[: m.start(1)] + chinese_number(n) + text[m.end(1) :]


def _full_width(text: str, rng: random.Random) -> str | None:
    new = text.translate(_FULL_WIDTH)
    return new if new != text else None


def _building_word(text: str, rng: random.Random) -> str | None:
    m = _BUILDING.search(text)
    if m is None:
        return None
    word = rng.choice([w for w in ("栋", "号楼", "幢", "座") if w != m.group(2)])
    return text[: m.start(2)] + word + text[m.end(2) :]


def _room_suffix(text: str, rng: random.Random) -> str | None:
    m = _ROOM.search(text)
    if m and m.end() == len(text):
        return text[: m.start(2)]
    m = _ROAD_NO.search(text)
    if m and m.end() == len(text):
        return text[: m.start(2)]
    return None


def _noise_phone(text: str, rng: random.Random) -> str | None:
    phone = rng.choice(_PHONES)
    if rng.random() < 0.5:
        return f"{text} {rng.choice(_NAMES)} {phone}"
    return f"{text} {phone}"


def _noise_brackets(text: str, rng: random.Random) -> str | None:
    return text + rng.choice(_NOTES)


def _another_road(text: str, rng: random.Random) -> str | None:
    m = _ROAD.search(text)
    if m is None:
        return None
    head, direction, tail = m.group(1), m.group(2), m.group(3)
    if direction:
        new = head + _SWAP_DIRECTION[direction] + tail
    else:
        choices = [ch for ch in _ROAD_CHARS if ch != head[-1]]
        new = head[:-1] + rng.choice(choices) + tail
    return text[: m.start()] + new + text[m.end() :]


#: name -> (transformation, label). Order is the documentation table's.
TRANSFORMS: Final[dict[str, tuple[Transform, Label]]] = {
    "drop_province": (_drop_province, "exact_match"),
    "drop_admin": (_drop_admin, "exact_match"),
    "chinese_numerals": (_chinese_numerals, "exact_match"),
    "full_width": (_full_width, "exact_match"),
    "building_word": (_building_word, "exact_match"),
    "room_suffix": (_room_suffix, "exact_match"),
    "noise_phone": (_noise_phone, "exact_match"),
    "noise_brackets": (_noise_brackets, "exact_match"),
    "another_road_number": (_change_number(_ROAD_NO), "partial_match"),
    "another_building": (_change_number(_BUILDING), "partial_match"),
    "another_unit": (_change_number(_UNIT), "partial_match"),
    "another_floor": (_change_number(_FLOOR), "partial_match"),
    "another_room": (_change_number(_ROOM), "partial_match"),
    "another_road": (_another_road, "not_match"),
}


def variants(
    address: str, rng: random.Random, transforms: Mapping[str, tuple[Transform, Label]] = TRANSFORMS
) -> list[tuple[str, Label, str]]:
    """Every transformation of ``transforms`` that applies to ``address``: (variant, label, name)."""
    out: list[tuple[str, Label, str]] = []
    for name, (transform, label) in transforms.items():
        new = transform(address, rng)
        if new is not None and new != address:
            out.append((new, label, name))
    return out


def generate_pairs(
    addresses: Iterable[str],
    seed: int,
    per_address: int,
    transforms: Mapping[str, tuple[Transform, Label]] = TRANSFORMS,
) -> list[tuple[str, str, Label, str]]:
    """Up to ``per_address`` labelled pairs (address, variant, label, transformation) per address, drawn
    without repetition from the transformations of ``transforms`` that apply (see the module docstring;
    ``synth_eval.EVAL_TRANSFORMS`` holds more, for evaluation only). Empty or non-string addresses are
    skipped; ``per_address`` must be positive."""
    if per_address < 1:
        from geoalign.errors import InputError

        raise InputError(f"per_address must be at least 1, got {per_address}")
    pairs: list[tuple[str, str, Label, str]] = []
    for address in addresses:
        if not isinstance(address, str) or not address.strip():
            continue
        text = address.strip()
        rng = random.Random(f"{seed}\0{text}")
        options = variants(text, rng, transforms)
        rng.shuffle(options)
        pairs.extend((text, new, label, name) for new, label, name in options[:per_address])
    return pairs


__all__ = ["TRANSFORMS", "chinese_number", "generate_pairs", "variants"]
