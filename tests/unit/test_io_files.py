"""Files as they come: encodings (GBK, BOMs, UTF-16), Chinese headers, output formats and output paths."""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path

import pytest

from geoalign.errors import InputError
from geoalign.evaluate.errors import ERROR_COLUMNS, misjudged_rows
from geoalign.io import read_labelled_pairs, read_table, write_table
from geoalign.io.encoding import detect_encoding, has_marks, show_marks
from geoalign.io.formats import output_format
from geoalign.io.labels import LabelledPair
from geoalign.io.paths import check_output, check_writable, same_file
from geoalign.io.tables import looks_like_header
from geoalign.types import ItemError, Match

A1, B1 = "浙江省杭州市西湖区文三路369号", "文三路369号"
A2, B2 = "北京市朝阳区阜通东大街6号方恒国际中心A座", "阜通东大街6号"
TEXT = f"地址A,地址B\n{A1},{B1}\n{A2},{B2}\n"
ROWS = [[A1, B1], [A2, B2]]


def _values(table) -> list[list[object]]:
    rows = list(table.rows)
    assert all(r.error is None for r in rows), [r.error for r in rows]
    return [r.values for r in rows]


@pytest.mark.parametrize(
    ("name", "data", "encoding"),
    [
        ("utf8.csv", TEXT.encode("utf-8"), "utf-8-sig"),
        ("excel_utf8_bom.csv", codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        ("gbk.csv", TEXT.encode("gbk"), "gb18030"),
        ("gb18030.csv", (TEXT + "𠀀路1号,𠀀路\n").encode("gb18030"), "gb18030"),
        ("unicode_text.txt", TEXT.replace(",", "\t").encode("utf-16"), "utf-16"),
        ("utf16be.tsv", codecs.BOM_UTF16_BE + TEXT.replace(",", "\t").encode("utf-16-be"), "utf-16"),
        ("utf32.tsv", TEXT.replace(",", "\t").encode("utf-32"), "utf-32"),
    ],
)
def test_chinese_files_as_excel_writes_them(tmp_path: Path, name: str, data: bytes, encoding: str):
    path = tmp_path / name
    path.write_bytes(data)
    assert detect_encoding(path) == encoding
    table = read_table(path, count=True)
    assert table.encoding == encoding
    assert table.header and table.columns == ["地址A", "地址B"]
    values = _values(table)
    assert values[:2] == ROWS
    assert table.total == len(values)
    assert not any("\ufffd" in str(v) or has_marks(str(v)) for row in values for v in row)


def test_gbk_jsonl_and_labelled_pairs(tmp_path: Path):
    jsonl = tmp_path / "pairs.jsonl"
    lines = [json.dumps({"a": a, "b": b, "label": 2}, ensure_ascii=False) for a, b in ROWS]
    jsonl.write_bytes(("\n".join(lines) + "\n").encode("gbk"))
    assert [p.a for p in read_labelled_pairs(jsonl)] == [A1, A2]
    tsv = tmp_path / "pairs.tsv"
    tsv.write_bytes(f"地址A\t地址B\t标签\n{A1}\t{B1}\t2\n".encode("gbk"))
    (pair,) = read_labelled_pairs(tsv, a="地址A", b="地址B", label="标签")
    assert (pair.a, pair.b, pair.label, pair.line) == (A1, B1, "exact_match", 2)


def test_explicit_encoding_is_checked(tmp_path: Path):
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(("地址A,地址B\n" + f"{A1},{B1}\n" * 3).encode("gbk"))
    assert _values(read_table(gbk, encoding="GBK"))[0] == [A1, B1]
    # GBK bytes are not UTF-8: one line naming the encoding, the byte and the line
    with pytest.raises(InputError, match=r"not utf-8: cannot decode byte 0 \(line 1\).*--encoding"):
        read_table(gbk, encoding="utf-8")
    utf8 = tmp_path / "utf8.csv"
    utf8.write_bytes(f"a,b\n{A1},{B1}\n".encode())
    with pytest.raises(InputError, match=r"not gbk: cannot decode byte \d+ \(line 2\)"):
        read_table(utf8, encoding="gbk")
    bom = tmp_path / "bom.csv"
    bom.write_bytes(codecs.BOM_UTF16_LE + "a,b\n".encode("utf-16-le"))
    with pytest.raises(InputError, match="UTF-16 byte-order mark"):
        read_table(bom, encoding="gbk")
    with pytest.raises(InputError, match="unknown encoding 'klingon'"):
        read_table(utf8, encoding="klingon")


def test_undecidable_bytes_are_an_error_naming_where(tmp_path: Path):
    path = tmp_path / "x.tsv"
    # neither UTF-8 nor GB18030: bad bytes in several places
    path.write_bytes(b"a\tb\n" + b"\xff\xfe\x80x\t\xff1\n" * 5)
    with pytest.raises(InputError, match=r"cannot tell the text encoding \(not utf-8: byte 4 \(line 2\)"):
        read_table(path)


def test_one_damaged_row_in_a_good_file_is_an_error_row_without_fffd(tmp_path: Path):
    path = tmp_path / "pairs.tsv"
    body = "".join(f"{A1}\t{B1}\n" for _ in range(200))
    path.write_bytes(A1.encode() + b"\t\xff\xfe\n" + body.encode())
    rows = list(read_table(path).rows)
    assert rows[0].error is not None and rows[0].error.code == "bad_encoding"
    assert rows[0].error.message == "line 1: bytes that are not valid utf-8"
    assert rows[0].values == [A1, "\\xff\\xfe"]
    assert all(r.error is None and r.values == [A1, B1] for r in rows[1:])
    # the same in a GBK file: the other rows decode as GBK
    gbk = tmp_path / "gbk.tsv"
    gbk.write_bytes(A1.encode("gbk") + b"\t\xff\n" + body.encode("gbk"))
    rows = list(read_table(gbk).rows)
    assert rows[0].error is not None and "not valid gb18030" in rows[0].error.message
    assert all(r.values == [A1, B1] for r in rows[1:])


def test_marks_show_bytes():
    text = "文三路" + "".join(chr(0xDC00 + b) for b in b"\xb1\x00")
    assert has_marks(text) and show_marks(text) == "文三路\\xb1\\x00"
    assert not has_marks(A1) and show_marks(A1) == A1


def test_chinese_header_detection():
    assert looks_like_header(["地址A", "地址B"])
    assert looks_like_header(["门店名称", "详细地址", "序号"])
    assert looks_like_header(["省", "市", "区"])
    assert looks_like_header(["id", "地址"])
    assert not looks_like_header([A1, B1])
    assert not looks_like_header(["北京市", "海淀区中关村"])
    assert not looks_like_header(["文三路369号", "2"])
    # a column the caller names makes the row a header whatever it looks like
    assert looks_like_header(["起点", "终点"], expect=("起点", "1"))
    assert not looks_like_header(["起点", "终点"], expect=("1", "2"))


def test_named_column_makes_the_first_row_a_header(tmp_path: Path):
    path = tmp_path / "pairs.tsv"
    path.write_text(f"起点\t终点\n{A1}\t{B1}\n", encoding="utf-8")
    assert not read_table(path).header
    table = read_table(path, expect=("起点", "终点"))
    assert table.header and table.columns == ["起点", "终点"] and _values(table) == [[A1, B1]]


def test_jsonl_line_that_is_not_json_keeps_its_text(tmp_path: Path):
    path = tmp_path / "pairs.jsonl"
    good = json.dumps({"a": A1, "b": B1}, ensure_ascii=False)
    path.write_text(f"{good}\n{{not json {A2}\n[1, 2]\n42\n", encoding="utf-8")
    rows = list(read_table(path).rows)
    assert rows[0].raw is None and rows[0].error is None
    assert rows[1].error is not None and rows[1].error.code == "malformed_row"
    assert rows[1].raw == f"{{not json {A2}" and rows[1].values == [None, None]
    assert rows[2].raw is None  # an array gives values
    assert rows[3].raw == "42" and rows[3].error is not None


def test_output_format_refuses_unknown_and_txt():
    assert output_format("x.tsv") == "tsv" and output_format("x.JSONL") == "jsonl"
    assert output_format("x.txt", "csv") == "csv"
    for name in ("x.txt", "x.dat", "noext"):
        with pytest.raises(InputError, match=r"output format.*\.tsv, \.tab, \.csv, \.jsonl.*--output-format"):
            output_format(name)
    with pytest.raises(InputError) as info:
        output_format("x.txt", option=None)
    assert "--output-format" not in str(info.value)
    with pytest.raises(InputError, match="output format"):
        write_table("x.txt", ["a"], [["1"]])


def test_structured_cells_nest_in_jsonl_and_are_json_text_elsewhere(tmp_path: Path):
    error = {"code": "malformed_row", "message": "line 2: invalid JSON", "raw": "{oops 文三路"}
    rows = [["x", None], ["y", error]]
    write_table(tmp_path / "o.jsonl", ["a", "error"], rows)
    got = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines()]
    assert got == [{"a": "x", "error": None}, {"a": "y", "error": error}]
    for suffix in (".tsv", ".csv"):
        write_table(tmp_path / f"o{suffix}", ["a", "error"], rows)
        values = [r.values for r in read_table(tmp_path / f"o{suffix}", header=True).rows]
        assert json.loads(values[1][1]) == error and values[0][1] in ("", None)


def test_output_that_is_an_input_is_refused(tmp_path: Path):
    source = tmp_path / "in.xlsx"
    source.write_bytes(b"sheets")
    with pytest.raises(InputError, match="is the input file"):
        check_output(source, [source])
    with pytest.raises(InputError, match="is the input file"):
        check_output(tmp_path / "sub" / ".." / "in.xlsx", [None, source])
    link = tmp_path / "link.xlsx"
    link.symlink_to(source)
    hard = tmp_path / "hard.xlsx"
    os.link(source, hard)
    for other in (link, hard):
        assert same_file(other, source)
        with pytest.raises(InputError, match="is the input file"):
            check_output(other, [source])
    assert not same_file(tmp_path / "new.xlsx", source)
    check_output(tmp_path / "new" / "out.tsv", [source])  # a new directory is fine
    assert source.read_bytes() == b"sheets"


def test_unwritable_outputs_are_one_line_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(InputError, match="is a directory"):
        check_writable(tmp_path)
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(InputError, match="is not a directory"):
        check_writable(afile / "out.tsv")

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("geoalign.io.paths.tempfile.mkstemp", refuse)
    with pytest.raises(InputError, match=r"cannot write in .*\(Permission denied\)"):
        check_writable(tmp_path / "out.tsv")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_directory_is_refused(tmp_path: Path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(InputError, match="cannot write in"):
            check_writable(locked / "out.tsv")
    finally:
        locked.chmod(0o755)


def _match(label: str, probs: tuple[float, float, float]) -> Match:
    names = ("exact_match", "partial_match", "not_match")
    return Match(label, dict(zip(names, probs, strict=True)), "fake", "fake-v1")  # type: ignore[arg-type]


def test_misjudged_rows_keep_wrong_and_unscored_pairs():
    pairs = [
        LabelledPair(A1, B1, "exact_match", 2),
        LabelledPair(A2, B2, "not_match", 3),
        LabelledPair("", B2, "partial_match", 4),
    ]
    results = [
        _match("exact_match", (0.9, 0.05, 0.05)),
        _match("partial_match", (0.2, 0.7000004, 0.1)),
        ItemError("empty", "address is empty"),
    ]
    rows = list(misjudged_rows(pairs, results))
    assert ERROR_COLUMNS == (
        "line",
        "a",
        "b",
        "gold_label",
        "predicted_label",
        "p_exact_match",
        "p_partial_match",
        "p_not_match",
        "error",
    )
    assert rows == [
        [3, A2, B2, "not_match", "partial_match", 0.2, 0.7, 0.1, None],
        [4, "", B2, "partial_match", *[None] * 4, {"code": "empty", "message": "address is empty"}],
    ]
