"""``link`` / ``dedupe --workers N``: chunks judged on forked processes give the very output and counts of
one process (structured judge, the default judge with its ONNX neural stage, ``--ann`` with its ONNX
embedder), resume after a failure inside a worker, and report a worker that died."""

from __future__ import annotations

import csv
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from tests.retrieval_fixtures import build_tiny_retrieval_model
from tests.servers import require_module

from geoalign.cli.main import main
from geoalign.errors import InputError
from geoalign.link.pipeline import LinkSettings, RunFlags, TableSpec, dedupe, default_scorer, link
from geoalign.link.workers import LinkWorkerDied

ROADS = ["文三路", "学院路", "教工路", "天目山路", "莫干山路"]


@pytest.fixture(autouse=True)
def _small_analyze_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 4 records: these small tables' parses are spread over the workers too."""
    monkeypatch.setattr("geoalign.link.workers.ANALYZE_BLOCK", 4)


def _address(n: int, variant: int) -> str:
    road = ROADS[n % len(ROADS)]
    number = 10 + n
    if variant == 0:
        return f"浙江省杭州市西湖区{road}{number}号"
    if variant == 1:
        return f"杭州市西湖区 {road}{number}号"  # the province left out: the same place
    if variant == 2:
        return f"杭州市西湖区{road}{number}号{n % 3 + 1}幢"  # a building added: the model decides
    return f"浙江省杭州市西湖区{road}{number + 1}号"  # the next house number: another place


def _tables(tmp_path: Path, n: int = 30) -> tuple[Path, Path]:
    left = tmp_path / "left.csv"
    right = tmp_path / "right.csv"
    with open(left, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "addr"])
        writer.writerows((f"L{i}", _address(i, 1 + i % 3)) for i in range(n))
        writer.writerow(["Lbad", ""])  # an unusable record travels through a worker too
    with open(right, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rid", "address"])
        writer.writerows((f"R{i}", _address(i, 0)) for i in range(n))
        writer.writerow(["Rbad", "\x00\x01"])  # unusable on the indexed side: parsed in a worker, reported
    return left, right


def _specs(left: Path, right: Path) -> tuple[TableSpec, TableSpec]:
    return TableSpec(left, "addr", "id"), TableSpec(right, "address", "rid")


def _same_summary(one: Any, many: Any) -> None:
    a, b = one.to_dict(), many.to_dict()
    for report in (a, b):
        report.pop("seconds")
        report.pop("workers")
        report["judge"].pop("forward_s", None)
        report["judge"].pop("reverse_s", None)
        report["judge"].pop("first_stage_s", None)
        if report.get("retrieval"):
            report["retrieval"].pop("seconds")
        if report.get("cascade"):
            report["cascade"].pop("structured_ms")
            report["cascade"].pop("neural_ms")
    assert a == b


def _truth(n: int = 30) -> list[tuple[str, str]]:
    return [(f"L{i}", f"R{i}") for i in range(n)]


def test_link_with_two_workers_writes_what_one_process_writes(tmp_path: Path) -> None:
    left, right = _tables(tmp_path)
    one = link(*_specs(left, right), tmp_path / "one.csv", flags=RunFlags(chunk_size=4), truth=_truth())
    many = link(
        *_specs(left, right), tmp_path / "two.csv", flags=RunFlags(chunk_size=4, workers=2), truth=_truth()
    )
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()
    assert many.workers == 2 and one.workers == 1
    assert many.counts.status["match"] > 0 and many.counts.status["error"] == 1
    assert many.judge is not None and many.judge.forward_pairs > 0
    _same_summary(one, many)


def test_the_default_judge_runs_its_onnx_stage_in_the_workers(tmp_path: Path) -> None:
    require_module("onnxruntime", "onnx")
    left, right = _tables(tmp_path)
    judge = default_scorer(cascade_threshold=0.99)  # a wide uncertain band: the neural stage must run
    one = link(*_specs(left, right), tmp_path / "one.csv", scorer=judge, flags=RunFlags(chunk_size=4))
    many = link(
        *_specs(left, right), tmp_path / "two.csv", scorer=judge, flags=RunFlags(chunk_size=4, workers=2)
    )
    assert many.cascade is not None and many.cascade.neural_decided + many.cascade.uncertain_kept > 0
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()
    _same_summary(one, many)


def test_ann_retrieval_in_the_workers_and_its_embeddings_kept_for_a_rerun(tmp_path: Path) -> None:
    require_module("onnx", "export")
    model = build_tiny_retrieval_model(tmp_path / "model")
    left, right = _tables(tmp_path)
    settings = LinkSettings(ann=str(model), ann_k=3, ann_index="exact")
    one = link(*_specs(left, right), tmp_path / "one.csv", settings=settings, flags=RunFlags(chunk_size=4))
    many = link(
        *_specs(left, right),
        tmp_path / "two.csv",
        settings=settings,
        flags=RunFlags(chunk_size=4, workers=2),
        truth=None,
    )
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()
    _same_summary(one, many)
    # the left records' embeddings, made in the workers, reached the job's saved cache
    texts = (tmp_path / "two.csv.retrieval" / "texts.jsonl").read_text(encoding="utf-8").splitlines()
    saved_one = (tmp_path / "one.csv.retrieval" / "texts.jsonl").read_text(encoding="utf-8").splitlines()
    assert sorted(texts) == sorted(saved_one) and len(texts) > 30


def test_dedupe_with_two_workers_writes_what_one_process_writes(tmp_path: Path) -> None:
    left, right = _tables(tmp_path)
    table = tmp_path / "both.csv"
    rows = [row for path in (left, right) for row in _rows(path)]
    with open(table, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["id", "addr"], *rows])
    spec = TableSpec(table, "addr", "id")
    one = dedupe(spec, tmp_path / "one.csv", flags=RunFlags(chunk_size=5), edges_output=tmp_path / "e1.csv")
    many = dedupe(
        spec, tmp_path / "two.csv", flags=RunFlags(chunk_size=5, workers=2), edges_output=tmp_path / "e2.csv"
    )
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()
    assert (tmp_path / "e1.csv").read_bytes() == (tmp_path / "e2.csv").read_bytes()
    assert many.clusters is not None and many.clusters.merged_edges > 0
    _same_summary(one, many)


def test_parses_made_in_workers_reach_this_process_and_its_parse_cache() -> None:
    from geoalign.link.blocking import parse_rules
    from geoalign.link.candidates import Record, RecordAnalyzer, featurizer_of
    from geoalign.link.workers import analyze_records

    def records() -> list[Record]:
        rows = [Record(f"R{i}", _address(i, i % 4)) for i in range(30)]
        return [*rows, Record("bad", None), Record("ctl", "\x00\x01")]

    serial, forked = records(), records()
    RecordAnalyzer(featurizer_of(default_scorer()), parse_rules(None)).analyze_many(serial)
    featurizer = featurizer_of(default_scorer())
    analyze_records(forked, RecordAnalyzer(featurizer, parse_rules(None)), 2)
    for one, other in zip(serial, forked, strict=True):
        assert (one.view, one.keys, one.error) == (other.view, other.keys, other.error)
    assert forked[-2].error is not None and forked[-1].error is not None
    for record in forked[:-2]:
        # the parent holds the worker's view in its cache: scoring here (or in a fork) parses nothing
        cached = [v for v in featurizer.cache.data.values() if v is record.view]
        assert cached, record.address


def _rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))[1:]


class _FailsOn:
    """The embedded matcher, except that scoring the pair of one left address fails (in a worker)."""

    def __init__(self, address: str, how: str) -> None:
        self.inner = default_scorer(neural=False)
        self.name = self.inner.name
        self.address = address
        self.how = how

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def score(self, pairs: Any) -> Any:
        if any(p.a == self.address for p in pairs):
            if self.how == "die":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("scoring failed")
        return self.inner.score(pairs)


@pytest.mark.parametrize("how", ["raise", "die"])
def test_a_failure_in_a_worker_stops_the_run_and_a_rerun_resumes(tmp_path: Path, how: str) -> None:
    left, right = _tables(tmp_path)
    full = tmp_path / "full.csv"
    # the embedded matcher alone throughout: a wrapped cascade would be scored without its cheap pass
    # (``cascade.cheap_stage`` sees no cascade), and some probabilities would differ from the full run
    structured = default_scorer(neural=False)
    link(*_specs(left, right), full, scorer=structured, flags=RunFlags(chunk_size=4))
    out = tmp_path / "out.csv"
    failing = _FailsOn(_address(20, 1 + 20 % 3), how)  # left record 20: the sixth chunk
    expected = LinkWorkerDied if how == "die" else RuntimeError
    with pytest.raises(expected):
        link(*_specs(left, right), out, scorer=failing, flags=RunFlags(chunk_size=4, workers=2))  # type: ignore[arg-type]
    assert (tmp_path / "out.csv.partial").exists() and not out.exists()
    summary = link(*_specs(left, right), out, scorer=structured, flags=RunFlags(chunk_size=4, workers=2))
    assert 0 < summary.counts.left_resumed <= 20
    assert out.read_bytes() == full.read_bytes()


def test_a_torch_neural_stage_is_refused_before_forking(tmp_path: Path) -> None:
    left, right = _tables(tmp_path)

    class TorchLike:
        def __init__(self) -> None:
            self.inner = default_scorer()
            self.name = self.inner.name
            self.neural = type("Neural", (), {"backend": type("Backend", (), {"name": "torch"})()})()

        @property
        def model_id(self) -> str:
            return self.inner.model_id

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    with pytest.raises(InputError, match="PyTorch"):
        link(
            *_specs(left, right),
            tmp_path / "o.csv",
            scorer=TorchLike(),
            flags=RunFlags(chunk_size=4, workers=2),
        )  # type: ignore[arg-type]
    # one chunk never forks, so nothing is refused
    link(*_specs(left, right), tmp_path / "o.csv", scorer=TorchLike(), flags=RunFlags(workers=2))  # type: ignore[arg-type]


def test_the_cli_defaults_to_one_worker_per_core_and_says_how_many_ran(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    left, right = _tables(tmp_path)
    args = ["link", str(left), str(right), "--left-col", "addr", "--right-col", "address", "--left-id", "id"]
    args += ["--right-id", "rid", "--no-progress", "--chunk-size", "4", "--json"]
    assert main([*args, "-o", str(tmp_path / "a.csv"), "--workers", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["workers"] == 2
    assert main([*args, "-o", str(tmp_path / "b.csv"), "--workers", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["workers"] == 1
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert main([*args, "-o", str(tmp_path / "c.csv"), "--workers", "-1"]) != 0
    assert "--workers must be 0 (one per core) or more" in capsys.readouterr().err
    help_text = _help(capsys)
    assert "one per usable CPU" in help_text


def _help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main(["link", "--help"])
    return " ".join(capsys.readouterr().out.split())
