"""The fast tagger held equal to simple reference implementations (RapidFuzz style), on a tiny model
built here with random weights (tests never need the research data)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from geoalign.address.chartagger import (
    N_TEMPLATES,
    FastTagger,
    Lexicon,
    TagModel,
    _key,
    featurize,
    key_reference,
    load_model,
    save_model,
    spans_from_labels,
    viterbi_batch,
    viterbi_reference,
)
from geoalign.errors import ModelLoadError

LABELS = ("O", "B-prov", "I-prov", "B-road", "I-road", "B-roadno", "I-roadno")
BITS = 12
LEXICON = Lexicon.build({"浙江省": 2, "杭州市": 4, "杭州": 5, "余杭区": 6})


def _model(seed: int = 0) -> TagModel:
    rng = np.random.default_rng(seed)
    n = len(LABELS)
    rows = rng.integers(0, 200, size=1 << BITS)
    weights = rng.normal(size=(200, n)).astype(np.float32)
    weights[0] = 0
    trans = rng.normal(size=(n, n)).astype(np.float32)
    return TagModel(LABELS, BITS, rows, weights, trans, LEXICON, ("naacl", "ccks", "supermap"))


def _allowed() -> tuple[np.ndarray, np.ndarray]:
    return _model().allowed()


def _well_formed(labels: list[str]) -> bool:
    prev = "O"
    for lab in labels:
        if lab.startswith("I-") and prev[2:] != lab[2:]:
            return False
        prev = lab
    return True


sizes = st.lists(st.integers(min_value=0, max_value=9), min_size=1, max_size=7)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lengths=sizes, seed=st.integers(0, 2**32 - 1))
def test_batched_viterbi_equals_the_reference(lengths: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = len(LABELS)
    # Coarse values make ties frequent: both must break them the same way.
    em = (rng.integers(-3, 4, size=(sum(lengths), n)) / 2).astype(np.float32)
    trans = (rng.integers(-3, 4, size=(n, n)) / 2).astype(np.float32)
    allowed, first = _allowed()
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    fast = viterbi_batch(em, starts, trans, allowed, first).tolist()
    for i in range(len(lengths)):
        part = em[starts[i] : starts[i + 1]]
        ref = viterbi_reference(part, trans, allowed, first)
        assert fast[starts[i] : starts[i + 1]] == ref
        assert _well_formed([LABELS[j] for j in ref])


address_text = st.text(
    alphabet=st.sampled_from(list("浙江省杭州市余杭区文一西路号楼单元室12345AB-  （）\u200b")), max_size=30
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(address_text, min_size=1, max_size=6))
def test_features_do_not_depend_on_the_batch(texts: list[str]) -> None:
    batch = featurize(texts, 1, BITS, LEXICON)
    assert batch.ids.shape == (int(batch.starts[-1]), N_TEMPLATES)
    for i, text in enumerate(texts):
        alone = featurize([text], 1, BITS, LEXICON)
        lo, hi = batch.starts[i], batch.starts[i + 1]
        assert np.array_equal(batch.ids[lo:hi], alone.ids)
        assert batch.raw_index[lo:hi].tolist() == alone.raw_index.tolist()
        assert all(not text[j].isspace() and text[j] != "\u200b" for j in alone.raw_index.tolist())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(length=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_single_address_viterbi_equals_the_reference(length: int, seed: int) -> None:
    """One address takes its own path (``_viterbi_one``); ties must break as in the batched one."""
    rng = np.random.default_rng(seed)
    n = len(LABELS)
    em = (rng.integers(-3, 4, size=(length, n)) / 2).astype(np.float32)
    trans = (rng.integers(-3, 4, size=(n, n)) / 2).astype(np.float32)
    allowed, first = _allowed()
    fast = viterbi_batch(em, np.array([0, length]), trans, allowed, first).tolist()
    assert fast == viterbi_reference(em, trans, allowed, first)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(address_text, min_size=12, max_size=30))
def test_large_batch_features_equal_single_ones(texts: list[str]) -> None:
    """Above ``_DENSE_MAX_CHARS`` characters keys and emissions are computed another way (sums per
    template, blocks): bit for bit the same as for each address alone (the few-character way)."""
    texts = [t * 3 for t in texts]  # long enough that the batch takes the large-batch path
    model = _model(5)
    batch = featurize(texts, 2, BITS, LEXICON)
    assume(len(batch.ids) > 256)
    em = model.emissions(batch.ids)
    for i, text in enumerate(texts):
        alone = featurize([text], 2, BITS, LEXICON)
        lo, hi = batch.starts[i], batch.starts[i + 1]
        assert np.array_equal(batch.ids[lo:hi], alone.ids)
        assert np.array_equal(em[lo:hi], model.emissions(alone.ids))


@given(st.integers(0, 40), st.lists(st.integers(0, 0x110020), max_size=3))
def test_vectorised_key_equals_the_reference(template: int, values: list[int]) -> None:
    fast = _key(template, *(np.array([v], dtype=np.int64) for v in values))
    assert int(fast[0]) == key_reference(template, *values)


def test_division_names_are_features() -> None:
    with_name = featurize(["浙江省杭州市"], 0, BITS, LEXICON).ids
    other = featurize(["浙江者杭州市"], 0, BITS, LEXICON).ids
    start_col = 23  # division-starting-here
    assert with_name[0, start_col] != other[0, start_col]


@settings(max_examples=40, deadline=None)
@given(texts=st.lists(address_text, min_size=1, max_size=5))
def test_tagger_spans_are_well_formed_and_exact(texts: list[str]) -> None:
    tagger = FastTagger(_model(), "naacl")
    for text, spans in zip(texts, tagger.spans_many(texts), strict=True):
        last = 0
        for name, start, end in spans:
            assert name in {"prov", "road", "roadno"}
            assert last <= start < end <= len(text)
            assert not text[start].isspace()
            last = end
    # one by one equals batched
    assert tagger.spans_many(texts) == [tagger.spans_many([t])[0] for t in texts]


@settings(max_examples=40, deadline=None)
@given(texts=st.lists(address_text, min_size=1, max_size=4), data=st.data())
def test_forced_spans_are_decoded_as_given(texts: list[str], data: st.DataObject) -> None:
    """A forced span comes out exactly (same element, start and end), whatever the weights say; the
    rest stays well formed; a text with nothing forced is tagged as without ``forced``."""
    tagger = FastTagger(_model(5), "naacl")
    forced: list[list[tuple[str, int, int]]] = []
    for text in texts:
        visible = featurize([text], 0, BITS, LEXICON).raw_index.tolist()  # the characters it tags
        if len(visible) < 2 or not data.draw(st.booleans()):
            forced.append([])
            continue
        start = data.draw(st.sampled_from(visible[:-1]))
        end = data.draw(st.sampled_from([i + 1 for i in visible if i >= start]))
        forced.append([(data.draw(st.sampled_from(["prov", "road"])), start, end)])
    plain = tagger.spans_many(texts)
    for text, want, got, before in zip(texts, forced, tagger.spans_many(texts, forced), plain, strict=True):
        for span in want:
            assert span in got
        last = 0
        for _, start, end in got:
            assert last <= start < end <= len(text)
            last = end
        if not want:
            assert got == before


def test_an_element_the_model_lacks_is_not_forced() -> None:
    tagger = FastTagger(_model(5), "naacl")
    text = "浙江省杭州市文一路1号"
    assert tagger.spans_many([text], [[("district", 0, 3)]]) == tagger.spans_many([text])


def test_spans_from_labels_skip_whitespace_offsets() -> None:
    assert spans_from_labels(["B-road", "I-road", "B-roadno"], [0, 2, 3]) == [
        ("road", 0, 3),
        ("roadno", 3, 4),
    ]


def test_save_and_load_round_trip_without_pickle(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = _model(3)
    save_model(model, tmp_path, "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    texts = ["浙江省杭州市文一西路12号", "余杭区 5 楼"]
    assert FastTagger(loaded, "ccks").spans_many(texts) == FastTagger(model, "ccks").spans_many(texts)
    (tmp_path / "m.npz.json").write_text('{"feature_version": 1}', encoding="utf-8")
    with pytest.raises(ModelLoadError):
        load_model(tmp_path / "m.npz")
    with pytest.raises(ModelLoadError):
        FastTagger(model, "klingon")
