"""Table readers/writers, label files, atomic writes and the resumable partial output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from geoalign.errors import DataFormatError, InputError
from geoalign.io import atomic_path, detect_format, parse_label, read_labelled_pairs, read_table, write_table
from geoalign.io.resume import PartialOutput, input_fingerprint
from geoalign.io.tables import looks_like_header, resolve_column, unique_names

A1, B1 = "浙江省杭州市西湖区文三路369号", "文三路369号"
A2, B2 = "北京市朝阳区阜通东大街6号方恒国际中心A座", "阜通东大街6号"


def _rows(table):
    return list(table.rows)


def test_detect_format_by_suffix_and_explicit():
    assert detect_format("x.TSV") == "tsv"
    assert detect_format("x.csv") == "csv"
    assert detect_format("x.jsonl") == "jsonl"
    assert detect_format("x.parquet") == "parquet"
    assert detect_format("x.xlsx") == "xlsx"
    assert detect_format("x.dat", "csv") == "csv"
    with pytest.raises(InputError, match="--format"):
        detect_format("x.gz")
    with pytest.raises(InputError, match="unknown format"):
        detect_format("x.tsv", "xml")


def test_header_detection():
    assert looks_like_header(["a", "b", "label"])
    assert looks_like_header(["query", "address_b"])
    assert not looks_like_header([A1, B1, "2"])
    assert not looks_like_header(["a", "1"])


def test_headerless_tsv_and_malformed_rows(tmp_path: Path):
    path = tmp_path / "pairs.tsv"
    path.write_text(f"{A1}\t{B1}\n{A2}\n\n{A2}\t{B2}\textra\n{A2}\t{B2}\n", encoding="utf-8")
    table = read_table(path, count=True)
    assert table.columns == ["a", "b"]
    assert not table.header
    assert table.total == 5
    rows = _rows(table)
    assert [r.line for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].values == [A1, B1] and rows[0].error is None
    assert rows[1].error is not None and rows[1].error.code == "malformed_row"
    assert "line 2" in rows[1].error.message and rows[1].values == [A2, None]
    assert rows[2].error is not None and "empty line" in rows[2].error.message
    assert rows[3].error is not None and "got 3" in rows[3].error.message
    assert rows[4].error is None


def test_tsv_with_header_keeps_quotes_literally(tmp_path: Path):
    path = tmp_path / "pairs.tsv"
    path.write_text('addr1\taddr2\n"文三路"369号\t文三路\n', encoding="utf-8")
    table = read_table(path)
    assert table.header and table.columns == ["addr1", "addr2"]
    assert _rows(table)[0].values == ['"文三路"369号', "文三路"]


def test_header_can_be_forced(tmp_path: Path):
    path = tmp_path / "pairs.tsv"
    path.write_text("起点\t终点\n" + f"{A1}\t{B1}\n", encoding="utf-8")
    assert not read_table(path).header  # Chinese words that are not column-name words: not detected
    table = read_table(path, header=True)
    assert table.columns == ["起点", "终点"] and len(_rows(table)) == 1
    path.write_text("地址1\t地址2\n" + f"{A1}\t{B1}\n", encoding="utf-8")
    assert read_table(path).header  # Chinese column names are (issue 17)
    assert len(_rows(read_table(path, header=False))) == 2


def test_csv_quoting_multiline_and_long_cell(tmp_path: Path):
    long_cell = "文" * 100_000
    path = tmp_path / "pairs.csv"
    path.write_text(f'a,b\n"{A1}, 东门","line\nbreak"\n{long_cell},{B1}\n', encoding="utf-8")
    rows = _rows(read_table(path))
    assert rows[0].values == [f"{A1}, 东门", "line\nbreak"]
    assert rows[1].values[0] == long_cell and rows[1].line == 4


def test_invalid_utf8_is_an_error_row(tmp_path: Path):
    path = tmp_path / "pairs.tsv"
    path.write_bytes(A1.encode() + b"\t\xff\xfe\n" + f"{A2}\t{B2}\n".encode())
    rows = _rows(read_table(path))
    assert rows[0].error is not None and rows[0].error.code == "bad_encoding"
    assert rows[0].values[1] == "\\xff\\xfe"  # the bytes, shown; never U+FFFD (issue 17)
    assert rows[1].error is None


def test_jsonl_rows_and_errors(tmp_path: Path):
    path = tmp_path / "pairs.jsonl"
    lines = [
        json.dumps({"a": A1, "b": B1, "id": 1}, ensure_ascii=False),
        "{not json",
        json.dumps({"a": A2, "id": 3}, ensure_ascii=False),
        json.dumps([A2, B2, 4], ensure_ascii=False),
        "",
        json.dumps({"a": None, "b": 7, "id": 5}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = read_table(path)
    assert table.columns == ["a", "b", "id"]
    rows = _rows(table)
    assert rows[0].values == [A1, B1, 1] and rows[0].error is None
    assert rows[1].error is not None and "invalid JSON" in rows[1].error.message
    assert rows[2].error is not None and "missing keys" in rows[2].error.message
    assert rows[3].values == [A2, B2, 4] and rows[3].error is None
    assert rows[4].error is not None and rows[4].line == 5
    assert rows[5].values == [None, 7, 5] and rows[5].error is None  # the scorer reports these values


@pytest.mark.parametrize("suffix", [".tsv", ".csv", ".jsonl", ".parquet", ".xlsx"])
def test_write_then_read_round_trip(tmp_path: Path, suffix: str):
    path = tmp_path / f"out{suffix}"
    columns = ["a", "b", "label", "p"]
    rows = [[A1, B1, "exact_match", 0.9], [A2, "制表\t符", None, None]]
    write_table(path, columns, rows)
    table = read_table(path, header=True)
    assert table.columns == columns
    back = [r.values for r in table.rows]
    assert back[0][:3] == [A1, B1, "exact_match"]
    assert float(back[0][3]) == pytest.approx(0.9)
    assert back[1][1] in ("制表\t符", "制表 符")  # TSV cannot hold a tab in a cell
    assert not list(tmp_path.glob(".*tmp"))


def test_atomic_path_keeps_old_file_on_failure(tmp_path: Path):
    target = tmp_path / "out.tsv"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("boom")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert list(tmp_path.iterdir()) == [target]


def test_partial_output_resume_and_truncated_line(tmp_path: Path):
    source = tmp_path / "in.tsv"
    source.write_text("x\n", encoding="utf-8")
    out = tmp_path / "out.tsv"
    fp = input_fingerprint(source, a=0, b=1)
    part = PartialOutput(out, fp, ["a", "label"])
    assert part.start() == 0
    part.append([["x1", "exact_match"], ["x2", None]])
    with open(part.path, "a", encoding="utf-8") as handle:  # a crash in the middle of a line
        handle.write('["x3", "not')
    again = PartialOutput(out, fp, ["a", "label"])
    assert again.start() == 2
    again.append([["x3", "not_match"]])
    again.finish()
    assert not part.path.exists()
    assert out.read_text(encoding="utf-8").splitlines() == [
        "a\tlabel",
        "x1\texact_match",
        "x2\t",
        "x3\tnot_match",
    ]


def test_partial_output_from_other_options_starts_over(tmp_path: Path):
    source = tmp_path / "in.tsv"
    source.write_text("x\n", encoding="utf-8")
    out = tmp_path / "out.tsv"
    first = PartialOutput(out, input_fingerprint(source, a=0), ["a"])
    first.start()
    first.append([["x"]])
    other = PartialOutput(out, input_fingerprint(source, a=1), ["a"])
    assert other.start() == 0
    assert other.stale_reason and "starting over" in other.stale_reason


def test_resolve_column():
    cols = ["id", "query", "cand"]
    assert resolve_column(cols, "query") == 1
    assert resolve_column(cols, "3") == 2
    with pytest.raises(InputError):
        resolve_column(cols, "4")
    with pytest.raises(InputError):
        resolve_column(cols, "nope")


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_repeated_header_name_is_numbered_as_pandas_reads_it(tmp_path: Path, suffix: str):
    """Two columns called 地址 (an Excel export): a JSONL or Parquet output keyed by name kept one."""
    if suffix == ".xlsx":
        pytest.importorskip("openpyxl")
    path = tmp_path / f"t{suffix}"
    write_table(path, ["地址", "地址", "备注"], [["青禾路18号", "青禾路19号", "x"]])
    table = read_table(path, header=True)
    assert table.columns == ["地址", "地址.1", "备注"]
    assert [row.values for row in table.rows] == [["青禾路18号", "青禾路19号", "x"]]
    assert resolve_column(table.columns, "地址") == 0  # a name still finds its first column
    assert unique_names(["a", "a", "a.1"]) == ["a", "a.2", "a.1"]  # a name the table has is not taken


def test_parse_label():
    assert parse_label("exact_match") == "exact_match"
    assert parse_label("0") == "not_match"
    assert parse_label(1) == "partial_match"
    assert parse_label(" 2 ") == "exact_match"
    assert parse_label(2.0) == "exact_match"
    for bad in ("3", "same", True, None, -1):
        with pytest.raises(ValueError):
            parse_label(bad)


def test_read_labelled_pairs_tsv_and_jsonl(tmp_path: Path):
    tsv = tmp_path / "l.tsv"
    tsv.write_text(f"{A1}\t{B1}\t2\n{A2}\t{B2}\tpartial_match\n", encoding="utf-8")
    pairs = read_labelled_pairs(tsv)
    assert [(p.label, p.line) for p in pairs] == [("exact_match", 1), ("partial_match", 2)]
    jsonl = tmp_path / "l.jsonl"
    jsonl.write_text(json.dumps({"a": A1, "b": B1, "label": 0}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert read_labelled_pairs(jsonl)[0].label == "not_match"


def test_read_labelled_pairs_reports_bad_rows(tmp_path: Path):
    tsv = tmp_path / "l.tsv"
    tsv.write_text(f"{A1}\t{B1}\t2\n{A2}\t{B2}\tmaybe\n{A2}\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"2 bad rows.*line 2"):
        read_labelled_pairs(tsv)
    assert len(read_labelled_pairs(tsv, max_errors=2)) == 1


def test_atomic_write_gives_normal_permissions(tmp_path: Path):
    import os

    umask = os.umask(0o022)
    try:
        target = tmp_path / "new.txt"
        write_table(target.with_suffix(".tsv"), ["a"], [["x"]])
        assert (target.with_suffix(".tsv").stat().st_mode & 0o777) == 0o644
    finally:
        os.umask(umask)


def _jsonl_rows() -> list[list[Any]]:
    # every kind of cell a run writes: text, numbers, None, NaN, a nested object, JSON text in a
    # json column, text that only looks like JSON, and a value json cannot encode (written via str)
    return [
        ["杭州市文三路369号", 0.25, None, '{"code": "empty"}', {"k": [1, 2]}],
        ["x\ty", float("nan"), 3, "[not json", Path("p")],
        ["", 1, True, None, "plain"],
    ]


def test_partial_output_jsonl_finish_is_the_same_file_as_write_table(tmp_path: Path):
    # a JSON-lines sidecar holds the final lines already; its finish (a byte copy) must write exactly
    # what write_table writes from the same rows
    source = tmp_path / "in.tsv"
    source.write_text("x\n", encoding="utf-8")
    columns = ["a", "p", "n", "error", "extra"]
    reference = tmp_path / "reference.jsonl"
    write_table(reference, columns, _jsonl_rows(), json_columns=["error"])
    out = tmp_path / "out.jsonl"
    part = PartialOutput(out, input_fingerprint(source), columns, fmt="jsonl", json_columns=["error"])
    assert part.row_form == "objects"
    assert part.start() == 0
    part.append(_jsonl_rows()[:2])
    part.append(_jsonl_rows()[2:])
    read_back = list(part.rows())
    assert read_back[0][:3] == ["杭州市文三路369号", 0.25, None] and read_back[0][3] == {"code": "empty"}
    part.finish()
    assert not part.path.exists()
    assert out.read_bytes() == reference.read_bytes()


def test_partial_output_jsonl_resume_cuts_a_half_line(tmp_path: Path):
    source = tmp_path / "in.tsv"
    source.write_text("x\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    fp = input_fingerprint(source)
    part = PartialOutput(out, fp, ["a", "label"], fmt="jsonl")
    part.start()
    part.append([["x1", "exact_match"]])
    with open(part.path, "a", encoding="utf-8") as handle:
        handle.write('{"a": "x2", "la')
    again = PartialOutput(out, fp, ["a", "label"], fmt="jsonl")
    assert again.start() == 1
    again.append([["x2", None]])
    again.finish()
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == [
        {"a": "x1", "label": "exact_match"},
        {"a": "x2", "label": None},
    ]


def test_partial_output_for_another_output_format_starts_over(tmp_path: Path):
    # rows kept as arrays (for a TSV) are never copied as the lines of a JSON-lines file, nor the reverse
    source = tmp_path / "in.tsv"
    source.write_text("x\n", encoding="utf-8")
    fp = input_fingerprint(source)
    first = PartialOutput(tmp_path / "out", fp, ["a"], fmt="tsv")
    first.start()
    first.append([["x"]])
    other = PartialOutput(tmp_path / "out", fp, ["a"], fmt="jsonl")
    assert other.start() == 0
    assert other.stale_reason and "another output format" in other.stale_reason
