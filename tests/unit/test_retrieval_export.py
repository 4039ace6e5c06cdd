"""Re-exporting the retrieval model without its training checkpoint (``retrieval.export``): restoring the
fp32 weights of a dynamic-int8 graph, the eager re-export, and the static int8 graph. A tiny random BERT
(hidden 16, two layers) built by the test over the tiny character tokenizer; no shared data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.retrieval_fixtures import build_tiny_retrieval_model
from tests.servers import require_module

TEXTS = [
    "杭州市西湖区文三路369号",
    "文三路369号",
    "上海市浦东新区",
    "深圳福田区银行",
    "余杭区好利来蛋糕店门口",
    "浙江省杭州市",
    "西湖区文三路一号楼二单元",
]


@pytest.fixture(scope="module")
def dynamic_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_module("onnx", "export")
    require_module("torch", "torch")
    require_module("transformers", "train")
    import torch
    from transformers import BertConfig, BertModel

    from geoalign.retrieval.export import export_onnx

    base = tmp_path_factory.mktemp("retrieval_export")
    tokenizer = build_tiny_retrieval_model(base / "chars") / "tokenizer.json"
    vocab = len(json.loads(tokenizer.read_text(encoding="utf-8"))["model"]["vocab"])
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=vocab,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        pad_token_id=1,
    )
    model = BertModel(config, add_pooling_layer=False).eval()
    with torch.no_grad():  # no two weights alike (the exporter shares equal ones, e.g. zero biases)
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    return export_onnx(model, tokenizer, base / "dynamic", max_length=32, int8=True)


def _embed(directory: Path, texts: list[str], batch_size: int = 256) -> np.ndarray:
    from geoalign.retrieval.embedder import OnnxEmbedder

    return OnnxEmbedder(directory, threads=1, batch_size=batch_size).embed(texts)


def test_dynamic_graph_weights_restore_to_an_fp32_graph_and_a_torch_encoder(
    dynamic_model: Path, tmp_path: Path
) -> None:
    import shutil

    import onnx
    import torch

    from geoalign.retrieval.export import dequantize_dynamic_matmuls, encoder_from_onnx, pooled_module

    fp32 = tmp_path / "fp32"
    fp32.mkdir()
    for name in ("tokenizer.json", "retrieval.json"):
        shutil.copyfile(dynamic_model / name, fp32 / name)
    assert dequantize_dynamic_matmuls(dynamic_model / "model.onnx", fp32 / "model.onnx") == 12
    ops = {node.op_type for node in onnx.load(str(fp32 / "model.onnx")).graph.node}
    assert not ops & {"MatMulInteger", "DynamicQuantizeLinear"}
    # int8 activations were the only difference left
    cos = np.sum(_embed(fp32, TEXTS) * _embed(dynamic_model, TEXTS), axis=1)
    assert cos.min() > 0.95
    # the restored weights, loaded into torch, compute what the fp32 graph computes
    from geoalign.retrieval.embedder import OnnxEmbedder

    embedder = OnnxEmbedder(fp32, threads=1)
    encodings = [embedder.tokenizer.encode(t).ids for t in TEXTS]
    width = max(map(len, encodings))
    ids = np.full((len(TEXTS), width), 1, dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, seq in enumerate(encodings):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    pooled = pooled_module(encoder_from_onnx(fp32 / "model.onnx", heads=2)).eval()
    with torch.no_grad():
        want = pooled(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    assert np.allclose(embedder.forward(ids, mask), want, atol=1e-5)


def test_reexport_keeps_the_int8_weights_and_the_answers(dynamic_model: Path, tmp_path: Path) -> None:
    import onnx
    from onnx import numpy_helper

    from geoalign.retrieval.export import reexport

    out = reexport(dynamic_model, tmp_path / "eager", heads=2)

    def quantized(path: Path) -> list[bytes]:
        inits = onnx.load(str(path)).graph.initializer
        return sorted(numpy_helper.to_array(i).tobytes() for i in inits if i.name.endswith("_quantized"))

    assert quantized(out / "model.onnx") == quantized(dynamic_model / "model.onnx")
    assert "IsNaN" not in {node.op_type for node in onnx.load(str(out / "model.onnx")).graph.node}
    assert json.loads((out / "retrieval.json").read_text(encoding="utf-8"))["precision"] == "int8"
    cos = np.sum(_embed(out, TEXTS) * _embed(dynamic_model, TEXTS), axis=1)
    assert cos.min() > 0.99


def test_static_int8_embeddings_do_not_depend_on_batching(dynamic_model: Path, tmp_path: Path) -> None:
    import onnx

    from geoalign.retrieval.export import requantize_static

    out = tmp_path / "static"
    record = requantize_static(dynamic_model, out, TEXTS * 3, heads=2)
    manifest = json.loads((out / "retrieval.json").read_text(encoding="utf-8"))
    assert manifest["precision"] == "int8-static" and manifest["quantization"] == record
    # 2 layers x 6 weight MatMuls, less the first FFN output kept in fp32 (with the 4 attention products)
    assert len(record["fp32_nodes"]) == 5
    graph = onnx.load(str(out / "model.onnx")).graph
    producer = {o: n.op_type for n in graph.node for o in n.output}
    for node in graph.node:
        if node.op_type == "MatMul" and node.name.endswith(("self/MatMul", "self/MatMul_1")):
            assert "DequantizeLinear" not in {producer.get(i) for i in node.input}  # attention stays fp32
        if node.op_type == "QuantizeLinear":
            assert producer.get(node.input[0]) != "MatMul"  # no output QDQ: MatMulIntegerToFloat kernels
    batched = _embed(out, TEXTS + ["上海市", "杭州"] * 20, batch_size=16)[: len(TEXTS)]
    alone = np.concatenate([_embed(out, [t]) for t in TEXTS])
    assert np.array_equal(batched, alone) or np.allclose(batched, alone, atol=1e-6)
    assert np.sum(batched * _embed(dynamic_model, TEXTS), axis=1).min() > 0.9
