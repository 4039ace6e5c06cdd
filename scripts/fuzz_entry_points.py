"""Throw random address-like junk at every public entry point and report anything that is not a clear
``InputError`` / ``ItemError``: the bad-input promise (never a crash, never a lost row) checked at scale.

    PYTHONPATH=src .venv/bin/python scripts/fuzz_entry_points.py --rounds 300 --seed 2

Strings are built from address pieces, numbers, separators, control and format characters, emoji, an
astral CJK character and lone surrogates. Checked: ``Matcher().score`` (the default judge, 64 pairs a
call: one result per pair), ``parse`` with both parsers (an ``InputError`` or components),
``normalize`` (an ``InputError`` or text that normalizes to itself), and ``link_records`` /
``dedupe_records`` with and without the learned retrieval (one row per record). Exit status 1 when
anything else happened, with the input that did it. Session 24 found two bugs this way (a lone
surrogate crashed the parsers; runs of repeats made ``normalize`` not idempotent).
"""

from __future__ import annotations

import argparse
import random
import sys
import traceback
from collections.abc import Callable, Sequence

from geoalign.address.normalize import normalize
from geoalign.address.parse import parse
from geoalign.api import Matcher
from geoalign.errors import InputError
from geoalign.link.memory import dedupe_records, link_records
from geoalign.link.settings import LinkSettings

PIECES: list[str] = [
    *"省市区县镇乡村路街道巷弄号栋幢楼室层单元座苑园#-—()（）【】[]、，,.。/\\ \t\n",
    *"0123456789零一二三四五六七八九十百千万甲乙丙ABCabcFBＡＢ０１２",
    "\u200b", "\ufeff", "\x00", "\x07", "😀", "🏠", "𠀀", "\ud800", "\udcff",
    "TEL:", "电话", "地址", "收货人", "李先生收", "第9", "13812345678", "0571-88881234", "008号",
    "北京", "上海市", "杭州", "西湖区", "文三路", "369号", "地下一层", "B1", "负2层", "3#", "3-2-501",
    "旁", "对面", "附近", "米", "交叉口", "与",
    # session 38's forms: capital numerals, car parks, committees, flats by floor and letter, split districts
    "叁", "壹", "号楼", "停车场", "车库", "居民委员会", "村民委员会", "12A", "12B室",
    "龙华区", "宝安区", "临平区",
]  # fmt: skip


def _text(rng: random.Random, longest: int) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, longest)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=100, help="batches of 64 pairs (default 100)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--longest", type=int, default=40, help="most pieces in one string (default 40)")
    ap.add_argument("--link-rounds", type=int, default=4, help="link/dedupe runs of 150 × 200 (default 4)")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    failures: list[str] = []

    def check(what: str, call: Callable[[], object], value: object) -> None:
        try:
            call()
        except InputError:
            pass
        except Exception:  # anything but a clear input error is a finding
            failures.append(f"{what} on {value!r}:\n{traceback.format_exc()}")

    matcher = Matcher()
    for _ in range(args.rounds):
        pairs = [(_text(rng, args.longest), _text(rng, args.longest)) for _ in range(64)]
        check("Matcher.score", lambda p=pairs: _one_per_input(matcher.score(p), p), pairs[:3])
        for text in (a for a, _ in pairs[:8]):
            for model in ("linear", "neural"):
                check(f"parse({model})", lambda t=text, m=model: parse(t, model=m), text)
            check("normalize", lambda t=text: _idempotent(t), text)
    for _ in range(args.link_rounds):
        left = [(f"l{i}", _text(rng, 30) if rng.random() > 0.05 else None) for i in range(150)]
        right = [(f"r{i}", _text(rng, 30)) for i in range(200)]
        for ann in (None, "shipped"):
            check(f"link_records/dedupe_records (ann={ann})", _link_and_dedupe(left, right, ann), ann)
    for failure in failures[:10]:
        print(failure, file=sys.stderr)
    print(f"{len(failures)} findings ({args.rounds} rounds of 64 pairs, {args.link_rounds} link rounds)")
    return 1 if failures else 0


def _link_and_dedupe(
    left: list[tuple[str, str | None]], right: list[tuple[str, str | None]], ann: str | None
) -> Callable[[], None]:
    def run() -> None:
        settings = LinkSettings(ann=ann)
        _one_per_input(link_records(left, right, settings=settings)[0], left)
        _one_per_input(dedupe_records(left + right, settings=settings)[0], left + right)

    return run


def _one_per_input(outputs: Sequence[object], inputs: Sequence[object]) -> None:
    if len(outputs) != len(inputs):
        raise AssertionError(f"{len(inputs)} in, {len(outputs)} out")


def _idempotent(text: str) -> None:
    once = normalize(text)
    if normalize(once) != once:
        raise AssertionError(f"normalize is not idempotent: {once!r} -> {normalize(once)!r}")


if __name__ == "__main__":
    sys.exit(main())
