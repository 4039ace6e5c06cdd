"""One element set for the parser, the written mapping from each labelled data set's scheme into it, and
readers for the three labelled formats.

The three public address-tagging data sets use overlapping but different schemes (docs/parser.md has the
full table and the reasons):

* ``naacl`` — NAACL-2019 (Li et al.): ``token TAG`` lines, **BIO** tags, runs of digits / Latin letters
  are one token; 21 element types; no ``O`` in practice (left-over text is ``redundant``/``otherinfo``).
* ``ccks`` — CCKS-2021 track 2 (Alibaba): one character a line, **BIES** tags, ``O`` for the rest; no
  roomno/person/redundant/otherinfo/country/subroad/subroadno, but ``village_group``, ``intersection``
  and ``distance``.
* ``supermap`` — SuperMap address-matching v2: WordPiece tokens (``##`` continuations, ``[UNK]``),
  **BMES** tags, 24 types of its own naming (``village``, ``group``, ``direction``,
  ``traffic_facility``...).

Everything is read into :class:`Example` (the raw text and character spans named in :data:`ELEMENTS`),
so training, evaluation and the tagger never see a scheme's own spelling. Reading is strict: a line that
is not ``token TAG`` or a tag that is not of the file's scheme raises ``DataFormatError`` naming the line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from geoalign.errors import DataFormatError
from geoalign.types import COMPONENT_NAMES

Span = tuple[str, int, int]
Format = Literal["naacl", "ccks", "supermap"]
FORMATS: Final[tuple[Format, ...]] = ("naacl", "ccks", "supermap")

#: The parser's element set: the NAACL-2019 / CCKS-2021 scheme (``types.COMPONENT_NAMES``) plus the three
#: CCKS elements NAACL lacks. Every scheme maps into it (below); the parser emits only these names.
ELEMENTS: Final[tuple[str, ...]] = (*COMPONENT_NAMES, "village_group", "intersection", "distance")

#: Native element name -> ours, per scheme. A name missing here is a format error (not silently ``O``).
#: SuperMap: ``village`` (行政村/自然村) is NAACL/CCKS ``community`` (their guidelines put 村 there);
#: ``group`` (村民小组, ``3组``) is CCKS ``village_group``; ``direction`` (东侧, 往北) is the ``assist``
#: of both guidelines (方位词/辅助定位词); ``traffic_facility`` (bus stops, stations: 63 characters in
#: train) is a named place, so ``poi``.
MAPPINGS: Final[dict[Format, dict[str, str]]] = {
    "naacl": {
        **{name: name for name in COMPONENT_NAMES},
        "devZone": "devzone",
        "subRoad": "subroad",
        "subRoadno": "subroadno",
    },
    "ccks": {
        name: name
        for name in (
            "prov",
            "city",
            "district",
            "devzone",
            "town",
            "community",
            "village_group",
            "road",
            "roadno",
            "poi",
            "subpoi",
            "houseno",
            "cellno",
            "floorno",
            "assist",
            "distance",
            "intersection",
        )
    },
    "supermap": {
        **{
            name: name
            for name in (
                "prov",
                "city",
                "district",
                "town",
                "community",
                "road",
                "subroad",
                "roadno",
                "subroadno",
                "poi",
                "subpoi",
                "houseno",
                "cellno",
                "floorno",
                "roomno",
                "devzone",
                "distance",
                "intersection",
                "assist",
                "redundant",
            )
        },
        "village": "community",
        "group": "village_group",
        "direction": "assist",
        "traffic_facility": "poi",
    },
}

#: Our elements each data set can contain (after mapping): its dev set is scored over these only, so a
#: set is never charged for an element its annotators did not tag.
SCHEME_ELEMENTS: Final[dict[Format, frozenset[str]]] = {
    fmt: frozenset(mapping.values()) for fmt, mapping in MAPPINGS.items()
}

#: Tag prefixes of each scheme: begin, inside, end, single (None where the scheme has none).
_PREFIXES: Final[dict[Format, frozenset[str]]] = {
    "naacl": frozenset("BIO"),
    "ccks": frozenset("BIESO"),
    "supermap": frozenset("BMESO"),
}

#: SuperMap's WordPiece placeholder for a character its vocabulary lacked; read as U+FFFD (one character,
#: so offsets stay one-to-one with the original address length).
UNKNOWN_TOKEN: Final[str] = "[UNK]"
UNKNOWN_CHAR: Final[str] = "\ufffd"


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled address: its text and gold spans (our element names, character offsets)."""

    text: str
    spans: tuple[Span, ...]
    source: Format


def _token_text(token: str, fmt: Format) -> str:
    if fmt == "supermap":
        if token == UNKNOWN_TOKEN:
            return UNKNOWN_CHAR
        if token.startswith("##") and len(token) > 2:
            return token[2:]
    return token


def spans_from_tags(tags: Sequence[tuple[str, str]], lengths: Sequence[int]) -> list[Span]:
    """Character spans from (prefix, element) tags over tokens of the given lengths, conlleval-style.

    B starts a chunk; I/M continue a chunk of the same element (else start one); E closes the current
    chunk of the same element (else is a one-token chunk); S is a one-token chunk; O ends a chunk.
    So a malformed sequence still gives well-formed, non-overlapping spans.
    """
    spans: list[Span] = []
    name: str | None = None
    start = end = pos = 0
    for (prefix, label), length in zip(tags, lengths, strict=True):
        tok_start, pos = pos, pos + length
        if prefix in ("I", "M", "E") and label == name:
            end = pos
            if prefix == "E":
                spans.append((label, start, end))
                name = None
            continue
        if name is not None:
            spans.append((name, start, end))
            name = None
        if prefix in ("B", "I", "M"):
            name, start, end = label, tok_start, pos
        elif prefix in ("E", "S"):
            spans.append((label, tok_start, pos))
    if name is not None:
        spans.append((name, start, end))
    return spans


def detect_format(lines: Iterable[str]) -> Format:
    """The scheme of a labelled file from its tag prefixes: M- means SuperMap (BMES), E-/S- without M-
    means CCKS (BIES), only B-/I-/O means NAACL (BIO). DataFormatError when no tag line is found."""
    prefixes: set[str] = set()
    seen = 0
    for line in lines:
        line = line.strip()
        if not line:
            continue
        tag = line.rpartition(" ")[2]
        prefixes.add(tag[:2] if tag != "O" else "O")
        seen += 1
        if "M-" in prefixes or seen >= 50_000:
            break
    if not seen:
        raise DataFormatError("no 'token TAG' lines to detect the format from")
    if "M-" in prefixes:
        return "supermap"
    if prefixes & {"E-", "S-"}:
        return "ccks"
    return "naacl"


def read_labelled(path: str | Path, fmt: Format | None = None) -> list[Example]:
    """Read a labelled file of any of the three formats (``fmt`` None: detected from its tags)."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"cannot read {path}: {exc}") from exc
    if fmt is None:
        try:
            fmt = detect_format(lines)
        except DataFormatError as exc:
            raise DataFormatError(f"{path}: {exc}") from exc
    if fmt not in MAPPINGS:
        raise DataFormatError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    mapping, allowed = MAPPINGS[fmt], _PREFIXES[fmt]
    out: list[Example] = []
    pieces: list[str] = []
    tags: list[tuple[str, str]] = []

    def flush() -> None:
        if pieces:
            spans = spans_from_tags(tags, [len(p) for p in pieces])
            out.append(Example("".join(pieces), tuple(spans), fmt))
            pieces.clear()
            tags.clear()

    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            flush()
            continue
        token, sep, tag = line.rpartition(" ")
        prefix, dash, native = tag.partition("-")
        ok = bool(sep and token) and prefix in allowed and (bool(dash and native) != (prefix == "O"))
        if ok and prefix != "O" and native not in mapping:
            raise DataFormatError(f"{path}:{lineno}: element {native!r} is not of the {fmt} scheme")
        if not ok:
            raise DataFormatError(f"{path}:{lineno}: expected 'token TAG' ({fmt} tags), got {line!r}")
        pieces.append(_token_text(token, fmt))
        tags.append((prefix, mapping[native] if prefix != "O" else ""))
    flush()
    return out
