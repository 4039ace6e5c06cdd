"""``geoalign link --ann`` end to end with a tiny test-built embedding: the nearest neighbours join the rule
candidates, each tagged with its source; ``--explain-blocking --labels`` reports recall per source and
per k; ``--truth`` reports top-1, precision/recall and where the rest was lost (``--engine ray --ann``:
tests/e2e/test_ray_engine.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from tests.retrieval_fixtures import build_tiny_retrieval_model
from tests.servers import require_module

from geoalign.cli.main import main
from geoalign.errors import InputError
from geoalign.link.pipeline import LinkSettings, RunFlags, TableSpec, link, link_records

LEFT = [
    ("L1", "浙江省杭州市西湖区文三路369号"),
    ("L2", "杭州市西湖区文三路371号华星大厦"),
    ("L3", "上海市浦东新区花园公寓"),
]
RIGHT = [
    ("R1", "浙江省杭州市西湖区文三路３６９号"),
    ("R2", "杭州市西湖区 文三路371号 华星大厦"),
    ("R3", "上海市浦东新区花园公寓"),
    ("R4", "深圳市福田区银行"),
]
TRUTH = [("L1", "R1"), ("L2", "R2"), ("L3", "R3")]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_module("onnx", "export")
    return build_tiny_retrieval_model(tmp_path_factory.mktemp("ann") / "model")


def _csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "addr"])
        writer.writerows(rows)
    return path


def test_ann_alone_finds_what_rules_cannot_and_tags_the_source(tiny_model: Path) -> None:
    # the only rule left is "community", which none of these records has: rules find nothing
    rules_only = LinkSettings(rules="community")
    rows, _ = link_records(LEFT, RIGHT, settings=rules_only)
    assert {r["status"] for r in rows} == {"no_candidates"}
    with_ann = LinkSettings(rules="community", ann=str(tiny_model), ann_k=2, ann_index="exact")
    rows, summary = link_records(LEFT, RIGHT, settings=with_ann)
    assert [r["right_id"] for r in rows] == ["R1", "R2", "R3"]
    assert {r["candidate_source"] for r in rows} == {"ann"}
    assert all(r["n_candidates"] == 2 for r in rows)
    assert summary.blocking["candidate_pairs"] == 6


def test_default_rules_plus_ann_tags_both(tiny_model: Path) -> None:
    settings = LinkSettings(ann=str(tiny_model), ann_k=1, ann_index="exact")
    rows, _ = link_records(LEFT, RIGHT, settings=settings)
    by_id = {r["left_id"]: r for r in rows}
    assert by_id["L1"]["right_id"] == "R1"
    assert by_id["L1"]["candidate_source"] == "both"  # the rules and the nearest neighbour agree
    plain, _ = link_records(LEFT, RIGHT)
    assert {r["candidate_source"] for r in plain if r["right_id"]} == {"rules"}


def test_hnsw_and_exact_index_give_the_same_links(tiny_model: Path) -> None:
    require_module("usearch", "ann")
    results = []
    for backend in ("exact", "hnsw"):
        settings = LinkSettings(rules="community", ann=str(tiny_model), ann_k=2, ann_index=backend)
        rows, _ = link_records(LEFT, RIGHT, settings=settings)
        results.append([(r["right_id"], r["candidate_source"]) for r in rows])
    assert results[0] == results[1]


def test_explain_blocking_reports_recall_per_source_and_k(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    left, right = _csv(tmp_path / "l.csv", LEFT), _csv(tmp_path / "r.csv", RIGHT)
    labels = tmp_path / "labels.csv"
    labels.write_text("left,right\n" + "".join(f"{a},{b}\n" for a, b in TRUTH), encoding="utf-8")
    args = ["link", str(left), str(right), "--left-col", "addr", "--right-col", "addr", "--left-id", "id"]
    args += ["--right-id", "id", "--explain-blocking", "--labels", str(labels), "--rules", "community"]
    args += ["--ann", str(tiny_model), "--ann-k", "2", "--ann-index", "exact", "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)["blocking"]
    assert report["blocking_recall"] == 1.0
    assert report["recall_by_source"]["ann_only"] == 1.0 and report["recall_by_source"]["rules"] == 0.0
    assert report["ann_recall_at_k"]["1"] == 1.0  # each true record is the nearest neighbour
    assert report["pairs_lost"] == []
    assert main(args[:-1]) == 0
    text = capsys.readouterr().out
    assert "recall by candidate source" in text and "rules + ANN, recall at k" in text


def test_truth_reports_top1_precision_recall_and_losses(tiny_model: Path, tmp_path: Path) -> None:
    left, right = _csv(tmp_path / "l.csv", LEFT), _csv(tmp_path / "r.csv", RIGHT)
    truth = [("L1", "R1"), ("L2", "R4"), ("L3", "R3")]  # L2's "truth" is a record blocking never finds
    summary = link(
        TableSpec(left, "addr", "id"),
        TableSpec(right, "addr", "id"),
        tmp_path / "out.csv",
        settings=LinkSettings(),
        flags=RunFlags(resume=False),
        truth=truth,
    )
    report = summary.truth
    assert report is not None
    assert report["left_with_truth"] == 3
    assert report["outcome"]["lost_blocking"] == 1
    assert report["lost_examples"]["lost_blocking"] == ["L2"]
    assert report["outcome"]["found"] + report["outcome"]["lost_threshold"] == 2
    assert report["top1"] == pytest.approx(2 / 3, abs=1e-4)
    assert summary.blocking["blocking_recall"] == pytest.approx(2 / 3)


def test_ann_k_must_be_positive() -> None:
    with pytest.raises(InputError, match="ann-k"):
        LinkSettings(ann="shipped", ann_k=0)


def test_embeddings_are_cached_beside_the_job(tiny_model: Path, tmp_path: Path) -> None:
    left, right = _csv(tmp_path / "l.csv", LEFT), _csv(tmp_path / "r.csv", RIGHT)
    settings = LinkSettings(ann=str(tiny_model), ann_k=2, ann_index="exact")
    said: list[str] = []
    for _ in range(2):
        link(
            TableSpec(left, "addr", "id"),
            TableSpec(right, "addr", "id"),
            tmp_path / "out.csv",
            settings=settings,
            flags=RunFlags(resume=False),
            log=said.append,
        )
    assert (tmp_path / "out.csv.retrieval" / "vectors.npy").is_file()
    embedded = [m for m in said if m.startswith("retrieval:")]
    assert "(4 texts embedded)" in embedded[0]
    assert "(0 texts embedded)" in embedded[1]  # the rerun reads every vector from the cache
