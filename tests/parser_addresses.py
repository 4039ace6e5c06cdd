"""Invented addresses for the parser's equivalence tests (no research data needed).

Real division chains from the shipped gazetteer (so the division-name features fire), with invented
roads, numbers, buildings and POIs, and the noise real inputs carry: spaces and invisible characters,
full-width digits, Chinese numerals, bracketed notes, phone numbers, Latin letters, a repeated admin
prefix, punctuation, and a few very long inputs (the large-batch code paths). Deterministic per seed.
"""

from __future__ import annotations

import random

from geoalign.address import gazetteer
from geoalign.address.synth import chinese_number, variants

_ROAD_STEMS = ("文三", "延安东", "人民南", "解放", "学院", "中山北", "建设", "滨江", "光明", "新华西")
_ROAD_SUFFIXES = ("路", "街", "大道", "巷", "弄", "胡同")
_POIS = ("阳光花园", "科技大厦", "金色家园", "世纪广场", "第一人民医院", "实验小学", "万达广场", "锦绣苑")
_NOTES = ("（近地铁站）", "(西门)", "【周末不收件】", "(菜鸟驿站)", "旁边")
_NOISE = (" ", "  ", "\u200b", "\t", "，", "-", "#", "/", "·")
_PEOPLE = ("张三", "李四收", "王先生")


def _chain(rng: random.Random, towns: list[str]) -> list[str]:
    data = gazetteer._data()
    division = data.by_code[rng.choice(towns)]
    return [d.name for d in data.path(division.code)]


def _number(rng: random.Random) -> str:
    n = rng.randint(1, 2000)
    roll = rng.random()
    if roll < 0.15:
        return chinese_number(n % 100 or 1)
    if roll < 0.25:
        return "".join(chr(ord(c) + 0xFEE0) for c in str(n))  # full-width digits
    return str(n)


def _address(rng: random.Random, towns: list[str]) -> str:
    parts = _chain(rng, towns)
    if rng.random() < 0.3:
        parts = parts[rng.randint(1, len(parts) - 1) :]  # the province (or more) left out
    if rng.random() < 0.1:
        parts = parts + parts[-2:]  # a repeated admin prefix (redundant)
    parts.append(rng.choice(_ROAD_STEMS) + rng.choice(_ROAD_SUFFIXES))
    parts.append(_number(rng) + "号")
    if rng.random() < 0.6:
        parts.append(rng.choice(_POIS))
    for suffix, p in (("栋", 0.6), ("单元", 0.5), ("层", 0.3), ("室", 0.6)):
        if rng.random() < p:
            parts.append(rng.choice(("", "", "B", "A-")) + _number(rng) + suffix)
    if rng.random() < 0.2:
        parts.append(rng.choice(_NOTES))
    if rng.random() < 0.15:
        parts.append(rng.choice(_PEOPLE) + "1" + "".join(rng.choice("0123456789") for _ in range(10)))
    text = "".join(part + (rng.choice(_NOISE) if rng.random() < 0.15 else "") for part in parts)
    if rng.random() < 0.2:
        found = variants(text, rng)
        if found:
            text = rng.choice(found)[0]
    return text


def invented_addresses(n: int, seed: int = 0) -> list[str]:
    """``n`` invented addresses (a few of them very long, a few empty or whitespace only)."""
    rng = random.Random(seed)
    data = gazetteer._data()
    towns = sorted(code for code, d in data.by_code.items() if d.level == "town")
    out = [_address(rng, towns) for _ in range(n)]
    for i in rng.sample(range(n), max(1, n // 50)):
        out[i] = "".join(_address(rng, towns) for _ in range(rng.randint(8, 30)))  # 200..1000 characters
    out[rng.randrange(n)] = ""
    out[rng.randrange(n)] = " \u200b "
    return out
