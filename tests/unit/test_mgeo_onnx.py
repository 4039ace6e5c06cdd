"""The torch-free ONNX scorer: manifest round trip and validation, provider selection (no silent CPU
fallback), pair assembly equal to the tokenizer's own pair encoding, bad items in their slots, and a run
in a subprocess where importing torch or transformers raises."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.servers import require_module

ort = require_module("onnxruntime", "onnx")
require_module("tokenizers", "onnx")

from geoalign.errors import ModelLoadError  # noqa: E402
from geoalign.scorers import manifest as mf  # noqa: E402
from geoalign.scorers.mgeo_onnx import (  # noqa: E402
    OnnxScorer,
    PairEncoder,
    ProviderUnavailableError,
    provider_chain,
    select_provider,
)
from geoalign.types import AddressPair, ItemError, Match  # noqa: E402

CPU_ONLY = ["CPUExecutionProvider"]


# ------------------------------------------------------------------------------------------ manifest


def _manifest(tmp_path: Path) -> mf.Manifest:
    graph = tmp_path / "model_fp32.onnx"
    graph.write_bytes(b"not really a graph")
    tok = tmp_path / "tokenizer.json"
    tok.write_text("{}", encoding="utf-8")
    return mf.Manifest(
        labels=["exact_match", "not_match", "partial_match"],
        source_labels=["exact_match", "not_match", "partial_match"],
        max_length=128,
        uses_token_type_ids=True,
        special_tokens={"cls": 101, "sep": 102, "pad": 0},
        source={"path": "/models/mgeo", "kind": "modelscope", "checksum": "sha256:0123"},
        geoalign_version="0.1.0",
        export_options={"optimize": False},
        variants={"fp32": mf.Variant("model_fp32.onnx", mf.sha256_file(graph), "fp32", {"status": "passed"})},
        tokenizer={"file": "tokenizer.json", "sha256": mf.sha256_file(tok)},
        created="2026-01-01T00:00:00Z",
    )


def test_manifest_round_trip(tmp_path: Path) -> None:
    written = _manifest(tmp_path)
    mf.write_manifest(tmp_path, written)
    assert mf.is_export_dir(tmp_path)
    read = mf.read_manifest(tmp_path)
    assert read == written
    assert read.variants["fp32"].model_id.startswith("onnx-") and len(read.variants["fp32"].model_id) == 21
    assert json.loads((tmp_path / mf.MANIFEST_NAME).read_text(encoding="utf-8"))["format"] == mf.FORMAT


def test_default_variant_prefers_the_device_format(tmp_path: Path) -> None:
    m = _manifest(tmp_path)
    assert m.default_variant(gpu=False) == "fp32"
    m.variants["int8"] = mf.Variant("model_int8.onnx", "0" * 64, "int8")
    m.variants["fused"] = mf.Variant("model_fused.onnx", "0" * 64, "fp32")
    assert m.default_variant(gpu=False) == "int8"
    assert m.default_variant(gpu=True) == "fused"  # int8 MatMulInteger is a CPU format
    del m.variants["int8"]
    assert m.default_variant(gpu=False) == "fp32"  # fused fp32 measured slower than plain on CPU


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "something-else"}, "not a geoalign export manifest"),
        ({"labels": ["exact_match", "not_match", "same"]}, "permutation"),
        ({"max_length": 2}, "too small"),
        ({"format_version": 99}, "newer than this geoalign"),
        ({"variants": {}}, "lists no variant"),
        ({"special_tokens": {"cls": 1, "sep": 2}}, "'pad'"),
        ({"uses_token_type_ids": "yes"}, "wrong type"),
        ({"variants": {"fp32": {"file": "../x.onnx", "sha256": "0", "precision": "fp32"}}}, "plain name"),
        ({"variants": {"fp32": {"file": "a.onnx", "sha256": "0", "precision": "fp32"}, "q4": {}}}, "q4"),
    ],
)
def test_invalid_manifests_are_refused_with_the_reason(tmp_path: Path, change: dict, message: str) -> None:
    data = _manifest(tmp_path).to_dict()
    data.update(change)
    (tmp_path / mf.MANIFEST_NAME).write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelLoadError, match=message):
        mf.read_manifest(tmp_path)


def test_missing_key_and_broken_json(tmp_path: Path) -> None:
    data = _manifest(tmp_path).to_dict()
    del data["labels"]
    (tmp_path / mf.MANIFEST_NAME).write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="lacks 'labels'"):
        mf.read_manifest(tmp_path)
    (tmp_path / mf.MANIFEST_NAME).write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="cannot read"):
        mf.read_manifest(tmp_path)
    with pytest.raises(ModelLoadError, match="not a geoalign ONNX export"):
        mf.read_manifest(tmp_path / "elsewhere")


def test_a_swapped_graph_does_not_run_under_the_old_id(tmp_path: Path) -> None:
    mf.write_manifest(tmp_path, _manifest(tmp_path))
    (tmp_path / "model_fp32.onnx").write_bytes(b"another graph")
    with pytest.raises(ModelLoadError, match="does not match the checksum"):
        mf.read_manifest(tmp_path)
    assert mf.read_manifest(tmp_path, verify_files=False).max_length == 128
    (tmp_path / "model_fp32.onnx").unlink()
    with pytest.raises(ModelLoadError, match=r"lacks model_fp32\.onnx"):
        mf.read_manifest(tmp_path)


# ----------------------------------------------------------------------------------------- providers


def test_auto_picks_the_best_available_provider() -> None:
    assert select_provider("auto", CPU_ONLY) == "cpu"
    assert select_provider("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"]) == "cuda"
    assert select_provider("AUTO", ["OpenVINOExecutionProvider", "CPUExecutionProvider"]) == "openvino"
    # TensorRT builds engines for minutes on first use: only when asked for by name
    assert select_provider("auto", ["TensorrtExecutionProvider", "CPUExecutionProvider"]) == "cpu"
    assert select_provider("tensorrt", ["TensorrtExecutionProvider", "CPUExecutionProvider"]) == "tensorrt"


@pytest.mark.parametrize(
    ("name", "hint"), [("cuda", "onnxruntime-gpu"), ("openvino", "onnxruntime-openvino")]
)
def test_an_unavailable_provider_is_an_error_not_a_silent_cpu_run(name: str, hint: str) -> None:
    with pytest.raises(ProviderUnavailableError, match=rf"{name!r}.*not available.*available: cpu.*{hint}"):
        select_provider(name, CPU_ONLY)


def test_unknown_provider_name() -> None:
    with pytest.raises(ProviderUnavailableError, match="unknown execution provider 'tpu'"):
        select_provider("tpu", CPU_ONLY)


def test_tensorrt_chain_has_an_engine_cache(tmp_path: Path) -> None:
    chain = provider_chain("tensorrt", trt_cache_dir=tmp_path / "trt", fp16=True)
    assert [p for p, _ in chain] == [
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]
    opts = chain[0][1]
    assert opts["trt_engine_cache_enable"] is True and opts["trt_fp16_enable"] is True
    assert Path(opts["trt_engine_cache_path"]).is_dir()


# --------------------------------------------------------------------- a real export (needs torch)


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_module("torch", "torch")
    require_module("transformers", "torch")
    from tests.fixtures_mgeo import small_config, write_modelscope_dir

    from geoalign.scorers.export_onnx import ExportOptions, export_checkpoint

    root = tmp_path_factory.mktemp("onnx")
    model = write_modelscope_dir(root / "mgeo", config=small_config())
    export_checkpoint(model, root / "export", ExportOptions(int8=True), echo=lambda line: None)
    return root / "export"


def test_asking_for_cuda_here_names_the_fix(export_dir: Path) -> None:
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(ProviderUnavailableError, match="onnxruntime-gpu"):
        OnnxScorer(export_dir, provider="cuda")


@pytest.mark.filterwarnings("ignore:Specified provider")
def test_a_provider_that_fails_to_start_is_detected(
    export_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ORT runs on CPU with only a log line when a listed provider cannot load; the scorer refuses that
    for a named provider and reports the real one under ``auto``."""
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", *CPU_ONLY])
    with pytest.raises(ProviderUnavailableError, match="could not start CUDAExecutionProvider"):
        OnnxScorer(export_dir, provider="cuda")
    scorer = OnnxScorer(export_dir, provider="auto")
    assert scorer.provider == "cpu" and scorer.describe()["provider_requested"] == "auto"


def test_threads_and_variant_choice(export_dir: Path) -> None:
    scorer = OnnxScorer(export_dir, provider="cpu", threads=1)
    assert scorer.variant == "int8" and scorer.describe()["threads"] == 1
    assert OnnxScorer(export_dir, variant="fp32").model_id != scorer.model_id
    with pytest.raises(Exception, match="variant 'fp16' is not in"):
        OnnxScorer(export_dir, variant="fp16")


def test_pair_assembly_equals_the_tokenizers_pair_encoding(export_dir: Path) -> None:
    """Per-address tokenization + assembly must give the ids and token types of the tokenizer's own pair
    encoding, including its longest-first truncation, for every length split."""
    from tokenizers import Tokenizer

    reference = Tokenizer.from_file(str(export_dir / "tokenizer.json"))
    encoder = PairEncoder.from_file(export_dir / "tokenizer.json", max_length=12, token_types=True)
    untruncated = Tokenizer.from_file(str(export_dir / "tokenizer.json"))
    untruncated.no_truncation()
    reference.enable_truncation(12, strategy="longest_first")
    for la in range(0, 14, 3):
        for lb in range(0, 14, 2):
            a, b = "1" * max(la, 1), "杭" * max(lb, 1)
            got = encoder.encode_pairs([(a, b)])[0]
            want = reference.encode(a, b)
            assert got.input_ids == want.ids, (la, lb)
            assert got.token_type_ids == want.type_ids, (la, lb)
            full = len(untruncated.encode(a, b).ids)
            assert got.truncated == (len(want.ids) < full), (la, lb)
    zeros = PairEncoder.from_file(export_dir / "tokenizer.json", max_length=12, token_types=False)
    assert set(zeros.encode_pairs([("杭州", "上海")])[0].token_type_ids) == {0}


def test_bad_items_stay_in_their_slots(export_dir: Path) -> None:
    scorer = OnnxScorer(export_dir)
    results = scorer.score(
        [AddressPair("杭州市文一西路", 5), AddressPair("杭州", "上海"), AddressPair("\u200b\t", "x")]
    )
    assert isinstance(results[0], ItemError) and results[0].code == "not_a_string"
    assert "address b" in results[0].message
    assert isinstance(results[1], Match) and set(results[1].timings_ms or {}) >= {"tokenize", "forward"}
    assert isinstance(results[2], ItemError) and results[2].code == "empty"
    assert scorer.score([]) == []
    scorer.warmup()


_NO_TORCH = textwrap.dedent(
    """
    import importlib.abc, json, sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"torch", "transformers"}:
                raise ImportError(f"{name} is blocked: the onnx scorer must not need it")
            return None

    sys.meta_path.insert(0, Block())
    from geoalign.scorers.registry import build_scorer
    from geoalign.types import AddressPair

    scorer = build_scorer(model=sys.argv[1])
    pairs = [AddressPair("杭州市西湖区文一西路969号", "文一西路969号"), AddressPair(None, "x")]
    results = scorer.score(pairs)
    assert not any(m.split(".")[0] in {"torch", "transformers"} for m in sys.modules)
    print(json.dumps({"name": scorer.name, "results": [r.to_dict() for r in results]}))
    """
)


def test_runs_where_torch_and_transformers_cannot_be_imported(export_dir: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _NO_TORCH, str(export_dir)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["name"] == "onnx"
    first, second = out["results"]
    assert first["scorer"] == "onnx" and abs(sum(first["probabilities"].values()) - 1) < 1e-6
    assert second == {"error": {"code": "missing", "message": "address a: address is missing (None)"}}
    # and the same numbers as in this process (which has torch loaded)
    here = OnnxScorer(export_dir).score([AddressPair("杭州市西湖区文一西路969号", "文一西路969号")])[0]
    assert isinstance(here, Match)
    assert first["probabilities"] == pytest.approx(here.to_dict()["probabilities"], abs=1e-9)


def test_token_cache_is_bounded_and_transparent(export_dir: Path) -> None:
    encoder = PairEncoder.from_file(export_dir / "tokenizer.json", max_length=64, token_types=True)
    encoder._cache_size = 2
    first = encoder.tokenize(["杭州", "上海", "北京", "杭州"])
    assert len(encoder._cache) == 2
    assert encoder.tokenize(["北京", "杭州", "上海"]) == {k: first[k] for k in ("北京", "杭州", "上海")}


def test_non_finite_logits_become_an_item_error(export_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    scorer = OnnxScorer(export_dir, variant="fp32")
    monkeypatch.setattr(scorer, "forward", lambda batch: np.full((len(batch), 3), np.nan, dtype=np.float32))
    (result,) = scorer.score([AddressPair("杭州", "上海")])
    assert isinstance(result, ItemError) and result.code == "non_finite_output"


def test_the_scorer_verifies_the_graph_it_runs(export_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(export_dir, copy)
    with open(copy / "model_fp32.onnx", "ab") as handle:
        handle.write(b"\0")  # a truncated/extended download
    assert OnnxScorer(copy, variant="int8").variant == "int8"  # other graphs are not read
    with pytest.raises(ModelLoadError, match="does not match the checksum"):
        OnnxScorer(copy, variant="fp32")


def test_an_export_interrupted_during_parity_does_not_load(export_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(export_dir, copy)
    manifest = mf.read_manifest(copy)
    manifest.source["parity_pending"] = True  # what the export writes before its parity check
    mf.write_manifest(copy, manifest)
    with pytest.raises(ModelLoadError, match="did not finish its parity check"):
        OnnxScorer(copy)
