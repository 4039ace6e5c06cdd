"""ONNX export on tiny checkpoints: parity with torch and with an independent numpy BERT, refusal of a
damaged graph, fp16 without a GPU, a plain Hugging Face directory, and agreement with the torch scorer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.servers import require_module

torch = require_module("torch", "torch")
transformers = require_module("transformers", "torch")
onnx = require_module("onnx", "export")
require_module("onnxruntime", "onnx")

from tests.fixtures_mgeo import (  # noqa: E402
    MGEO_ID2LABEL,
    numpy_bert_logits,
    small_config,
    write_modelscope_dir,
)

from geoalign.errors import InputError  # noqa: E402
from geoalign.scorers.checkpoints import load_checkpoint  # noqa: E402
from geoalign.scorers.export_onnx import (  # noqa: E402
    ExportOptions,
    ExportParityError,
    default_parity_pairs,
    export_checkpoint,
)
from geoalign.scorers.manifest import MANIFEST_NAME, read_manifest  # noqa: E402
from geoalign.scorers.mgeo_onnx import OnnxScorer  # noqa: E402
from geoalign.scorers.mgeo_torch import TorchScorer  # noqa: E402
from geoalign.types import LABELS, AddressPair, ItemError, Match  # noqa: E402

pytestmark = pytest.mark.torch

PAIRS = [
    AddressPair("杭州市西湖区文一西路969号", "文一西路969号"),
    AddressPair("上海市浦东新区商住书店", "浦东新区书店"),
    AddressPair(None, "北京市"),
    AddressPair("南京市栖霞区仙林大道163号" * 4, "仙林大道163号"),  # longer than max_length: truncated
    AddressPair("紫萱路363号人力社保局", "紫萱路363号市人社局"),
    AddressPair("   ", "杭州"),
]


def _quiet_export(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
    kwargs.setdefault("echo", lambda line: None)
    return export_checkpoint(*args, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def ms_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_modelscope_dir(tmp_path_factory.mktemp("ms") / "mgeo", config=small_config())


@pytest.fixture(scope="module")
def exported(ms_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "onnx"
    _quiet_export(ms_dir, out, ExportOptions(optimize=True, int8=True))
    return out


def test_export_writes_all_variants_and_measured_parity(exported: Path, ms_dir: Path) -> None:
    manifest = read_manifest(exported)
    assert set(manifest.variants) == {"fp32", "fused", "int8"}
    assert manifest.labels == [MGEO_ID2LABEL[i] for i in range(3)]  # the model's id order, by name
    assert manifest.uses_token_type_ids is True
    assert manifest.max_length == 64  # min(ModelScope's 512, the tiny model's 64 positions)
    assert manifest.source["checksum"] == load_checkpoint(ms_dir).model_id
    assert manifest.source["kind"] == "modelscope" and manifest.source["forced"] is False
    assert "parity_pending" not in manifest.source
    for name in ("fp32", "fused"):
        parity = manifest.variants[name].parity
        assert parity["status"] == "passed"
        assert parity["max_abs_logit_diff"] <= 1e-4
        assert parity["token_mismatches"] == 0 and parity["pairs"] == len(default_parity_pairs())
    assert manifest.variants["fused"].parity["fused_ops"]["Attention"] == 2
    int8 = manifest.variants["int8"]
    assert int8.parity["status"] == "passed" and int8.precision == "int8"
    assert "MatMulInteger" in int8.parity["ops"] or "QAttention" in int8.parity["ops"]
    assert int8.parity["label_agreement"] >= 0.95
    # the graph has dynamic batch and sequence axes
    graph = onnx.load(str(exported / manifest.variants["fp32"].file)).graph
    dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.input]
    assert dims == [["batch", "sequence"]] * 3


def test_onnx_logits_match_an_independent_numpy_bert(exported: Path, ms_dir: Path) -> None:
    """Not only torch parity: the deployed path (tokenizer.json + assembly + ORT) equals MGeo's equations."""
    scorer = OnnxScorer(exported, variant="fp32", provider="cpu")
    prepared = scorer.prepare(PAIRS)
    items = [it for it in prepared.items if not isinstance(it, ItemError)]
    tokens = [it.data.tokens for it in items]
    logits = scorer.forward(tokens)
    from geoalign.engine.batching import pad_batch

    ids, mask = pad_batch([t.input_ids for t in tokens])
    types, _ = pad_batch([t.token_type_ids for t in tokens])
    raw = torch.load(ms_dir / "pytorch_model.bin", weights_only=True)
    want = numpy_bert_logits(raw, small_config(), ids, types, mask)
    np.testing.assert_allclose(logits, want, atol=1e-4)
    assert any(t.truncated for t in tokens) and max(len(t.input_ids) for t in tokens) == 64


@pytest.mark.parametrize("variant", ["fp32", "fused"])
def test_onnx_scorer_agrees_with_the_torch_scorer(exported: Path, ms_dir: Path, variant: str) -> None:
    """Same cleaning, tokenization, truncation and label mapping: same Match (probabilities to 1e-5)."""
    torch_results = TorchScorer(load_checkpoint(ms_dir)).score(PAIRS)
    onnx_results = OnnxScorer(exported, variant=variant, provider="cpu").score(PAIRS)
    assert len(onnx_results) == len(PAIRS)
    for want, got in zip(torch_results, onnx_results, strict=True):
        if isinstance(want, ItemError):
            assert isinstance(got, ItemError) and got.code == want.code
            continue
        assert isinstance(got, Match)
        assert got.label == want.label and got.scorer == "onnx"
        for label in LABELS:
            assert got.probabilities[label] == pytest.approx(want.probabilities[label], abs=1e-5)


def _damage(path: Path) -> None:
    """Perturb the classifier weight in the exported graph: a plausible corruption (a wrong/bit-flipped
    weight file) that still loads and runs."""
    model = onnx.load(str(path))
    from onnx import numpy_helper

    candidates = [init for init in model.graph.initializer if init.data_type == onnx.TensorProto.FLOAT]
    target = max(candidates, key=lambda init: np.prod(init.dims) if len(init.dims) == 2 else 0)
    array = numpy_helper.to_array(target).copy()
    array += np.random.default_rng(0).normal(0, 0.5, array.shape).astype(array.dtype)
    target.CopyFrom(numpy_helper.from_array(array, target.name))
    onnx.save(model, str(path))


def test_a_damaged_graph_is_refused(ms_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bad"
    with pytest.raises(ExportParityError, match=r"parity check failed.*fp32.*--force"):
        _quiet_export(ms_dir, out, ExportOptions(), before_parity=_damage)
    assert not (out / MANIFEST_NAME).exists()  # not loadable as an export
    with pytest.raises(Exception, match="not a geoalign ONNX export"):
        OnnxScorer(out)


def test_force_keeps_a_failed_export_and_records_it(ms_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "forced"
    report = _quiet_export(ms_dir, out, ExportOptions(force=True), before_parity=_damage)
    assert report.refused
    manifest = read_manifest(out)
    assert manifest.source["forced"] is True
    parity = manifest.variants["fp32"].parity
    assert parity["status"] == "failed" and parity["max_abs_logit_diff"] > 1e-4


def test_fp16_without_a_gpu_is_written_but_not_checked(ms_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "fp16"
    with pytest.warns(UserWarning, match="fp16 graph written but NOT checked"):
        _quiet_export(ms_dir, out, ExportOptions(fp16=True))
    parity = read_manifest(out).variants["fp16"].parity
    assert parity["status"] == "not_checked" and "GPU" in parity["reason"]
    # the fp16 graph really is fp16 (weights), with fp32 logits out
    graph = onnx.load(str(out / "model_fp16.onnx")).graph
    assert any(init.data_type == onnx.TensorProto.FLOAT16 for init in graph.initializer)
    assert graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_plain_hugging_face_directory(tmp_path: Path) -> None:
    """A directory built with transformers only (BertConfig + save_pretrained), labels in CCKS order."""
    from geoalign.scorers.charvocab import write_char_vocab

    hf = tmp_path / "hf"
    hf.mkdir()
    write_char_vocab(hf / "vocab.txt")
    tokenizer = transformers.BertTokenizerFast.from_pretrained(str(hf))
    id2label = {0: "not_match", 1: "partial_match", 2: "exact_match"}
    config = transformers.BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=24, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=48, max_position_embeddings=40, num_labels=3, id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )  # fmt: skip
    torch.manual_seed(3)
    transformers.BertForSequenceClassification(config).save_pretrained(hf)
    tokenizer.save_pretrained(hf)
    out = tmp_path / "onnx"
    _quiet_export(hf, out, ExportOptions(optimize=True))
    manifest = read_manifest(out)
    assert manifest.labels == ["not_match", "partial_match", "exact_match"]
    assert manifest.max_length == 40 and manifest.source["kind"] == "huggingface"
    want = TorchScorer(load_checkpoint(hf)).score(PAIRS)
    got = OnnxScorer(out, provider="cpu", variant="fused").score(PAIRS)
    assert OnnxScorer(out, provider="cpu").variant == "fp32"  # CPU default without int8: plain fp32
    for w, g in zip(want, got, strict=True):
        if isinstance(w, Match):
            assert isinstance(g, Match) and g.label == w.label
            assert g.probabilities["exact_match"] == pytest.approx(w.probabilities["exact_match"], abs=1e-5)


def test_max_length_beyond_the_model_positions_is_refused(ms_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="max length 100"):
        _quiet_export(ms_dir, tmp_path / "x", ExportOptions(max_length=100))


def test_reexport_with_fewer_variants_leaves_no_stale_graphs(ms_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    _quiet_export(ms_dir, out, ExportOptions(int8=True))
    assert (out / "model_int8.onnx").exists()
    _quiet_export(ms_dir, out, ExportOptions())
    assert not (out / "model_int8.onnx").exists()
    assert set(json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))["variants"]) == {"fp32"}
