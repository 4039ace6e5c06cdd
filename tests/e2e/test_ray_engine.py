"""``--engine ray`` on a local Ray: the same rows and clusters as the local engine on generated tables,
and a scoring worker killed mid-batch is retried without lost or duplicated rows.

Kept small (a few hundred rows, 2 CPUs): every Ray stage has a fixed cost on a shared machine.
"""

from __future__ import annotations

import csv
import functools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.retrieval_fixtures import build_tiny_retrieval_model
from tests.servers import require_module

from geoalign.cli.main import main
from geoalign.errors import InputError
from geoalign.link.pipeline import LinkSettings, TableSpec, default_scorer, link
from geoalign.link.ray_engine import RayOptions, actor_cpus, link_ray
from geoalign.types import AddressPair, Result

ROOT = Path(__file__).resolve().parents[2]

# rows the generator does not make: unusable ones must come out as error rows in both engines
EXTRA_LEFT = [
    ("X1", ""),
    ("X2", "   "),
    ("X3", "完全无关的一段文字"),
]
#: For dedupe only: a road and number without its city, the same place as each of two records in two
#: cities (both edges right); the two are different places and must stay in two clusters on both engines.
EXTRA_DEDUPE = [
    ("Y1", "鼓楼区中山北路30号"),
    ("Y2", "江苏省南京市鼓楼区中山北路30号"),
    ("Y3", "福建省福州市鼓楼区中山北路30号"),
    # a tower and its 10th floor: one cluster by the judge's relevance, two with --same-detail
    ("Z1", "浙江省杭州市西湖区文三路478号华星时代广场A座"),
    ("Z2", "杭州市西湖区文三路478号华星时代广场A座10楼"),
]


@pytest.fixture(scope="session")
def local_ray() -> Iterator[Any]:
    ray = require_module("ray", "ray")
    os.environ["RAY_DISABLE_USAGE_STATS"] = "1"
    # the killing scorer below lives in this test module: ship it by value (workers cannot import tests)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        ignore_reinit_error=True,
        object_store_memory=200 * 1024 * 1024,
        log_to_driver=False,
    )
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ray_tables")
    script = str(ROOT / "benchmarks" / "gen_tables.py")
    subprocess.run(
        [sys.executable, script, "--places", "160", "--seed", "3", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    with open(out / "left.csv", "a", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(EXTRA_LEFT)
    # one table for dedupe: both sides together (true links become clusters)
    rows = []
    for name in ("right.csv", "left.csv"):
        with open(out / name, encoding="utf-8", newline="") as handle:
            rows.extend(list(csv.reader(handle))[1:])
    with open(out / "all.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "address"])
        writer.writerows(rows)
        writer.writerows(EXTRA_DEDUPE)
    return out


def sorted_rows(path: Path, key: str) -> list[dict[str, Any]]:
    pq = require_module("pyarrow.parquet", "tables")
    return sorted(pq.read_table(path).to_pylist(), key=lambda r: r[key])


def link_args(d: Path, out: Path, *extra: str) -> list[str]:
    return [
        "link",
        str(d / "left.csv"),
        str(d / "right.csv"),
        "--left-col",
        "address",
        "--right-col",
        "address",
        "--left-id",
        "id",
        "--right-id",
        "id",
        "--max-candidates",
        "5",  # small enough that the cut (and its tie-breaking) is exercised
        "-o",
        str(out),
        "--no-progress",
        *extra,
    ]


def test_link_ray_equals_local(local_ray: Any, tables: Path, tmp_path: Path) -> None:
    # carried columns whose names the output has already: written with input_ in front by both engines
    carry = ("--carry-right", "id,address")
    assert main(link_args(tables, tmp_path / "local.parquet", *carry)) == 0
    assert (
        main(link_args(tables, tmp_path / "ray.parquet", *carry, "--engine", "ray", "--ray-actors", "1")) == 0
    )
    assert (tmp_path / "ray.parquet").is_dir()
    local = sorted_rows(tmp_path / "local.parquet", "left_id")
    remote = sorted_rows(tmp_path / "ray.parquet", "left_id")
    assert [r["left_id"] for r in remote] == [r["left_id"] for r in local]
    assert remote == local
    statuses = {r["status"] for r in local}
    # the comparison covered every kind of row, not just matches
    assert {"match", "no_match", "error"} <= statuses
    assert sum(r["n_candidates"] == 5 for r in local) > 0
    assert all(r["input_right_id"] == r["right_id"] for r in local)


def dedupe_local_and_ray(tables: Path, tmp_path: Path, *extra: str) -> tuple[list[Any], list[Any]]:
    """``geoalign dedupe`` of the tables' ``all.csv`` on the local engine and on Ray (the same ``extra``
    options): both outputs' rows, sorted by id."""

    def run(out: Path, *engine: str) -> list[Any]:
        args = ["dedupe", str(tables / "all.csv"), "--col", "address", "--id", "id", "-o", str(out)]
        edges = ["--edges", str(out.with_suffix(".edges.csv"))]
        assert main([*args, "--no-progress", *edges, *extra, *engine]) == 0
        return sorted_rows(out, "id")

    local = run(tmp_path / "local.parquet")
    return local, run(tmp_path / "ray.parquet", "--engine", "ray", "--ray-actors", "1")


def test_dedupe_ray_equals_local(
    local_ray: Any, tables: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    local, remote = dedupe_local_and_ray(tables, tmp_path)
    assert remote == local
    sizes = [r["cluster_size"] for r in local if r["cluster_size"] is not None]
    assert max(sizes) >= 2  # real clusters were compared, not only singletons
    cluster = {r["id"]: r["cluster_id"] for r in local}
    assert cluster["Y2"] != cluster["Y3"]  # two cities, whatever chains through Y1
    assert capsys.readouterr().err.count("different-places guard") == 2  # each engine refused the chain
    local_edges, remote_edges = (_edges(tmp_path / f"{name}.edges.csv") for name in ("local", "ray"))
    assert remote_edges == local_edges
    assert "refused_different_places" in {e["outcome"] for e in local_edges}


def test_dedupe_ray_same_detail_equals_local(local_ray: Any, tables: Path, tmp_path: Path) -> None:
    local, remote = dedupe_local_and_ray(tables, tmp_path, "--same-detail", "--carry", "address")
    assert remote == local
    assert all(r["input_address"] == r["address"] for r in local)  # carried beside the output's own
    cluster = {r["id"]: r["cluster_id"] for r in local}
    assert cluster["Z1"] != cluster["Z2"]


def _edges(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return sorted(csv.DictReader(handle), key=lambda e: (e["a_id"], e["b_id"]))


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_module("onnx", "export")
    return build_tiny_retrieval_model(tmp_path_factory.mktemp("ray_ann") / "model")


def ann_args(model: Path) -> list[str]:
    return ["--ann", str(model), "--ann-k", "4", "--ann-index", "exact"]


def test_link_ray_with_ann_equals_local(
    local_ray: Any, tables: Path, tiny_model: Path, tmp_path: Path
) -> None:
    assert main(link_args(tables, tmp_path / "local.parquet", *ann_args(tiny_model))) == 0
    ray_args = ["--engine", "ray", "--ray-actors", "1", *ann_args(tiny_model)]
    assert main(link_args(tables, tmp_path / "ray.parquet", *ray_args)) == 0
    local = sorted_rows(tmp_path / "local.parquet", "left_id")
    remote = sorted_rows(tmp_path / "ray.parquet", "left_id")
    assert remote == local
    sources = {r["candidate_source"] for r in local if r["right_id"] is not None}
    # retrieval changed the candidates: some chosen records came from it alone, some from both streams
    assert {"both", "ann"} <= sources
    assert any(r["n_candidates"] > 5 for r in local)  # rules capped at 5, plus ANN-only candidates


def test_dedupe_ray_with_ann_equals_local(
    local_ray: Any, tables: Path, tiny_model: Path, tmp_path: Path
) -> None:
    # rules that find almost nothing: the clusters come from the nearest neighbours
    local, remote = dedupe_local_and_ray(tables, tmp_path, "--rules", "community", *ann_args(tiny_model))
    assert remote == local
    sizes = [r["cluster_size"] for r in local if r["cluster_size"] is not None]
    assert max(sizes) >= 2


def test_ray_retrieval_embeds_each_distinct_text_once(local_ray: Any, tiny_model: Path) -> None:
    from geoalign.link.ray_engine.retrieval import distinct_texts, embed_texts
    from geoalign.retrieval.embedder import OnnxEmbedder

    left = local_ray.data.from_items(
        [
            {"pos": 0, "text": "北京市朝阳区望京街1号"},
            {"pos": 1, "text": None},
            {"pos": 2, "text": "上海市徐汇区漕溪北路2号"},
        ]
    )
    right = local_ray.data.from_items(
        [
            {"pos": 0, "text": "上海市徐汇区漕溪北路2号"},
            {"pos": 1, "text": "北京市朝阳区望京街1号"},
            {"pos": 2, "text": "杭州市文三路3号"},
        ]
    )
    (a, b), texts = distinct_texts([left, right])
    assert len(texts) == 3  # four usable records, three distinct texts; the record without text is left out
    assert a.positions.tolist() == [0, 2] and b.positions.tolist() == [0, 1, 2]
    assert texts[int(a.tids[0])].as_py() == texts[int(b.tids[1])].as_py() == "北京市朝阳区望京街1号"
    assert a.tids[1] == b.tids[0]
    matrix = embed_texts(texts, LinkSettings(ann=str(tiny_model)), dim=OnnxEmbedder(str(tiny_model)).dim)
    # each row is its own text's vector, as the local engine's embedder gives it
    expected = OnnxEmbedder(str(tiny_model)).embed(texts.to_pylist())
    assert matrix.shape == expected.shape
    assert abs(matrix - expected).max() < 1e-3


def killing_scorer(marker: str, address: str) -> Any:
    """The embedded matcher (``--judge structured``: every pair goes through ``score``, no cheap pass
    around it), except that the first batch holding ``address`` kills its process (os._exit: no
    cleanup, like an OOM kill); the marker file makes it happen once across actor restarts."""
    scorer = default_scorer(neural=False)
    inner = scorer.score

    def score(pairs: list[AddressPair]) -> list[Result]:
        if not os.path.exists(marker) and any(p.a == address or p.b == address for p in pairs):
            Path(marker).write_text(str(os.getpid()))
            os._exit(1)
        return inner(pairs)

    scorer.score = score  # type: ignore[method-assign]
    return scorer


def test_killed_scoring_worker_is_retried_without_lost_or_duplicate_rows(
    local_ray: Any, tables: Path, tmp_path: Path
) -> None:
    left = TableSpec(tables / "left.csv", "address", "id")
    right = TableSpec(tables / "right.csv", "address", "id")
    settings = LinkSettings(max_candidates=5)
    with open(tables / "left.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    marked = rows[len(rows) // 2]["address"]
    marker = tmp_path / "killed"
    link(left, right, tmp_path / "local.parquet", scorer=default_scorer(neural=False), settings=settings)
    link_ray(
        left,
        right,
        tmp_path / "ray.parquet",
        scorer_factory=functools.partial(killing_scorer, str(marker), marked),
        settings=settings,
        ray_options=RayOptions(actors=(1, 1), batch_records=32, max_restarts=2, max_task_retries=2),
    )
    assert marker.exists(), "the marked batch never reached a scoring actor: nothing was killed"
    local = sorted_rows(tmp_path / "local.parquet", "left_id")
    remote = sorted_rows(tmp_path / "ray.parquet", "left_id")
    ids = [r["left_id"] for r in remote]
    assert len(ids) == len(set(ids)) == len(rows)
    assert ids == [r["left_id"] for r in local]
    assert remote == local


def test_ray_engine_refuses_what_it_cannot_do(
    tables: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    left = TableSpec(tables / "left.csv", "address", "id")
    with pytest.raises(InputError, match="Parquet"):
        link_ray(left, left, tmp_path / "out.csv", scorer_factory=default_scorer)
    (tmp_path / "taken.parquet").mkdir()
    (tmp_path / "taken.parquet" / "notes.txt").write_text("not ours")
    with pytest.raises(InputError, match="not replacing"):
        link_ray(left, left, tmp_path / "taken.parquet", scorer_factory=default_scorer)
    assert main(link_args(tables, tmp_path / "x.parquet", "--engine", "ray", "--explain-blocking")) != 0
    assert "does not support --explain-blocking" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_carry_star_names_every_column_but_the_address_and_id(tmp_path: Path, suffix: str) -> None:
    from geoalign.link.ray_engine.read import make_datasource

    rows = [("青禾", "1", "浙江省杭州市西湖区文三路369号", "0571")]
    path = tmp_path / f"t{suffix}"
    if suffix == ".csv":
        with open(path, "w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows([("名称", "id", "地址", "电话"), *rows])
    else:
        pa = pytest.importorskip("pyarrow")
        pq = pytest.importorskip("pyarrow.parquet")
        pq.write_table(
            pa.table({"名称": ["青禾"], "id": ["1"], "地址": [rows[0][2]], "电话": ["0571"]}), path
        )
    assert make_datasource(TableSpec(path, None, None, ("*",)))[1] == ["名称", "电话"]


def test_scoring_pool_always_leaves_a_cpu_to_the_upstream_stages() -> None:
    # 2 actors x 1 CPU on a 2-CPU Ray reserved everything and the run hung
    assert actor_cpus(RayOptions(actors=(1, 2)), 2.0) == 0.5
    assert actor_cpus(RayOptions(actors=(1, 1)), 2.0) == 1.0
    assert actor_cpus(RayOptions(actors=(4, 8)), 64.0) == 1.0
