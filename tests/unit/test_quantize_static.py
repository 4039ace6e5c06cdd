"""Static int8 quantization: fixed activation scales, so a pair's answer does not depend on its batch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from tests.servers import require_module

from geoalign.types import LABELS, AddressPair

PAIRS = [
    AddressPair("浙江省杭州市西湖区文三路369号", "杭州市西湖区文三路369号"),
    AddressPair("北京市朝阳区望京SOHO塔1", "北京望京SOHO T1"),
    AddressPair("上海市浦东新区世纪大道100号", "上海市徐汇区漕溪北路88号"),
    AddressPair("广东省深圳市南山区科技园南区", "深圳南山科技园"),
    AddressPair("江苏省南京市鼓楼区金陵新五村8栋", "鼓楼区金陵新5村8号楼"),
    AddressPair("四川省成都市武侯区人民南路四段1号", "成都市武侯区人民南路4段1号附2号"),
] * 3


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_module("torch", "torch")
    require_module("transformers", "torch")
    require_module("onnx", "export")
    from tests.fixtures_mgeo import small_config, write_modelscope_dir

    from geoalign.scorers.export_onnx import ExportOptions, export_checkpoint

    root = tmp_path_factory.mktemp("static")
    model = write_modelscope_dir(root / "mgeo", config=small_config())
    export_checkpoint(model, root / "export", ExportOptions(), echo=lambda line: None)
    return root / "export"


def _probs(scorer: object, pairs: list[AddressPair]) -> np.ndarray:
    results = scorer.score(pairs)  # type: ignore[attr-defined]
    return np.array([[r.probabilities[n] for n in LABELS] for r in results])


def test_static_int8_graph_is_batch_independent_and_close_to_fp32(exported: Path, tmp_path: Path) -> None:
    from geoalign.scorers.mgeo_onnx import OnnxScorer
    from geoalign.scorers.quantize import quantize_static_int8, record_feeds

    manifest = json.loads((exported / "geoalign_export.json").read_text(encoding="utf-8"))
    fp32_file = manifest["variants"]["fp32"]["file"]
    plain = OnnxScorer(exported, variant="fp32", explain=False)
    feeds = record_feeds(plain.onnx, lambda: [plain.score(PAIRS[i : i + 4]) for i in range(0, 12, 4)])
    assert len(feeds) == 3 and {"input_ids", "attention_mask"} <= feeds[0].keys()

    out = tmp_path / "static"
    shutil.copytree(exported, out)
    types = {i.name: np.int64 for i in plain.onnx.session.get_inputs()}
    info = quantize_static_int8(exported / fp32_file, out / fp32_file, feeds, input_types=types)
    assert info["calibration_batches"] == 3 and info["calibration_rows"] == 12
    import onnx

    ops = {node.op_type for node in onnx.load(str(out / fp32_file)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops  # really quantized, not a copy

    static = OnnxScorer(out, variant="fp32", explain=False, verify_files=False)
    together = _probs(static, PAIRS)
    one_by_one = np.vstack([_probs(static, [pair]) for pair in PAIRS])
    in_threes = np.vstack([_probs(static, PAIRS[i : i + 3]) for i in range(0, len(PAIRS), 3)])
    # the point of static scales: the same answer whatever the batch (dynamic int8 moved by 0.13)
    np.testing.assert_allclose(one_by_one, together, atol=1e-6)
    np.testing.assert_allclose(in_threes, together, atol=1e-6)
    assert np.abs(together - _probs(plain, PAIRS)).max() < 0.2


def test_keeping_a_node_in_fp32_must_name_a_matmul(exported: Path, tmp_path: Path) -> None:
    from geoalign.scorers.mgeo_onnx import OnnxScorer
    from geoalign.scorers.quantize import quantize_static_int8, record_feeds

    plain = OnnxScorer(exported, variant="fp32", explain=False)
    feeds = record_feeds(plain.onnx, lambda: plain.score(PAIRS[:4]))
    types = {i.name: np.int64 for i in plain.onnx.session.get_inputs()}
    src = exported / "model_fp32.onnx"
    with pytest.raises(ValueError, match="not MatMuls"):
        quantize_static_int8(src, tmp_path / "x.onnx", feeds, input_types=types, exclude_nodes=["nope"])
    with pytest.raises(ValueError, match="at least one calibration batch"):
        quantize_static_int8(src, tmp_path / "x.onnx", [], input_types=types)


def test_compactly_stored_weights_are_restored_to_plain_fp32(exported: Path, tmp_path: Path) -> None:
    """The shipped fp32 graph stores weights as fp16 + Cast; the quantizer needs them as fp32 weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from geoalign.scorers.quantize import restore_fp32_initializers

    model = onnx.load(str(exported / "model_fp32.onnx"))
    big = next(i for i in model.graph.initializer if i.data_type == TensorProto.FLOAT and len(i.dims) == 2)
    weight = numpy_helper.to_array(big)
    model.graph.initializer.remove(big)
    model.graph.initializer.append(numpy_helper.from_array(weight.astype(np.float16), big.name + "__fp16"))
    cast = helper.make_node("Cast", [big.name + "__fp16"], [big.name], to=TensorProto.FLOAT)
    model.graph.node.insert(0, cast)
    onnx.save(model, str(tmp_path / "compact.onnx"))
    assert restore_fp32_initializers(tmp_path / "compact.onnx", tmp_path / "plain.onnx") == 1
    restored = onnx.load(str(tmp_path / "plain.onnx"))
    assert not any(n.op_type == "Cast" and n.output[0] == big.name for n in restored.graph.node)
    again = next(i for i in restored.graph.initializer if i.name == big.name)
    np.testing.assert_allclose(numpy_helper.to_array(again), weight.astype(np.float16).astype(np.float32))


def test_static_graph_weights_read_back_dequantized(exported: Path, tmp_path: Path) -> None:
    """A student can start from a shipped static int8 graph (``scripts/onnx_to_hf.py``): every Linear's
    weight is read back through its DequantizeLinear, within half a quantization step of the fp32 one."""
    from geoalign.scorers.graph_weights import read_module_state
    from geoalign.scorers.mgeo_onnx import OnnxScorer
    from geoalign.scorers.quantize import quantize_static_int8, record_feeds

    src = exported / "model_fp32.onnx"
    plain = OnnxScorer(exported, variant="fp32", explain=False)
    feeds = record_feeds(plain.onnx, lambda: plain.score(PAIRS[:4]))
    types = {i.name: np.int64 for i in plain.onnx.session.get_inputs()}
    quantize_static_int8(src, tmp_path / "static.onnx", feeds, input_types=types)

    fp32 = read_module_state(src, "inner")
    static = read_module_state(tmp_path / "static.onnx", "inner")
    linears = [k for k in fp32 if k.endswith(".weight") and ".encoder.layer." in k and fp32[k].ndim == 2]
    assert linears and set(linears) <= set(static)
    for key in linears:
        want, got = fp32[key], static[key]
        assert got.dtype == np.float32 and got.shape == want.shape
        # per output channel (a weight row), 7 bits: reduce_range, the default (no int16 saturation on
        # CPUs without VNNI)
        step = np.abs(want).max(axis=1, keepdims=True) / 63.0
        assert np.all(np.abs(got - want) <= step * 0.5 + 1e-6), key
        assert not np.array_equal(got, want)  # really read through the int8 values
