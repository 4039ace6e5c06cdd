"""Files as a Chinese data team has them, through the real CLI: GBK / BOM / UTF-16 inputs, Chinese
column names, JSONL error objects, output names and paths, ``eval --errors`` (issue 17)."""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path

import pytest

from geoalign.cli.main import main
from geoalign.evaluate.errors import ERROR_COLUMNS
from geoalign.io.tables import read_table

A1, B1 = "浙江省杭州市西湖区文三路369号", "文三路369号"
A2, B2 = "北京市朝阳区阜通东大街6号方恒国际中心A座", "上海市浦东新区世纪大道100号"
LABELS = ("exact_match", "partial_match", "not_match")
#: the shipped embedded matcher: no training, no neural model, fast
SCORER = ["--scorer", "structured", "--no-progress"]


def _score(*args: str) -> int:
    return main(["score", *args, *SCORER])


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("gbk.csv", lambda text: text.encode("gbk")),
        ("excel.csv", lambda text: codecs.BOM_UTF8 + text.encode("utf-8")),
        ("unicode.txt", lambda text: text.replace(",", "\t").encode("utf-16")),
    ],
)
def test_score_reads_excel_exports(tmp_path: Path, name: str, encode, capsys: pytest.CaptureFixture[str]):
    source = tmp_path / name
    source.write_bytes(encode(f"编号,地址A,地址B\n1,{A1},{B1}\n2,{A2},{B2}\n"))
    out = tmp_path / "out.jsonl"
    assert _score(str(source), "-o", str(out), "--a", "地址A", "--b", "地址B") == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["编号"], r["地址A"], r["地址B"]) for r in rows] == [("1", A1, B1), ("2", A2, B2)]
    assert all(r["error"] is None and r["label"] in LABELS for r in rows)
    assert "\ufffd" not in out.read_text(encoding="utf-8")
    assert "0 error rows" in capsys.readouterr().err


def test_chinese_column_names_need_no_header_flag(tmp_path: Path):
    source = tmp_path / "pairs.tsv"
    # "起点/终点" are not column-name words: naming them with --a/--b makes the first row the header
    source.write_bytes(f"起点\t终点\n{A1}\t{B1}\n".encode("gbk"))
    out = tmp_path / "out.tsv"
    assert _score(str(source), "-o", str(out), "--a", "起点", "--b", "终点") == 0
    table = read_table(out, header=True)
    assert table.columns[:2] == ["起点", "终点"]
    (row,) = [r.values for r in table.rows]
    assert row[:2] == [A1, B1] and row[2] in LABELS


def test_wrong_encoding_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    source = tmp_path / "gbk.csv"
    source.write_bytes(f"地址A,地址B\n{A1},{B1}\n".encode("gbk"))
    out = tmp_path / "out.csv"
    assert _score(str(source), "-o", str(out), "--encoding", "utf-8") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("geoalign score: error: ") and "not utf-8" in err and "byte 0 (line 1)" in err
    assert not out.exists()
    assert _score(str(source), "-o", str(out), "--encoding", "gb18030") == 0
    assert [r.values[:2] for r in read_table(out).rows] == [[A1, B1]]


def test_every_row_failing_is_not_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    source = tmp_path / "pairs.tsv"
    source.write_text(f"{A1}\t \n{A2}\t \n", encoding="utf-8")  # every b is blank
    out = tmp_path / "out.tsv"
    assert _score(str(source), "-o", str(out)) == 2
    err = capsys.readouterr().err
    assert "all 2 rows failed (first: empty: line 1" in err
    assert len(list(read_table(out, header=True).rows)) == 2  # the error rows are still written


def test_jsonl_error_is_an_object_and_bad_lines_keep_their_text(tmp_path: Path):
    source = tmp_path / "in.jsonl"
    good = json.dumps({"a": A1, "b": B1}, ensure_ascii=False)
    source.write_text(f"{good}\n{{broken {A2}\n" + json.dumps({"a": "", "b": B1}) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert _score(str(source), "-o", str(out), "--a", "a", "--b", "b") == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows[0]["error"] is None and rows[0]["label"] in LABELS
    assert (
        rows[1]["error"]["code"] == "malformed_row" and "line 2: invalid JSON" in rows[1]["error"]["message"]
    )
    assert rows[1]["error"]["raw"] == f"{{broken {A2}"
    assert rows[2]["error"]["code"] == "empty" and "raw" not in rows[2]["error"]
    # other formats hold the same object as JSON text
    tsv = tmp_path / "out.tsv"
    assert _score(str(source), "-o", str(tsv), "--a", "a", "--b", "b") == 0
    values = [r.values for r in read_table(tsv, header=True).rows]
    assert json.loads(values[1][-1])["raw"] == f"{{broken {A2}"


def test_unknown_output_suffix_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    source = tmp_path / "in.tsv"
    source.write_text(f"{A1}\t{B1}\n", encoding="utf-8")
    out = tmp_path / "x.txt"
    assert _score(str(source), "-o", str(out)) == 2
    err = capsys.readouterr().err
    assert "cannot tell the output format" in err and ".tsv" in err and "--output-format" in err
    assert not out.exists()
    assert _score(str(source), "-o", str(out), "--output-format", "tsv") == 0
    assert out.read_text(encoding="utf-8").startswith("a\tb\tlabel\t")


def test_output_equal_to_input_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    source = tmp_path / "in.tsv"
    source.write_text(f"{A1}\t{B1}\n", encoding="utf-8")
    before = source.read_bytes()
    link = tmp_path / "alias.tsv"
    link.symlink_to(source)
    hard = tmp_path / "hard.tsv"
    os.link(source, hard)
    for out in (source, link, hard, tmp_path / "." / "in.tsv"):
        assert _score(str(source), "-o", str(out)) == 2
        assert "is the input file" in capsys.readouterr().err
    assert source.read_bytes() == before


def test_unwritable_output_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    source = tmp_path / "in.tsv"
    source.write_text(f"{A1}\t{B1}\n", encoding="utf-8")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert _score(str(source), "-o", str(blocker / "out.tsv")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is not a directory" in err
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        try:
            assert _score(str(source), "-o", str(locked / "out.tsv")) == 2
            assert "cannot write in" in capsys.readouterr().err
        finally:
            locked.chmod(0o755)


def test_oserror_is_one_line_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    source = tmp_path / "in.tsv"
    source.write_text(f"{A1}\t{B1}\n", encoding="utf-8")

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device", str(tmp_path / "out.tsv.partial"))

    monkeypatch.setattr("geoalign.io.resume.PartialOutput.append", full)
    assert _score(str(source), "-o", str(tmp_path / "out.tsv")) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"geoalign score: error: No space left on device: {tmp_path / 'out.tsv.partial'}"


def test_eval_errors_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    pairs = tmp_path / "labelled.csv"
    rows = [
        (A1, B1, "exact_match"),
        (A1, A1, "not_match"),  # identical addresses labelled not_match: misjudged by any sane scorer
        (A2, B2, "exact_match"),  # different cities labelled exact: misjudged too
        ("   ", B2, "not_match"),  # cannot be scored
    ]
    text = "地址A,地址B,标签\n" + "".join(f"{a},{b},{label}\n" for a, b, label in rows)
    pairs.write_bytes(text.encode("gbk"))
    out = tmp_path / "wrong.tsv"
    args = ["eval", "--pairs", str(pairs), "--errors", str(out), *SCORER, "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    table = read_table(out, header=True)
    assert table.columns == list(ERROR_COLUMNS)  # the literal names are pinned in test_io_files
    got = [dict(zip(table.columns, r.values, strict=True)) for r in table.rows]
    wrong = report["n"] - round(report["accuracy"] * report["n"])
    assert len(got) == wrong + report["unscored"]
    by_line = {int(r["line"]): r for r in got}
    assert {3, 4, 5} <= set(by_line)
    assert by_line[3]["a"] == A1 and by_line[3]["gold_label"] == "not_match"
    assert by_line[3]["predicted_label"] != "not_match"
    probs = [float(by_line[3][f"p_{name}"]) for name in LABELS]
    assert sum(probs) == pytest.approx(1.0, abs=1e-4) and by_line[3]["error"] == ""
    assert by_line[5]["predicted_label"] == "" and json.loads(by_line[5]["error"])["code"] == "empty"
    for r in got:  # only misjudged or unscored pairs
        assert r["error"] or r["predicted_label"] != r["gold_label"]
    # the errors file may not replace the labelled file
    assert main(["eval", "--pairs", str(pairs), "--errors", str(pairs), *SCORER]) == 2
    assert "is the input file" in capsys.readouterr().err


def test_link_and_dedupe_read_gbk_with_chinese_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    left = tmp_path / "门店.csv"
    left.write_bytes(f"编号,地址\nL1,{A1}\nL2,\n".encode("gbk"))
    right = tmp_path / "poi.txt"  # Excel's "Unicode text": UTF-16 TSV
    right.write_bytes(f"编号\t地址\nR1\t{A1}\nR2\t{A2}\n".encode("utf-16"))
    out = tmp_path / "linked.jsonl"
    args = ["link", str(left), str(right), "--left-col", "地址", "--right-col", "地址"]
    ids = ["--left-id", "编号", "--right-id", "编号", "--no-progress"]
    assert main([*args, *ids, "-o", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["left_id"], r["status"]) for r in rows] == [("L1", "match"), ("L2", "error")]
    assert rows[0]["right_id"] == "R1" and rows[1]["error"]["code"] == "empty"
    assert "\ufffd" not in out.read_text(encoding="utf-8")
    capsys.readouterr()
    # a wrong --encoding, an output that is an input, an unknown suffix: one line each, before any work
    assert main([*args, *ids, "-o", str(tmp_path / "o.csv"), "--encoding", "utf-8"]) == 2
    assert "not utf-8" in capsys.readouterr().err
    assert main([*args, *ids, "-o", str(right)]) == 2
    assert "is the input file" in capsys.readouterr().err
    assert main([*args, *ids, "-o", str(tmp_path / "o.txt")]) == 2
    assert "cannot tell the output format" in capsys.readouterr().err
    clusters = tmp_path / "clusters.csv"
    dedupe = ["dedupe", str(left), "--col", "地址", "--id", "编号", "--no-progress", "-o", str(clusters)]
    assert main(dedupe) == 0
    assert [r.values[:1] for r in read_table(clusters).rows] == [["L1"], ["L2"]]
    assert main([*dedupe, "--edges", str(left)]) == 2
    assert "--edges" in capsys.readouterr().err
