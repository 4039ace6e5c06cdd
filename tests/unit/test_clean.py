from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geoalign.address.clean import DEFAULT_MAX_CHARS, Cleaned, clean, lone_surrogate_at, visible_text
from geoalign.types import ItemError


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (None, "missing"),
        (42, "not_a_string"),
        (b"bytes", "not_a_string"),
        ("", "empty"),
        (" \t\n ", "empty"),
        ("\u200b\ufeff", "empty"),
    ],
)
def test_unusable_values_become_item_errors(value: object, code: str) -> None:
    result = clean(value)
    assert isinstance(result, ItemError)
    assert result.code == code


def test_control_and_format_characters_are_removed_and_counted() -> None:
    result = clean("杭州市\x00文一西路\u200b969号\r\n3幢")
    assert isinstance(result, Cleaned)
    assert result.text == "杭州市文一西路969号 3幢"
    assert result.removed_controls == 2
    assert not result.truncated


def test_emoji_and_mixed_scripts_are_kept() -> None:
    result = clean("北京望京SOHO T1 🏢")
    assert isinstance(result, Cleaned)
    assert result.text == "北京望京SOHO T1 🏢"


def test_long_input_is_truncated_and_recorded() -> None:
    result = clean("路" * 100_000)
    assert isinstance(result, Cleaned)
    assert result.truncated
    assert len(result.text) == DEFAULT_MAX_CHARS
    short = clean("路" * 100_000, max_chars=10)
    assert isinstance(short, Cleaned) and short.text == "路" * 10


@given(st.text())
def test_clean_never_raises_and_output_is_clean(text: str) -> None:
    result = clean(text)
    if isinstance(result, Cleaned):
        assert result.text == result.text.strip()
        assert "  " not in result.text
        assert len(result.text) <= DEFAULT_MAX_CHARS
        assert clean(result.text) == Cleaned(result.text, False, 0)  # idempotent
    else:
        assert result.code == "empty"


def _walked(value: str) -> Cleaned | ItemError:
    """The per-character walk alone (no fast path): what clean() must equal."""
    import unicodedata

    out, removed = [], 0
    for ch in value:
        if ch in "\t\n\r\v\f":
            out.append(" ")
        elif unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn"}:
            removed += 1
        else:
            out.append(ch)
    text = " ".join("".join(out).split())
    if not text:
        return ItemError("empty", "address is empty after removing whitespace and control characters")
    truncated = len(text) > DEFAULT_MAX_CHARS
    return Cleaned(text[:DEFAULT_MAX_CHARS].rstrip() if truncated else text, truncated, removed)


# address characters, spaces of every kind, and one of each dropped category (Cc Cf Co Cn)
MIXED = "杭州市文三路369号 \u3000\u00a0\u2028\u200b\ufeff\x00\t\n🏢AＢ\ue000\U000e0001\u0378"


@given(st.text(alphabet=st.sampled_from(MIXED)))
def test_fast_path_equals_the_per_character_walk(text: str) -> None:
    # printable values skip the walk; the answer must be the walk's, whatever the characters
    assert clean(text) == _walked(text)


@pytest.mark.parametrize(
    ("text", "at"),
    [("文三路369号", None), ("\ud800", 0), ("文三路\udfff369号", 3), ("🏠文三路", None), ("a\ud83c", 1)],
)
def test_lone_surrogate_at_finds_the_first_unpaired_half(text: str, at: int | None) -> None:
    # an emoji is one code point in a Python string, not a surrogate pair: only unpaired halves count
    assert lone_surrogate_at(text) == at


def test_visible_text_maps_each_kept_character_to_its_place() -> None:
    assert visible_text("云杉路18号") == ("云杉路18号", None)
    assert visible_text("云杉路\u300018号") == ("云杉路\u300018号", None)  # a space is kept, not dropped
    text, where = visible_text("云\x02杉路\t1\u200b8号")
    assert text == "云杉路 18号"
    assert where == [0, 2, 3, 4, 5, 7, 8]


@given(st.text(max_size=40))
def test_visible_text_agrees_with_clean(value: str) -> None:
    """What the parser's tagger reads is what ``clean`` keeps, before spaces are collapsed."""
    text, where = visible_text(value)
    positions = range(len(value)) if where is None else where
    assert text == "".join(" " if value[i] in "\t\n\r\v\f" else value[i] for i in positions)
    cleaned = clean(value)
    if isinstance(cleaned, Cleaned) and not cleaned.truncated:
        assert cleaned.text == " ".join(text.split())
