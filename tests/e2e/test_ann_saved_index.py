"""The ``--ann`` index saved with the job (``OUT.retrieval/``): a rerun loads it instead of rebuilding,
a mismatched one (other records, another backend, a damaged file) is rebuilt with the reason in the log,
``dedupe --existing`` extends the index saved with the existing table, and every answer equals a fresh
build's. Tiny invented tables and the tests' tiny embedding (tests/retrieval_fixtures.py)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from tests.retrieval_fixtures import build_tiny_retrieval_model
from tests.servers import require_module

from geoalign.link.pipeline import LinkSettings, RunFlags, TableSpec, dedupe, link

LEFT = [
    ("L1", "浙江省杭州市西湖区文三路369号"),
    ("L2", "杭州市西湖区文三路371号华星大厦"),
    ("L3", "上海市浦东新区花园公寓"),
    ("L4", "深圳市福田区好利来蛋糕店"),
]
RIGHT = [
    ("R1", "浙江省杭州市西湖区文三路３６９号"),
    ("R2", "杭州市西湖区 文三路371号 华星大厦"),
    ("R3", "上海市浦东新区花园公寓"),
    ("R4", "深圳市福田区银行"),
    ("R5", ""),  # unusable: takes a position, is not indexed
    ("R6", "深圳市福田区好利来蛋糕店对面"),
]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_module("onnx", "export")
    return build_tiny_retrieval_model(tmp_path_factory.mktemp("ann_saved") / "model")


def _csv(path: Path, rows: list[tuple[str, ...]], header: tuple[str, ...] = ("id", "addr")) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _settings(model: Path, backend: str = "exact") -> LinkSettings:
    # "community" alone: no record has a community, so every candidate comes from the index
    return LinkSettings(rules="community", ann=str(model), ann_k=2, ann_index=backend)


def _link(tmp: Path, out: Path, settings: LinkSettings, said: list[str]) -> Any:
    return link(
        TableSpec(tmp / "l.csv", "addr", "id"),
        TableSpec(tmp / "r.csv", "addr", "id"),
        out,
        settings=settings,
        flags=RunFlags(resume=False),
        log=said.append,
    )


@pytest.mark.parametrize("backend", ["exact", "hnsw"])
def test_rerun_loads_the_saved_index_and_answers_the_same(
    tiny_model: Path, tmp_path: Path, backend: str
) -> None:
    if backend == "hnsw":
        require_module("usearch", "ann")
    _csv(tmp_path / "l.csv", LEFT)
    _csv(tmp_path / "r.csv", RIGHT)
    out = tmp_path / "out.csv"
    said: list[str] = []
    first = _link(tmp_path, out, _settings(tiny_model, backend), said)
    rows_first = _read(out)
    job = tmp_path / "out.csv.retrieval"
    meta = json.loads((job / "index.json").read_text(encoding="utf-8"))
    assert (meta["backend"], meta["records"], meta["vectors"]) == (backend, 6, 5)
    assert first.retrieval is not None and first.retrieval["how"] == "built"

    said.clear()
    second = _link(tmp_path, out, _settings(tiny_model, backend), said)
    assert second.retrieval is not None
    assert second.retrieval["how"] == "loaded" and second.retrieval["from_saved"] == 6
    assert second.retrieval["embedded"] == 0 and second.retrieval["rejected"] == []
    assert any(m.startswith("retrieval: index loaded from") for m in said)
    assert _read(out) == rows_first
    assert [r["right_id"] for r in rows_first] == ["R1", "R2", "R3", "R6"]


def test_a_changed_table_is_rebuilt_and_says_why(tiny_model: Path, tmp_path: Path) -> None:
    _csv(tmp_path / "l.csv", LEFT)
    _csv(tmp_path / "r.csv", RIGHT)
    said: list[str] = []
    _link(tmp_path, tmp_path / "out.csv", _settings(tiny_model), said)
    # the same number of records, one written differently: the positions now name other texts
    changed = [*RIGHT[:3], ("R4", "深圳市福田区好利来蛋糕店"), *RIGHT[4:]]
    _csv(tmp_path / "r.csv", changed)
    said.clear()
    summary = _link(tmp_path, tmp_path / "out.csv", _settings(tiny_model), said)
    assert summary.retrieval is not None and summary.retrieval["how"] == "built"
    assert any("saved index not used, rebuilding" in m and "other records" in m for m in said)
    # the rebuilt index answers as a fresh build in a fresh directory
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    for name in ("l.csv", "r.csv"):
        shutil.copy(tmp_path / name, fresh / name)
    _link(fresh, fresh / "out.csv", _settings(tiny_model), [])
    assert _read(tmp_path / "out.csv") == _read(fresh / "out.csv")
    # and it was saved over the stale one: the next run loads it
    said.clear()
    again = _link(tmp_path, tmp_path / "out.csv", _settings(tiny_model), said)
    assert again.retrieval is not None and again.retrieval["how"] == "loaded"


def test_another_backend_or_a_damaged_index_is_never_trusted(tiny_model: Path, tmp_path: Path) -> None:
    require_module("usearch", "ann")
    _csv(tmp_path / "l.csv", LEFT)
    _csv(tmp_path / "r.csv", RIGHT)
    out = tmp_path / "out.csv"
    _link(tmp_path, out, _settings(tiny_model, "exact"), [])
    said: list[str] = []
    summary = _link(tmp_path, out, _settings(tiny_model, "hnsw"), said)
    assert summary.retrieval is not None and summary.retrieval["how"] == "built"
    assert any("another backend" in m for m in said)
    (tmp_path / "out.csv.retrieval" / "index.usearch").write_bytes(b"not an index")
    said.clear()
    summary = _link(tmp_path, out, _settings(tiny_model, "hnsw"), said)
    assert summary.retrieval is not None and summary.retrieval["how"] == "built"
    assert any("unreadable index file" in m for m in said)


OLD = [
    ("1", "浙江省杭州市西湖区文三路369号"),
    ("2", "浙江省杭州市西湖区文三路３６９号"),
    ("3", "上海市浦东新区花园公寓"),
    ("4", "深圳市福田区银行"),
]
NEW = [
    ("5", "上海市浦东新区花园公寓"),
    ("6", "杭州市西湖区文三路371号华星大厦"),
    ("7", "深圳市福田区好利来蛋糕店"),
]


def _dedupe(table: Path, out: Path, settings: LinkSettings, existing: Path | None, said: list[str]) -> Any:
    return dedupe(
        TableSpec(table, "addr", "id"),
        out,
        settings=settings,
        flags=RunFlags(resume=False),
        existing=TableSpec(existing, "address", "id") if existing is not None else None,
        log=said.append,
    )


def test_dedupe_existing_extends_the_index_saved_with_the_existing_table(
    tiny_model: Path, tmp_path: Path
) -> None:
    settings = LinkSettings(ann=str(tiny_model), ann_k=3, ann_index="exact")
    aligned = tmp_path / "aligned.csv"
    first = _dedupe(_csv(tmp_path / "old.csv", OLD), aligned, settings, None, [])
    assert first.retrieval is not None and first.retrieval["how"] == "built"
    assert (tmp_path / "aligned.csv.retrieval" / "index.json").is_file()

    said: list[str] = []
    new = _csv(tmp_path / "new.csv", NEW)
    summary = _dedupe(new, tmp_path / "next.csv", settings, aligned, said)
    report = summary.retrieval
    assert report is not None and report["how"] == "extended"
    assert (report["from_saved"], report["records"]) == (len(OLD), len(OLD) + len(NEW))
    assert report["source"] == str(tmp_path / "aligned.csv.retrieval")
    assert report["embedded"] == len(NEW)  # only the new records' texts: the old ones are in the index
    assert any("index extended from" in m for m in said)

    # the same run with no saved index anywhere builds from scratch and writes the same clusters
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copy(aligned, fresh / "aligned.csv")
    built = _dedupe(new, fresh / "next.csv", settings, fresh / "aligned.csv", [])
    assert built.retrieval is not None and built.retrieval["how"] == "built"
    assert _read(tmp_path / "next.csv") == _read(fresh / "next.csv")
    statuses = {r["id"]: r["status"] for r in _read(tmp_path / "next.csv")}
    assert statuses["1"] == "existing" and statuses["5"] == "new"

    # rerunning the incremental command loads its own saved index (old + new) first
    said.clear()
    again = _dedupe(new, tmp_path / "next.csv", settings, aligned, said)
    assert again.retrieval is not None and again.retrieval["how"] == "loaded"
    assert again.retrieval["source"] == str(tmp_path / "next.csv.retrieval")
