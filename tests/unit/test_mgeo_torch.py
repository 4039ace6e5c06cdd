"""The torch scorer end to end on tiny ModelScope-layout checkpoints (no real weights needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.servers import require_module

torch = require_module("torch", "torch")
require_module("transformers", "torch")

from tests.fixtures_mgeo import (  # noqa: E402
    numpy_bert_logits,
    small_config,
    softmax,
    write_modelscope_dir,
)

from geoalign.errors import InputError  # noqa: E402
from geoalign.scorers.checkpoints import load_checkpoint  # noqa: E402
from geoalign.scorers.mgeo_torch import TorchScorer, cpu_supports_bf16  # noqa: E402
from geoalign.types import LABELS, AddressPair, ItemError, Match  # noqa: E402

pytestmark = pytest.mark.torch

PAIRS = [
    AddressPair("杭州市西湖区文一路3号", "文一路3号"),
    AddressPair("紫萱路363号人力社保局", "紫萱路363号市人社局"),
    AddressPair("上海市浦东新区中心大厦12楼", "浦东新区中心大厦"),
    AddressPair("栖霞区仙林街道文枢东路2号商住楼4楼", "栖霞区文枢东路2号书店"),
    AddressPair("北京市", "北京市西湖路1号3栋2单元101室"),
]


@pytest.fixture(scope="module")
def mgeo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_modelscope_dir(tmp_path_factory.mktemp("mgeo") / "ckpt", config=small_config())


def _scorer(path: Path, **kwargs: object) -> TorchScorer:
    return TorchScorer(load_checkpoint(path), **kwargs)  # type: ignore[arg-type]


def _reference_probs(path: Path, scorer: TorchScorer, pair: AddressPair) -> dict[str, float]:
    """Probabilities per label name from the numpy BERT, fed by the tokenizer's own pair encoding."""
    enc = scorer.checkpoint.tokenizer(
        pair.a, pair.b, truncation=True, max_length=scorer.checkpoint.max_length
    )
    ids = np.array([enc["input_ids"]])
    raw = torch.load(path / "pytorch_model.bin", weights_only=True)
    logits = numpy_bert_logits(raw, small_config(), ids, np.array([enc["token_type_ids"]]), np.ones_like(ids))
    probs = softmax(logits)[0]
    return {scorer.checkpoint.id2label[i]: float(p) for i, p in enumerate(probs)}


def test_scores_equal_the_numpy_reference_in_canonical_order(mgeo_dir: Path) -> None:
    scorer = _scorer(mgeo_dir)
    results = scorer.score(PAIRS)
    for pair, result in zip(PAIRS, results, strict=True):
        assert isinstance(result, Match)
        want = _reference_probs(mgeo_dir, scorer, pair)
        for label in LABELS:
            assert result.probabilities[label] == pytest.approx(want[label], abs=1e-5)
        assert result.label == max(want, key=want.__getitem__)
        assert result.scorer == "torch" and result.model == scorer.model_id
        assert set(result.timings_ms or {}) == {"normalize", "tokenize", "forward", "post"}


def test_label_order_comes_from_the_directory(tmp_path: Path) -> None:
    """Same weights, two label orders: the per-name probabilities follow the mapping, never the index."""
    alpha = write_modelscope_dir(tmp_path / "alpha", seed=3)
    recipe_labels = {0: "not_match", 1: "partial_match", 2: "exact_match"}
    recipe = write_modelscope_dir(tmp_path / "recipe", seed=3, id2label=recipe_labels)
    a = _scorer(alpha).score(PAIRS[:1])[0]
    b = _scorer(recipe).score(PAIRS[:1])[0]
    assert isinstance(a, Match) and isinstance(b, Match)
    # model index 0 is exact_match in one and not_match in the other
    assert a.probabilities["exact_match"] == pytest.approx(b.probabilities["not_match"], abs=1e-6)
    assert a.probabilities["partial_match"] == pytest.approx(b.probabilities["exact_match"], abs=1e-6)


def test_batched_equals_one_by_one(mgeo_dir: Path) -> None:
    """Dynamic padding and length bucketing must not change any probability."""
    scorer = _scorer(mgeo_dir, max_tokens=64, max_batch=3)
    together = scorer.score(PAIRS * 3)
    for pair, result in zip(PAIRS * 3, together, strict=True):
        alone = scorer.score([pair])[0]
        assert isinstance(result, Match) and isinstance(alone, Match)
        for label in LABELS:
            assert result.probabilities[label] == pytest.approx(alone.probabilities[label], abs=1e-5)


def test_bad_items_get_an_error_in_their_slot(mgeo_dir: Path) -> None:
    scorer = _scorer(mgeo_dir)
    pairs = [
        PAIRS[0],
        AddressPair(None, "文一路"),
        AddressPair("文一路", "   \t"),
        AddressPair(3, "x"),
        PAIRS[1],
    ]
    results = scorer.score(pairs)
    assert isinstance(results[0], Match) and isinstance(results[4], Match)
    assert [r.code for r in results[1:4]] == ["missing", "empty", "not_a_string"]  # type: ignore[union-attr]
    assert "address b" in results[2].message  # type: ignore[union-attr]
    assert scorer.score([AddressPair(None, None)]) == [
        ItemError("missing", "address a: address is missing (None)")
    ]


def test_the_model_sees_raw_text_after_safe_cleaning_only(mgeo_dir: Path) -> None:
    scorer = _scorer(mgeo_dir)
    prepared = scorer.prepare([AddressPair(" 杭州市\t西湖区\u200b文一路３号 ", "文一路")])
    item = prepared.items[0]
    assert not isinstance(item, ItemError)
    assert item.seen == ("杭州市 西湖区文一路３号", "文一路")  # full-width digit kept: no normalization


def test_each_distinct_address_is_tokenized_once(mgeo_dir: Path) -> None:
    scorer = _scorer(mgeo_dir)
    seen: list[str] = []
    original = scorer.encoder.tokenizer

    class Counting:
        def __getattr__(self, name: str) -> object:
            return getattr(original, name)

        def encode_batch(self, texts, *args, **kwargs):  # type: ignore[no-untyped-def]
            seen.extend(texts)
            return original.encode_batch(texts, *args, **kwargs)

    scorer.encoder.tokenizer = Counting()
    scorer.encoder._cache.clear()
    query = "杭州市西湖区文一路3号"
    scorer.score([AddressPair(query, f"文一路{i}号") for i in range(5)] + [AddressPair("文一路1号", query)])
    assert sorted(seen) == sorted({query, *(f"文一路{i}号" for i in range(5))})
    scorer.score([AddressPair(query, "文一路1号")])  # all cached now
    assert len(seen) == 6


@settings(max_examples=60, deadline=None)
@given(
    st.text(alphabet="杭州市西湖区文一路0123456789号楼abcAB栋", min_size=1, max_size=40),
    st.text(alphabet="杭州市西湖区文一路0123456789号楼abcAB栋", min_size=1, max_size=40),
    st.integers(min_value=5, max_value=64),
)
def test_pair_assembly_equals_the_tokenizers_pair_encoding(a: str, b: str, max_length: int) -> None:
    ckpt = _SHARED["ckpt"]
    scorer = _SHARED["scorer"]
    scorer.encoder.max_length = max_length  # type: ignore[attr-defined]
    want = ckpt.tokenizer(a, b, truncation=True, max_length=max_length)  # type: ignore[attr-defined]
    got = scorer.encoder.encode_pairs([(a, b)])[0]  # type: ignore[attr-defined]
    assert got.input_ids == list(want["input_ids"])
    assert got.token_type_ids == list(want["token_type_ids"])


_SHARED: dict[str, object] = {}


@pytest.fixture(autouse=True, scope="module")
def _shared_scorer(mgeo_dir: Path):  # type: ignore[no-untyped-def]
    ckpt = load_checkpoint(mgeo_dir)
    _SHARED["ckpt"] = ckpt
    _SHARED["scorer"] = TorchScorer(ckpt)
    yield
    _SHARED.clear()


def test_truncation_keeps_long_pairs_scoreable(tmp_path: Path) -> None:
    path = write_modelscope_dir(tmp_path / "m", config=small_config(max_position_embeddings=16))
    scorer = _scorer(path)
    long = "杭州市西湖区文一路" * 10
    result = scorer.score([AddressPair(long, long)])[0]
    assert isinstance(result, Match)
    prepared = scorer.prepare([AddressPair(long, long)])
    assert prepared.items[0].cost == 16  # type: ignore[union-attr]


def test_device_and_dtype_validation(mgeo_dir: Path) -> None:
    ckpt = load_checkpoint(mgeo_dir)
    with pytest.raises(InputError, match="fp16"):
        TorchScorer(ckpt, dtype="fp16")
    with pytest.raises(InputError, match="dtype"):
        TorchScorer(ckpt, dtype="int4")
    with pytest.raises(InputError, match="device"):
        TorchScorer(ckpt, device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA"):
            TorchScorer(ckpt, device="cuda")


@pytest.mark.skipif(not cpu_supports_bf16(), reason="this CPU has no native bf16 (AVX512-BF16/AMX)")
def test_bf16_agrees_with_fp32(mgeo_dir: Path) -> None:
    fp32 = _scorer(mgeo_dir).score(PAIRS)
    bf16 = _scorer(mgeo_dir, dtype="bf16").score(PAIRS)
    diffs = [
        abs(x.probabilities[k] - y.probabilities[k])  # type: ignore[union-attr]
        for x, y in zip(fp32, bf16, strict=True)
        for k in LABELS
    ]
    assert 0 < max(diffs) < 0.05  # bf16 really ran (not identical) and stays close


def test_random_init_scorer_says_it_is_random() -> None:
    with pytest.warns(UserWarning, match="NOT predictions"):
        scorer = TorchScorer(load_checkpoint("random-init:tiny"))
    result = scorer.score(PAIRS[:1])[0]
    assert isinstance(result, Match) and result.model == "random-init:tiny"
    assert scorer.describe()["random_weights"] is True
