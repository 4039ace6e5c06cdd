"""scripts/onnx_to_hf.py: the shipped graph's weights, read back into transformers, give its answers."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from tests.fixtures_pair import tiny_train_config
from tests.servers import require_module

from geoalign.types import AddressPair

PAIRS = [
    AddressPair("浙江省杭州市西湖区文三路369号", "杭州市西湖区文三路369号"),
    AddressPair("上海市浦东新区世纪大道100号", "上海市徐汇区漕溪北路88号"),
    AddressPair("四川省成都市武侯区人民南路四段1号", "成都市武侯区人民南路4段1号附2号"),
]


@pytest.mark.slow
def test_rebuilt_checkpoint_reproduces_the_graph_and_drops_layers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_module("torch", "torch")
    require_module("transformers", "torch")
    require_module("onnx", "export")
    import torch
    from scripts.onnx_to_hf import main
    from transformers import BertForSequenceClassification

    from geoalign.neural.data import MODEL_LABELS, TrainPair
    from geoalign.neural.train import collate, encode_pairs, pair_logits, train
    from geoalign.scorers.export_onnx import ExportOptions, export_checkpoint
    from geoalign.scorers.mgeo_onnx import OnnxScorer

    best = train(tiny_train_config(tmp_path, "run", layers=3))
    export_checkpoint(best, tmp_path / "graph", ExportOptions(), echo=lambda line: None)
    graph = tmp_path / "graph" / "model_fp32.onnx"
    tokenizer = tmp_path / "graph" / "tokenizer.json"

    def rebuild(out: Path, *keep: str) -> BertForSequenceClassification:
        argv = ["onnx_to_hf", "--onnx", str(graph), "--tokenizer", str(tokenizer), "--out", str(out)]
        argv += ["--heads", "1", *(["--keep", *keep] if keep else [])]
        monkeypatch.setattr(sys, "argv", argv)
        assert main() == 0
        return BertForSequenceClassification.from_pretrained(out).eval()

    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer))
    enc = encode_pairs(tok, [TrainPair(p.a, p.b, (True, False, False), "x") for p in PAIRS], 64)
    batch = collate(enc, list(range(len(PAIRS))), tok.token_to_id("<pad>"))
    scorer = OnnxScorer(tmp_path / "graph", variant="fp32", explain=False)
    expected = np.array([[m.probabilities[n] for n in MODEL_LABELS] for m in scorer.score(PAIRS)])  # type: ignore[union-attr]

    full = rebuild(tmp_path / "full")
    with torch.no_grad():
        got = torch.softmax(pair_logits(full, batch), dim=-1).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)

    dropped = rebuild(tmp_path / "dropped", "0", "2")
    assert dropped.config.num_hidden_layers == 2
    original = BertForSequenceClassification.from_pretrained(best)
    torch.testing.assert_close(
        dropped.bert.encoder.layer[1].output.dense.weight, original.bert.encoder.layer[2].output.dense.weight
    )
    with pytest.raises(SystemExit, match="has layers"):
        rebuild(tmp_path / "bad", "7")
