"""The weights of an exported torch module, read back from its ONNX graph.

Why: a shipped model is an ONNX graph, and the torch run it came from may be gone; the graph still holds
every weight. ``torch.onnx`` keeps the module's parameter names for initializers it uses as they are
(biases, LayerNorms, embedding tables), while each ``Linear`` becomes a ``MatMul`` whose constant
second input is the weight *transposed*, under an anonymous name — the node's own name carries the
module path (``/inner/bert/encoder/layer.0/attention/self/query/MatMul``). An embedding table that
dynamic quantization stored as int8 (``NAME_quantized`` + ``NAME_scale`` + ``NAME_zero_point``) is
dequantized, and so is a weight that static (QDQ) quantization feeds to its ``MatMul`` through a
``DequantizeLinear`` of int8 initializers (per output channel): the rebuilt weights then carry the
int8 rounding, which is what a student started from a shipped static graph inherits. Export-time only
(needs ``onnx``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def module_state(graph: Any, module: str) -> dict[str, np.ndarray]:
    """Parameter name (relative to the exported attribute ``module``, e.g. ``inner`` or ``encoder``) ->
    array, from ``graph`` (an ``onnx`` GraphProto)."""
    from onnx import numpy_helper

    inits = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    prefix, node_prefix = module + ".", "/" + module + "/"
    state: dict[str, np.ndarray] = {}
    for name, array in inits.items():
        if not name.startswith(prefix):
            continue
        if name.endswith(".weight_quantized"):
            stem = name.removesuffix("_quantized")
            zero = inits[stem + "_zero_point"].astype(np.float32)
            state[stem.removeprefix(prefix)] = (array.astype(np.float32) - zero) * inits[stem + "_scale"]
        elif name.endswith(("weight", "bias")):
            state[name.removeprefix(prefix)] = array
    consts = {**inits, **_dequantized_constants(graph, inits)}
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in consts and node.name.startswith(node_prefix):
            path = node.name.removeprefix(node_prefix).removesuffix("/MatMul").replace("/", ".")
            state[path + ".weight"] = consts[node.input[1]].T  # MatMul holds W^T of the Linear
    return state


def _dequantized_constants(graph: Any, inits: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Output name -> fp32 array of every ``DequantizeLinear`` whose inputs are all initializers (a
    statically quantized weight; activations are quantized at run time and have no constant input)."""
    out: dict[str, np.ndarray] = {}
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or not all(name in inits for name in node.input):
            continue
        value, scale = inits[node.input[0]].astype(np.float32), inits[node.input[1]].astype(np.float32)
        zero = inits[node.input[2]].astype(np.float32) if len(node.input) > 2 else np.zeros_like(scale)
        axis = next((attr.i for attr in node.attribute if attr.name == "axis"), 1)
        if scale.ndim == 1 and scale.size > 1:  # per channel along ``axis``
            shape = [1] * value.ndim
            shape[axis] = scale.size
            scale, zero = scale.reshape(shape), zero.reshape(shape)
        out[node.output[0]] = (value - zero) * scale
    return out


def read_module_state(path: str | Path, module: str) -> dict[str, np.ndarray]:
    """:func:`module_state` of the graph file ``path``."""
    import onnx

    return module_state(onnx.load(str(path)).graph, module)


__all__ = ["module_state", "read_module_state"]
