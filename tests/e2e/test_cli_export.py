"""``geoalign export`` end to end: a tiny MGeo directory -> an ONNX directory -> ``geoalign match`` on it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.fixtures_mgeo import small_config, write_modelscope_dir
from tests.servers import require_module

from geoalign.cli.main import main
from geoalign.scorers.manifest import MANIFEST_NAME, read_manifest

pytestmark = pytest.mark.torch


@pytest.fixture(autouse=True, scope="module")
def _extras() -> None:
    """Every test here exports: torch + transformers load the checkpoint, onnx + onnxruntime run it."""
    for name in ("torch", "transformers"):
        require_module(name, "torch")
    require_module("onnx", "export")
    require_module("onnxruntime", "onnx")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "geoalign", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_modelscope_dir(tmp_path_factory.mktemp("cli") / "mgeo", config=small_config())


def test_export_then_match_with_the_exported_directory(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "onnx"
    proc = _cli("export", "--model", str(model_dir), "--out", str(out), "--optimize", "--int8")
    assert proc.returncode == 0, proc.stderr
    assert "parity fp32: max_abs_logit_diff=" in proc.stderr and "-> passed" in proc.stderr
    assert "int8" in proc.stdout and "parity passed" in proc.stdout
    manifest = read_manifest(out)
    assert set(manifest.variants) == {"fp32", "fused", "int8"}

    pair = ("杭州市西湖区文一西路969号", "文一西路969号")
    match = _cli("match", *pair, "--model", str(out), "--json", "--no-rules")
    assert match.returncode == 0, match.stderr
    result = json.loads(match.stdout)
    assert result["scorer"] == "onnx" and result["model"] == manifest.variants["int8"].model_id
    assert set(result["probabilities"]) == {"exact_match", "partial_match", "not_match"}

    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("杭州市西湖区文一西路969号\t文一西路969号\n上海市浦东新区\t\n", encoding="utf-8")
    scored = _cli(
        "score", str(pairs), "-o", str(tmp_path / "out.jsonl"), "--model", str(out), "--no-progress"
    )
    assert scored.returncode == 0, scored.stderr
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rows[0]["label"] in {"exact_match", "partial_match", "not_match"} and rows[1]["error"]

    profiled = _cli("profile", "--scorer", "onnx", "--model", str(out), "--pairs", str(pairs))
    assert profiled.returncode == 0, profiled.stderr
    assert "scorer: onnx" in profiled.stdout and "forward" in profiled.stdout
    # --model alone picks the onnx backend from the export manifest, as match/score/eval do.
    detected = _cli("profile", "--model", str(out), "--pairs", str(pairs))
    assert detected.returncode == 0, detected.stderr
    assert "scorer: onnx" in detected.stdout


def test_json_manifest_and_fp16_warning(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.warns(UserWarning, match="NOT checked"):
        rc = main(["export", "--model", str(model_dir), "--out", str(tmp_path / "o"), "--fp16", "--json"])
    assert rc == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["variants"]["fp16"]["parity"]["status"] == "not_checked"
    assert "parity fp16: not checked" in captured.err


def test_parity_pairs_from_a_file(model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(
        "杭州市文一西路969号\t文一西路969号\t2\n上海市浦东新区\t北京市海淀区\t0\n", encoding="utf-8"
    )
    args = ["export", "--model", str(model_dir), "--out", str(tmp_path / "o"), "--parity-pairs", str(pairs)]
    assert main(args) == 0
    assert read_manifest(tmp_path / "o").variants["fp32"].parity["pairs"] == 2


def test_errors_are_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["export", "--model", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 1
    assert "model directory not found" in capsys.readouterr().err
    assert main(["export", "--out", str(tmp_path / "o")]) == 2
    assert "exactly one of --model" in capsys.readouterr().err
    assert not (tmp_path / "o" / MANIFEST_NAME).exists()
