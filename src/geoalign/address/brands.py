"""Names of chains written two ways, folded into one (the normalizer's ``names`` step).

- English brand names (KFC, STARBUCKS (COFFEE), MCDONALD'S, PIZZA HUT, BURGER KING, WALMART,
  CARREFOUR, IKEA, COSTCO, DECATHLON, UNIQLO, WATSONS, FAMILYMART, LAWSON, LUCKIN (COFFEE)) are written
  as their Chinese names (肯德基, 星巴克, 麦当劳 …): a POI base writes the Chinese name, an order or a map
  the English one, and both at once (肯德基KFC) is one name.
- A bank's short name (工行, 建行, 农行, 交行, 招行) is its name (工商银行, 建设银行 …), also in the names
  of its buildings and staff housing (建行大厦, 工行宿舍); not inside another word (化工行业, 新建行政楼).
  中行 is left alone (高中行政楼, 集中行动: too often inside other words).
- The oil companies' short names (中石化, 中石油) are 中国石化, 中国石油 (中石化加油站, 中石油大厦).

Only these well-known names: a chain's name is a brand, not a place name, so no rule can derive it
(SUBWAY is left out: in an English address it is the metro). The step runs after ``upper`` (Latin
letters are upper case) and before ``spaces`` (which then drops the spaces the Latin name stood
between). Every rewrite gives text no entry matches again (idempotent).
"""

from __future__ import annotations

import re
from typing import Final

#: English brand names (upper case, as the normalizer writes Latin letters) -> their Chinese names.
_LATIN_BRANDS: Final[tuple[tuple[str, str], ...]] = (
    ("KFC", "肯德基"),
    (r"STARBUCKS(?:\s*COFFEE)?", "星巴克"),
    (r"MCDONALD(?:\s*S)?", "麦当劳"),
    (r"PIZZA\s*HUT", "必胜客"),
    (r"BURGER\s*KING", "汉堡王"),
    ("WAL-?MART", "沃尔玛"),
    ("CARREFOUR", "家乐福"),
    ("IKEA", "宜家"),
    ("COSTCO", "开市客"),
    ("DECATHLON", "迪卡侬"),
    ("UNIQLO", "优衣库"),
    ("WATSONS", "屈臣氏"),
    (r"FAMILY\s*MART", "全家"),
    ("LAWSON", "罗森"),
    (r"LUCKIN(?:\s*COFFEE)?", "瑞幸"),
)
#: One group per entry (the entries' own groups do not capture), so a match's ``lastindex`` names it.
_LATIN: Final[re.Pattern[str]] = re.compile(
    "(?<![A-Z])(?:" + "|".join(f"({pattern})" for pattern, _ in _LATIN_BRANDS) + ")(?![A-Z])"
)
#: Chinese short names -> full names; the lookbehind and lookahead keep the short name whole: not the
#: end of another word (化工行业, 新建行政楼, 施工行为), not the start of one (建行政).
_SHORT_NAMES: Final[dict[str, str]] = {
    "工行": "工商银行",
    "建行": "建设银行",
    "农行": "农业银行",
    "交行": "交通银行",
    "招行": "招商银行",
    "中石化": "中国石化",
    "中石油": "中国石油",
}
_SHORT: Final[re.Pattern[str]] = re.compile(
    "(?<![化施新公高初])(" + "|".join(_SHORT_NAMES) + ")(?![业政为驶车人走动程李情])"
)
_GUARD: Final[re.Pattern[str]] = re.compile("[A-Z行石]")
#: Chains by the name the normalized text writes (the folds above give every listed chain one): two texts
#: that each name chains and none in common name two places (中国石化加油站 / 中国石油加油站, 肯德基 /
#: 麦当劳), however alike they read. Names that are also common words are left out (全家, 如家).
CHAINS: Final[tuple[str, ...]] = (
    *sorted({chinese for _, chinese in _LATIN_BRANDS} - {"全家"}),
    *_SHORT_NAMES.values(),
    "中国银行",
    "邮政储蓄银行",
    "中国移动",
    "中国联通",
    "中国电信",
)


def brand_names(text: str) -> str:
    """``text`` with each chain's English or short name written as its Chinese full name, and a name
    then written twice in a row (肯德基KFC → 肯德基肯德基) once."""
    if _GUARD.search(text) is None:
        return text
    folded: list[str] = []
    if "行" in text or "中石" in text:
        text = _SHORT.sub(lambda m: _SHORT_NAMES[m.group(1)], text)
    if _LATIN.search(text):

        def rewrite(match: re.Match[str]) -> str:
            entry = match.lastindex
            if entry is None:  # unreachable: every alternative is one entry's group
                raise AssertionError(f"no brand entry matched {match.group(0)!r}")
            chinese = _LATIN_BRANDS[entry - 1][1]
            folded.append(chinese)
            return chinese

        text = _LATIN.sub(rewrite, text)
    for chinese in set(folded):
        text = re.sub(f"{chinese}(?:\\s*{chinese})+", chinese, text)
    return text


__all__ = ["CHAINS", "brand_names"]
