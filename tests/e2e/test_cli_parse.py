"""``geoalign parse`` and ``geoalign eval-parse`` driven through the real CLI entry point."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from geoalign.cli.main import main

ISSUE_EXAMPLE = "浙江省杭州市余杭区五常街道文一西路969号3号楼5层"


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "geoalign", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def test_parse_one_address_prints_components_json() -> None:
    proc = _cli("parse", ISSUE_EXAMPLE)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["raw"] == ISSUE_EXAMPLE
    names = [c["name"] for c in data["components"]]
    assert names[:4] == ["prov", "city", "district", "town"]
    for comp in data["components"]:
        assert ISSUE_EXAMPLE[comp["start"] : comp["end"]] == comp["text"]
    roadno = next(c for c in data["components"] if c["name"] == "roadno")
    assert roadno["value"] == "969"


def test_parse_file_mode_answers_every_line_in_order(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text(f"{ISSUE_EXAMPLE}\n\n   \n宁波市中山东路1号\n", encoding="utf-8")
    proc = _cli("parse", "--file", str(src))
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 4
    assert lines[0]["raw"] == ISSUE_EXAMPLE
    assert lines[1]["error"]["code"] == "invalid_input" and lines[1]["line"] == 2
    assert lines[2]["error"]["code"] == "invalid_input" and lines[2]["line"] == 3
    assert lines[3]["raw"] == "宁波市中山东路1号"


def test_parse_file_mode_answers_a_badly_encoded_line_in_place(tmp_path: Path) -> None:
    src = tmp_path / "mixed.txt"
    src.write_bytes(
        "\ufeff杭州市文一西路969号\n".encode() + b"\xff\xfe bad\n" + "宁波市中山东路1号\n".encode()
    )
    proc = _cli("parse", "--file", str(src))
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line.get("raw") for line in lines] == ["杭州市文一西路969号", None, "宁波市中山东路1号"]
    assert lines[1]["error"]["code"] == "bad_encoding" and lines[1]["line"] == 2


def test_parse_reads_stdin_with_dash() -> None:
    proc = _cli("parse", "--file", "-", stdin="杭州市文一西路969号\r\n温州市解放街128号\n")
    assert proc.returncode == 0, proc.stderr
    raws = [json.loads(line)["raw"] for line in proc.stdout.splitlines()]
    assert raws == ["杭州市文一西路969号", "温州市解放街128号"]


def test_parse_usage_errors_are_one_clear_line(tmp_path: Path, capsys) -> None:
    assert main(["parse"]) == 2
    assert "give either one ADDRESS or --file" in capsys.readouterr().err
    assert main(["parse", "--file", str(tmp_path / "missing.txt")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["parse", "   "]) == 2
    assert "empty" in capsys.readouterr().err


def _write_bio(path: Path, addresses: list[list[tuple[str, str]]]) -> None:
    blocks = ["\n".join(f"{tok} {tag}" for tok, tag in addr) for addr in addresses]
    path.write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")


def _bio(text: str, name: str) -> list[tuple[str, str]]:
    return [(ch, ("B-" if i == 0 else "I-") + name) for i, ch in enumerate(text)]


def test_eval_parse_prints_table_and_micro_f1(tmp_path: Path) -> None:
    data = tmp_path / "gold.txt"
    # Hand-made, in the NAACL-2019 format; devZone spelling must be folded to devzone.
    _write_bio(
        data,
        [
            _bio("浙江省", "prov") + _bio("杭州市", "city") + _bio("余杭区", "district")
            + _bio("文一西路", "road") + [("969", "B-roadno"), ("号", "I-roadno")],
            _bio("宁波市", "city") + _bio("高新区", "devZone") + _bio("中山东路", "road")
            + [("1", "B-roadno"), ("号", "I-roadno")],
        ],
    )  # fmt: skip
    out_json = tmp_path / "scores.json"
    proc = _cli("eval-parse", "--data", str(data), "--json", str(out_json))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert re.fullmatch(r"micro-F1: [01]\.\d{4}", lines[-1])
    table_names = {line.split()[0] for line in lines[1:-2]}
    assert {"prov", "city", "district", "devzone", "road", "roadno", "micro"} <= table_names
    assert "devZone" not in proc.stdout
    scores = json.loads(out_json.read_text(encoding="utf-8"))
    assert scores["addresses"] == 2
    assert scores["micro"]["gold"] == 9
    assert f"{scores['micro']['f1']:.4f}" == lines[-1].split()[-1]


def test_eval_parse_rejects_a_malformed_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("浙 B-prov\n江省\n", encoding="utf-8")
    proc = _cli("eval-parse", "--data", str(bad))
    assert proc.returncode == 2
    assert "expected 'token TAG'" in proc.stderr
    proc = _cli("eval-parse", "--data", str(tmp_path / "none.txt"))
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_parse_file_with_workers_gives_the_same_lines(tmp_path: Path, monkeypatch) -> None:
    import geoalign.cli.parse as cli_parse

    monkeypatch.setattr(cli_parse, "BLOCK_LINES", 3)  # several blocks, spread over the workers
    lines = [
        ISSUE_EXAMPLE,
        "",
        "宁波市中山东路1号",
        "温州市解放街128号",
        "  ",
        "杭州市文三路478号A座1202室",
    ] * 2
    src = tmp_path / "in.txt"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    outs = []
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}.jsonl"
        with open(out, "w", encoding="utf-8") as fh:
            monkeypatch.setattr(sys, "stdout", fh)
            assert main(["parse", "--file", str(src), "--workers", workers]) == 0
        outs.append(out.read_text(encoding="utf-8"))
    assert outs[0] == outs[1]
    answers = [json.loads(line) for line in outs[0].splitlines()]
    assert len(answers) == len(lines)
    assert answers[4]["error"]["code"] == "invalid_input" and answers[4]["line"] == 5


def test_parse_file_blocks_shrink_at_the_end_for_several_workers(tmp_path: Path, monkeypatch) -> None:
    import geoalign.cli.parse as cli_parse

    monkeypatch.setattr(cli_parse, "BLOCK_LINES", 8)
    monkeypatch.setattr(cli_parse, "TAIL_LINES", 2)
    src = tmp_path / "in.txt"
    src.write_bytes(b"".join(f"line {i}\n".encode() for i in range(61)))
    lines = src.read_bytes().splitlines(keepends=True)
    for workers, sizes in ((1, [8] * 7 + [5]), (2, [8] * 5 + [6, 4, 3, 2, 2, 2, 2])):
        blocks = list(cli_parse._blocks(str(src), workers))
        assert [len(block) for _, block in blocks] == sizes
        assert [line for _, block in blocks for line in block] == lines  # every line once, in order
        assert [first for first, _ in blocks] == [1 + sum(sizes[:i]) for i in range(len(sizes))]


def test_eval_parse_reads_ccks_and_supermap_formats(tmp_path: Path) -> None:
    ccks = tmp_path / "c.conll"
    ccks.write_text(
        "浙 B-prov\n江 I-prov\n省 E-prov\n3 B-village_group\n组 E-village_group\n0 O\n\n", encoding="utf-8"
    )
    proc = _cli("eval-parse", "--data", str(ccks))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("format: ccks")
    assert "village_group" in proc.stdout
    supermap = tmp_path / "s.txt"
    supermap.write_text(
        "金 B-village\n北 M-village\n村 E-village\n120 B-roomno\n##1 E-roomno\n\n", encoding="utf-8"
    )
    proc = _cli("eval-parse", "--data", str(supermap), "--format", "supermap")
    assert proc.returncode == 0, proc.stderr
    table = {line.split()[0] for line in proc.stdout.splitlines()}
    assert {"community", "roomno"} <= table and "village" not in table
