"""The address parser: known addresses, offsets/values, and invariants under arbitrary input.

Examples are written by hand (the NAACL-2019 data is research-only and never used by tests). They check
what any usable parser must get right on clean, typical addresses; they are not a measure of accuracy
(that is ``geoalign eval-parse`` on the dev split, recorded in docs/benchmarks.md).
"""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geoalign.address.normalize import normalize
from geoalign.address.parse import (
    DEFAULT_MODEL_DIR,
    MAX_TAG_CHARS,
    NUMERIC_ELEMENTS,
    Parser,
    numeric_value,
    parse,
    parse_many,
)
from geoalign.address.tagger import FEATURE_VERSION, Token, spans_from_bio, tokenize
from geoalign.errors import InputError, ModelLoadError
from geoalign.types import COMPONENT_NAMES, Components, ItemError


def _by_name(c: Components) -> dict[str, str]:
    return {item.name: item.text for item in c}


def _assert_invariants(raw: str, result: Components) -> None:
    assert result.raw == raw
    last_end = 0
    for item in result:
        assert item.name in COMPONENT_NAMES
        assert 0 <= item.start < item.end <= len(raw)
        assert raw[item.start : item.end] == item.text
        assert item.start >= last_end, "components overlap or are out of order"
        last_end = item.end
        assert item.value, "a component's value is never empty"


def test_the_issue_example() -> None:
    raw = "浙江省杭州市余杭区五常街道文一西路969号3号楼5层"
    result = parse(raw)
    _assert_invariants(raw, result)
    parts = _by_name(result)
    assert parts["prov"] == "浙江省"
    assert parts["city"] == "杭州市"
    assert parts["district"] == "余杭区"
    assert parts["town"] == "五常街道"
    assert parts["road"] == "文一西路"
    assert result.get("roadno") is not None and result.get("roadno").value == "969"  # type: ignore[union-attr]
    assert result.get("houseno").value == "3"  # type: ignore[union-attr]
    assert result.get("floorno").value == "5"  # type: ignore[union-attr]
    roadno = result.get("roadno")
    assert roadno is not None and (roadno.start, roadno.end) == (17, 21)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "浙江省宁波市鄞州区首南街道日丽中路757号",
            {"district": "鄞州区", "road": "日丽中路", "roadno": "757号"},
        ),
        ("杭州市西湖区文三路478号华星时代广场A座1202室", {"road": "文三路", "roomno": "1202室"}),
        ("温州市鹿城区五马街道解放街128号", {"city": "温州市", "town": "五马街道", "roadno": "128号"}),
    ],
)
def test_typical_addresses(raw: str, expected: dict[str, str]) -> None:
    result = parse(raw)
    _assert_invariants(raw, result)
    parts = _by_name(result)
    for name, text in expected.items():
        assert parts.get(name) == text, (name, parts)


def test_full_width_digits_keep_raw_offsets_and_get_ascii_values() -> None:
    raw = "浙江省杭州市余杭区文一西路９６９号"
    result = parse(raw)
    _assert_invariants(raw, result)
    roadno = result.get("roadno")
    assert roadno is not None
    assert roadno.text == "９６９号"
    assert roadno.value == "969"


def test_spaces_and_controls_do_not_shift_offsets() -> None:
    raw = "  浙江省 杭州市\t余杭区\u200b文一西路969号  "
    result = parse(raw)
    _assert_invariants(raw, result)
    assert result.get("roadno") is not None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("969号", "969"),
        ("三号楼", "3"),
        ("二十三层", "23"),
        ("B座", "B"),
        ("b座", "B"),
        ("0501室", "501"),
        ("12-3", "12-3"),
        ("１２号", "12"),
        ("顶楼", "顶楼"),
        ("0", "0"),
    ],
)
def test_numeric_value(text: str, value: str) -> None:
    assert numeric_value(text) == value


def test_non_numeric_elements_keep_width_folded_text() -> None:
    result = parse("浙江省杭州市西湖区ＡＢＣ大厦")
    for item in result:
        if item.name not in NUMERIC_ELEMENTS:
            assert "Ａ" not in item.value


@pytest.mark.parametrize("bad", [None, 42, b"bytes", "", "   ", "\t\n"])
def test_unusable_input_is_a_clear_input_error(bad: object) -> None:
    with pytest.raises(InputError):
        parse(bad)  # type: ignore[arg-type]


def test_parse_many_keeps_bad_items_in_their_slot() -> None:
    out = parse_many(["杭州市文一西路969号", None, "", "宁波市中山东路1号"])
    assert isinstance(out[0], Components) and isinstance(out[3], Components)
    assert isinstance(out[1], ItemError) and out[1].code == "invalid_input"
    assert isinstance(out[2], ItemError)


def test_very_long_input_is_tagged_only_up_to_the_limit() -> None:
    raw = "浙江省杭州市文一西路969号" * 8000  # 112,000 characters
    result = parse(raw)
    _assert_invariants(raw, result)
    assert result.items, "the tagged prefix still yields components"
    assert max(item.end for item in result) <= MAX_TAG_CHARS


def test_unusable_model_directory_is_a_model_load_error(tmp_path) -> None:
    with pytest.raises(ModelLoadError, match="manifest"):
        Parser(tmp_path).parse("杭州市")
    manifest = {"format": "crfsuite", "feature_version": FEATURE_VERSION, "stages": ["crf.model"]}
    (tmp_path / "parser.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="not found"):
        Parser(tmp_path).parse("杭州市")
    (tmp_path / "crf.model").write_bytes(b"not a crfsuite model")
    with pytest.raises(ModelLoadError, match="cannot load"):
        Parser(tmp_path).parse("杭州市")
    shutil.copyfile(DEFAULT_MODEL_DIR / "crf.model", tmp_path / "crf.model")
    assert Parser(tmp_path).parse("杭州市").raw == "杭州市"
    manifest["feature_version"] = FEATURE_VERSION + 1
    (tmp_path / "parser.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="retrain"):
        Parser(tmp_path).parse("杭州市")


def test_tokenize_groups_digit_and_latin_runs_and_folds_width() -> None:
    tokens = tokenize("A座１２0号 b")
    assert [(t.start, t.end, t.norm, t.kind) for t in tokens] == [
        (0, 1, "A", "l"),
        (1, 2, "座", "h"),
        (2, 5, "120", "d"),
        (5, 6, "号", "h"),
        (6, 7, " ", "s"),
        (7, 8, "B", "l"),
    ]


def test_spans_from_bio_is_conlleval_style() -> None:
    tokens = [Token(i, i + 1, "x", "h") for i in range(6)]
    tags = ["B-road", "I-road", "I-poi", "O", "I-poi", "B-poi"]
    # A stray I- starts a new chunk; O ends one; B- always starts one.
    assert spans_from_bio(tags, tokens) == [("road", 0, 2), ("poi", 2, 3), ("poi", 4, 5), ("poi", 5, 6)]


# --- properties -------------------------------------------------------------------------------------

_ADDRESSY = st.text(
    alphabet=st.sampled_from(list("浙江省杭州市余杭区街道路号楼单元层室村0123456789ABab-－１２ 　\t一二三")),
    max_size=60,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=80), _ADDRESSY))
def test_any_unicode_gives_components_or_input_error(raw: str) -> None:
    try:
        result = parse(raw)
    except InputError as exc:
        # Only input with no address in it is refused: blank, or nothing left for the normalizer.
        assert str(exc)
        if raw.strip():
            with pytest.raises(InputError):
                normalize(raw)
        return
    _assert_invariants(raw, result)
    assert result.normalized == normalize(raw)


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=40), st.text(max_size=10))
def test_parsing_is_deterministic_and_prefix_padding_shifts_offsets(raw: str, pad: str) -> None:
    pad = " " * len(pad)
    try:
        first = parse(raw)
    except InputError:
        return
    assert parse(raw) == first
    # Whitespace is never shown to the tagger, so leading spaces only shift every offset.
    shifted = parse(pad + raw)
    _assert_invariants(pad + raw, shifted)
    assert [(c.name, c.start - len(pad), c.end - len(pad), c.value) for c in shifted] == [
        (c.name, c.start, c.end, c.value) for c in first
    ]


# --- a tiny two-stage model trained in the test (exercises stacking and the manifest) ---------------


def _labelled(parts: list[tuple[str, str]]) -> tuple[str, list[Token], list[str]]:
    text = "".join(piece for piece, _ in parts)
    char_tags: list[str] = []
    for piece, name in parts:
        char_tags += [f"B-{name}"] + [f"I-{name}"] * (len(piece) - 1)
    tokens = tokenize(text)
    return text, tokens, [char_tags[t.start] for t in tokens]


def test_a_two_stage_model_trains_loads_and_tags(tmp_path) -> None:
    from geoalign.address.tagger import stack_features, token_features, train

    examples = [
        _labelled([("杭州市", "city"), ("文一西路", "road"), ("969号", "roadno"), ("西溪园", "poi")]),
        _labelled([("宁波市", "city"), ("中山东路", "road"), ("1号", "roadno"), ("天一广场", "poi")]),
        _labelled([("温州市", "city"), ("解放街", "road"), ("128号", "roadno"), ("五马大厦", "poi")]),
        _labelled([("杭州市", "city"), ("文三路", "road"), ("478号", "roadno"), ("华星大厦", "poi")]),
    ] * 3
    feats = [token_features(tokens, text) for text, tokens, _ in examples]
    tags = [t for _, _, t in examples]
    params: dict[str, Any] = {"c1": 0.0, "c2": 0.01, "max_iterations": 50, "min_freq": 1}
    train(zip(feats, tags, strict=True), tmp_path / "s1.model", **params)
    # The second stage sees gold tags here (a test shortcut; the script uses out-of-fold tags).
    stacked = [stack_features(f, t) for f, t in zip(feats, tags, strict=True)]
    assert any(x.startswith("had=city") for x in stacked[0][-1])
    train(zip(stacked, tags, strict=True), tmp_path / "s2.model", **params)
    manifest = {"feature_version": FEATURE_VERSION, "stages": ["s1.model", "s2.model"]}
    (tmp_path / "parser.json").write_text(json.dumps(manifest), encoding="utf-8")
    result = Parser(tmp_path).parse("宁波市文一西路478号")
    assert [(c.name, c.text, c.value) for c in result] == [
        ("city", "宁波市", "宁波市"),
        ("road", "文一西路", "文一西路"),
        ("roadno", "478号", "478"),
    ]
