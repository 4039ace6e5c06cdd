"""The shipped graph's compact weight storage (scripts/ship_neural.py): small on disk, fp32 when it runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.servers import require_module


def _tiny_graph(path: Path) -> tuple[np.ndarray, np.ndarray]:
    onnx = require_module("onnx", "onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    table = rng.standard_normal((50, 32)).astype(np.float32)
    weight = rng.standard_normal((32, 64)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["h"]), helper.make_node("MatMul", ["h", "w"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [None])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 64])],
        [numpy_helper.from_array(table, "table"), numpy_helper.from_array(weight, "w")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return table, weight


@pytest.mark.parametrize("storage", ["fp16", "int8"])
def test_compact_storage_shrinks_the_file_and_keeps_outputs_close(tmp_path: Path, storage: str) -> None:
    ort = require_module("onnxruntime", "onnx")
    from scripts.ship_neural import compact_fp32

    table, weight = _tiny_graph(tmp_path / "plain.onnx")
    compact_fp32(tmp_path / "plain.onnx", tmp_path / "small.onnx", storage=storage)
    plain_size = (tmp_path / "plain.onnx").stat().st_size
    ratio = (tmp_path / "small.onnx").stat().st_size / plain_size
    assert ratio < (0.55 if storage == "fp16" else 0.32)
    ids = np.arange(50, dtype=np.int64)
    small = ort.InferenceSession(str(tmp_path / "small.onnx"), providers=["CPUExecutionProvider"])
    got = small.run(None, {"ids": ids})[0]
    want = table @ weight
    # int8 per row / per column keeps every output within a few percent of its scale
    assert np.abs(got - want).max() < (0.05 if storage == "fp16" else 0.25) * np.abs(want).max() / 10
    # computed in fp32 after load: a row's answer does not depend on what else is in the batch
    one = small.run(None, {"ids": ids[:1]})[0]
    assert np.array_equal(one[0], got[0])


def test_unknown_storage_is_refused(tmp_path: Path) -> None:
    require_module("onnx", "onnx")
    from scripts.ship_neural import compact_fp32

    _tiny_graph(tmp_path / "plain.onnx")
    with pytest.raises(ValueError, match="fp16 or int8"):
        compact_fp32(tmp_path / "plain.onnx", tmp_path / "x.onnx", storage="int4")
