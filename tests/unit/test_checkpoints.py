"""Checkpoint loading against an independent numpy BERT, and every broken variant failing clearly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.servers import require_module

torch = require_module("torch", "torch")
require_module("transformers", "torch")

from tests.fixtures_mgeo import (  # noqa: E402
    MGEO_ID2LABEL,
    numpy_bert_logits,
    random_state_dict,
    small_config,
    write_modelscope_dir,
)

from geoalign.errors import ModelLoadError  # noqa: E402
from geoalign.scorers.charvocab import VOCAB_SIZE, build_char_vocab  # noqa: E402
from geoalign.scorers.checkpoints import load_checkpoint, read_labels  # noqa: E402

pytestmark = pytest.mark.torch


def _random_inputs(config: dict, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A padded batch of 4 rows with different real lengths and 0/1 segments."""
    rng = np.random.default_rng(seed)
    seq = 12
    ids = rng.integers(5, config["vocab_size"], size=(4, seq))
    mask = np.zeros((4, seq), dtype=np.int64)
    types = np.zeros((4, seq), dtype=np.int64)
    for row, (n, split) in enumerate([(12, 6), (9, 4), (5, 3), (7, 2)]):
        mask[row, :n] = 1
        types[row, split:n] = 1
        ids[row, n:] = 0
    return ids, types, mask


def _torch_logits(model, ids, types, mask) -> np.ndarray:  # type: ignore[no-untyped-def]
    with torch.inference_mode():
        out = model(
            input_ids=torch.from_numpy(ids),
            token_type_ids=torch.from_numpy(types),
            attention_mask=torch.from_numpy(mask),
        )
    return out.logits.double().numpy()


def _assert_matches_reference(path: Path, config: dict) -> None:
    ckpt = load_checkpoint(path)
    raw = torch.load(path / "pytorch_model.bin", weights_only=True)
    ids, types, mask = _random_inputs(config)
    want = numpy_bert_logits(raw, config, ids, types, mask)
    got = _torch_logits(ckpt.model, ids, types, mask)
    np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-4)


def test_modelscope_layout_matches_numpy_reference(tmp_path: Path) -> None:
    config = small_config()
    path = write_modelscope_dir(tmp_path / "mgeo", config=config)
    _assert_matches_reference(path, config)
    ckpt = load_checkpoint(path)
    assert ckpt.source == "modelscope"
    assert ckpt.id2label == MGEO_ID2LABEL
    assert ckpt.model_id.startswith("sha256:") and len(ckpt.model_id) == len("sha256:") + 16
    assert ckpt.max_length == 64  # pipeline default 512, capped by max_position_embeddings
    assert not ckpt.model.training


def test_a_different_seed_gives_a_different_model_id_and_logits(tmp_path: Path) -> None:
    a = load_checkpoint(write_modelscope_dir(tmp_path / "a", seed=0))
    b = load_checkpoint(write_modelscope_dir(tmp_path / "b", seed=1))
    assert a.model_id != b.model_id
    ids, types, mask = _random_inputs(small_config())
    assert not np.allclose(_torch_logits(a.model, ids, types, mask), _torch_logits(b.model, ids, types, mask))


def test_fusion_layer_below_num_layers_runs_only_text_layers(tmp_path: Path) -> None:
    config = small_config(num_hidden_layers=4, fusion_layer=2)
    path = write_modelscope_dir(tmp_path / "fusion", config=config)
    raw = torch.load(path / "pytorch_model.bin", weights_only=True)
    assert any(".crossattention." in k for k in raw)
    ckpt = load_checkpoint(path)
    assert ckpt.model.config.num_hidden_layers == 2
    assert any("crossattention" in note for note in ckpt.notes)
    _assert_matches_reference(path, config)


def test_gis_keys_are_dropped(tmp_path: Path) -> None:
    config = small_config()
    path = write_modelscope_dir(tmp_path / "gis", config=config, gis=True)
    ckpt = load_checkpoint(path)
    assert any("gis" in note for note in ckpt.notes)
    _assert_matches_reference(path, config)


def test_labels_only_in_configuration_json_model_section(tmp_path: Path) -> None:
    labels = {0: "not_match", 1: "partial_match", 2: "exact_match"}
    configuration = {"model": {"type": "mgeo", "id2label": {str(k): v for k, v in labels.items()}}}
    path = write_modelscope_dir(tmp_path / "m", configuration=configuration)
    assert read_labels(path) == labels
    assert load_checkpoint(path).id2label == labels


def test_labels_from_training_list_only(tmp_path: Path) -> None:
    configuration = {"dataset": {"train": {"labels": ["not_match", "partial_match", "exact_match"]}}}
    path = write_modelscope_dir(tmp_path / "m", configuration=configuration)
    assert read_labels(path) == {0: "not_match", 1: "partial_match", 2: "exact_match"}


def test_disagreeing_label_sources_are_an_error(tmp_path: Path) -> None:
    configuration = {
        "model": {"id2label": {str(k): v for k, v in MGEO_ID2LABEL.items()}},
        "dataset": {"train": {"labels": ["not_match", "partial_match", "exact_match"]}},  # recipe order
    }
    path = write_modelscope_dir(tmp_path / "m", configuration=configuration)
    with pytest.raises(ModelLoadError, match="disagree"):
        load_checkpoint(path)


def test_label_mapping_json_disagreeing_with_configuration(tmp_path: Path) -> None:
    path = write_modelscope_dir(tmp_path / "m")
    (path / "label_mapping.json").write_text(
        json.dumps({"not_match": 0, "exact_match": 1, "partial_match": 2})
    )
    with pytest.raises(ModelLoadError, match=r"label_mapping\.json"):
        load_checkpoint(path)


_NOT_EXACTLY = r"are not exactly \['exact_match', 'partial_match', 'not_match'\]$"
_NO_LABELS = (
    r"no label mapping found \(looked in configuration\.json, label_mapping\.json, config\.json\); "
    r"the id order cannot be guessed$"
)


@pytest.mark.parametrize(
    ("configuration", "message"),
    [
        ({"model": {"type": "mgeo"}}, _NO_LABELS),  # no labels anywhere
        (  # not our names
            {"model": {"id2label": {"0": "same", "1": "different", "2": "maybe"}}},
            r"labels \{0: 'same', 1: 'different', 2: 'maybe'\} in configuration\.json model\.id2label "
            + _NOT_EXACTLY,
        ),
        (  # two labels
            {"model": {"id2label": {"0": "exact_match", "1": "not_match"}}},
            r"labels \{0: 'exact_match', 1: 'not_match'\} in configuration\.json model\.id2label "
            + _NOT_EXACTLY,
        ),
        (  # a hole in the ids
            {"model": {"id2label": {"0": "exact_match", "1": "not_match", "3": "partial_match"}}},
            r"label ids in configuration\.json model\.id2label are not 0\.\.2: \[0, 1, 3\]$",
        ),
    ],
)
def test_bad_labels_are_an_error(tmp_path: Path, configuration: dict, message: str) -> None:
    path = write_modelscope_dir(tmp_path / "m", configuration=configuration)
    with pytest.raises(ModelLoadError, match=message):
        load_checkpoint(path)


_NEEDS = (
    r" \(a ModelScope MGeo directory needs config\.json, configuration\.json, pytorch_model\.bin "
    r"and vocab\.txt\)$"
)


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("config.json", r"/m has no config\.json: not a ModelScope or Hugging Face model directory$"),
        ("pytorch_model.bin", r"/m: missing pytorch_model\.bin" + _NEEDS),
        ("vocab.txt", r"/m: missing vocab\.txt" + _NEEDS),
        ("configuration.json", _NO_LABELS),  # the labels lived there
    ],
)
def test_missing_file_is_a_clear_error(tmp_path: Path, missing: str, message: str) -> None:
    path = write_modelscope_dir(tmp_path / "m", skip=(missing,))
    with pytest.raises(ModelLoadError, match=message):
        load_checkpoint(path)


def test_missing_weight_is_an_error_not_a_random_init(tmp_path: Path) -> None:
    config = small_config()
    sd = random_state_dict(config)
    del sd["bert.text_encoder.encoder.layer.1.output.dense.weight"]
    path = write_modelscope_dir(tmp_path / "m", config=config, state_dict=sd)
    with pytest.raises(ModelLoadError, match="1 missing"):
        load_checkpoint(path)


def test_unknown_extra_key_is_an_error(tmp_path: Path) -> None:
    config = small_config()
    sd = random_state_dict(config)
    sd["cls.predictions.bias"] = torch.zeros(config["vocab_size"])  # an MLM head: not this model
    path = write_modelscope_dir(tmp_path / "m", config=config, state_dict=sd)
    with pytest.raises(ModelLoadError, match="1 unexpected"):
        load_checkpoint(path)


def test_wrong_classifier_width_is_an_error(tmp_path: Path) -> None:
    config = small_config()
    path = write_modelscope_dir(
        tmp_path / "m", config=config, state_dict=random_state_dict(config, num_labels=2)
    )
    with pytest.raises(ModelLoadError, match="do not fit"):
        load_checkpoint(path)


def test_plain_hf_keys_are_not_an_mgeo_checkpoint(tmp_path: Path) -> None:
    config = small_config()
    sd = {k.replace("bert.text_encoder.", "bert."): v for k, v in random_state_dict(config).items()}
    path = write_modelscope_dir(tmp_path / "m", config=config, state_dict=sd)
    with pytest.raises(ModelLoadError, match="text_encoder"):
        load_checkpoint(path)


def test_crossattention_must_sit_exactly_beyond_fusion_layer(tmp_path: Path) -> None:
    config = small_config(num_hidden_layers=4, fusion_layer=2)
    sd = random_state_dict(config, crossattention=False)
    path = write_modelscope_dir(tmp_path / "none", config=config, state_dict=sd)
    with pytest.raises(ModelLoadError, match="cross-attention"):
        load_checkpoint(path)
    early = random_state_dict(small_config(num_hidden_layers=4, fusion_layer=1))  # layers 1..3 have it
    path = write_modelscope_dir(tmp_path / "early", config=config, state_dict=early)
    with pytest.raises(ModelLoadError, match="cross-attention"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "override", [{"gis_embedding": 1}, {"position_embedding_type": "relative_key"}, {"hidden_act": "relu"}]
)
def test_unsupported_config_is_an_error(tmp_path: Path, override: dict) -> None:
    path = write_modelscope_dir(tmp_path / "m", config=small_config(**override))
    with pytest.raises(ModelLoadError):
        load_checkpoint(path)


def test_pickled_objects_are_refused(tmp_path: Path) -> None:
    path = write_modelscope_dir(tmp_path / "m")
    torch.save({"weights": object()}, path / "pytorch_model.bin")  # needs unpickling arbitrary objects
    with pytest.raises(ModelLoadError, match=r"pytorch_model\.bin"):
        load_checkpoint(path)


def test_plain_hf_directory_loads_exactly(tmp_path: Path) -> None:
    config = small_config()
    ms = load_checkpoint(write_modelscope_dir(tmp_path / "ms", config=config))
    hf_dir = tmp_path / "hf"
    ms.model.save_pretrained(hf_dir)
    ms.tokenizer.save_pretrained(hf_dir)
    hf = load_checkpoint(hf_dir)
    assert hf.source == "huggingface"
    assert hf.id2label == MGEO_ID2LABEL
    raw = torch.load(tmp_path / "ms" / "pytorch_model.bin", weights_only=True)
    ids, types, mask = _random_inputs(config)
    np.testing.assert_allclose(
        _torch_logits(hf.model, ids, types, mask), numpy_bert_logits(raw, config, ids, types, mask), atol=2e-5
    )


def test_hf_directory_with_default_labels_is_refused(tmp_path: Path) -> None:
    import transformers

    cfg = transformers.BertConfig(
        vocab_size=50,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        num_labels=3,
    )
    hf_dir = tmp_path / "hf"
    transformers.BertForSequenceClassification(cfg).save_pretrained(hf_dir)
    with pytest.raises(ModelLoadError, match="no label mapping"):
        load_checkpoint(hf_dir)


def test_not_a_model_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not found"):
        load_checkpoint(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match=r"config\.json"):
        load_checkpoint(tmp_path / "empty")


def test_model_id_without_modelscope_package_says_what_to_do() -> None:
    try:
        import modelscope  # noqa: F401
    except ModuleNotFoundError:
        with pytest.raises(ModelLoadError, match="modelscope"):
            load_checkpoint("damo/mgeo_geographic_entity_alignment_chinese_base")
    else:
        pytest.skip("modelscope is installed; downloading is not tested offline")


def test_random_init_is_labelled_random() -> None:
    with pytest.warns(UserWarning, match="NOT predictions"):
        ckpt = load_checkpoint("random-init:tiny")
    assert ckpt.is_random and ckpt.model_id == "random-init:tiny"
    assert ckpt.model.config.vocab_size == VOCAB_SIZE
    with pytest.raises(ModelLoadError, match="preset"):
        load_checkpoint("random-init:nope")


def test_char_vocab_has_bert_chinese_shape() -> None:
    vocab = build_char_vocab()
    assert len(vocab) == VOCAB_SIZE == 21128
    assert len(set(vocab)) == len(vocab)
    assert (vocab[0], vocab[100], vocab[101], vocab[102], vocab[103]) == (
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
    )
    assert {"紫", "龥", "##3", "a", "，"} <= set(vocab)
