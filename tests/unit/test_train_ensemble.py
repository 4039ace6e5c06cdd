"""Training on a chosen device, teachers' soft labels computed once, scripts/train_ensemble.py end to end."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.fixtures_pair import tiny_train_config, write_invented_ccks
from tests.servers import require_module


def test_an_explicit_cuda_device_without_a_gpu_is_an_error_not_a_cpu_run() -> None:
    torch = require_module("torch", "torch")
    from geoalign.neural.train import resolve_device

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert resolve_device("auto").type == "cpu"
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(RuntimeError, match="no CUDA device"):
        resolve_device("cuda")


@pytest.mark.slow
def test_teachers_soft_labels_are_the_mean_of_each_models_log_probabilities(tmp_path: Path) -> None:
    torch = require_module("torch", "torch")
    require_module("transformers", "torch")
    from tokenizers import Tokenizer
    from transformers import BertForSequenceClassification

    from geoalign.neural.data import ccks_splits
    from geoalign.neural.train import Teachers, collate, encode_pairs, pair_logits, train

    one = train(tiny_train_config(tmp_path, "one", layers=2))
    two = train(tiny_train_config(tmp_path, "two", seed=7))
    tokenizer = Tokenizer.from_file(str(one / "tokenizer.json"))
    pad_id = tokenizer.token_to_id("<pad>")
    pairs = ccks_splits(tmp_path / "pairs.tsv").train[:20]
    enc = encode_pairs(tokenizer, pairs, 64)
    soft = Teachers([str(one), str(two)], tokenizer).log_probs(enc, pad_id, bf16=False, batch_size=7)

    expected = np.zeros((len(pairs), 3))
    for directory in (one, two):
        model = BertForSequenceClassification.from_pretrained(directory).eval()
        for i in range(len(pairs)):  # one pair at a time: no padding, no batching
            with torch.no_grad():
                logits = pair_logits(model, collate(enc, [i], pad_id))
            expected[i] += torch.log_softmax(logits, dim=-1)[0].numpy()
    np.testing.assert_allclose(soft, expected / 2, atol=1e-4)


@pytest.mark.slow
def test_train_ensemble_trains_teachers_reports_the_ensemble_and_packs_a_student(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_module("torch", "torch")
    require_module("transformers", "torch")
    from scripts.train_ensemble import main
    from transformers import BertForSequenceClassification

    from geoalign.neural.train import train

    # a 2-layer "pretrained" init: a tiny scratch run's checkpoint stands in for the pruned e5 encoder
    init = train(tiny_train_config(tmp_path, "init", layers=2))
    write_invented_ccks(tmp_path / "pairs.tsv", 40)
    (tmp_path / "sz.tsv").write_text("甲路1号\t甲路1号2楼\t1\n甲路1号\t乙路9号\t0\n" * 5, encoding="utf-8")
    out, pack = tmp_path / "ens", tmp_path / "pack"
    argv = ["train_ensemble.py", "--ccks", str(tmp_path / "pairs.tsv")]
    argv += ["--shenzhen", str(tmp_path / "sz.tsv")]
    argv += ["--init", str(init), "-o", str(out), "--teacher", "1:1e-3:1:1", "1:1e-3:1:2", "2:1e-3:1:3"]
    argv += ["--student", "kd:1e-3:1:4", "--student-layers", "1", "--parallel", "2", "--threads", "1"]
    argv += ["--device", "cpu", "--no-bf16", "--pack", str(pack), "--shard-size", "40KB"]
    monkeypatch.setattr(sys, "argv", argv)
    assert main() == 0

    summary = json.loads((pack / "summary.json").read_text(encoding="utf-8"))
    assert set(summary["teachers"]) == {"t1L_s1", "t1L_s2", "t2L_s3"}
    assert summary["ensemble"]["members"] == ["t1L_s1", "t1L_s2", "t2L_s3"]
    assert summary["student_init"] in {"t1L_s1", "t1L_s2"}
    assert 0.0 <= summary["students"]["kd"] <= 1.0
    assert BertForSequenceClassification.from_pretrained(out / "init1").config.num_hidden_layers == 1
    # the student learnt from all three teachers, and its packed copy is fp16 shards of at most 40 KB
    assert "teachers: 3 models" in (out / "kd" / "train.log").read_text(encoding="utf-8")
    shards = sorted(pack.joinpath("kd").glob("model-*.safetensors"))
    assert len(shards) > 1 and all(s.stat().st_size <= 40_000 for s in shards)
    torch = require_module("torch", "torch")
    packed = BertForSequenceClassification.from_pretrained(pack / "kd", dtype=torch.float32)
    trained = BertForSequenceClassification.from_pretrained(out / "kd" / "best")
    for (name, a), b in zip(packed.state_dict().items(), trained.state_dict().values(), strict=True):
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-3), name


def test_runs_past_the_deadline_are_stopped_and_the_rest_never_start(tmp_path: Path) -> None:
    import time

    from scripts.train_ensemble import run_all

    # stand-ins for train-neural: one finishes at once with status 3, the other would sleep a minute
    script = "import sys, time; time.sleep(60 if 'slow' in sys.argv[-1] else 0); sys.exit(3)"
    jobs = [("quick", ["quick"]), ("slow", ["slow"]), ("queued", ["slow"])]
    start = time.time()
    status = run_all(jobs, tmp_path, 2, start + 4, {}, command=(sys.executable, "-c", script))
    assert status == {"quick": 3, "slow": None, "queued": None}
    assert time.time() - start < 30  # stopped at the deadline, not after the minute
    log = (tmp_path / "ensemble.log").read_text(encoding="utf-8")
    assert "slow stopped (deadline)" in log and "quick exited 3" in log
    # the queued job took the slot "quick" freed, or (on a slow machine) had not started by the deadline
    assert ("queued stopped (deadline)" in log) != ("queued never started (deadline)" in log)
