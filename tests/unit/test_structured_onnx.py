"""The embedded matcher's trees exported to ONNX (``scorers/structured_onnx.py``) against the LightGBM
booster they come from: the same probabilities to float32 precision, the same labels, and a stale
export refused. The shipped pair is held to the same check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
from tests.servers import require_module

from geoalign.cli.main import main
from geoalign.errors import ModelLoadError
from geoalign.scorers.structured import DEFAULT_MODEL_DIR, META_FILE, MODEL_FILE, StructuredModel
from geoalign.scorers.structured_onnx import ONNX_FILE, PARITY_TOLERANCE, OnnxForest, model_digest, probe_rows
from geoalign.types import LABELS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "pairs.tsv"


def _booster_probabilities(directory: Path, rows: np.ndarray) -> np.ndarray:
    booster = lgb.Booster(model_file=str(directory / MODEL_FILE))
    return np.asarray(booster.predict(rows, num_threads=1)).reshape(-1, len(LABELS))


def _train(directory: Path, *extra: str) -> None:
    args = ["train", "--pairs", str(EXAMPLES), "-o", str(directory), "--rounds", "8", "--folds", "0"]
    assert main([*args, *extra]) == 0


def test_trained_with_onnx_scores_through_the_graph_as_the_booster_does(tmp_path: Path, capsys) -> None:
    require_module("onnxmltools", "export")
    model_dir = tmp_path / "m"
    _train(model_dir, "--onnx")
    record = json.loads((model_dir / META_FILE).read_text(encoding="utf-8"))["onnx"]
    assert record["from_model_sha256"] == model_digest((model_dir / MODEL_FILE).read_bytes())
    assert record["parity"]["labels_changed"] == 0 and record["parity"]["max_abs_diff"] <= PARITY_TOLERANCE
    model = StructuredModel.load(model_dir)
    assert isinstance(model.booster, OnnxForest)
    rows = probe_rows(model.booster.session.get_inputs()[0].shape[1], seed=1)
    got = model.booster.predict(rows)
    want = _booster_probabilities(model_dir, rows)
    assert np.abs(got - want).max() <= PARITY_TOLERANCE
    assert (got.argmax(axis=1) == want.argmax(axis=1)).all()
    # end to end: the same labels as the booster gives once the graph is gone
    capsys.readouterr()
    with_graph, without = tmp_path / "graph.tsv", tmp_path / "booster.tsv"
    score = ["score", str(EXAMPLES), "--model", str(model_dir), "--no-progress", "-o"]
    assert main([*score, str(with_graph)]) == 0
    (model_dir / ONNX_FILE).unlink()
    assert not isinstance(StructuredModel.load(model_dir).booster, OnnxForest)
    assert main([*score, str(without)]) == 0
    labels = [line.split("\t")[3] for line in with_graph.read_text(encoding="utf-8").splitlines()]
    assert labels == [line.split("\t")[3] for line in without.read_text(encoding="utf-8").splitlines()]


def test_an_export_of_another_model_is_refused_and_retraining_drops_it(tmp_path: Path) -> None:
    require_module("onnxmltools", "export")
    model_dir = tmp_path / "m"
    _train(model_dir, "--onnx")
    meta_path = model_dir / META_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["onnx"]["from_model_sha256"] = "0" * 64
    meta_path.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="re-export"):
        StructuredModel.load(model_dir)
    _train(model_dir, "--seed", "7")  # a new model.txt: the old graph must not survive beside it
    assert not (model_dir / ONNX_FILE).exists()
    assert not isinstance(StructuredModel.load(model_dir).booster, OnnxForest)


def test_the_shipped_graph_is_the_shipped_booster() -> None:
    model_bytes = (DEFAULT_MODEL_DIR / MODEL_FILE).read_bytes()
    meta = json.loads((DEFAULT_MODEL_DIR / META_FILE).read_text(encoding="utf-8"))
    assert meta["onnx"]["from_model_sha256"] == model_digest(model_bytes)
    model = StructuredModel.load(DEFAULT_MODEL_DIR)
    assert isinstance(model.booster, OnnxForest)
    rows = probe_rows(len(meta["feature_names"]), seed=2)
    got = model.booster.predict(rows)
    want = _booster_probabilities(DEFAULT_MODEL_DIR, rows)
    assert np.abs(got - want).max() <= PARITY_TOLERANCE
    assert (got.argmax(axis=1) == want.argmax(axis=1)).all()


def test_scoring_with_the_shipped_model_does_not_import_lightgbm() -> None:
    """The start-up the export is for: lightgbm (and the pandas / scipy it pulls in) stays unloaded."""
    code = (
        "import sys; from geoalign.api import Matcher; "
        "m = Matcher(scorer='structured'); m.match('浙江省杭州市西湖区文三路369号', '文三路369号'); "
        "print('lightgbm' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr


def test_train_onnx_without_the_extra_fails_before_training(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "onnxmltools", None)  # as if the export extra were not installed
    model_dir = tmp_path / "m"
    assert main(["train", "--pairs", str(EXAMPLES), "-o", str(model_dir), "--onnx"]) != 0
    assert "export" in capsys.readouterr().err
    assert not model_dir.exists()  # nothing trained, nothing half-written
