"""Masked-LM pretraining of the neural encoder: exclusions, a tiny run whose loss falls, resume, and an
output that fine-tuning starts from."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures_pair import ROADS, write_invented_ccks
from tests.servers import require_module

from geoalign.neural.data import ccks_splits, texts_of
from geoalign.neural.pretrain import PretrainConfig, load_corpus, read_exclusions

CITIES = ["甲城", "乙城", "丙城", "丁城"]


def _toy_corpus(n: int = 400) -> list[str]:
    """Invented, highly regular addresses: a masked character is predictable from its neighbours."""
    return [f"{CITIES[i % 4]}市{ROADS[i % 8]}{i % 50}号" for i in range(n)]


def _tiny_init(directory: Path, texts: list[str]) -> Path:
    """An encoder directory as ``train-neural`` writes ``init/``: a 1-layer BERT pair classifier over a
    character vocabulary."""
    require_module("torch", "torch")
    require_module("transformers", "torch")
    from transformers import BertConfig, BertForSequenceClassification

    from geoalign.neural.charvocab_tokenizer import build_char_tokenizer
    from geoalign.neural.train import save_tokenizer

    tokenizer = build_char_tokenizer(texts, min_count=1)
    config = BertConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        pad_token_id=tokenizer.token_to_id("<pad>"),
        num_labels=3,
        id2label={0: "not_match", 1: "partial_match", 2: "exact_match"},
        label2id={"not_match": 0, "partial_match": 1, "exact_match": 2},
    )
    BertForSequenceClassification(config).save_pretrained(directory)
    save_tokenizer(tokenizer, directory, 64)
    (directory / "geoalign_neural.json").write_text(json.dumps({"init": "scratch"}), encoding="utf-8")
    return directory


def _setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    corpus = _toy_corpus()
    write_invented_ccks(tmp_path / "pairs.tsv")
    splits = ccks_splits(tmp_path / "pairs.tsv")
    lines = corpus + sorted(texts_of(splits.train) | texts_of(splits.validation) | texts_of(splits.test))
    (tmp_path / "corpus.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    init = _tiny_init(tmp_path / "init", lines)
    return tmp_path / "corpus.txt", tmp_path / "pairs.tsv", init


def _losses(log: Path) -> list[float]:
    return [float(x) for x in re.findall(r"mlm loss ([0-9.]+)", log.read_text(encoding="utf-8"))]


def _config(tmp_path: Path, out: str, corpus: Path, ccks: Path, init: Path, **kw: Any) -> PretrainConfig:
    base: dict[str, Any] = dict(
        out=str(tmp_path / out),
        init=str(init),
        corpus=str(corpus),
        ccks=str(ccks),
        batch_size=16,
        lr=3e-3,
        max_tokens=24,
        bf16=False,
        threads=1,
        log_every=5,
    )
    base.update(kw)
    return PretrainConfig(**base)


def test_exclusions_remove_the_validation_and_frozen_strings_and_the_given_files(tmp_path: Path) -> None:
    write_invented_ccks(tmp_path / "pairs.tsv")
    splits = ccks_splits(tmp_path / "pairs.tsv")
    plain = "甲城市人民路1号\t乙城市人民路2号\t1\n丙城市学院路3号\n"
    (tmp_path / "plain.tsv").write_text(plain, encoding="utf-8")
    (tmp_path / "tagged.conll").write_text(
        "丁 B-city\n城 E-city\n建 B-road\n设 I-road\n路 E-road\n\n甲 B-city\n城 E-city\n", encoding="utf-8"
    )
    exclude = read_exclusions(
        ccks=str(tmp_path / "pairs.tsv"),
        plain=[str(tmp_path / "plain.tsv")],
        tagged=[str(tmp_path / "tagged.conll")],
    )
    held_out = texts_of(splits.validation) | texts_of(splits.test)
    assert held_out and held_out <= exclude
    assert not (texts_of(splits.train) - held_out) & exclude  # training strings stay usable
    assert {"甲城市人民路1号", "乙城市人民路2号", "丙城市学院路3号", "丁城建设路", "甲城"} <= exclude
    assert "1" not in exclude
    kept_train = sorted(texts_of(splits.train) - held_out)
    lines = [*sorted(held_out), *kept_train, "丁城建设路", "丁城建设路", "戊城某路9号"]
    (tmp_path / "corpus.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    texts, removed = load_corpus(str(tmp_path / "corpus.txt"), exclude, None, seed=1)
    assert sorted(texts) == sorted([*kept_train, "戊城某路9号"])
    assert removed == len(held_out) + 1


@pytest.mark.slow
def test_tiny_pretraining_lowers_the_loss_and_writes_a_fine_tunable_encoder(tmp_path: Path) -> None:
    corpus, ccks, init = _setup(tmp_path)
    from transformers import BertForSequenceClassification

    from geoalign.neural.pretrain import pretrain
    from geoalign.neural.train import TrainConfig, train

    final = pretrain(_config(tmp_path, "mlm", corpus, ccks, init, steps=60))
    losses = _losses(tmp_path / "mlm" / "pretrain.log")
    assert len(losses) == 12
    assert losses[-1] < 0.85 * losses[0]  # from about log(vocabulary) towards what the context allows
    # same tokenizer files; the encoder moved, the classifier head is the init's
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (final / name).read_bytes() == (init / name).read_bytes()
    before = BertForSequenceClassification.from_pretrained(init).state_dict()
    after = BertForSequenceClassification.from_pretrained(final).state_dict()
    assert before.keys() == after.keys()
    assert not before["bert.encoder.layer.0.attention.self.query.weight"].equal(
        after["bert.encoder.layer.0.attention.self.query.weight"]
    )
    assert before["classifier.weight"].equal(after["classifier.weight"])
    assert json.loads((final / "geoalign_neural.json").read_text(encoding="utf-8"))["pretrain"]["steps"] == 60
    # train-neural's --init-from path fine-tunes from it
    best = train(
        TrainConfig(
            out=str(tmp_path / "ft"),
            ccks=str(ccks),
            init_from=str(final),
            epochs=1,
            batch_size=16,
            synth_per_epoch=0,
            threads=1,
            bf16=False,
        )
    )
    assert BertForSequenceClassification.from_pretrained(best).config.num_hidden_layers == 1
    from tokenizers import Tokenizer

    vocab = Tokenizer.from_file(str(init / "tokenizer.json")).get_vocab()
    assert Tokenizer.from_file(str(best / "tokenizer.json")).get_vocab() == vocab


@pytest.mark.slow
def test_an_interrupted_run_resumes_from_its_checkpoint_and_ends_where_an_uninterrupted_one_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, ccks, init = _setup(tmp_path)
    import torch
    from transformers import BertForSequenceClassification

    from geoalign.neural import pretrain as module

    whole = module.pretrain(_config(tmp_path, "whole", corpus, ccks, init, steps=10, save_every=4))

    real_loss = module.masked_lm_loss
    calls = {"n": 0}

    def crash_at_step_7(model: Any, batch: dict[str, Any]) -> Any:
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt
        return real_loss(model, batch)

    monkeypatch.setattr(module, "masked_lm_loss", crash_at_step_7)
    cfg = _config(tmp_path, "cut", corpus, ccks, init, steps=10, save_every=4)
    with pytest.raises(KeyboardInterrupt):
        module.pretrain(cfg)
    assert torch.load(tmp_path / "cut" / "last.pt", weights_only=False)["step"] == 4
    assert not (tmp_path / "cut" / "final").exists()
    monkeypatch.setattr(module, "masked_lm_loss", real_loss)
    resumed = module.pretrain(cfg)
    log = (tmp_path / "cut" / "pretrain.log").read_text(encoding="utf-8")
    assert "resumed at step 4/10" in log
    assert torch.load(tmp_path / "cut" / "last.pt", weights_only=False)["step"] == 10
    a = BertForSequenceClassification.from_pretrained(whole).state_dict()
    b = BertForSequenceClassification.from_pretrained(resumed).state_dict()
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-5), key
    # a checkpoint of another schedule is refused, not silently continued
    with pytest.raises(ValueError, match="10-step run"):
        module.pretrain(_config(tmp_path, "cut", corpus, ccks, init, steps=20))


def test_cli_refuses_a_directory_that_is_no_encoder_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_module("torch", "torch")
    require_module("transformers", "torch")
    from geoalign.cli.main import main

    (tmp_path / "corpus.txt").write_text("甲城市人民路1号\n", encoding="utf-8")
    argv = ["pretrain-neural", "--init", str(tmp_path), "--corpus", str(tmp_path / "corpus.txt")]
    assert main([*argv, "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no config.json" in err
