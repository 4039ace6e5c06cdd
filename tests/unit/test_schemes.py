"""Readers and element mappings of the three labelled formats, on hand-made files (the real data is
research-only and never used by tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from geoalign.address.schemes import (
    ELEMENTS,
    MAPPINGS,
    SCHEME_ELEMENTS,
    detect_format,
    read_labelled,
    spans_from_tags,
)
from geoalign.errors import DataFormatError
from geoalign.types import COMPONENT_NAMES


def _write(path: Path, sentences: list[list[str]]) -> Path:
    path.write_text("\n\n".join("\n".join(s) for s in sentences) + "\n", encoding="utf-8")
    return path


def test_element_set_is_a_superset_and_every_mapping_lands_in_it() -> None:
    assert set(COMPONENT_NAMES) <= set(ELEMENTS)
    for mapping in MAPPINGS.values():
        assert set(mapping.values()) <= set(ELEMENTS)
    assert "roomno" not in SCHEME_ELEMENTS["ccks"]
    assert {"village_group", "intersection", "distance"} <= SCHEME_ELEMENTS["ccks"]
    assert MAPPINGS["supermap"]["village"] == "community"
    assert MAPPINGS["supermap"]["group"] == "village_group"


def test_naacl_bio_with_token_runs_and_folded_spellings(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "n.txt",
        [
            [
                "宁 B-city",
                "波 I-city",
                "高 B-devZone",
                "新 I-devZone",
                "区 I-devZone",
                "602 B-roadno",
                "号 I-roadno",
            ]
        ],
    )
    (ex,) = read_labelled(path)
    assert ex.source == "naacl"
    assert ex.text == "宁波高新区602号"
    assert ex.spans == (("city", 0, 2), ("devzone", 2, 5), ("roadno", 5, 9))


def test_ccks_bies_with_o(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "c.conll",
        [
            ["塘 B-town", "下 E-town", "口 S-intersection", "0 O", "楼 O"],
            ["3 B-village_group", "组 E-village_group"],
        ],
    )
    first, second = read_labelled(path)
    assert first.source == "ccks"
    assert first.spans == (("town", 0, 2), ("intersection", 2, 3))
    assert second.spans == (("village_group", 0, 2),)


def test_supermap_wordpieces_unknown_and_mapped_names(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "s.txt",
        [
            [
                "金 B-village",
                "北 M-village",
                "村 E-village",
                "120 B-roomno",
                "##1 E-roomno",
                "[UNK] S-direction",
            ]
        ],
    )
    (ex,) = read_labelled(path)
    assert ex.source == "supermap"
    assert ex.text == "金北村1201\ufffd"
    assert ex.spans == (("community", 0, 3), ("roomno", 3, 7), ("assist", 7, 8))


def test_detect_format_from_prefixes() -> None:
    assert detect_format(["a B-x", "b I-x"]) == "naacl"
    assert detect_format(["a B-x", "b E-x", "c O"]) == "ccks"
    assert detect_format(["a B-x", "b M-x", "c E-x"]) == "supermap"
    with pytest.raises(DataFormatError):
        detect_format(["", " "])


def test_malformed_sequences_still_give_well_formed_spans() -> None:
    tags = [("I", "road"), ("E", "road"), ("E", "poi"), ("M", "poi"), ("O", ""), ("S", "x")]
    assert spans_from_tags(tags, [1, 1, 1, 1, 1, 1]) == [
        ("road", 0, 2),
        ("poi", 2, 3),
        ("poi", 3, 4),
        ("x", 5, 6),
    ]


@pytest.mark.parametrize(
    ("lines", "fmt", "message"),
    [
        (["浙 B-prov", "江省"], "naacl", "expected 'token TAG'"),
        (["浙 E-prov"], "naacl", "expected 'token TAG'"),
        (["浙 B-planet"], "ccks", "not of the ccks scheme"),
        (["浙 B-roomno"], "ccks", "not of the ccks scheme"),
    ],
)
def test_bad_lines_raise_with_the_line(tmp_path: Path, lines: list[str], fmt: str, message: str) -> None:
    path = _write(tmp_path / "bad.txt", [lines])
    with pytest.raises(DataFormatError, match=message):
        read_labelled(path, fmt)  # type: ignore[arg-type]
