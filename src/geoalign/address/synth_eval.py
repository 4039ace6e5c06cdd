"""More rule-made rewrites, for evaluating a judge only: never in the neural model's training pairs.

``synth.TRANSFORMS`` feeds training (``synth.generate_pairs``); changing it changes what a retrained
model learns. These rewrites ask other questions a person answers at once, and are scored by
``scripts/eval_rule_made.py`` beside the training ones (``generate_pairs(…, transforms=EVAL_TRANSFORMS)``):

===================  ==============================================================  ==============
transformation       what changes                                                    label
===================  ==============================================================  ==============
another_district     the district becomes another of the same city (西湖区 → 上城区)   not_match
former_name          a division by its former name (襄阳市 → 襄樊市)                    exact_match
traditional          written in traditional characters (东方花园 → 東方花園)           exact_match
field_label          a form's field label in front (收货地址：…)                     exact_match
drop_room            the room number at the end left out (3栋501室 → 3栋)            partial_match
gate_note            a gate of the place in brackets added (（东门）)                  partial_match
zero_padded          a door or building number padded to three digits, or a padded  exact_match
                     one written plain (8号 ↔ 008号, 3栋 ↔ 003栋)
===================  ==============================================================  ==============

Another district with the same road and number is another place (CCKS labels 81 % of its training pairs
under another district not_match, docs/rules.md). A former name is read only where it became one
division alone and no current division carries it. Leaving the room out names the building that holds
it: one place inside the other, partial_match as CCKS labels a coarser address. A gate names a part of
the place, a finer entity: of the CCKS training pairs whose candidate ends in a gate (东门, 北门 …), 556
are labelled partial_match, 187 not_match and 7 exact_match (the rule layer never lifts such a note,
``scorers.rules._notes_are_noise``).
"""

from __future__ import annotations

import random
import re
from typing import Final

from geoalign.address import gazetteer
from geoalign.address.normalize import to_simplified
from geoalign.address.synth import Transform
from geoalign.types import Label

#: A room number at the end of the text, after the building, unit or floor that holds it.
_ROOM_AT_END: Final[re.Pattern[str]] = re.compile(r"(?<=栋|幢|座|楼|层|元)\d{2,5}室?$")
_FIELD_LABELS: Final[tuple[str, ...]] = ("收货地址：", "地址:", "详细地址 ", "收件地址:")
_GATES: Final[tuple[str, ...]] = ("(东门)", "（西门）", "(南门)", "(北门)")
#: A door or building number of one or two digits, or one padded with zeros (008号), standing alone.
_SHORT_NUMBER: Final[re.Pattern[str]] = re.compile(r"(?<![\d.])(\d{1,2})(?=号|栋|幢)")
_PADDED_NUMBER: Final[re.Pattern[str]] = re.compile(r"(?<![\d.])0+(\d+)(?=号|栋|幢)")
#: Placeholder divisions of the gazetteer, not places a person writes.
_PLACEHOLDERS: Final[frozenset[str]] = frozenset(
    {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}
)


def _spans(text: str) -> tuple[gazetteer.Span, ...]:
    return gazetteer.resolve(text).spans


def _another_district(text: str, rng: random.Random) -> str | None:
    for span in _spans(text):
        if span.level != "district" or span.code is None or span.old:
            continue
        current = gazetteer.get(span.code)
        if current is None:
            return None
        short = span.text != current.name  # written as 西湖 rather than 西湖区
        others = [
            d.short_name if short else d.name
            for d in gazetteer.siblings(span.code)
            if d.name not in _PLACEHOLDERS
        ]
        others = [name for name in others if name and name not in text]
        if not others:
            return None
        return text[: span.start] + rng.choice(others) + text[span.end :]
    return None


def _former_name(text: str, rng: random.Random) -> str | None:
    for span in _spans(text):
        if span.code is None or span.old:
            continue
        current = gazetteer.get(span.code)
        if current is None or span.text != current.name:
            continue
        names = gazetteer.former_names(span.code)
        if names:
            return text[: span.start] + rng.choice(names) + text[span.end :]
    return None


def _traditional(text: str, rng: random.Random) -> str | None:
    import opencc  # core dependency (the normalizer's t2s)

    converted: str = opencc.OpenCC("s2t").convert(text)
    if len(converted) != len(text):
        return None
    # only characters that convert back: s2t writes 江干区 as 江乾區, and 乾 is also a simplified
    # character (another name), so that rewrite would change the place, not its script
    new = "".join(t if to_simplified(t) == s else s for s, t in zip(text, converted, strict=True))
    return new if new != text else None


def _field_label(text: str, rng: random.Random) -> str | None:
    return rng.choice(_FIELD_LABELS) + text


def _drop_room(text: str, rng: random.Random) -> str | None:
    m = _ROOM_AT_END.search(text)
    return text[: m.start()] if m else None


def _gate_note(text: str, rng: random.Random) -> str | None:
    return None if text.endswith(("门", "门)", "门）")) else text + rng.choice(_GATES)


def _zero_padded(text: str, rng: random.Random) -> str | None:
    padded = _PADDED_NUMBER.search(text)
    if padded is not None:  # a padded plate (…路057号): written plain, as an order would
        return text[: padded.start()] + padded.group(1) + text[padded.end() :]
    plain = _SHORT_NUMBER.search(text)
    if plain is None:
        return None
    return text[: plain.start()] + plain.group(1).zfill(3) + text[plain.end() :]


#: name -> (transformation, label), in the docstring table's order.
EVAL_TRANSFORMS: Final[dict[str, tuple[Transform, Label]]] = {
    "another_district": (_another_district, "not_match"),
    "former_name": (_former_name, "exact_match"),
    "traditional": (_traditional, "exact_match"),
    "field_label": (_field_label, "exact_match"),
    "drop_room": (_drop_room, "partial_match"),
    "gate_note": (_gate_note, "partial_match"),
    "zero_padded": (_zero_padded, "exact_match"),
}

__all__ = ["EVAL_TRANSFORMS"]
