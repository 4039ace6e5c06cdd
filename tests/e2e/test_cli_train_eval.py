"""``geoalign train`` and ``geoalign eval`` end to end on the project's own labelled examples."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from geoalign.cli.main import main
from geoalign.scorers.structured import META_FILE, MODEL_FILE, StructuredModel

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "pairs.tsv"


def _train(out: Path, *extra: str) -> int:
    return main(["train", "--pairs", str(EXAMPLES), "-o", str(out), "--rounds", "8", *extra])


def test_train_writes_a_loadable_reproducible_model(tmp_path, capsys):
    first, second = tmp_path / "m1", tmp_path / "m2"
    assert _train(first, "--folds", "2") == 0
    err = capsys.readouterr().err
    assert "cross-validation (2 folds" in err and "macro-F1:" in err
    assert {p.name for p in first.iterdir()} == {MODEL_FILE, META_FILE, "MODEL_CARD.md"}
    meta = json.loads((first / META_FILE).read_text(encoding="utf-8"))
    assert meta["training"]["pairs"] == 34 and meta["training"]["seed"] > 0
    assert "cv" in meta["metrics"]
    assert _train(second, "--folds", "2") == 0
    assert (first / MODEL_FILE).read_bytes() == (second / MODEL_FILE).read_bytes()
    assert StructuredModel.load(first).model_id == StructuredModel.load(second).model_id


def test_train_accepts_jsonl_and_integer_labels(tmp_path):
    rows = [line.split("\t") for line in EXAMPLES.read_text(encoding="utf-8").splitlines()[1:]]
    ids = {"not_match": 0, "partial_match": 1, "exact_match": 2}
    jsonl = tmp_path / "pairs.jsonl"
    jsonl.write_text(
        "\n".join(json.dumps({"a": a, "b": b, "label": ids[y]}, ensure_ascii=False) for a, b, y in rows)
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "m"
    assert main(["train", "--pairs", str(jsonl), "-o", str(out), "--rounds", "3", "--folds", "0"]) == 0
    assert (out / MODEL_FILE).is_file()


def test_train_rejects_bad_labels(tmp_path, capsys):
    bad = tmp_path / "bad.tsv"
    bad.write_text("文三路369号\t文三路369号\tsame\n", encoding="utf-8")
    assert main(["train", "--pairs", str(bad), "-o", str(tmp_path / "m")]) == 2
    assert "line 1" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_eval_report_json_and_plot(tmp_path, capsys):
    model = tmp_path / "m"
    assert _train(model, "--folds", "0") == 0
    capsys.readouterr()
    assert main(["eval", "--pairs", str(EXAMPLES), "--model", str(model), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 34 and report["unscored"] == 0
    matrix = report["confusion"]["matrix"]
    assert report["confusion"]["labels"] == ["exact_match", "partial_match", "not_match"]
    assert sum(map(sum, matrix)) == 34
    # the metrics agree with the confusion matrix, computed here from its definition
    f1s = []
    for k in range(3):
        tp, predicted, true = matrix[k][k], sum(row[k] for row in matrix), sum(matrix[k])
        f1s.append(2 * tp / (predicted + true) if predicted + true else 0.0)
        assert report["per_class"][report["confusion"]["labels"][k]]["support"] == true
    assert report["macro_f1"] == pytest.approx(sum(f1s) / 3)
    assert report["accuracy"] == pytest.approx(sum(matrix[k][k] for k in range(3)) / 34)
    assert main(["eval", "--pairs", str(EXAMPLES), "--model", str(model), "--no-progress"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:4] == [
        f"scorer: structured ({report['model']}), subset: all",
        "pairs: 34",
        f"accuracy: {report['accuracy']:.4f}",
        f"macro-F1: {report['macro_f1']:.4f}",
    ]
    assert "confusion (rows = true, columns = predicted):" in out
    assert out[-1] == (
        f"calibration: ECE {report['calibration']['ece']:.4f} (top label, 10 bins), "
        f"mean confidence {report['calibration']['mean_confidence']:.4f}"
    )
    pytest.importorskip("matplotlib")
    plot = tmp_path / "eval.png"
    assert main(["eval", "--pairs", str(EXAMPLES), "--model", str(model), "--plot", str(plot)]) == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_calibration_is_the_top_label_ece_of_the_scores(tmp_path, capsys):
    """The reported ECE, recomputed here from ``geoalign score``'s probabilities by its definition:
    per equal-width bin of the top probability, |mean probability - share right|, weighted by size."""
    model = tmp_path / "m"
    assert _train(model, "--folds", "0") == 0
    assert main(["eval", "--pairs", str(EXAMPLES), "--model", str(model), "--json"]) == 0
    reported = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["calibration"]
    scored = tmp_path / "scored.tsv"
    assert main(["score", str(EXAMPLES), "-o", str(scored), "--model", str(model), "--no-progress"]) == 0
    rows = list(csv.DictReader(scored.open(encoding="utf-8"), delimiter="\t"))
    bins: dict[int, list[tuple[float, bool]]] = {}
    for row in rows:
        probs = {label: float(row[f"p_{label}"]) for label in ("exact_match", "partial_match", "not_match")}
        top = max(probs.values())
        bins.setdefault(min(int(top * 10), 9), []).append((top, row["label"] == row["expected"]))
    ece = sum(
        abs(sum(p for p, _ in items) / len(items) - sum(ok for _, ok in items) / len(items)) * len(items)
        for items in bins.values()
    ) / len(rows)
    assert len(rows) == 34
    assert reported["ece"] == pytest.approx(ece, abs=1e-6)
    assert reported["mean_confidence"] == pytest.approx(
        sum(max(float(r[f"p_{k}"]) for k in ("exact_match", "partial_match", "not_match")) for r in rows) / 34
    )


def test_eval_default_scorer_and_subsets(capsys):
    sizes = {}
    for subset in ("dev", "test", "all"):
        assert main(["eval", "--pairs", str(EXAMPLES), "--subset", subset, "--json"]) == 0
        sizes[subset] = json.loads(capsys.readouterr().out)["n"]
    # the two folds split the file: each non-empty, together every pair once
    assert sizes["dev"] >= 1 and sizes["test"] >= 1 and sizes["dev"] + sizes["test"] == sizes["all"] == 34
    assert main(["eval", "--pairs", str(EXAMPLES), "--scorer", "structured", "--subset", "dev"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("scorer: structured (structured-") and out[0].endswith("), subset: dev")
    assert out[1] == f"pairs: {sizes['dev']}"


def test_eval_binary_labels(tmp_path, capsys):
    """0/1 labels (1 = the same place): --binary reports P/R/F1 of the same-place reading, computed
    from the same answers `geoalign score` gives; without it the report says how it read them."""
    from geoalign import Matcher
    from geoalign.scorers.spec import ScorerSpec
    from geoalign.types import AddressPair

    rows = [line.split("\t") for line in EXAMPLES.read_text(encoding="utf-8").splitlines()[1:]]
    binary = tmp_path / "binary.tsv"
    binary.write_text(
        "".join(f"{a}\t{b}\t{0 if label == 'not_match' else 1}\n" for a, b, label in rows), encoding="utf-8"
    )
    answers = Matcher(ScorerSpec(scorer="structured")).score([AddressPair(a, b) for a, b, _ in rows])
    truth = [label != "not_match" for _, _, label in rows]
    for mode, matches in (("any", {"exact_match", "partial_match"}), ("exact", {"exact_match"})):
        pred = [m.label in matches for m in answers]
        tp = sum(t and p for t, p in zip(truth, pred, strict=True))
        fp = sum(p and not t for t, p in zip(truth, pred, strict=True))
        fn = sum(t and not p for t, p in zip(truth, pred, strict=True))
        argv = ["eval", "--pairs", str(binary), "--scorer", "structured", "--binary", mode, "--json"]
        assert main(argv) == 0
        captured = capsys.readouterr()
        report = json.loads(captured.out)["binary"]
        assert (report["tp"], report["fp"], report["fn"]) == (tp, fp, fn)
        assert report["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
        assert report["n"] == len(rows) and "note:" not in captured.err
    assert main(["eval", "--pairs", str(binary), "--scorer", "structured", "--binary", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "binary (a match = exact_match or partial_match): pairs 34" in out and "binary F1: " in out
    assert main(["eval", "--pairs", str(binary), "--scorer", "structured", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "binary F1" not in captured.out and "--binary reports them" in captured.err
