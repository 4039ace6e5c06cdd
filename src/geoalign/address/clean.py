"""Safe cleaning: the only text change every scorer applies, neural ones included.

MGeo was trained on raw text, so neural scorers must not see normalized addresses. What every scorer may
do is reject unusable input with a clear error, drop control/format characters, trim, and truncate to a
configurable length — and record that it did so.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from geoalign.types import ItemError

#: Default longest address kept. Real addresses are under 100 characters; anything far longer is a
#: concatenated record or garbage, and would blow up a neural model's sequence length.
DEFAULT_MAX_CHARS = 256


@dataclass(frozen=True, slots=True)
class Cleaned:
    text: str
    truncated: bool
    removed_controls: int


def _is_dropped(ch: str) -> bool:
    # Cc = control (tabs, NUL, newlines...), Cf = format (zero-width spaces, BOM, bidi marks),
    # Cs = lone surrogates, Co/Cn = private use / unassigned: none carries address meaning.
    return unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn"}


def visible_text(text: str) -> tuple[str, list[int] | None]:
    """``text`` without the characters ``clean`` drops (control and format characters: the separator
    some exports put between every character, zero-width spaces), a tab or line break as a space, and
    the index in ``text`` of each character kept (None when none was dropped). ``clean`` is this, with
    spaces collapsed; the parser uses the indices, since its components are offsets into the raw text
    but its tagger must read the address itself."""
    # str.isprintable() is False exactly for categories Cc/Cf/Cs/Co/Cn and the separators other than
    # the ASCII space, so a printable text has nothing to drop or to turn into a space: skip the
    # per-character walk (most Chinese addresses; the walk cost ~8 µs a value)
    if text.isprintable():
        return text, None
    kept: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        if ch in "\t\n\r\v\f":
            kept.append(" ")
        elif _is_dropped(ch):
            continue
        else:
            kept.append(ch)
        where.append(i)
    return "".join(kept), None if len(where) == len(text) else where


def lone_surrogate_at(text: str) -> int | None:
    """Index of the first lone UTF-16 surrogate in ``text``, else None. Python strings (and JSON's
    ``"\\ud800"``) can hold one; no UTF encoding can, so such a string is not text to parse or echo."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def clean(value: Any, *, max_chars: int = DEFAULT_MAX_CHARS) -> Cleaned | ItemError:
    """Clean one address value, or say why it cannot be used.

    Error codes: ``missing`` (None), ``not_a_string``, ``empty`` (nothing left after cleaning).
    Whitespace inside the text becomes a single space (tabs and newlines are control characters).
    """
    if value is None:
        return ItemError("missing", "address is missing (None)")
    if not isinstance(value, str):
        return ItemError("not_a_string", f"address must be a string, got {type(value).__name__}")
    if value.isprintable():  # most Chinese addresses: nothing to walk (``visible_text``'s own test, inline)
        text, removed = value, 0
    else:
        text, kept = visible_text(value)
        removed = 0 if kept is None else len(value) - len(kept)
    text = " ".join(text.split())
    if not text:
        return ItemError("empty", "address is empty after removing whitespace and control characters")
    truncated = len(text) > max_chars
    if truncated:
        text = text[:max_chars].rstrip()
    return Cleaned(text, truncated, removed)
