"""``geoalign normalize`` and ``geoalign --version`` driven through the real CLI entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from geoalign.cli.main import main


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "geoalign", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def test_one_address_prints_json() -> None:
    proc = _cli("normalize", "北京朝阳区望京SOHO塔一")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data == {
        "text": "北京朝阳区望京SOHOT1栋",
        "original": "北京朝阳区望京SOHO塔一",
        "changed_by": ["units"],
        "truncated": False,
    }


def test_complete_admin_option_reports_the_resolution() -> None:
    proc = _cli("normalize", "--complete-admin", "榆阳区新建南路三号楼")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["text"] == "陕西省榆林市榆阳区新建南路3栋"
    assert data["admin"]["code"] == "610802" and data["admin"]["ambiguous"] is False
    proc = _cli("normalize", "--complete-admin", "朝阳区建国路")
    data = json.loads(proc.stdout)
    assert data["text"] == "朝阳区建国路" and data["admin"]["ambiguous"] is True
    assert sorted(data["admin"]["candidates"]) == ["北京市朝阳区", "吉林省长春市朝阳区"]


def test_file_mode_answers_every_line_in_order(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("臺北市中山區\n\n   \n电话：13812345678\n十二层\n", encoding="utf-8")
    proc = _cli("normalize", "--file", str(src))
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 5
    assert lines[0]["text"] == "台北市中山区"
    for i in (1, 2, 3):
        assert lines[i]["error"]["code"] == "invalid_input" and lines[i]["line"] == i + 1
    assert "nothing is left" in lines[3]["error"]["message"]
    assert lines[4]["text"] == "12层"


def test_stdin_with_dash_and_crlf() -> None:
    proc = _cli("normalize", "--file", "-", stdin="三号楼\r\n二零三房\n")
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["text"] for line in proc.stdout.splitlines()] == ["3栋", "203室"]


def test_max_chars(tmp_path: Path) -> None:
    proc = _cli("normalize", "--max-chars", "5", "北京市朝阳区望京")
    data = json.loads(proc.stdout)
    assert data["text"] == "北京市朝阳" and data["truncated"] is True


def test_usage_errors_are_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["normalize"]) == 2
    assert "give either one ADDRESS or --file" in capsys.readouterr().err
    assert main(["normalize", "--file", str(tmp_path / "missing.txt")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["normalize", "   "]) == 2
    assert "empty" in capsys.readouterr().err
    assert main(["normalize", "--max-chars", "0", "北京"]) == 2
    assert "--max-chars" in capsys.readouterr().err
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("北京\n".encode() + b"\xff\xfe\n")
    assert main(["normalize", "--file", str(bad)]) == 2
    assert "not UTF-8" in capsys.readouterr().err


def test_version_shows_gazetteer_data_version() -> None:
    proc = _cli("--version")
    assert proc.returncode == 0, proc.stderr
    assert "gazetteer: MCA Xzqh20251231 (as of 2025-12-31)" in proc.stdout
    assert "jionlp 1.5.31" in proc.stdout
