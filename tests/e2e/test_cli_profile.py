"""``geoalign profile`` and ``geoalign verify-mgeo`` through the real CLI, on tiny checkpoints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.fixtures_mgeo import write_modelscope_dir
from tests.servers import require_module

from geoalign.cli.verify_mgeo import GOLDEN_V120, find_label_permutation, verify
from geoalign.types import LABELS, AddressPair, ItemError, Match

pytestmark = pytest.mark.torch

PAIRS_TSV = (
    "紫萱路363号人力社保局\t紫萱路363号市人社局\t2\n"
    "杭州市西湖区文一路3号\t文一路3号\t1\n"
    "\t缺失的地址\t0\n"
    "上海市浦东新区中心大厦12楼\t浦东新区中心大厦\t1\n"
)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "geoalign", *args], capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_module("torch", "torch")  # the checkpoint and every CLI run below load torch
    require_module("transformers", "torch")
    root = tmp_path_factory.mktemp("profile")
    write_modelscope_dir(root / "mgeo")
    (root / "pairs.tsv").write_text(PAIRS_TSV, encoding="utf-8")
    return root


def test_profile_prints_the_stage_table_and_writes_json(workdir: Path) -> None:
    out = workdir / "profile.json"
    proc = _cli(
        "profile", "--model", str(workdir / "mgeo"), "--pairs", str(workdir / "pairs.tsv"), "--json", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    for stage in ("normalize", "tokenize", "forward", "post-process", "total"):
        assert stage in proc.stdout
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["scorer"] == "torch" and report["model"].startswith("sha256:")
    assert report["pairs"] == 4 and report["errors"] == 1
    stages = {row["stage"]: row for row in report["stages"]}
    assert {"normalize", "tokenize", "forward", "post-process", "total"} <= set(stages)
    parts = sum(row["ms_total"] for name, row in stages.items() if name != "total")
    assert parts == pytest.approx(stages["total"]["ms_total"], rel=1e-3)
    assert sum(row["share"] for name, row in stages.items() if name != "total") == pytest.approx(
        1.0, abs=1e-3
    )
    assert report["meta"]["dtype"] == "fp32" and report["meta"]["random_weights"] is False
    assert report["agreement"] is None  # fp32: nothing to compare


def test_profile_limit_and_random_init_warning(workdir: Path) -> None:
    proc = _cli("profile", "--random-init", "tiny", "--pairs", str(workdir / "pairs.tsv"), "--limit", "2")
    assert proc.returncode == 0, proc.stderr
    assert "random-init:tiny" in proc.stdout
    assert "NOT predictions" in proc.stderr
    assert "pairs: 2" in proc.stdout


def test_profile_needs_a_model_source(workdir: Path) -> None:
    proc = _cli("profile", "--pairs", str(workdir / "pairs.tsv"))
    assert proc.returncode == 2
    assert "--model DIR, --random-init PRESET or --scorer NAME" in proc.stderr


def test_profile_missing_pairs_file(workdir: Path) -> None:
    proc = _cli("profile", "--random-init", "tiny", "--pairs", str(workdir / "nope.tsv"))
    assert proc.returncode == 2 and "not found" in proc.stderr


def test_profile_broken_model_dir_is_one_clear_line(workdir: Path, tmp_path: Path) -> None:
    write_modelscope_dir(tmp_path / "broken", skip=("vocab.txt",))
    proc = _cli("profile", "--model", str(tmp_path / "broken"), "--pairs", str(workdir / "pairs.tsv"))
    assert proc.returncode == 1
    assert "missing vocab.txt" in proc.stderr and "Traceback" not in proc.stderr


def test_verify_mgeo_reports_expected_vs_got_and_fails_on_random_weights(workdir: Path) -> None:
    proc = _cli("verify-mgeo", str(workdir / "mgeo"))
    assert proc.returncode == 1
    assert proc.stdout.count("expected") >= 6 and "FAIL" in proc.stdout
    assert "0.9217355" in proc.stdout  # the published v1.2.0 probability is shown


def test_match_with_a_checkpoint_dir_uses_the_torch_scorer(workdir: Path) -> None:
    """``--model DIR`` holding a ModelScope checkpoint picks the torch scorer through the registry."""
    proc = _cli(
        "match",
        "--model",
        str(workdir / "mgeo"),
        "--device",
        "cpu",
        "--json",
        "--no-rules",
        "文一路3号",
        "杭州市文一路3号",
    )
    assert proc.returncode == 0, proc.stderr
    match = json.loads(proc.stdout)
    assert match["scorer"] == "torch" and match["model"].startswith("sha256:")
    assert sum(match["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


class _Golden:
    """A stand-in scorer returning the published probabilities (plus an offset) for the golden pairs."""

    name = "golden"
    model_id = "golden"

    def __init__(self, offset: float = 0.0, rename: dict[str, str] | None = None) -> None:
        self.offset = offset
        self.rename = rename or {k: k for k in LABELS}

    def score(self, pairs: list[AddressPair]) -> list[Match | ItemError]:
        out: list[Match | ItemError] = []
        for pair, (a, b, expected, _) in zip(pairs, GOLDEN_V120, strict=True):
            assert (pair.a, pair.b) == (a, b)
            top = max(expected, key=expected.__getitem__)
            rest = [k for k in LABELS if k not in expected]
            left = 1.0 - sum(expected.values())
            probs = {**expected, **{k: left / len(rest) for k in rest}} if rest else dict(expected)
            probs[top] += self.offset
            probs = {self.rename[k]: p for k, p in probs.items()}
            label = max(probs, key=probs.__getitem__)
            out.append(Match(label, probs, self.name, self.model_id))  # type: ignore[arg-type]
        return out


def test_verify_passes_only_within_tolerance() -> None:
    assert all(c.ok for c in verify(_Golden()))
    assert all(c.ok for c in verify(_Golden(offset=5e-5)))
    assert not any(c.ok for c in verify(_Golden(offset=2e-4)))


class _StagedStub:
    """A cheap staged scorer (not torch) that reports its own prepare sub-stages."""

    name = "stub"
    model_id = "stub-1"

    def __init__(self) -> None:
        self.warmed = False

    def warmup(self) -> None:
        self.warmed = True

    def prepare(self, pairs):  # type: ignore[no-untyped-def]
        from geoalign.types import Prepared, PreparedItem

        items: list = []
        for p in pairs:
            if p.a is None:
                items.append(ItemError("missing", "address a is missing"))
            else:
                items.append(PreparedItem(1, (p.a, p.b), None, {"normalize": 0.5, "parse": 1.5}))
        return Prepared(items)

    def run(self, prepared):  # type: ignore[no-untyped-def]
        from geoalign.types import Raw

        return Raw(prepared, [None if isinstance(i, ItemError) else 0 for i in prepared.items])

    def finish(self, raw):  # type: ignore[no-untyped-def]
        return [
            i
            if isinstance(i, ItemError)
            else Match.from_probabilities([1, 0, 0], scorer="stub", model="stub-1")
            for i in raw.prepared.items
        ]

    def score(self, pairs):  # type: ignore[no-untyped-def]
        return self.finish(self.run(self.prepare(pairs)))


def test_profile_works_for_any_staged_scorer() -> None:
    from geoalign.engine.profile import compare_results, profile_scorer

    stub = _StagedStub()
    pairs = [AddressPair("a", "b"), AddressPair(None, "b"), AddressPair("c", "d")] * 5
    report, results = profile_scorer(stub, pairs, chunk_size=4)  # type: ignore[arg-type]
    assert stub.warmed and len(results) == 15 and report.n_errors == 5
    names = [row["stage"] for row in report.rows()]
    assert names[-3:] == ["forward", "post-process", "total"]
    assert {"normalize", "parse"} <= set(names)  # the scorer's own sub-stages, whatever they are called
    assert sum(report.stages.values()) == pytest.approx(report.total_ms)
    assert compare_results(results, results)["label_agreement"] == 1.0
    assert compare_results(results, results)["skipped"] == 5


def test_verify_recognises_a_wrong_label_order() -> None:
    swap = {"exact_match": "not_match", "not_match": "exact_match", "partial_match": "partial_match"}
    checks = verify(_Golden(rename=swap))
    assert not any(c.ok for c in checks if c.expected_label != "partial_match")
    assert find_label_permutation(checks) == swap  # swapping back makes every check pass
    assert find_label_permutation(verify(_Golden(offset=2e-4))) is None
