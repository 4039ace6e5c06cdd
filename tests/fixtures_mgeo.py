"""Tiny checkpoints in MGeo's exact ModelScope layout, and an independent numpy BERT to check them.

The reference forward reads the *raw* ModelScope state dict (``bert.text_encoder.*`` keys) and implements
the BERT equations directly (embeddings sum + LayerNorm, scaled dot-product attention with an additive
mask, erf-GELU FFN, post-LN residuals, tanh pooler on [CLS], linear head), so a loader that drops,
misplaces or re-initialises any weight disagrees with it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

TEXT = "bert.text_encoder."
#: A small vocabulary (specials at bert-base-chinese's ids are not needed for a toy model).
VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    *list("0123456789"), *[f"##{d}" for d in "0123456789"], *list("abcdefghijklmnopqrstuvwxyz"),
    *[f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"],
    *list("省市区县镇乡村街道路巷号楼栋单元室层幢弄大厦广场中心小区花园公寓杭州上海北京南京西湖余杭浦东新文一三二紫萱人力社保局栖霞仙林枢东商住书店医院学校"),
]  # fmt: skip

#: Canonical MGeo label order expected for the released checkpoint (alphabetical).
MGEO_ID2LABEL = {0: "exact_match", 1: "not_match", 2: "partial_match"}


def small_config(**overrides: Any) -> dict[str, Any]:
    config = {
        "architectures": ["MGeoForSequenceClassification"],
        "model_type": "bert",
        "vocab_size": len(dict.fromkeys(VOCAB)),
        "hidden_size": 16,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 32,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": 64,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 0,
        "gis_embedding": 0,
        "fusion_layer": 2,
    }
    config.update(overrides)
    return config


def random_state_dict(
    config: dict[str, Any],
    *,
    num_labels: int = 3,
    seed: int = 0,
    gis: bool = False,
    crossattention: bool = True,
) -> dict[str, Any]:
    """A raw MGeo state dict built tensor by tensor (not through any transformers model).

    Layers at or beyond ``fusion_layer`` get cross-attention weights, as in MGeo's BertLayer.
    """
    import torch

    g = torch.Generator().manual_seed(seed)
    h, ffn = config["hidden_size"], config["intermediate_size"]

    def rnd(*shape: int, scale: float = 0.5) -> Any:
        return torch.randn(*shape, generator=g) * scale

    sd: dict[str, Any] = {
        TEXT + "embeddings.position_ids": torch.arange(config["max_position_embeddings"]).unsqueeze(0),
        TEXT + "embeddings.word_embeddings.weight": rnd(config["vocab_size"], h),
        TEXT + "embeddings.position_embeddings.weight": rnd(config["max_position_embeddings"], h),
        TEXT + "embeddings.token_type_embeddings.weight": rnd(config["type_vocab_size"], h),
        TEXT + "embeddings.LayerNorm.weight": 1 + rnd(h, scale=0.1),
        TEXT + "embeddings.LayerNorm.bias": rnd(h, scale=0.1),
    }
    for i in range(config["num_hidden_layers"]):
        p = f"{TEXT}encoder.layer.{i}."
        for name in ("query", "key", "value"):
            sd[p + f"attention.self.{name}.weight"] = rnd(h, h, scale=h**-0.5)
            sd[p + f"attention.self.{name}.bias"] = rnd(h, scale=0.1)
        sd[p + "attention.output.dense.weight"] = rnd(h, h, scale=h**-0.5)
        sd[p + "attention.output.dense.bias"] = rnd(h, scale=0.1)
        sd[p + "attention.output.LayerNorm.weight"] = 1 + rnd(h, scale=0.1)
        sd[p + "attention.output.LayerNorm.bias"] = rnd(h, scale=0.1)
        sd[p + "intermediate.dense.weight"] = rnd(ffn, h, scale=h**-0.5)
        sd[p + "intermediate.dense.bias"] = rnd(ffn, scale=0.1)
        sd[p + "output.dense.weight"] = rnd(h, ffn, scale=ffn**-0.5)
        sd[p + "output.dense.bias"] = rnd(h, scale=0.1)
        sd[p + "output.LayerNorm.weight"] = 1 + rnd(h, scale=0.1)
        sd[p + "output.LayerNorm.bias"] = rnd(h, scale=0.1)
        if crossattention and i >= config["fusion_layer"]:
            for name in ("query", "key", "value"):
                sd[p + f"crossattention.self.{name}.weight"] = rnd(h, h)
                sd[p + f"crossattention.self.{name}.bias"] = rnd(h)
            sd[p + "crossattention.output.dense.weight"] = rnd(h, h)
            sd[p + "crossattention.output.dense.bias"] = rnd(h)
    sd[TEXT + "pooler.dense.weight"] = rnd(h, h, scale=h**-0.5)
    sd[TEXT + "pooler.dense.bias"] = rnd(h, scale=0.1)
    sd["classifier.weight"] = rnd(num_labels, h)
    sd["classifier.bias"] = rnd(num_labels, scale=0.1)
    if gis:
        sd["bert.gis_encoder.embeddings.word_embeddings.weight"] = rnd(11, 8)
        sd["bert.gis2text.weight"] = rnd(h, 8)
        sd["bert.gis2text.bias"] = rnd(h)
        sd["bert.gis_type.weight"] = rnd(2, 8)
    return sd


def write_modelscope_dir(
    path: Path,
    *,
    config: dict[str, Any] | None = None,
    state_dict: dict[str, Any] | None = None,
    configuration: dict[str, Any] | None = None,
    id2label: dict[int, str] | None = None,
    seed: int = 0,
    gis: bool = False,
    skip: tuple[str, ...] = (),
) -> Path:
    """Write a ModelScope-layout MGeo directory: config.json (no num_labels), configuration.json
    (labels under model.id2label and dataset.train.labels), pytorch_model.bin (raw state dict), vocab.txt."""
    import torch

    path.mkdir(parents=True, exist_ok=True)
    config = config or small_config()
    labels = MGEO_ID2LABEL if id2label is None else id2label
    if configuration is None:
        configuration = {
            "framework": "pytorch",
            "task": "sentence-similarity",
            "pipeline": {"type": "sentence-similarity"},
            "model": {"type": "mgeo", "id2label": {str(k): v for k, v in labels.items()},
                      "label2id": {v: k for k, v in labels.items()}},
            "preprocessor": {"type": "sen-sim-tokenizer", "first_sequence": "a", "second_sequence": "b"},
            "dataset": {"train": {"labels": [labels[i] for i in sorted(labels)], "sequence_length": 128}},
        }  # fmt: skip
    if state_dict is None:
        state_dict = random_state_dict(config, seed=seed, gis=gis)
    files = {
        "config.json": json.dumps(config, indent=2),
        "configuration.json": json.dumps(configuration, indent=2, ensure_ascii=False),
        "vocab.txt": "\n".join(dict.fromkeys(VOCAB)) + "\n",
    }
    for name, text in files.items():
        if name not in skip:
            (path / name).write_text(text, encoding="utf-8")
    if "pytorch_model.bin" not in skip:
        torch.save(state_dict, path / "pytorch_model.bin")
    return path


# ------------------------------------------------------------------------------ numpy reference BERT


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


_erf = np.vectorize(math.erf)


def numpy_bert_logits(
    raw_state_dict: dict[str, Any],
    config: dict[str, Any],
    input_ids: np.ndarray,
    token_type_ids: np.ndarray,
    attention_mask: np.ndarray,
) -> np.ndarray:
    """Logits of MGeo's text-mode forward, in float64, straight from the raw ModelScope state dict.

    Runs ``min(num_hidden_layers, fusion_layer)`` layers, like MGeo's ``mode='text'``.
    """
    w = {k: v.detach().double().numpy() for k, v in raw_state_dict.items() if hasattr(v, "detach")}
    eps = config["layer_norm_eps"]
    heads = config["num_attention_heads"]
    n_layers = min(config["num_hidden_layers"], config.get("fusion_layer", config["num_hidden_layers"]))
    batch, seq = input_ids.shape
    e = TEXT + "embeddings."
    x = (
        w[e + "word_embeddings.weight"][input_ids]
        + w[e + "token_type_embeddings.weight"][token_type_ids]
        + w[e + "position_embeddings.weight"][np.arange(seq)][None]
    )
    x = _layer_norm(x, w[e + "LayerNorm.weight"], w[e + "LayerNorm.bias"], eps)
    additive = (1.0 - attention_mask[:, None, None, :].astype(np.float64)) * -1e9
    h = x.shape[-1]
    d = h // heads
    for i in range(n_layers):
        p = f"{TEXT}encoder.layer.{i}."

        def lin(t: np.ndarray, name: str, p: str = p) -> np.ndarray:
            return t @ w[p + name + ".weight"].T + w[p + name + ".bias"]

        def split(t: np.ndarray) -> np.ndarray:
            return t.reshape(batch, seq, heads, d).transpose(0, 2, 1, 3)

        q, k, v = (split(lin(x, f"attention.self.{n}")) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + additive
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probs = scores / scores.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, h)
        x = _layer_norm(
            lin(ctx, "attention.output.dense") + x,
            w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"],
            eps,
        )
        inter = lin(x, "intermediate.dense")
        inter = 0.5 * inter * (1.0 + _erf(inter / math.sqrt(2.0)))
        x = _layer_norm(
            lin(inter, "output.dense") + x,
            w[p + "output.LayerNorm.weight"],
            w[p + "output.LayerNorm.bias"],
            eps,
        )
    pooled = np.tanh(x[:, 0] @ w[TEXT + "pooler.dense.weight"].T + w[TEXT + "pooler.dense.bias"])
    return pooled @ w["classifier.weight"].T + w["classifier.bias"]  # type: ignore[no-any-return]


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)  # type: ignore[no-any-return]
