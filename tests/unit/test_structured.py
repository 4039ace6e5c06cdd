"""The structured scorer: staged protocol, bad items in their slots, explanation, model round-trip.

A tiny model is trained here on the project's own example pairs (never on the CCKS data), saved in the
shipped format, loaded back, and must give the same predictions as the in-memory booster.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from geoalign.api import Matcher
from geoalign.errors import InputError, ModelLoadError
from geoalign.io.labels import read_labelled_pairs
from geoalign.scorers import structured_train as tr
from geoalign.scorers.features import FEATURE_NAMES, CharWeights
from geoalign.scorers.registry import build_scorer, detect_backend
from geoalign.scorers.structured import (
    META_FILE,
    MODEL_FILE,
    PairFeaturizer,
    StructuredModel,
    StructuredScorer,
    save_model,
)
from geoalign.types import LABELS, AddressPair, ItemError, Match, Prepared, Scorer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "pairs.tsv"
TINY_PARAMS = {"min_data_in_leaf": 2, "min_data_in_bin": 1, "num_leaves": 4}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pairs = read_labelled_pairs(EXAMPLES)
    featurizer = PairFeaturizer()
    featurizer.char_weights = tr.fit_char_weights(pairs, featurizer)
    data = tr.featurize(pairs, featurizer)
    booster = tr.fit_booster(data, rounds=15, params=TINY_PARAMS)
    root = tmp_path_factory.mktemp("tiny-structured")
    meta = {"class_weights": [1.0, 1.0, 1.0], "training": {"data": "examples/pairs.tsv"}}
    save_model(root, booster, meta, featurizer.char_weights)
    return root, booster, data, pairs


def test_round_trip_same_predictions(tiny):
    """The scorer's probabilities are the booster's own (class weights 1: a plain renormalization),
    except on a hard-number conflict, where exactly the exact_match mass moved to partial_match. The
    expected values come from the booster and the feature states, not from the code under test."""
    root, booster, data, pairs = tiny
    scorer = StructuredScorer(root)
    results = scorer.score([AddressPair(p.a, p.b) for p in pairs])
    raw = np.asarray(booster.predict(data.features)).reshape(-1, len(LABELS))
    raw = raw / raw.sum(axis=1, keepdims=True)
    index = {name: i for i, name in enumerate(FEATURE_NAMES)}
    state = {
        name: data.features[:, index[f"{name}_state"]]
        for name in ("road", "roadno", "houseno", "cellno", "floorno", "roomno")
    }
    conflict = (
        (state["houseno"] == 4) | (state["cellno"] == 4) | (state["floorno"] == 4) | (state["roomno"] == 4)
    )
    conflict |= (state["road"] == 3) & (state["roadno"] == 4)
    expected = raw.copy()
    expected[conflict, 1] += expected[conflict, 0]
    expected[conflict, 0] = 0.0
    got = np.array([[r.probabilities[name] for name in LABELS] for r in results])
    assert conflict.any() and (~conflict).any()  # both branches are exercised
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert all(r.model == scorer.model_id and r.model.startswith("structured-") for r in results)


def test_model_id_is_stable_and_ignores_provenance(tiny, tmp_path):
    root, booster, _, _ = tiny
    other = tmp_path / "m"
    weights = StructuredModel.load(root).char_weights
    save_model(
        other, booster, {"class_weights": [1.0, 1.0, 1.0], "training": {"date": "another day"}}, weights
    )
    assert StructuredModel.load(other).model_id == StructuredModel.load(root).model_id
    save_model(other, booster, {"class_weights": [2.0, 1.0, 1.0]}, weights)
    assert StructuredModel.load(other).model_id != StructuredModel.load(root).model_id
    save_model(other, booster, {"class_weights": [1.0, 1.0, 1.0]}, CharWeights({"路": 1.5}, 9.0))
    assert StructuredModel.load(other).model_id != StructuredModel.load(root).model_id


def test_feature_mismatch_is_model_load_error(tiny, tmp_path):
    root = tiny[0]
    bad = tmp_path / "bad"
    shutil.copytree(root, bad)
    meta = json.loads((bad / META_FILE).read_text(encoding="utf-8"))
    meta["feature_names"] = [*meta["feature_names"][:-1], "something_else"]
    (bad / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="other features"):
        StructuredModel.load(bad)


@pytest.mark.parametrize(
    ("remove", "corrupt", "message"),
    [(MODEL_FILE, None, "missing"), (None, "not a model", "LightGBM"), (META_FILE, None, "missing")],
)
def test_broken_model_dirs(tiny, tmp_path, remove, corrupt, message):
    bad = tmp_path / "bad"
    shutil.copytree(tiny[0], bad)
    if remove:
        (bad / remove).unlink()
    if corrupt:
        (bad / MODEL_FILE).write_text(corrupt, encoding="utf-8")
    with pytest.raises(ModelLoadError, match=message):
        StructuredModel.load(bad)


def test_staged_protocol_and_bad_items_stay_in_their_slots(tiny):
    scorer = StructuredScorer(tiny[0])
    assert isinstance(scorer, Scorer)
    good = AddressPair("浙江省杭州市西湖区文三路369号", "文三路369号")
    pairs = [
        good,
        AddressPair(None, "文三路369号"),
        AddressPair("", "文三路369号"),
        AddressPair("文三路369号", 369),
        AddressPair("\x00\x07\u200b", "文三路369号"),
        AddressPair("文三路369号🏠🙂", "文三路\x00369号"),
        AddressPair("文" * 100_000, "文三路369号"),
        good,
    ]
    prepared = scorer.prepare(pairs)
    assert isinstance(prepared, Prepared) and len(prepared) == len(pairs)
    results = scorer.finish(scorer.run(prepared))
    assert len(results) == len(pairs)
    codes = [r.code if isinstance(r, ItemError) else None for r in results]
    assert codes == [None, "missing", "empty", "not_a_string", "empty", None, None, None]
    assert "address a" in results[1].message and "address b" in results[3].message
    assert results[0].to_dict() == results[7].to_dict() | {"timings_ms": results[0].timings_ms}
    assert isinstance(results[6], Match)  # truncated by clean, still scored


def test_match_json_shape_and_explanation(tiny):
    scorer = StructuredScorer(tiny[0])
    [result] = scorer.score([AddressPair("南京市中山北路30号3栋2单元501室", "中山北路30号5栋2单元501室")])
    assert isinstance(result, Match)
    data = result.to_dict()
    assert set(data) == {"label", "probabilities", "scorer", "model", "explanation", "timings_ms"}
    assert sum(data["probabilities"].values()) == pytest.approx(1.0)
    assert data["label"] == max(LABELS, key=lambda k: data["probabilities"][k])
    assert set(data["timings_ms"]) == {"normalize", "tokenize", "forward", "post"}
    statuses = {c["name"]: c["status"] for c in data["explanation"]["components"]}
    assert all(s in {"agree", "similar", "conflict", "only_a", "only_b"} for s in statuses.values())
    assert "conflict" in statuses.values()  # 3栋 vs 5栋
    json.dumps(data, ensure_ascii=False)


def test_each_distinct_address_is_analyzed_once(tiny, monkeypatch):
    import geoalign.address.analyze as analysis

    calls: list[str] = []
    real = analysis.analyze

    def counting(text):
        calls.append(text)
        return real(text)

    real_many = analysis.analyze_many

    def counting_many(texts):
        calls.extend(texts)
        return real_many(texts)

    monkeypatch.setattr(analysis, "analyze", counting)
    monkeypatch.setattr(analysis, "analyze_many", counting_many)  # prepare analyzes a batch at once
    scorer = StructuredScorer(tiny[0])
    query = "浙江省杭州市西湖区文三路369号"
    scorer.score([AddressPair(query, b) for b in ("文三路369号", "文三路371号", "文三路369号")])
    assert sorted(calls) == sorted({query, "文三路369号", "文三路371号"})
    scorer.score([AddressPair(query, "文三路369号")])  # the LRU spans batches
    assert len(calls) == 3


def test_matcher_api(tiny):
    matcher = Matcher(StructuredScorer(tiny[0]), batch_size=2)
    pairs = [("文三路369号", "文三路369号"), {"a": "文三路369号", "b": "文三路371号"}, AddressPair(None, "x")]
    results = matcher.score(pairs)
    assert [type(r) for r in results] == [Match, Match, ItemError]
    probs = matcher.predict(pairs)
    assert probs.shape == (3, 3) and np.isnan(probs[2]).all()
    single = matcher.match("文三路369号", "文三路369号")
    assert isinstance(results[0], Match)
    assert single.to_dict() == {**results[0].to_dict(), "timings_ms": single.timings_ms}
    assert Matcher(StructuredScorer()).match("文三路369号", "文三路369号").label == "exact_match"
    with pytest.raises(InputError, match="empty"):
        matcher.match("  ", "文三路369号")
    with pytest.raises(InputError):
        matcher.score([("only one",)])


def test_registry(tiny):
    root = tiny[0]
    assert detect_backend(root) == "structured"
    assert build_scorer(None, root).name == "structured"
    with pytest.raises(InputError, match="unknown scorer"):
        build_scorer("nope")


def test_frozen_split_is_deterministic_and_grouped():
    queries = [f"测试地址{i}号" for i in range(2000)]
    share = sum(tr.is_test_query(q) for q in queries) / len(queries)
    assert 0.15 < share < 0.25
    assert [tr.is_test_query(q) for q in queries] == [tr.is_test_query(q) for q in queries]
    pairs = read_labelled_pairs(EXAMPLES)
    dev, test = tr.split_frozen(pairs)
    assert not {p.a for p in dev} & {p.a for p in test}
    assert len(dev) + len(test) == len(pairs)


def test_class_weight_tuning_helps_a_rare_class():
    rng = np.random.default_rng(0)
    labels = np.array([0] * 20 + [1] * 80 + [2] * 200)
    probs = np.tile([0.2, 0.3, 0.5], (300, 1))
    probs[:20] = [0.3, 0.3, 0.4]  # the rare class is under-called without a weight
    probs += rng.uniform(0, 0.01, probs.shape)
    no_conflicts = np.zeros((len(labels), len(FEATURE_NAMES)))
    weights, score = tr.tune_class_weights(probs, labels, no_conflicts)
    assert weights[0] > 1.0 and score > 0.5


def test_number_conflict_rule_moves_exact_to_partial():
    from geoalign.scorers.structured import decide

    index = {name: i for i, name in enumerate(FEATURE_NAMES)}
    features = np.zeros((4, len(FEATURE_NAMES)))
    features[1, index["roomno_state"]] = 4.0  # 501室 vs 502室
    features[2, index["road_state"]], features[2, index["roadno_state"]] = 3.0, 4.0  # same road, other number
    features[3, index["roadno_state"]] = 4.0  # other road: its number says nothing about this one
    raw = np.tile([0.7, 0.2, 0.1], (4, 1))
    probs = decide(raw, features, [1.0, 1.0, 1.0])
    np.testing.assert_allclose(probs[[0, 3]], raw[[0, 3]])
    np.testing.assert_allclose(probs[[1, 2]], [[0.0, 0.9, 0.1]] * 2)


def test_other_room_is_never_exact(tiny):
    scorer = StructuredScorer(tiny[0])
    a = "江苏省南京市鼓楼区中山北路30号3号楼2单元501室"
    [same, other] = scorer.score(
        [AddressPair(a, "中山北路30号3号楼2单元501室"), AddressPair(a, "中山北路30号3号楼2单元502室")]
    )
    assert isinstance(other, Match) and other.probabilities["exact_match"] == 0.0
    assert other.label == "partial_match"
    assert isinstance(same, Match) and same.probabilities["exact_match"] > 0.0
    # the shipped model: the same flat written with 号楼 vs 栋 is exact, another room is partial
    shipped = StructuredScorer().score(
        [AddressPair(a, "中山北路30号3栋2单元501室"), AddressPair(a, "中山北路30号3号楼2单元502室")]
    )
    assert [r.label for r in shipped if isinstance(r, Match)] == ["exact_match", "partial_match"]


def test_model_with_another_decision_rule_is_refused(tiny, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(tiny[0], bad)
    meta = json.loads((bad / META_FILE).read_text(encoding="utf-8"))
    meta["decision_rule"] = "something/v0"
    (bad / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="decision rule"):
        StructuredModel.load(bad)


def _edit_meta(src: Path, dst: Path, **changes: object) -> Path:
    shutil.copytree(src, dst)
    meta = json.loads((dst / META_FILE).read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    (dst / META_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return dst


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"labels": ["not_match", "partial_match", "exact_match"]}, "label order"),
        ({"format": "something-else"}, "format"),
        ({"format_version": 99}, "format"),
        ({"class_weights": [1.0, 1.0]}, "class_weights must be 3 positive numbers"),
        ({"class_weights": [1.0, 0.0, 1.0]}, "class_weights must be 3 positive numbers"),
        ({"char_idf": None}, "char_idf"),
        ({"char_idf": {"default": 1.0, "weights": [1, 2]}}, "char_idf"),
        ({"char_idf": {"weights": {}}}, "char_idf"),
    ],
)
def test_structured_model_refusals(tiny, tmp_path, changes, message):
    bad = _edit_meta(tiny[0], tmp_path / "bad", **changes)
    with pytest.raises(ModelLoadError, match=message):
        StructuredModel.load(bad)


def test_booster_with_other_class_count_or_features_is_refused(tiny, tmp_path):
    """A booster that does not match model.json: another number of classes, other feature names."""
    import lightgbm as lgb

    _, _, data, _ = tiny
    binary = lgb.train(
        {"objective": "binary", "verbosity": -1, **TINY_PARAMS},
        lgb.Dataset(data.features, label=(data.labels == 0).astype(int), feature_name=list(FEATURE_NAMES)),
        num_boost_round=2,
    )
    root = tmp_path / "binary"
    save_model(root, binary, {"class_weights": [1.0, 1.0, 1.0]}, CharWeights.uniform())
    with pytest.raises(ModelLoadError, match="booster has 1 classes, expected 3"):
        StructuredModel.load(root)
    renamed = tmp_path / "renamed"
    shutil.copytree(tiny[0], renamed)
    text = (renamed / MODEL_FILE).read_text(encoding="utf-8").replace("len_a", "length_a")
    (renamed / MODEL_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(ModelLoadError, match="booster features differ"):
        StructuredModel.load(renamed)
