"""The evaluation-only rewrites (``address.synth_eval``) on invented addresses: each changes what its
label says and nothing else, and none is among the training rewrites."""

from __future__ import annotations

import random

import pytest

from geoalign.address import gazetteer
from geoalign.address.synth import TRANSFORMS, generate_pairs
from geoalign.address.synth_eval import EVAL_TRANSFORMS


def rewrite(name: str, text: str, seed: int = 1) -> str | None:
    return EVAL_TRANSFORMS[name][0](text, random.Random(seed))


def test_no_evaluation_rewrite_is_a_training_one() -> None:
    assert not set(EVAL_TRANSFORMS) & set(TRANSFORMS)


@pytest.mark.parametrize("seed", range(5))
def test_another_district_is_a_sibling_of_the_same_city(seed: int) -> None:
    text = "浙江省杭州市西湖区文三路369号"
    new = rewrite("another_district", text, seed)
    assert new is not None and new.startswith("浙江省杭州市") and new.endswith("文三路369号")
    district = new[len("浙江省杭州市") : -len("文三路369号")]
    assert district != "西湖区"
    assert district in {d.name for d in gazetteer.siblings(gazetteer.lookup("西湖区")[0].code)}


def test_another_district_needs_a_district() -> None:
    assert rewrite("another_district", "文三路369号") is None


def test_former_name_reads_as_the_same_division() -> None:
    new = rewrite("former_name", "湖北省襄阳市樊城区人民路88号")
    assert new == "湖北省襄樊市樊城区人民路88号"
    assert gazetteer.resolve(new).city == "襄阳市"  # the gazetteer reads it back as today's city


def test_traditional_field_label_and_drop_room() -> None:
    assert rewrite("traditional", "杭州市东方花园3栋") == "杭州市東方花園3棟"
    assert rewrite("traditional", "123") is None  # nothing to write differently
    assert rewrite("field_label", "杭州市文三路369号").endswith("杭州市文三路369号")  # type: ignore[union-attr]
    assert rewrite("drop_room", "杭州市文三路369号3栋2单元501室") == "杭州市文三路369号3栋2单元"
    assert rewrite("drop_room", "杭州市文三路369号3栋501") == "杭州市文三路369号3栋"
    assert rewrite("drop_room", "杭州市文三路369号") is None  # a road number is no room


def test_gate_note_adds_a_gate_the_rule_layer_never_calls_noise() -> None:
    from geoalign.scorers.rules import _notes_are_noise

    new = rewrite("gate_note", "中心公园")
    assert new is not None and new.startswith("中心公园") and new.endswith(("门)", "门）"))
    assert not _notes_are_noise("中心公园", new)  # a part of the place: never lifted to exact_match
    assert rewrite("gate_note", "中心公园东门") is None  # already names a gate


def test_generate_pairs_takes_the_evaluation_rewrites() -> None:
    pairs = generate_pairs(
        ["浙江省杭州市西湖区文三路369号3栋2单元501室"], seed=3, per_address=9, transforms=EVAL_TRANSFORMS
    )
    assert {how for *_, how in pairs} == set(EVAL_TRANSFORMS) - {"former_name"}
    assert all(label == EVAL_TRANSFORMS[how][1] for _, _, label, how in pairs)


def test_traditional_keeps_characters_that_would_not_convert_back() -> None:
    assert rewrite("traditional", "杭州市江干区东方花园") == "杭州市江干區東方花園"  # not 江乾區


def test_zero_padded_pads_a_short_number_or_writes_a_padded_one_plain() -> None:
    from geoalign.address.normalize import normalize

    assert rewrite("zero_padded", "深圳市南山区高新南一道8号") == "深圳市南山区高新南一道008号"
    assert rewrite("zero_padded", "南山区学府路057号102") == "南山区学府路57号102"
    assert rewrite("zero_padded", "文三路369号3栋") == "文三路369号003栋"  # 369 is long enough
    assert rewrite("zero_padded", "杭州市西湖区") is None
    for text in ("深圳市南山区高新南一道8号", "文三路369号3栋"):  # the same place to the normalizer
        assert normalize(rewrite("zero_padded", text)) == normalize(text)  # type: ignore[arg-type]
