"""Rebuild a ``transformers`` checkpoint from a plain fp32 ONNX export of geoalign's neural matcher.

Why: the shipped model is an ONNX graph; the torch run it was exported from may be gone. The graph still
holds every weight — named initializers for biases, LayerNorms, embeddings, pooler and classifier, and
each Linear's weight (transposed) as the second input of the MatMul node that carries the module's
path. With ``--keep`` a subset of the encoder layers is kept (layer dropping, to start a smaller student
from the fine-tuned model instead of the pretrained encoder's lowest layers).

    python scripts/onnx_to_hf.py --onnx plain_fp32.onnx \
        --tokenizer src/geoalign/models/neural/tokenizer.json --out artifacts/neural/shipped6_to3 --keep 0 2 5

The output directory is a ``train-neural --init-from`` directory (config.json, weights, tokenizer files,
geoalign_neural.json). A compactly stored graph (fp16 + Cast) is first restored with
``geoalign.scorers.quantize.restore_fp32_initializers``; a statically quantized (QDQ) graph, as shipped
since session 6, gives its int8 weights dequantized (``graph_weights``); a dynamically quantized one
(``MatMulInteger``) cannot be rebuilt.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path

import numpy as np


def onnx_state(path: Path) -> dict[str, np.ndarray]:
    """Parameter name (``BertForSequenceClassification``'s) -> array, read from the graph."""
    from geoalign.scorers.graph_weights import read_module_state
    from geoalign.scorers.quantize import restore_fp32_initializers

    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "plain.onnx"
        restore_fp32_initializers(path, plain)
        state = read_module_state(plain, "inner")
    if any(arr.dtype != np.float32 for arr in state.values()):
        raise SystemExit(f"{path}: not a plain fp32 graph (quantized weights cannot be rebuilt)")
    return state


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onnx", type=Path, required=True, help="the fp32 graph (plain or fp16-stored)")
    ap.add_argument("--tokenizer", type=Path, required=True, help="its tokenizer.json")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--keep", type=int, nargs="+", default=None, help="encoder layers to keep, in order")
    ap.add_argument("--heads", type=int, default=12, help="attention heads (not in the weights' shapes)")
    ap.add_argument("--max-length", type=int, default=64)
    args = ap.parse_args()

    import torch
    from tokenizers import Tokenizer
    from transformers import BertConfig, BertForSequenceClassification

    from geoalign.neural.data import MODEL_LABELS
    from geoalign.neural.train import save_tokenizer

    state = onnx_state(args.onnx)
    layers = sorted({int(m.group(1)) for k in state if (m := re.match(r"bert\.encoder\.layer\.(\d+)\.", k))})
    keep = args.keep if args.keep is not None else layers
    if not set(keep) <= set(layers):
        raise SystemExit(f"--keep {keep}: the graph has layers {layers}")
    renamed: dict[str, np.ndarray] = {}
    for key, arr in state.items():
        m = re.match(r"bert\.encoder\.layer\.(\d+)\.(.+)$", key)
        if m is None:
            renamed[key] = arr
        elif int(m.group(1)) in keep:
            renamed[f"bert.encoder.layer.{keep.index(int(m.group(1)))}.{m.group(2)}"] = arr
    words = state["bert.embeddings.word_embeddings.weight"]
    config = BertConfig(
        vocab_size=words.shape[0],
        hidden_size=words.shape[1],
        num_hidden_layers=len(keep),
        num_attention_heads=args.heads,
        intermediate_size=state["bert.encoder.layer.0.intermediate.dense.bias"].shape[0],
        hidden_act="gelu",
        max_position_embeddings=state["bert.embeddings.position_embeddings.weight"].shape[0],
        type_vocab_size=state["bert.embeddings.token_type_embeddings.weight"].shape[0],
        layer_norm_eps=1e-12,
        pad_token_id=Tokenizer.from_file(str(args.tokenizer)).token_to_id("<pad>"),
        num_labels=3,
        id2label=dict(enumerate(MODEL_LABELS)),
        label2id={v: k for k, v in enumerate(MODEL_LABELS)},
    )
    model = BertForSequenceClassification(config)
    tensors = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in renamed.items()}  # own copies
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise SystemExit(f"weights do not fit: missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.save_pretrained(args.out)
    save_tokenizer(Tokenizer.from_file(str(args.tokenizer)), args.out, args.max_length)
    info = {
        "base": f"rebuilt from {args.onnx} (layers {keep} of {layers})",
        "init": "onnx",
        "layers": len(keep),
    }
    (args.out / "geoalign_neural.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    params = sum(p.numel() for p in model.parameters()) / 1e6
    print(f"{args.out}: {len(keep)} layers {keep}, {params:.1f}M params")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
