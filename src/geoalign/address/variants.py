"""Spelling variants that name one place: a small table kept by hand, each entry with its reason.

The rule layer treats two road or area names that differ by one character as two places (延安东路 is not
延安西路, 学院路 is not 学府路); only a spelling listed here is folded into another before that comparison.
Every entry is a *known* typo or alias: a character that looks or sounds like the right one and never
forms a real place name of its own in the gazetteer's divisions. Add an entry only with such a reason.

| written | means | why |
|---|---|---|
| 鼓搂 | 鼓楼 | 扌/木 radical slip; 鼓楼 (drum tower) names districts in Nanjing, Fuzhou, Kaifeng, Xuzhou |
| 武候 | 武侯 | 亻 extra stroke; 武侯 (Zhuge Liang) names Chengdu's 武侯区 and 武侯祠 |
| 哈尔宾 | 哈尔滨 | 宾/滨 homophone slip |
| 石家座 | 石家庄 | 庄/座 slip |
| 呼和浩待 | 呼和浩特 | 特/待 slip |
"""

from __future__ import annotations

from typing import Final

#: written -> canonical spelling (see the module table for the reason of each).
VARIANTS: Final[dict[str, str]] = {
    "鼓搂": "鼓楼",
    "武候": "武侯",
    "哈尔宾": "哈尔滨",
    "石家座": "石家庄",
    "呼和浩待": "呼和浩特",
}
#: First characters of the variants: a cheap guard that skips the replace loop for most texts.
_FIRST: Final[frozenset[str]] = frozenset(key[0] for key in VARIANTS)


def fold_variants(text: str) -> str:
    """``text`` with every listed variant spelling replaced by its canonical one."""
    if not any(ch in _FIRST for ch in text):
        return text
    for written, canonical in VARIANTS.items():
        if written in text:
            text = text.replace(written, canonical)
    return text
