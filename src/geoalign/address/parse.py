"""Split a Chinese address into elements of the NAACL-2019 / CCKS-2021 scheme (public API).

``parse(text)`` returns ``types.Components``: every component carries its character offsets into the
*original* input (``raw[start:end] == text``, no overlaps, left to right) and a normalized ``value``:
for the number elements (road number, building, unit, floor, room) the number itself — ``三号楼`` → ``3``,
``969号`` → ``969``, ``B座`` → ``B``; a floor without its letter and signed below ground, ``11F`` → ``11``,
``负一层`` / ``B1层`` → ``-1`` (``floor_value``) — otherwise the width-folded (NFKC) text.
``Components.normalized`` is ``geoalign.address.normalize.normalize(raw)``, the text the embedded matcher
compares.

The elements come from the tagger of the model directory (``models/parser/``, see its MODEL_CARD.md):
``geoalign.address.chartagger`` (a linear-chain model over characters with hashed features, trained on
the NAACL-2019, CCKS-2021 and SuperMap data, decoded in batches) or the v1 CRFsuite tagger
(``geoalign.address.tagger``, NAACL-2019 only). Admin spans are then made to agree with the gazetteer
where it resolves them. Element names are ``geoalign.address.schemes.ELEMENTS`` (docs/parser.md). The
model is loaded once, lazily, per thread.

Only the first ``MAX_TAG_CHARS`` characters are tagged: real addresses are far shorter, and a bound keeps
a pathological 100,000-character input from costing seconds. Characters after that get no component.
"""

from __future__ import annotations

import json
import operator
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol, TypeVar

from geoalign.address import gazetteer
from geoalign.address.chartagger import DOMAINS, FEATURE_VERSION, FastTagger, Span, load_model
from geoalign.address.clean import lone_surrogate_at, visible_text
from geoalign.address.neural_tagger import FORMAT as NEURAL_FORMAT
from geoalign.address.neural_tagger import OnnxCharTagger
from geoalign.address.normalize import fold_simplified, normalize, phone_spans, upper, width
from geoalign.address.numerals import NUMERAL_RUN, numeral_as_digits
from geoalign.address.synonyms import (
    EN_BUILDING,
    EN_FLOOR,
    EN_ROOM,
    EN_TOWER,
    GROUND_FLOOR_WORDS,
    NOT_AFTER_TOWER_NUMBER,
    SHOP_WORD_CHARS,
    SHOP_WORDS,
)
from geoalign.errors import InputError, ModelLoadError
from geoalign.types import Component, Components, ItemError

if TYPE_CHECKING:  # the v1 CRF tagger is imported only when a crfsuite model directory is loaded
    from geoalign.address.tagger import CrfTagger

#: Longest prefix of an input that is tagged (see the module docstring).
MAX_TAG_CHARS: Final[int] = 512

#: Elements whose value is a number (or a building letter), used by matchers as hard evidence.
NUMERIC_ELEMENTS: Final[frozenset[str]] = frozenset(
    {"roadno", "subroadno", "houseno", "cellno", "floorno", "roomno"}
)

#: The shipped model directory: ``parser.json`` (which CRFsuite files, which feature version) and the
#: model files it names. Pass another directory to ``Parser`` to use another model.
DEFAULT_MODEL_DIR: Final[Path] = Path(__file__).resolve().parent.parent / "models" / "parser"
#: the accurate parser: the neural character tagger decoded with the linear one (``--model neural``)
NEURAL_MODEL_DIR: Final[Path] = Path(__file__).resolve().parent.parent / "models" / "parser-neural"
#: names a user can give instead of a directory
MODEL_NAMES: Final[dict[str, Path]] = {"linear": DEFAULT_MODEL_DIR, "neural": NEURAL_MODEL_DIR}


def resolve_model_dir(model: str | Path | None) -> Path:
    """A parser model directory from a name (``linear``: the shipped fast parser, the default;
    ``neural``: the shipped accurate one) or a path."""
    if model is None:
        return DEFAULT_MODEL_DIR
    return MODEL_NAMES.get(str(model), Path(model))


_ALNUM_RUN = re.compile(r"[0-9]+|[A-Z]+")


def numeric_value(text: str) -> str:
    """The number (or building letter) inside a number element's text.

    ``969号`` → ``969``; ``三号楼`` → ``3``; ``二十三层`` → ``23``; ``B座`` → ``B``; ``12-3`` → ``12-3``;
    ``0501室`` → ``501`` (leading zeros carry no meaning for matching). Chinese numerals are converted
    only when a whole run of numeral characters is a valid number. Text with no number at all (``顶楼``)
    keeps its width-folded form, so the value is never empty.
    """
    folded = upper(width(text))
    folded = NUMERAL_RUN.sub(numeral_as_digits, folded)
    runs = _ALNUM_RUN.findall(folded)
    if not runs:
        return folded
    return "-".join(run.lstrip("0") or "0" if run.isdigit() else run for run in runs)


#: A basement marker at the start of a floor's text: 负一层, 地下1层, 地下室2层, B1层, B2F (B only directly
#: before the number; B座 is a building).
_BASEMENT: Final[re.Pattern[str]] = re.compile(r"地下室?|负|B(?=\d)")
#: A floor letter beside the number: 11F, F11, 3L (F/L never name a floor themselves).
_FLOOR_LETTER: Final[re.Pattern[str]] = re.compile(r"(?<=\d)[FL](?![A-Z])|(?<![A-Z])[FL](?=\d)")


#: The ground floor by its words (Guangdong's 首层, Shanghai's and Jiangsu's 底层 and 底楼).
_GROUND_FLOOR: Final[re.Pattern[str]] = re.compile(GROUND_FLOOR_WORDS)


def floor_value(text: str) -> str:
    """The value of a floor: ``numeric_value`` without the floor letters, signed below ground.

    ``11F``, ``F11``, ``十一层`` and ``11楼`` → ``11`` (the letter is how the floor is written, not part
    of its number); ``负一层``, ``地下1层``, ``B1层``, ``B1F`` → ``-1``, so that the first basement and the
    ground floor are two floors (a hard-number conflict), not one. The ground floor's words (首层, 底层,
    底楼: the normalizer writes them 1层) → ``1``.
    """
    if _GROUND_FLOOR.fullmatch(text):
        return "1"
    folded = upper(width(text))
    basement = _BASEMENT.match(folded)
    rest = folded[basement.end() :] if basement else folded
    value = numeric_value(_FLOOR_LETTER.sub("", rest))
    if basement and value.isdigit():
        return f"-{value}"
    return value if any(ch.isdigit() for ch in value) else numeric_value(text)


#: A number and 层, the whole of a span: a floor in the labelled sets' training files (250 of 253 such
#: gold spans; the others a building, a cell and a floor written twice).
_FLOOR_WORD: Final[re.Pattern[str]] = re.compile(r"[0-9０-９一二三四五六七八九十两零〇]{1,4}层")
#: Elements the tagger sometimes gives such a span; 'redundant' stays (a floor written twice).
_NOT_FLOOR_ELEMENTS: Final[frozenset[str]] = frozenset(
    {"houseno", "cellno", "roomno", "subpoi", "person", "roadno", "subroadno", "assist"}
)


def floor_by_word(raw: str, spans: list[Span]) -> list[Span]:
    """A span that is only a number and 层 is the floor it says, whatever the tagger called it: in the
    address corpus 46 of the 9,141 such spans came back a building, a cell, a sub-POI or a person, and
    云杉广场B1层B102号 after an admin prefix became building B, cell 1 (so it never met 负一楼B102). Runs
    before ``attach_basement``, which then joins the B."""
    if "层" not in raw:
        return spans
    return [
        ("floorno", start, end)
        if name in _NOT_FLOOR_ELEMENTS and _FLOOR_WORD.fullmatch(raw, start, end)
        else (name, start, end)
        for name, start, end in spans
    ]


#: A basement marker the tagger left outside a floor span (地下|一层, B|1层): what ``attach_basement``
#: moves into it. Tested on the raw text (offsets stay raw), so the letter's other widths and cases too.
_BASEMENT_BEFORE: Final[re.Pattern[str]] = re.compile(
    r"(?:地下室?|负|(?<![A-Za-zＡ-Ｚａ-ｚ0-9０-９])[BbＢｂ])$"
)
#: Characters without which no basement marker can be present (the cheap test run on every address).
_BASEMENT_CHARS: Final[frozenset[str]] = frozenset("负地BbＢｂ")


def attach_basement(raw: str, spans: list[Span]) -> list[Span]:
    """Move a basement marker written just before a floor into the floor span.

    The tagger reads 地下一层 as a POI 地下 and a floor 一层, and B1层 as a building B and a floor 1层: the
    floor's value then says the first floor, and B1 and 1层 would agree. The marker's characters leave
    the span before (which is dropped when nothing else is left of it), and the floor starts at the
    marker; ``floor_value`` then reads it as ``-1``. B counts only directly before a digit and not
    after another letter or digit (AB1层, 3B1层), and not before 楼 (B1楼 is as often building B1).
    """
    if _BASEMENT_CHARS.isdisjoint(raw):
        return spans
    out = list(spans)
    for i, (name, start, end) in enumerate(out):
        if name != "floorno" or start == 0:
            continue
        found = _BASEMENT_BEFORE.search(raw, max(0, start - 3), start)
        if found is None:
            continue
        if found.group(0) in "BbＢｂ" and (not raw[start].isdigit() or raw[end - 1] == "楼"):
            continue
        begin = found.start()
        j = i - 1
        while j >= 0 and out[j][2] > begin:  # every span reaching into the marker (地|下室|一层 too)
            before = out[j]
            # a span that was only (part of) the marker is dropped; one that began earlier gives it up
            out[j] = ("", 0, 0) if before[1] >= begin else (before[0], before[1], begin)
            j -= 1
        out[i] = (name, begin, end)
    return [span for span in out if span[2] > span[1]]


#: A door letter written between a road number and its 号 (109A号): the whole is the road number.
_DOOR_LETTER: Final[re.Pattern[str]] = re.compile(r"[A-Za-zＡ-Ｚａ-ｚ]号")
#: The cheap test run on every address: a digit, a letter, 号.
_DIGIT_DOOR_LETTER: Final[re.Pattern[str]] = re.compile(r"\d[A-Za-zＡ-Ｚａ-ｚ]号")


def join_door_letter(raw: str, spans: list[Span]) -> list[Span]:
    """Join a door letter the tagger split off a road number back into it.

    The tagger reads 学林路109A号 as one road number (109-A) in one address and as road number 109 +
    building A号 in another (the admin prefix in front changes its context), so the same door conflicted
    with itself. NAACL and CCKS label such a run as one road number; a building letter comes after the
    号 (109号A座), not before it. Only a road-number span ending in a digit, directly followed by a span
    that is exactly one letter and 号, is joined.
    """
    if _DIGIT_DOOR_LETTER.search(raw) is None:
        return spans
    return _join_adjacent(
        spans,
        lambda before, span: (
            before[0] == "roadno"
            and raw[span[1] - 1 : span[1]].isdigit()
            and _DOOR_LETTER.fullmatch(raw, span[1], span[2]) is not None
        ),
    )


def _join_adjacent(spans: list[Span], joins: Callable[[Span, Span], bool]) -> list[Span]:
    """``spans`` with each span that ``joins`` the one right before it (no gap between them) merged into
    it, under the first one's name."""
    out: list[Span] = []
    for span in spans:
        if out and out[-1][2] == span[1] and joins(out[-1], span):
            out[-1] = (out[-1][0], out[-1][1], span[2])
            continue
        out.append(span)
    return out


#: The cheap test for ``join_building_letter``: a Latin letter followed by a digit.
_LETTER_DIGIT: Final[re.Pattern[str]] = re.compile(r"[A-Za-zＡ-Ｚａ-ｚ][0-9０-９]")
#: What makes a number after a building letter a unit after all: its unit word (B2单元, B2门).
_UNIT_WORD_AFTER: Final[re.Pattern[str]] = re.compile(r"单元|门")


def join_building_letter(raw: str, spans: list[Span]) -> list[Span]:
    """Join a building letter and the number the tagger split off it as a unit (恒通商务园B22: building B
    + unit 22, where 东部软件园A3 and B22栋 are building A-3 and B-22), so one building written with and
    without 栋 is one building. Only a building span that is exactly one letter, directly followed by a
    unit span of one or two digits with no unit word after it, is joined (B507 is as often room 507 of
    building B: three digits are a room number's length)."""
    if _LETTER_DIGIT.search(raw) is None:
        return spans
    return _join_adjacent(
        spans,
        lambda before, span: (
            before[0] == "houseno"
            and span[0] == "cellno"
            and before[2] - before[1] == 1
            and raw[before[1]].isascii()
            and raw[before[1]].isalpha()
            and 1 <= span[2] - span[1] <= 2
            and raw[span[1] : span[2]].isdigit()
            and not _UNIT_WORD_AFTER.match(raw, span[2])
        ),
    )


#: A Latin word: two or more letters touching no other letter or digit (KFC, SOHO, ATM; not T1, B22, 12F,
#: which are building, unit and floor codes, nor SOHOT1, where the word's end cannot be seen).
_LATIN_WORD: Final[re.Pattern[str]] = re.compile(
    r"(?<![A-Za-zＡ-Ｚａ-ｚ0-9０-９])[A-Za-zＡ-Ｚａ-ｚ]{2,}(?![A-Za-zＡ-Ｚａ-ｚ0-9０-９])"
)
#: The cheap test run on every address: two Latin letters in a row.
_TWO_LETTERS: Final[re.Pattern[str]] = re.compile(r"[A-Za-zＡ-Ｚａ-ｚ]{2}")


def keep_latin_words(raw: str, spans: list[Span]) -> list[Span]:
    """Give each Latin word one component: the tagger reads characters, and cut a brand or a name
    (KFC, SOHO) between two elements — 文三路369号KFC肯德基 came out as building K + FC肯德基, and then
    conflicted with the same shop written without KFC. The word goes to the span that holds most of its
    letters, a name before a number element (a word of letters numbers nothing: the building of 369号K
    is a misreading); the other spans lose those letters. Noise read letter by letter (redundant n, u,
    l, l) stays so: that is how SuperMap, the element set's source, writes noise, Chinese or Latin."""
    if _TWO_LETTERS.search(raw) is None:
        return spans
    out = spans
    for word in _LATIN_WORD.finditer(raw):
        lo, hi = word.span()
        inside = [i for i, (_, start, end) in enumerate(out) if start < hi and lo < end]
        if len(inside) < 2 or all(out[i][0] == "redundant" for i in inside):
            continue  # one span, or redundant letter by letter as SuperMap writes noise (n|u|l|l)
        owner = max(
            inside,
            key=lambda i: (
                out[i][0] not in NUMERIC_ELEMENTS,
                min(out[i][2], hi) - max(out[i][1], lo),
                -i,
            ),
        )
        out = _claimed(raw, out, lo, hi, owner=owner)
    return out


_DIGITS_12 = "(?<![0-9０-９])[0-9０-９]{1,2}(?![0-9０-９])"
_NUMERALS = "[一二三四五六七八九十]{1,3}"
#: A tower named by a letter (A塔楼20C: tower A, room 20C), as the normalizer reads one: a letter not after
#: another letter, a digit or a building word.
_TOWER_LETTER = "(?<![A-Za-zＡ-Ｚａ-ｚ0-9０-９栋])[A-Za-zＡ-Ｚａ-ｚ]"
_NOT_A_TOWER_AFTER = f"(?![0-9０-９一二三四五六七八九十]*[{NOT_AFTER_TOWER_NUMBER}])"
#: A tower and its number where the normalizer reads one (``synonyms``: T1, 塔1, 塔楼一, 1号塔楼 are tower
#: 1, T1栋): T right after a letter is another word's end (SOHOT1), T and three digits a shop's code
#: (T308号), a tower after a side a named one (东塔), and one before a place word a name (铁塔七街).
_TOWER: Final[re.Pattern[str]] = re.compile(
    rf"(?<![A-Za-zＡ-Ｚａ-ｚ])[TtＴｔ]{_DIGITS_12}(?:号)?(?:座|栋|楼|幢)?"
    rf"|(?<![东西南北中])(?<!{_TOWER_LETTER})塔楼?(?:{_DIGITS_12}|{_NUMERALS}){_NOT_A_TOWER_AFTER}(?:号)?(?:座|栋|楼|幢)?"
    rf"|(?:{_DIGITS_12}号?|{_NUMERALS}号)塔楼?(?![{NOT_AFTER_TOWER_NUMBER}])"
)
#: The cheap test run on every address: a T or a 塔 anywhere.
_TOWER_CHARS: Final[re.Pattern[str]] = re.compile(r"[TtＴｔ塔]")


def tower_as_building(raw: str, spans: list[Span]) -> list[Span]:
    """A tower read as the building it is: 望京SOHO T1 and 望京SOHO塔1 (the normalizer writes both T1栋)
    came out as POI 望京SOHO T + building 1 and as one POI 望京SOHO塔1, and 塔1 12层 as floor 1-12. The
    tower's characters become one building span (its value T-1 whichever way it is written: ``_value``);
    the spans they were read into lose them."""
    if _TOWER_CHARS.search(raw) is None:
        return spans
    out = spans
    for tower in _TOWER.finditer(raw):
        lo, hi = tower.span()
        if not any(
            (name == "houseno" and start <= lo and hi <= end)
            # a name that starts with it (T1公馆): the tagger's reading of a name, kept
            or (name not in NUMERIC_ELEMENTS and start == lo and hi < end)
            for name, start, end in out
        ):
            out = _claimed(raw, out, lo, hi, new="houseno")
    return out


def _claimed(raw: str, spans: list[Span], lo: int, hi: int, *, owner: int = -1, new: str = "") -> list[Span]:
    """``spans`` with ``raw[lo:hi]`` given to one span — ``spans[owner]``, stretched over it, or a new span
    named ``new`` — and cut out of the others: what is left of a cut span loses the spaces and punctuation
    at its edges (SOHO| T1栋 → T1栋, T3|-011号 → 011号), and a span nothing is left of is dropped."""
    out: list[Span] = [(new, lo, hi)] if new else []
    for i, (name, start, end) in enumerate(spans):
        if i == owner:
            out.append((name, min(start, lo), max(end, hi)))
        elif end <= lo or hi <= start:
            out.append((name, start, end))
        else:
            for piece_start, piece_end in ((start, min(end, lo)), (max(start, hi), end)):
                while piece_start < piece_end and not raw[piece_start].isalnum():
                    piece_start += 1
                while piece_start < piece_end and not raw[piece_end - 1].isalnum():
                    piece_end -= 1
                if piece_start < piece_end:
                    out.append((name, piece_start, piece_end))
    return sorted(out, key=operator.itemgetter(1))


def phone_as_redundant(raw: str, spans: list[Span]) -> list[Span]:
    """The spans of a phone number written in the address (…369号 张三 13812345678) as ``redundant``, as
    SuperMap tags it: the tagger may read its digits as house and unit numbers, which then conflict with
    the same address written without the phone (the normalizer drops it from the text). A span reaching
    into the phone number is cut at its edge (501 电话:… keeps 501); the spans keep their boundaries, so a
    phone the tagger already read as redundant, character by character, is left as it was."""
    phones = phone_spans(raw)
    if not phones:
        return spans
    out: list[Span] = []
    for name, start, end in spans:
        if name == "redundant":
            out.append((name, start, end))
            continue
        for lo, hi in phones:
            if start < hi and lo < end:
                inside = (max(start, lo), min(end, hi))
                out.append(("redundant", *inside))
                # the longer side outside the phone keeps the span's name
                start, end = max((start, lo), (hi, end), key=lambda p: p[1] - p[0])
        while start < end and not raw[end - 1].isalnum():
            end -= 1
        while start < end and not raw[start].isalnum():
            start += 1
        if start < end:
            out.append((name, start, end))
    return sorted(out, key=lambda s: s[1])


#: A shop numbered along a floor or a street (1层108铺, 108号铺位, 108号门面房, F4商铺): its number (with a
#: letter straight before it), the shop's word.
_SHOP_NUMBER: Final[re.Pattern[str]] = re.compile(rf"(?<![A-Za-z\d])([A-Za-z]?\d+号?)({SHOP_WORDS})")
_SHOP_WORD_CHARS: Final[re.Pattern[str]] = re.compile(f"[{SHOP_WORD_CHARS}]")


def shop_number_as_room(raw: str, spans: list[Span]) -> list[Span]:
    """A shop's number read as the room it is, and the shop's word as ``redundant``, as the tagger reads
    108号商铺. It read 1层108铺 as a person's name and 1层109铺 as room 109, so two shops' numbers were
    never compared (the normalizer writes every form 108号商铺). A number the tagger gave another number
    element keeps it (青禾路5号门面: the shop front at door 5)."""
    if _SHOP_WORD_CHARS.search(raw) is None:
        return spans
    out = spans
    for shop in _SHOP_NUMBER.finditer(raw):
        lo, hi = shop.span(1)
        if not any(name in NUMERIC_ELEMENTS and start < hi and lo < end for name, start, end in out):
            out = _claimed(raw, out, lo, hi, new="roomno")
        lo, hi = shop.span(2)
        if not any(name in NUMERIC_ELEMENTS and start <= lo and hi <= end for name, start, end in out):
            out = _claimed(raw, out, lo, hi, new="redundant")
    return out


#: A building, tower, floor or room by its English word (Block A, Tower 2, Floor 12, Room 1201), as the
#: normalizer reads it (``synonyms``): before one letter (a building) or a number, not a range (Building
#: 1-2) nor inside a longer word (classroom1).
_ENGLISH_UNIT: Final[re.Pattern[str]] = re.compile(
    rf"(?<![A-Za-z])(?:(?P<lettered>{EN_BUILDING}|{EN_TOWER})\.?\s?[A-Za-z](?![A-Za-z])"
    rf"|(?P<building>{EN_BUILDING})\.?\s?\d{{1,3}}(?![\d-])"
    rf"|(?P<tower>{EN_TOWER})\s?\d{{1,2}}(?![\d-])"
    rf"|(?P<floor>{EN_FLOOR})\.?\s?\d{{1,3}}(?![\d-])"
    rf"|(?P<room>{EN_ROOM})\.?\s?\d{{1,5}}[A-Za-z]?(?![\dA-Za-z-]))",
    re.IGNORECASE,
)
_ENGLISH_ELEMENT: Final[dict[str, str]] = {
    "lettered": "houseno", "building": "houseno", "tower": "houseno", "floor": "floorno", "room": "roomno"
}  # fmt: skip
#: The English word at the start of such an element's text, for its value (Tower 2 → T2, Room 1201 → 1201).
_ENGLISH_WORD: Final[re.Pattern[str]] = re.compile(
    rf"(?:{EN_BUILDING}|({EN_TOWER})|{EN_FLOOR}|{EN_ROOM})(?![A-Za-z])\.?\s?", re.IGNORECASE
)


def english_units(raw: str, spans: list[Span]) -> list[Span]:
    """A building, tower, floor or room written with its English word (青禾大厦Tower 2 Room 1201) is that
    element, word and number together: no training address has one, and the tagger read "Tower 2 Room" as
    a sub-POI. Values as the Chinese words give them (``_value``: Tower 2 is T-2, as T2 and 塔2 are)."""
    if _TWO_LETTERS.search(raw) is None:
        return spans
    out = spans
    for unit in _ENGLISH_UNIT.finditer(raw):
        kind = next(name for name in _ENGLISH_ELEMENT if unit.group(name))
        out = _claimed(raw, out, unit.start(), unit.end(), new=_ENGLISH_ELEMENT[kind])
    return out


def _without_english_word(piece: str) -> str:
    """Tower 2 → T2, Room 1201 → 1201, Block A → A: the number as the Chinese words write it."""
    word = _ENGLISH_WORD.match(piece)
    if word is None:
        return piece
    rest = piece[word.end() :]
    return f"T{rest}" if word.group(1) and rest[:1].isdigit() else rest


#: A number with the floor letter after it (3F, １２ｆ): a floor, whatever follows (3F-301, 4F-018号).
_LETTERED_FLOOR: Final[re.Pattern[str]] = re.compile(r"[0-9０-９]{1,3}[FfＦｆ]")
_FLOOR_LETTER_CHARS: Final[re.Pattern[str]] = re.compile("[FfＦｆ]")
#: A room written with its floor and no dash (3F05, 12F019室): the floor, then the room's number.
_FLOOR_THEN_ROOM: Final[re.Pattern[str]] = re.compile(r"([0-9０-９]{1,3}[FfＦｆ])[0-9０-９]{1,4}[室号號铺]?")
#: What makes such a number a building's after all (3F栋, 3F号楼).
_BUILDING_AFTER: Final[re.Pattern[str]] = re.compile(r"[栋棟幢座]|号楼|號樓")


def lettered_floor(raw: str, spans: list[Span]) -> list[Span]:
    """A building or room number that is a number and the floor letter (青禾路18号3F-301, 大润发4F-024号)
    is the floor it says: the tagger reads 3F as a floor after a name (云杉大厦3F-301) but as a building
    after a road number in about one address of twenty (38 of 643 such corpus addresses, a shop code's
    4F-018 among them), and 3F-301 then never met 3楼301 (the normalizer writes 3F as 3层 either way).
    A room the tagger read whole with its floor before it (云杉广场3F05: room 3-F-5) is split as 3F-05
    is, into the floor and the room, so it meets 3楼05号 (half of the 100 corpus addresses with such a
    room came back whole, the other half split)."""
    if _FLOOR_LETTER_CHARS.search(raw) is None:
        return spans
    out = []
    for name, start, end in spans:
        if name in ("houseno", "roomno") and _BUILDING_AFTER.match(raw, end) is None:
            if _LETTERED_FLOOR.fullmatch(raw, start, end):
                name = "floorno"
            elif name == "roomno" and (joined := _FLOOR_THEN_ROOM.fullmatch(raw, start, end)):
                out.append(("floorno", start, joined.end(1)))
                start = joined.end(1)
        out.append((name, start, end))
    return out


#: A Mongolian village (嘎查, the 村 of Inner Mongolia's 苏木), perhaps with 村 after it, and its committee.
_GACHA: Final[re.Pattern[str]] = re.compile(r"([\u4e00-\u9fff]{1,8}?嘎查村?)((?:村民委员会|村委会|委员会)?)")


def gacha_as_village(raw: str, spans: list[Span]) -> list[Span]:
    """A 嘎查 the tagger read as a POI or a sub-POI (no training address has one) is the village it is,
    as 青禾村 is tagged, and a committee after it is a POI, as 青禾村村委会's is; only where the parse found
    no village. So two 嘎查 of one 苏木 are two villages (``conflicts.villages.community_conflict``)."""
    if "嘎查" not in raw or any(name == "community" for name, _, _ in spans):
        return spans
    out: list[Span] = []
    found = False
    for name, start, end in spans:
        village = None if found or name not in ("poi", "subpoi") else _GACHA.fullmatch(raw, start, end)
        if village is None:
            out.append((name, start, end))
            continue
        found = True
        out.append(("community", start, village.end(1)))
        if village.group(2):
            out.append(("poi", village.end(1), end))
    return out


#: What the parse changes in the tagger's spans, in order (each function's docstring says why).
_SPAN_FIXES: Final[tuple[Callable[[str, list[Span]], list[Span]], ...]] = (
    floor_by_word,
    attach_basement,
    join_door_letter,
    join_building_letter,
    keep_latin_words,
    tower_as_building,
    shop_number_as_room,
    phone_as_redundant,
    gacha_as_village,
    english_units,
    lettered_floor,
)


def _fixed(text: str, spans: list[Span]) -> list[Span]:
    for fix in _SPAN_FIXES:
        spans = fix(text, spans)
    return spans


_T = TypeVar("_T")

#: One component as plain values: ``Component``'s fields (name, text, start, end, value), in order.
Row = tuple[str, str, int, int, str]

#: Values of component texts already seen (element kind, text) -> value: most pieces of a table repeat
#: (division names, 号, 室...). Bounded; cleared when full.
_VALUES: dict[tuple[int, str], str] = {}
_VALUES_MAX: Final[int] = 1 << 16


#: A building named by a letter and 塔 (A塔, as A座): its value is the letter.
_TOWER_LETTER_FIRST: Final[re.Pattern[str]] = re.compile(f"{_TOWER_LETTER}塔")


def _value(name: str, piece: str) -> str:
    """``floor_value`` of a floor, ``numeric_value(piece)`` of another number element (a numbered tower's
    with its T: 塔1 and 1号塔楼 are T-1 as T1 is; A塔 is A, as A座 is), else ``width(piece)``; remembered."""
    kind = 2 if name == "floorno" else 1 if name in NUMERIC_ELEMENTS else 0
    key = (kind, piece)
    value = _VALUES.get(key)
    if value is None:
        if kind and piece[:1].isascii() and piece[:1].isalpha():  # Room 1201, Tower 2 (english_units)
            piece = _without_english_word(piece)
        if kind == 2:
            value = floor_value(piece)
        elif kind and "塔" in piece and name == "houseno" and not _TOWER_LETTER_FIRST.match(piece):
            value = f"T-{numeric_value(piece)}"
        else:
            value = numeric_value(piece) if kind else width(piece)
        if len(_VALUES) >= _VALUES_MAX:
            _VALUES.clear()
        _VALUES[key] = value
    return value


def _check(text: Any) -> str:
    if text is None:
        raise InputError("address is missing (None)")
    if not isinstance(text, str):
        raise InputError(f"address must be a string, got {type(text).__name__}")
    if not text.strip():
        raise InputError("address is empty or whitespace only")
    at = lone_surrogate_at(text)
    if at is not None:
        # components are offsets into the raw text, which must stay as given: the character cannot be
        # dropped as the matcher's cleaning does, and no tagger or writer can encode it
        code = ord(text[at])
        # U+DC80..U+DCFF is how Python carries an undecodable byte (command-line arguments, surrogateescape)
        why = f" (the undecodable byte 0x{code - 0xDC00:02X})" if 0xDC80 <= code <= 0xDCFF else ""
        raise InputError(f"a lone UTF-16 surrogate U+{code:04X} at character {at} is not text{why}")
    return text


class Tagger(Protocol):
    """What ``Parser`` needs of a tagger: spans of many texts at once (offsets into each text)."""

    def spans_many(
        self, texts: Sequence[str], forced: Sequence[Sequence[Span]] | None = None
    ) -> list[list[Span]]: ...


class _CrfStages:
    """The v1 CRFsuite tagger (features v2) behind the batched interface: one address at a time.

    It knows one tagging convention (NAACL-2019), so it has no ``domain``; kept so a model directory
    of that format still loads while the v2 model is being trained (see docs/parser.md)."""

    def __init__(self, crf: CrfTagger) -> None:
        self.crf = crf

    def spans_many(
        self, texts: Sequence[str], forced: Sequence[Sequence[Span]] | None = None
    ) -> list[list[Span]]:
        """``forced`` is not used in decoding (CRFsuite decodes alone); ``align_admin`` still makes the
        admin spans agree with the gazetteer afterwards."""
        return [self.crf.spans(text) for text in texts]


def load_tagger(model_dir: str | Path, domain: str | None = None) -> Tagger:
    """Open the tagger a model directory's ``parser.json`` names; ModelLoadError if unusable.

    Three formats: ``chartagger`` (``geoalign.address.chartagger``: hashed character features, batched
    Viterbi; ``domain`` picks which labelled data set's conventions to decode with — ``naacl``,
    ``ccks`` or ``supermap``, default the manifest's ``default_domain``), ``neural-chartagger``
    (``address.neural_tagger``: the accurate, slower ONNX tagger; domains as above) and ``crfsuite``
    (the v1 CRF, NAACL conventions only: any other ``domain`` is refused).
    """
    model_dir = resolve_model_dir(model_dir)
    manifest_path = model_dir / "parser.json"
    if not model_dir.is_dir():
        raise ModelLoadError(f"{model_dir}: no such parser model directory")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        kind = manifest.get("format", "crfsuite")
        if kind == NEURAL_FORMAT:
            return _shared_neural_tagger(model_dir, domain)
        version = manifest["feature_version"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelLoadError(f"{manifest_path}: not a parser model manifest ({exc})") from exc
    if kind == "crfsuite":
        return _load_crf(model_dir, manifest, domain)
    if kind != "chartagger":
        raise ModelLoadError(f"{manifest_path}: unknown parser model format {kind!r}")
    if version != FEATURE_VERSION:
        raise ModelLoadError(
            f"{model_dir}: model was trained with tagger features v{version}, this code computes "
            f"v{FEATURE_VERSION}; retrain it with scripts/train_parser.py"
        )
    try:
        model_file, default_domain = manifest["model"], manifest["default_domain"]
    except KeyError as exc:
        raise ModelLoadError(f"{manifest_path}: not a parser model manifest (missing {exc})") from exc
    return FastTagger(load_model(model_dir / model_file), domain or default_domain)


_neural_taggers: dict[tuple[Path, str | None], OnnxCharTagger] = {}
_neural_lock = threading.Lock()


def _shared_neural_tagger(model_dir: Path, domain: str | None) -> OnnxCharTagger:
    """One neural tagger per (directory, domain) in a process: ``Parser`` keeps a tagger per thread
    (the linear one is cheap to hold), but an ONNX session is large and safe to share between
    threads, so the service's parse threads use one session, not one each."""
    key = (model_dir.resolve(), domain)
    with _neural_lock:
        tagger = _neural_taggers.get(key)
        if tagger is None:
            tagger = _neural_taggers[key] = OnnxCharTagger(model_dir, domain)
        return tagger


def model_domains(model_dir: str | Path) -> tuple[str, ...]:
    """The tagging conventions (domains) a model directory can decode with; the first is its default."""
    tagger = load_tagger(model_dir)
    if isinstance(tagger, FastTagger):
        domains = tagger.model.domains
        default = domains[tagger.domain]
        return (default, *(d for d in domains if d != default))
    if isinstance(tagger, OnnxCharTagger):
        return (tagger.domain, *(d for d in DOMAINS if d != tagger.domain))
    return ("naacl",)


def _load_crf(model_dir: Path, manifest: dict[str, Any], domain: str | None) -> Tagger:
    from geoalign.address import tagger as crf

    if domain not in (None, "naacl"):
        raise ModelLoadError(
            f"{model_dir}: a crfsuite parser model knows only the naacl domain, not {domain!r}"
        )
    stages = manifest.get("stages")
    if manifest["feature_version"] != crf.FEATURE_VERSION:
        raise ModelLoadError(
            f"{model_dir}: model was trained with parser features v{manifest['feature_version']}, this code "
            f"computes v{crf.FEATURE_VERSION}; retrain it with scripts/train_parser.py"
        )
    if not isinstance(stages, list) or len(stages) not in (1, 2):
        raise ModelLoadError(f"{model_dir / 'parser.json'}: 'stages' must list one or two model files")
    second = model_dir / stages[1] if len(stages) == 2 else None
    return _CrfStages(crf.CrfTagger(model_dir / stages[0], second))


#: Tagged names that may hold an admin name (余杭经济开发区, 余杭区人民法院) and how much of them must reach
#: past the admin prefix for ``align_admin`` to keep them whole (a lone 区 or 市 is no name).
_NAMED_PLACES: Final[frozenset[str]] = frozenset({"devzone", "poi", "subpoi"})
_MIN_REST: Final[int] = 2
#: tagged levels ``align_admin`` replaces whole with the gazetteer's (浑南新区 → 浑南; 街道办事处 → 街道)
_ADMIN_LEVELS: Final[frozenset[str]] = frozenset({"prov", "city", "district", "town"})


#: The four municipalities (直辖市): province-level divisions that the labelled data calls a city.
_MUNICIPALITY_CODES: Final[frozenset[str]] = frozenset({"110000", "120000", "310000", "500000"})


def _labelled_level(found: gazetteer.Span) -> str:
    """The element a resolved admin name gets. A municipality written with 市 (上海市, 重庆市) is a
    ``city`` as all three labelled data sets write it (CCKS 61 of 62 times, NAACL 61 of 62, SuperMap 109
    of 109, when it stands once), though the gazetteer files it as a province; 上海 without 市 stays
    ``prov`` (上海上海市 is prov + city)."""
    level = found.level
    if level == "prov" and found.code in _MUNICIPALITY_CODES and found.text.endswith("市"):
        return "city"
    return str(level)


#: One character after an admin name that makes the two one name of their own, where the tagger reads
#: them as one: a road (曹县路, 河北线), a gate or area (中山门), a market (沙湾市场).
_NAME_END_AFTER_ADMIN: Final[frozenset[str]] = frozenset("路街道巷弄门线场桥站")


def align_admin(spans: list[Span], resolution: gazetteer.Resolution, text: str = "") -> list[Span]:
    """Make the admin spans agree with the gazetteer where it resolved them.

    Every span ``resolve`` found with one level (prov/city/district/town) becomes a component of that
    level; tagged spans overlapping it are dropped. Spans it did not resolve (ambiguous level, or no
    admin prefix found) keep the tagger's reading, and so does a name the tagger calls ``redundant``
    (a repeated copy of the admin prefix: which copy counts as redundant is a labelling convention the
    tagger learned, not something the gazetteer knows). ``text`` is what the tagger read (offsets index
    it); without it a one-character name ending (曹县 + 路) is not recognised.
    """
    found = resolution.spans
    if not found:
        return spans
    redundant = [(n0, n1) for n, n0, n1 in spans if n == "redundant"]
    # Plain loops, and the overlap test only when there is a redundant span (one address in four): this
    # runs once per parsed address, and was ~2.4x slower with an any() per span.
    fixed: list[Span] = [(_labelled_level(s), s.start, s.end) for s in found if s.level is not None]
    if redundant:
        fixed = [f for f in fixed if not any(n0 < f[2] and f[1] < n1 for n0, n1 in redundant)]
    if not fixed:
        return spans
    lo, hi = fixed[0][1], fixed[-1][2]  # resolve's spans are contiguous left to right: test the hull first
    kept: list[Span] = []
    for sp in spans:
        start, end = sp[1], sp[2]
        if end <= lo or start >= hi:
            kept.append(sp)
            continue
        for f in fixed:
            if start < f[2] and f[1] < end:
                if sp[0] in _ADMIN_LEVELS:
                    break  # an admin-level span is the gazetteer's to place: dropped
                rest = max(g[2] for g in fixed if start < g[2] and g[1] < end)
                if start <= f[1] and (
                    (sp[0] in _NAMED_PLACES and end - hi >= _MIN_REST)
                    or (end - rest == 1 and text[end - 1 : end] in _NAME_END_AFTER_ADMIN)
                ):
                    # a name that starts with the admin name and reaches past it (余杭经济开发区,
                    # 滨海新区经济技术开发区, 余杭区人民法院; 曹县路, 沙湾市场): the admin name is part of
                    # it, as the labelled data writes it
                    kept.append(sp)
                    fixed = [g for g in fixed if not (start < g[2] and g[1] < end)]
                elif end - rest >= _MIN_REST:
                    # else the gazetteer span wins; what the span holds past the admin names is kept
                    # under the tagger's name (杭州西湖 + 文化广场店 read as one span; 河南 + 省副食品公司),
                    # so no word of the address is lost. Another one-character rest is a tagging slip
                    # (西湖区文).
                    kept.append((sp[0], rest, end))
                break
        else:
            kept.append(sp)
    if len(kept) == len(spans) and all(f in spans for f in fixed):
        return spans
    kept += fixed
    kept.sort(key=_START)
    return kept


def forced_admin(raw: str, resolution: gazetteer.Resolution | None) -> list[Span]:
    """The admin names the tagger must label as the gazetteer resolved them (in the tagged prefix):
    every one with one level. Empty when one of them is written twice in the address (in full or
    short: 杭州道街道 … 杭州道): the address then repeats an admin prefix, and which copy is
    ``redundant`` is a labelling convention the tagger learned (see :func:`align_admin`), not something
    the gazetteer knows; forcing one copy would also change how the tagger reads the other."""
    if resolution is None:
        return []
    forced: list[Span] = []
    for found in resolution.spans:
        if found.level is None:
            continue
        short = gazetteer.short_name(found.text, found.level)
        if raw.count(found.text) > 1 or (short != found.text and raw.count(short) > 1):
            return []
        forced.append((_labelled_level(found), found.start, found.end))
    return forced


def _redundant_over_admin(spans: list[Span], resolution: gazetteer.Resolution) -> bool:
    """True when a ``redundant`` span overlaps an admin name the gazetteer resolved with one level."""
    for name, start, end in spans:
        if name == "redundant":
            for found in resolution.spans:
                if found.level is not None and start < found.end and found.start < end:
                    return True
    return False


#: a span's start (sort key of ``align_admin``; stable, as ``sorted`` with a lambda was)
_START: Final = operator.itemgetter(1)


class _Tagged(NamedTuple):
    """What the tagger made of one address: its spans, the gazetteer's reading of its admin prefix (None
    where the parse does not follow it), the text it read (the raw text without control and format
    characters, in simplified characters) and that text's offsets into the raw one (None: the same)."""

    spans: list[Span]
    resolution: gazetteer.Resolution | None
    text: str
    where: list[int] | None


class Parser:
    """A parser bound to one model directory (or ``"linear"`` / ``"neural"``, the shipped ones).
    ``parse``/``parse_many`` below use the shipped linear one.

    ``domain``: which data set's tagging conventions to decode with (see :func:`load_tagger`).
    ``admin_from_gazetteer``: make admin spans agree with ``gazetteer.resolve`` (see :func:`align_admin`).
    """

    #: addresses tagged per batch in ``parse_many`` (bounded memory; large enough to amortize numpy calls)
    BATCH: Final[int] = 2048

    def __init__(
        self,
        model_dir: str | Path = DEFAULT_MODEL_DIR,
        *,
        domain: str | None = None,
        admin_from_gazetteer: bool = True,
    ) -> None:
        self.model_dir = resolve_model_dir(model_dir)
        self.domain = domain
        self.admin_from_gazetteer = admin_from_gazetteer
        self._local = threading.local()

    def load(self) -> None:
        """Load this thread's tagger and the gazetteer now instead of at first use, side by side: the
        model is read in a helper thread while this one builds the gazetteer's indexes. Inflating the
        model's compressed weights (zlib) and checking them (crc32) release the GIL, the index build is
        pure Python, so on two cores most of the model's load time (~60 %) hides behind the build: the
        start-up of ``geoalign parse --file``. Errors of either load are raised here."""
        loaded: list[Tagger] = []
        failed: list[BaseException] = []

        def load_model_here() -> None:
            try:
                loaded.append(load_tagger(self.model_dir, self.domain))
            except BaseException as exc:  # re-raised below, in the caller's thread
                failed.append(exc)

        helper = threading.Thread(target=load_model_here, name="geoalign-load-tagger", daemon=True)
        helper.start()
        try:
            gazetteer.get("")  # builds the indexes (once per process)
        finally:
            helper.join()
        if failed:
            raise failed[0]
        self._local.tagger = loaded[0]

    def _tagger(self) -> Tagger:
        tagger: Tagger | None = getattr(self._local, "tagger", None)
        if tagger is None:
            tagger = load_tagger(self.model_dir, self.domain)
            self._local.tagger = tagger
        return tagger

    def _resolution(self, raw: str) -> gazetteer.Resolution | None:
        """The admin names ``raw`` starts with (or holds, inside prose), when the parse follows them."""
        if not self.admin_from_gazetteer:
            return None
        return gazetteer.resolve(raw[:MAX_TAG_CHARS], anywhere=True)

    def _tag(self, raws: Sequence[str]) -> list[_Tagged]:
        """Tagger spans of each text, its gazetteer resolution, and the text the tagger read with its
        offsets into the raw text (``_Tagged``).

        Where the tagger calls a resolved admin name ``redundant`` although the address never repeats
        it (北京望京SOHO T1 read as one redundant span), the text is decoded again with that name
        forced to its level (``forced_admin``): redundant means a repeated copy, and keeping the
        tagger's reading would leave the address with no components at all. Only those addresses are
        decoded twice; every other parse is the tagger's, aligned afterwards (``align_admin``)."""
        tagger = self._tagger()
        visible = [visible_text(raw) for raw in raws]
        texts = [fold_simplified(text) for text, _ in visible]
        resolutions = [self._resolution(text) for text in texts]
        spans = tagger.spans_many([text[:MAX_TAG_CHARS] for text in texts])
        again: list[int] = []
        forced: list[list[Span]] = []
        for i, (text, resolution, found) in enumerate(zip(texts, resolutions, spans, strict=True)):
            if resolution is None or not _redundant_over_admin(found, resolution):
                continue
            names = forced_admin(text, resolution)
            if names:
                again.append(i)
                forced.append(names)
        if again:
            redone = tagger.spans_many([texts[i][:MAX_TAG_CHARS] for i in again], forced)
            for i, found in zip(again, redone, strict=True):
                spans[i] = found
        return [
            _Tagged(found, resolution, text, where)
            for found, resolution, text, (_, where) in zip(spans, resolutions, texts, visible, strict=True)
        ]

    def _aligned(self, raw: str, tagged: _Tagged) -> tuple[str, list[Row]]:
        """``raw``'s normalized text (InputError when nothing is left of it) and its rows: each final
        span's offsets into ``raw`` and its value, read from the text the tagger read (``raw`` without
        control and format characters, ``fold_simplified``), so 1\x028号 is door 18, not 1-8."""
        normalized = normalize(raw)
        spans, resolution, text, where = tagged
        if resolution is not None:
            spans = align_admin(spans, resolution, text)
        rows = []
        for name, start, end in _fixed(text, spans):
            value = _value(name, text[start:end])
            if where is not None:
                start, end = where[start], where[end - 1] + 1
            rows.append((name, raw[start:end], start, end, value))
        return normalized, rows

    def _rows(self, raw: str, tagged: _Tagged) -> tuple[str, str, list[Row]]:
        """``(raw, normalized, rows)``: ``_components``' fields as plain tuples."""
        normalized, rows = self._aligned(raw, tagged)
        return raw, normalized, rows

    def _components(self, raw: str, tagged: _Tagged) -> Components:
        normalized, rows = self._aligned(raw, tagged)
        return Components(raw=raw, normalized=normalized, items=tuple(Component(*row) for row in rows))

    def parse(self, text: str) -> Components:
        """Components of one address.

        InputError for None, non-str, empty or whitespace-only input, and for input the normalizer
        finds nothing in (only punctuation or a phone number): there is no address to split.
        """
        raw = _check(text)
        (tagged,) = self._tag([raw])
        return self._components(raw, tagged)

    def parse_many(self, texts: Iterable[Any]) -> list[Components | ItemError]:
        """Parse many addresses, tagged in batches; a bad one gets an ItemError in its slot, never
        failing the rest. Same results as ``parse`` one by one."""
        return self._batched(texts, self._components)

    def parse_many_rows(self, texts: Iterable[Any]) -> list[tuple[str, str, list[Row]] | ItemError]:
        """``parse_many`` as plain tuples: ``(raw, normalized, rows)`` with a row ``(name, text, start, end,
        value)`` per component (``Component``'s fields, in order), or an ItemError. For writers of many
        results (``geoalign parse --file``), which need no objects in between."""
        return self._batched(texts, self._rows)

    def _batched(
        self,
        texts: Iterable[Any],
        build: Callable[[str, _Tagged], _T],
    ) -> list[_T | ItemError]:
        """``build(raw, tagged)`` of each address, tagged in batches of ``BATCH``; ItemError for bad
        ones."""
        out: list[_T | ItemError] = []
        pending: list[tuple[int, str]] = []

        def flush() -> None:
            for (slot, raw), tagged in zip(pending, self._tag([raw for _, raw in pending]), strict=True):
                try:
                    out[slot] = build(raw, tagged)
                except InputError as exc:
                    out[slot] = ItemError(exc.code, str(exc))
            pending.clear()

        for text in texts:
            try:
                raw = _check(text)
            except InputError as exc:
                out.append(ItemError(exc.code, str(exc)))
                continue
            pending.append((len(out), raw))
            out.append(ItemError("pending", ""))  # replaced by flush()
            if len(pending) >= self.BATCH:
                flush()
        if pending:
            flush()
        return out


_default: Parser | None = None
_default_lock = threading.Lock()


def default_parser() -> Parser:
    """The process-wide parser on the shipped model (created at first use)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Parser()
    return _default


_named: dict[Path, Parser] = {}


def _parser_for(model: str | Path | None) -> Parser:
    """The shipped fast parser (``None``), else one parser per model directory, kept for the process."""
    if model is None:
        return default_parser()
    directory = resolve_model_dir(model)
    with _default_lock:
        parser = _named.get(directory)
        if parser is None:
            parser = _named[directory] = Parser(directory)
    return parser


def parse(text: str, model: str | Path | None = None) -> Components:
    """Components of one address with the shipped fast parser, or with ``model``: ``"neural"`` (the
    accurate parser, about ten times slower), ``"linear"`` or a model directory."""
    return _parser_for(model).parse(text)


def parse_many(
    texts: Sequence[Any] | Iterable[Any], model: str | Path | None = None
) -> list[Components | ItemError]:
    """Parse many addresses (``model`` as for :func:`parse`); bad items become ItemError in their slot."""
    return _parser_for(model).parse_many(texts)
