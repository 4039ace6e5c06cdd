"""The pair-classifier scorer with a geoalign-shaped model: a tiny XLM-R with a Unigram ``tokenizer.json``
(no vocab.txt, labels in config.json id2label, no token_type_ids) loads as just another checkpoint, exports
to ONNX and scores the same through the torch and ONNX Runtime backends; plus the pair template, the
truncation record and the cache keys of fp32 and bf16 replicas."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import pytest
from tests.servers import require_module

torch = require_module("torch", "torch")
require_module("transformers", "torch")
require_module("onnxruntime", "onnx")
require_module("onnx", "export")

from tests.fixtures_pair import ID2LABEL, unigram_tokenizer, write_xlmr_dir  # noqa: E402

from geoalign.engine.cache import ScorerKeys  # noqa: E402
from geoalign.scorers import backend_torch  # noqa: E402
from geoalign.scorers.checkpoints import load_checkpoint  # noqa: E402
from geoalign.scorers.export_onnx import ExportOptions, export_checkpoint  # noqa: E402
from geoalign.scorers.manifest import read_manifest  # noqa: E402
from geoalign.scorers.mgeo_onnx import OnnxScorer  # noqa: E402
from geoalign.scorers.mgeo_torch import TorchScorer  # noqa: E402
from geoalign.scorers.pair_classifier import PairEncoder, PairTemplate  # noqa: E402
from geoalign.types import LABELS, AddressPair, ItemError, Match  # noqa: E402

PAIRS = [
    AddressPair("杭州市西湖区文一路3号", "文一路3号"),
    AddressPair("上海市浦东新区中心大厦12楼", "浦东新区中心大厦"),
    AddressPair("北京市西湖路1号3栋2单元101室" * 3, "北京市"),  # cut to the 32-token maximum
    AddressPair(None, "北京市"),
]


@pytest.fixture(scope="module")
def xlmr(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_xlmr_dir(tmp_path_factory.mktemp("xlmr") / "model")


@pytest.fixture(scope="module")
def exported(xlmr: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("xlmr-onnx") / "onnx"
    export_checkpoint(xlmr, out, ExportOptions(optimize=True, int8=True), echo=lambda line: None)
    return out


def test_the_template_is_read_from_the_tokenizer() -> None:
    template = PairTemplate.from_tokenizer(unigram_tokenizer())
    # <s> a </s></s> b </s>
    assert (template.prefix, template.middle, template.suffix) == ((0,), (2, 2), (2,))
    assert template.n_special == 4 and {template.a_type, template.b_type} == {0}


def test_an_xlmr_checkpoint_loads_as_just_another_checkpoint(xlmr: Path) -> None:
    assert not (xlmr / "vocab.txt").exists() and (xlmr / "tokenizer.json").is_file()
    checkpoint = load_checkpoint(xlmr)
    assert checkpoint.source == "huggingface" and checkpoint.id2label == ID2LABEL
    assert checkpoint.max_length == 32  # 34 positions less RoBERTa's padding offset (pad id 1, + 1)
    assert checkpoint.use_token_type is False
    scorer = TorchScorer(checkpoint)
    results = scorer.score(PAIRS)
    assert [type(r) for r in results] == [Match, Match, Match, ItemError]
    # the assembled ids are the tokenizer's own pair encoding, truncation included
    enc = checkpoint.tokenizer(PAIRS[2].a, PAIRS[2].b, truncation="longest_first", max_length=32)
    prepared = scorer.prepare(PAIRS[2:3]).items[0]
    assert not isinstance(prepared, ItemError)
    assert prepared.data.tokens.input_ids == list(enc["input_ids"]) and prepared.cost == 32
    assert set(prepared.data.tokens.token_type_ids) == {0}


def test_truncation_says_which_side_and_where(xlmr: Path) -> None:
    scorer = TorchScorer(load_checkpoint(xlmr))
    long = PAIRS[2].a
    result = scorer.score([PAIRS[2]])[0]
    assert isinstance(result, Match) and result.explanation is not None
    cut = result.explanation["truncated"]
    assert list(cut) == ["a"] and cut["a"]["by"] == "max_length"
    kept, total, at = cut["a"]["kept_tokens"], cut["a"]["tokens"], cut["a"]["at_char"]
    tokens = scorer.encoder.lookup([long])[long]
    assert total == len(tokens.ids) and kept == 32 - 4 - len(scorer.encoder.tokenize(["北京市"])["北京市"])
    assert at == tokens.ends[kept - 1] and 0 < at < len(long)
    # off per call: no explanation, same numbers
    (plain,) = scorer.score([PAIRS[2]], explain=False)
    assert isinstance(plain, Match) and plain.explanation is None
    assert plain.probabilities == result.probabilities
    # cut by clean's character limit instead
    (by_chars,) = TorchScorer(load_checkpoint(xlmr), max_chars=4).score([AddressPair("文一路3号", "上海")])
    assert isinstance(by_chars, Match)
    assert by_chars.explanation == {"truncated": {"a": {"by": "max_chars", "at_char": 4}}}


def test_export_and_both_backends_agree(xlmr: Path, exported: Path) -> None:
    manifest = read_manifest(exported)
    assert manifest.uses_token_type_ids is False and manifest.max_length == 32
    assert manifest.labels == [ID2LABEL[i] for i in range(3)]
    assert manifest.special_tokens == {"cls": 0, "sep": 2, "pad": 1}
    want = TorchScorer(load_checkpoint(xlmr)).score(PAIRS)
    for variant, atol in (("fp32", 1e-5), ("fused", 1e-5), ("int8", 0.1)):
        scorer = OnnxScorer(exported, variant=variant, provider="cpu")
        assert [i.name for i in scorer.session.get_inputs()] == ["input_ids", "attention_mask"]
        got = scorer.score(PAIRS)
        for w, g in zip(want, got, strict=True):
            if isinstance(w, ItemError):
                assert g == w
                continue
            assert isinstance(g, Match) and g.scorer == "onnx"
            for label in LABELS:
                assert g.probabilities[label] == pytest.approx(w.probabilities[label], abs=atol)
            assert g.explanation == w.explanation  # the same truncation record from both backends


def test_a_hand_built_encoder_refuses_a_template_it_cannot_reproduce() -> None:
    encoder = PairEncoder(unigram_tokenizer(), max_length=16, token_types=False)

    def bert_like(a: str, b: str) -> tuple[list[int], None]:  # what a BERT-only assembly would produce
        ids = encoder.tokenize([a, b])
        return [0, *ids[a], 2, *ids[b], 2], None

    from geoalign.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="does not reproduce the tokenizer's own pair encoding"):
        encoder.check_against(bert_like)


def test_fp32_and_bf16_replicas_get_different_cache_keys(xlmr: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same checkpoint in two precisions gives different numbers: it must never share cache entries."""
    monkeypatch.setattr(backend_torch, "cpu_supports_bf16", lambda: True)  # emulated bf16 runs anyway
    checkpoint = load_checkpoint(xlmr)
    fp32 = TorchScorer(dataclasses.replace(checkpoint, model=copy.deepcopy(checkpoint.model)))
    bf16 = TorchScorer(checkpoint, dtype="bf16")
    assert fp32.model_id == bf16.model_id  # one checksum...
    assert (fp32.variant, bf16.variant) == ("fp32", "bf16")
    seen = ("杭州市西湖区文一路3号", "文一路3号")
    assert ScorerKeys(fp32).key(seen) != ScorerKeys(bf16).key(seen)  # ...two keys
    a, b = fp32.score([AddressPair(*seen)])[0], bf16.score([AddressPair(*seen)])[0]
    assert isinstance(a, Match) and isinstance(b, Match)
    diff = max(abs(a.probabilities[k] - b.probabilities[k]) for k in LABELS)
    assert diff > 0  # bf16 really ran: the answers differ, which is why the keys must


def test_a_non_finite_row_fails_only_its_item(xlmr: Path) -> None:
    scorer = TorchScorer(load_checkpoint(xlmr))
    real = scorer.backend.forward

    def forward(ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> np.ndarray:
        logits = real(ids, mask, types)
        logits[mask.sum(axis=1) == mask.shape[1]] = np.inf  # the longest row of each batch
        return logits

    scorer.backend.forward = forward  # type: ignore[method-assign]
    results = scorer.score([PAIRS[0], PAIRS[2]], explain=False)
    assert isinstance(results[1], ItemError) and results[1].code == "non_finite_output"
    assert "fp32 model produced non-finite logits" in results[1].message


def test_traditional_characters_are_read_as_simplified(xlmr: Path) -> None:
    """The vocabulary and the training text are simplified: 西湖區 and 西湖区 are one input, one answer."""
    scorer = TorchScorer(load_checkpoint(xlmr))
    simplified, traditional = scorer.score(
        [AddressPair("杭州市西湖区文一路3号", "文一路3号"), AddressPair("杭州市西湖區文一路3號", "文一路3號")]
    )
    assert isinstance(simplified, Match) and isinstance(traditional, Match)
    assert traditional.probabilities == simplified.probabilities
