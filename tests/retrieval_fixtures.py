"""A tiny retrieval model directory built in the test itself: a character tokenizer and an ONNX graph
that mean-pools random character vectors and L2-normalises them (the shipped model's interface:
``input_ids`` + ``attention_mask`` -> ``embedding``). Strings sharing most characters land near each
other, which is all the link tests need. No torch, no shared data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ALPHABET = (
    "0123456789abcdefghijklmnopqrstuvwxyz"
    "省市区县镇乡街道路巷号楼栋单元室层村社小大中东南西北新华文三四五六七八九十一二百千"
    "浙江杭州西湖余杭上海浦深圳福田广场花园公寓酒店银行超市学校医院店门口附近对面蛋糕好利来"
)


def build_tiny_retrieval_model(directory: Path, *, dim: int = 32, seed: int = 0) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from tokenizers import Regex, Tokenizer, pre_tokenizers
    from tokenizers.models import WordLevel

    directory.mkdir(parents=True, exist_ok=True)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for ch in dict.fromkeys(ALPHABET):
        vocab[ch] = len(vocab)
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tokenizer.save(str(directory / "tokenizer.json"))

    table = np.random.default_rng(seed).normal(size=(len(vocab), dim)).astype(np.float32)
    table[:4] = 0.0  # specials and unknown characters say nothing
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["tokens"]),
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "axis2"], ["mask3"]),
        helper.make_node("Mul", ["tokens", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["summed"], keepdims=0),
        helper.make_node("LpNormalization", ["summed"], ["embedding"], axis=1, p=2),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_retrieval",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dim])],
        initializer=[
            numpy_helper.from_array(table, "table"),
            numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(directory / "model.onnx"))
    manifest = {
        "format": "geoalign-retrieval",
        "format_version": 1,
        "model": "model.onnx",
        "tokenizer": "tokenizer.json",
        "dim": dim,
        "layers": 0,
        "max_length": 64,
        "precision": "fp32",
    }
    (directory / "retrieval.json").write_text(json.dumps(manifest), encoding="utf-8")
    return directory
