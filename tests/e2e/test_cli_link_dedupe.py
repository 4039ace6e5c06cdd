"""``geoalign link`` / ``geoalign dedupe`` end to end with the embedded matcher: output shape, blocking
analysis, resume after an interruption, incremental dedupe, and clear errors for bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from tests.servers import require_module

from geoalign.cli.main import main
from geoalign.errors import InputError
from geoalign.link.pipeline import LinkSettings, RunFlags, TableSpec, dedupe, dedupe_records, link

LEFT = [
    ("L1", "浙江省杭州市西湖区文三路369号", "a"),
    ("L2", "杭州市西湖区文三路371号华星大厦", "b"),
    ("L3", "北京市朝阳区阜通东大街6号方恒国际中心A座", "c"),
    ("L4", "广东省深圳市南山区科技园", "d"),
    ("L5", "浙江省杭州市西湖区文三路369号3栋2单元501室", "e"),
    ("L6", "浙江省杭州市西湖区学院路77号", "f"),
]
RIGHT = [
    ("R1", "浙江省杭州市西湖区文三路３６９号"),
    ("R2", "杭州市西湖区 文三路371号 华星大厦"),
    ("R3", "北京市朝阳区阜通东大街6号方恒国际中心Ａ座"),
    ("R4", "浙江省杭州市西湖区文三路368号"),
    ("R5", "浙江省杭州市西湖区文三路369号5栋2单元501室"),
    ("R6", "杭州市西湖区学院路77号"),  # the province left out: the model decides, both ways
]


def write_csv(path: Path, header: list[str], rows: list[tuple]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture()
def tables(tmp_path: Path) -> tuple[Path, Path]:
    left = write_csv(tmp_path / "left.csv", ["id", "addr", "note"], LEFT)
    right = write_csv(tmp_path / "right.csv", ["rid", "address"], RIGHT)
    return left, right


def run_link(left: Path, right: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "link",
            str(left),
            str(right),
            "--left-col",
            "addr",
            "--right-col",
            "address",
            "--left-id",
            "id",
            "--right-id",
            "rid",
            "-o",
            str(out),
            "--no-progress",
            *extra,
        ]
    )


def test_link_writes_one_row_per_left_record(tables: tuple[Path, Path], tmp_path: Path) -> None:
    left, right = tables
    out = tmp_path / "links.csv"
    assert run_link(left, right, out, "--carry-left", "note", "--threshold", "0.1") == 0
    rows = read_csv(out)
    assert [r["left_id"] for r in rows] == ["L1", "L2", "L3", "L4", "L5", "L6"]
    assert list(rows[0])[:6] == [
        "left_id",
        "left_address",
        "left_note",
        "status",
        "right_id",
        "right_address",
    ]
    by_id = {r["left_id"]: r for r in rows}
    assert by_id["L1"]["left_note"] == "a"
    for lid, rid in (("L1", "R1"), ("L2", "R2"), ("L3", "R3")):
        assert by_id[lid]["right_id"] == rid
        assert by_id[lid]["status"] == "match"
        assert by_id[lid]["same_place"] == "True"
        # one normalized spelling: decided by the exact stage, no reverse scoring needed
        assert json.loads(by_id[lid]["explanation"])["decided_by"] == "identical_normalized_text"
    assert by_id["L6"]["status"] == "match" and by_id["L6"]["right_id"] == "R6"
    assert float(by_id["L6"]["p_exact_reverse"]) >= 0.1
    assert float(by_id["L6"]["p_exact_match"]) >= 0.1
    assert by_id["L4"]["status"] == "no_candidates"
    assert by_id["L4"]["right_id"] == ""
    # another building of the same compound is never the same place (hard numbers)
    assert by_id["L5"]["status"] != "match" or by_id["L5"]["right_id"] != "R5"
    explanation = json.loads(by_id["L1"]["explanation"])
    assert any(c["name"] == "roadno" and c["status"] == "agree" for c in explanation["components"])


def test_the_summary_points_records_without_candidates_to_ann(
    tables: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    left, right = tables
    assert run_link(left, right, tmp_path / "links.csv") == 0
    err = capsys.readouterr().err
    assert "no_candidates 1" in err
    assert "1 left records found no candidate by the rule keys" in err and "--ann" in err


def test_explain_blocking_scores_nothing_and_reports_recall(
    tables: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    left, right = tables
    labels = write_csv(tmp_path / "truth.csv", ["left_id", "right_id"], [("L1", "R1"), ("L4", "R4")])
    code = main(
        [
            "link",
            str(left),
            str(right),
            "--left-col",
            "addr",
            "--right-col",
            "address",
            "--left-id",
            "id",
            "--right-id",
            "rid",
            "--explain-blocking",
            "--labels",
            str(labels),
            "--json",
            "--no-progress",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    blocking = report["blocking"]
    assert blocking["queries"] == 6 and blocking["indexed"] == 6
    assert blocking["full_comparison_pairs"] == 36
    assert 0 < blocking["candidate_pairs"] < 36
    assert blocking["blocking_recall"] == 0.5  # L4 shares no key with R4
    assert report["judge"] == {}  # nothing was scored
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])  # JSON lines: the sidecar holds the final lines
def test_link_resumes_after_an_interruption(tables: tuple[Path, Path], tmp_path: Path, suffix: str) -> None:
    left, right = tables
    full = tmp_path / f"full{suffix}"
    # the embedded matcher alone throughout: a wrapped cascade would be scored without its cheap pass
    # (``cascade.cheap_stage`` sees no cascade), and some probabilities would differ from the full run
    assert run_link(left, right, full, "--chunk-size", "2", "--judge", "structured") == 0

    from geoalign.link.pipeline import default_scorer

    class Interrupting:
        """Delegates to the real scorer; the run is interrupted when the third chunk (L5, L6) is scored."""

        def __init__(self) -> None:
            self.inner = default_scorer(neural=False)
            self.name = self.inner.name

        @property
        def model_id(self) -> str:
            return self.inner.model_id

        def __getattr__(self, name: str):
            return getattr(self.inner, name)

        def score(self, pairs):
            if any(p.a == LEFT[4][1] for p in pairs):
                raise KeyboardInterrupt
            return self.inner.score(pairs)

    out = tmp_path / f"resumed{suffix}"
    specs = (TableSpec(left, "addr", "id"), TableSpec(right, "address", "rid"))
    with pytest.raises(KeyboardInterrupt):
        link(*specs, out, scorer=Interrupting(), flags=RunFlags(chunk_size=2))  # type: ignore[arg-type]
    partial = tmp_path / f"resumed{suffix}.partial"
    assert partial.exists() and not out.exists()
    messages: list[str] = []
    summary = link(
        *specs, out, scorer=default_scorer(neural=False), flags=RunFlags(chunk_size=2), log=messages.append
    )
    assert summary.counts.left_resumed == 4
    assert any("resuming after 4" in m for m in messages)
    assert not partial.exists()
    assert out.read_bytes() == full.read_bytes()
    if suffix == ".jsonl":  # explanation and error nested as objects, as write_table writes them
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert len(rows) == len(LEFT) and isinstance(rows[0]["explanation"], dict)


def test_dedupe_clusters_and_incremental_update_keeps_ids(tmp_path: Path) -> None:
    records = [
        ("1", "浙江省杭州市西湖区文三路369号"),
        ("2", "北京市朝阳区阜通东大街6号方恒国际中心A座"),
        ("3", "浙江省杭州市西湖区文三路３６９号"),
        ("4", "浙江省杭州市西湖区文三路368号"),
    ]
    table = write_csv(tmp_path / "t.csv", ["id", "addr"], records)
    out = tmp_path / "clusters.csv"
    edges = tmp_path / "edges.csv"
    args = ["dedupe", str(table), "--col", "addr", "--id", "id", "--no-progress"]
    assert main([*args, "-o", str(out), "--edges", str(edges)]) == 0
    first = {r["id"]: r for r in read_csv(out)}
    assert first["1"]["cluster_id"] == first["3"]["cluster_id"] == "1"
    assert first["4"]["cluster_id"] == "4"  # another road number: another place
    assert first["1"]["cluster_size"] == "2"
    assert {(e["a_id"], e["b_id"]) for e in read_csv(edges)} == {("1", "3")}

    new = write_csv(
        tmp_path / "new.csv",
        ["id", "addr"],
        [("0", "北京市朝阳区阜通东大街6号方恒国际中心Ａ座"), ("9", "浙江省杭州市西湖区 文三路369号")],
    )
    out2 = tmp_path / "clusters2.csv"
    code = main(
        [
            "dedupe",
            str(new),
            "--col",
            "addr",
            "--id",
            "id",
            "--existing",
            str(out),
            "--no-progress",
            "-o",
            str(out2),
        ]
    )
    assert code == 0
    second = {r["id"]: r for r in read_csv(out2)}
    # record 0 has the smallest id, but the existing cluster is older: its ID "2" survives
    assert second["0"]["cluster_id"] == "2" and second["0"]["status"] == "new"
    assert second["9"]["cluster_id"] == "1"
    for rid in ("1", "2", "3", "4"):
        assert second[rid]["cluster_id"] == first[rid]["cluster_id"]
        assert second[rid]["status"] == "existing"


def test_dedupe_python_api_guard_reports_refused_edges(tmp_path: Path) -> None:
    same = [
        "浙江省杭州市西湖区文三路369号",
        "浙江省杭州市西湖区文三路３６９号",
        "浙江省杭州市西湖区 文三路369号",
    ]
    table = write_csv(tmp_path / "t.csv", ["addr"], [(a,) for a in same])
    messages: list[str] = []
    summary = dedupe(
        TableSpec(table, "addr"),
        tmp_path / "c.csv",
        settings=LinkSettings(max_cluster_size=2),
        log=messages.append,
    )
    assert summary.clusters is not None
    assert summary.clusters.largest_cluster <= 2
    # three writings of one place: at least two same-place edges, one of which the guard must refuse
    assert summary.clusters.edges >= 2
    assert summary.clusters.refused_edges >= 1
    assert any("giant-cluster guard" in m for m in messages)


def test_dedupe_never_chains_two_rooms_into_one_cluster_through_their_building(tmp_path: Path) -> None:
    """The building's record is the same place as each room's (both edges right); the rooms are not."""
    records = [
        ("1", "浙江省杭州市西湖区文三路369号1幢"),
        ("2", "浙江省杭州市西湖区文三路369号1幢3单元801室"),
        ("3", "浙江省杭州市西湖区文三路369号1幢4单元801室"),
        ("4", "杭州市西湖区文三路369号1号楼4单元801"),
    ]
    table = write_csv(tmp_path / "t.csv", ["id", "addr"], records)
    messages: list[str] = []
    edges = tmp_path / "edges.csv"
    summary = dedupe(
        TableSpec(table, "addr", "id"),
        tmp_path / "c.csv",
        settings=LinkSettings(),
        edges_output=edges,
        log=messages.append,
        scorer=_SamePlaceEverywhere(),  # type: ignore[arg-type]
    )
    rows = {r["id"]: r["cluster_id"] for r in read_csv(tmp_path / "c.csv")}
    # every pair without a conflicting number is an edge, the building's with each room too
    assert {("1", "2"), ("1", "3"), ("1", "4")} <= {(e["a_id"], e["b_id"]) for e in read_csv(edges)}
    assert rows["1"] == rows["2"]  # the first (strongest, then smallest id) edge merges
    assert rows["3"] == rows["4"] != rows["2"]  # one room written two ways; never with the other unit
    assert summary.clusters is not None and summary.clusters.separated_edges == 2
    assert any("different-places guard: 2 same-place edges refused" in m for m in messages)
    # the edges file says what became of each edge
    outcome = {(e["a_id"], e["b_id"]): e["outcome"] for e in read_csv(edges)}
    assert outcome[("1", "2")] == "merged"
    assert outcome[("1", "3")] == outcome[("1", "4")] == "refused_different_places"
    assert set(outcome.values()) <= {"merged", "redundant", "refused_size", "refused_different_places"}


def test_dedupe_keeps_a_chains_branches_and_what_is_opposite_a_door_apart(tmp_path: Path) -> None:
    """The bare chain name and the door are the same place as each of the others (every edge exact); two
    branches, and a door and what is opposite it, are not, though the normalized texts of the branches
    are one."""
    records = [
        ("1", "北京市朝阳区如家酒店"),
        ("2", "北京市朝阳区如家酒店(望京店)"),
        ("3", "北京市朝阳区如家酒店(国贸店)"),
        ("4", "北京市海淀区中关村大街27号"),
        ("5", "北京市海淀区中关村大街27号对面"),
    ]
    table = write_csv(tmp_path / "t.csv", ["id", "addr"], records)
    dedupe(
        TableSpec(table, "addr", "id"),
        tmp_path / "c.csv",
        settings=LinkSettings(),
        scorer=_SamePlaceEverywhere(),  # type: ignore[arg-type]
    )
    rows = {r["id"]: r["cluster_id"] for r in read_csv(tmp_path / "c.csv")}
    assert rows["2"] != rows["3"]
    assert rows["4"] != rows["5"]


def test_dedupe_same_detail_keeps_a_tower_and_its_floor_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A register's record of a tower is not its 10th floor's under ``--same-detail``; writings of one
    floor stay together (10楼 / 10层 / the room on it is another detail)."""
    records = [
        ("1", "浙江省杭州市西湖区文三路478号华星时代广场A座"),
        ("2", "杭州市西湖区文三路478号华星时代广场A座"),
        ("3", "浙江省杭州市西湖区文三路478号华星时代广场A座10楼"),
        ("4", "杭州市文三路478号华星时代广场A座10层"),
    ]
    table = write_csv(tmp_path / "t.csv", ["id", "addr"], records)

    def clusters(*extra: str) -> dict[str, str]:
        out = tmp_path / f"c{len(extra)}.csv"
        args = ["dedupe", str(table), "--col", "addr", "--id", "id", "-o", str(out), "--no-progress"]
        assert main([*args, "--judge", "structured", *extra]) == 0
        return {r["id"]: r["cluster_id"] for r in read_csv(out)}

    strict = clusters("--same-detail")
    assert strict["1"] == strict["2"] != strict["3"] == strict["4"]
    assert "state different detail (--same-detail)" in capsys.readouterr().err  # the summary says why
    lenient = clusters()
    assert len(set(lenient.values())) < len(set(strict.values()))  # the judge's relevance joins them
    # the Python API takes the same setting
    rows, _summary = dedupe_records(records, settings=LinkSettings(same_detail=True))
    assert {r["id"]: r["cluster_id"] for r in rows} == strict


class _SamePlaceEverywhere:
    """Answers exact_match (0.9) for every pair, both ways: only the address rules keep places apart."""

    name = "fake"
    model_id = "same-place-everywhere"

    def score(self, pairs: list[object]) -> list[object]:
        from geoalign.types import Match

        return [Match.from_probabilities((0.9, 0.05, 0.05), scorer="fake", model="fake") for _ in pairs]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing_column", "address column"),
        ("empty_file", "empty"),
        ("duplicate_ids", "duplicate id 'R1'"),
        ("no_output", "-o/--output is required"),
    ],
)
def test_bad_input_is_a_clear_error(
    setup: str, message: str, tables: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    left, right = tables
    extra: list[str] = []
    right_col = "address"
    if setup == "missing_column":
        right_col = "adress"
    elif setup == "empty_file":
        right = tmp_path / "empty.csv"
        right.write_text("", encoding="utf-8")
    elif setup == "duplicate_ids":
        right = write_csv(
            tmp_path / "dup.csv", ["rid", "address"], [*RIGHT, ("R1", "上海市浦东新区世纪大道100号")]
        )
    args = ["link", str(left), str(right), "--left-col", "addr", "--right-col", right_col]
    args += ["--left-id", "id", "--right-id", "rid", "--no-progress", *extra]
    if setup != "no_output":
        args += ["-o", str(tmp_path / "out.csv")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(
    ("command", "carry", "written"),
    [
        # a register's own status column, beside the cluster's
        ("dedupe", ["--carry", "status,note"], ["input_status", "note", "status"]),
        ("dedupe", ["--carry", "note,note"], ["note", "input_note"]),
        (
            "link",
            ["--carry-right", "id,note,note"],
            ["right_id", "input_right_id", "right_note", "input_right_note"],
        ),
    ],
)
def test_a_carried_column_called_like_an_output_column_is_written_under_another_name(
    command: str, carry: list[str], written: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """JSONL and Parquet would keep one of two same-named columns (the user's status lost under the
    cluster's) and CSV would write the name twice: the carried one gets input_ in front, as a scored
    file's own label column does, and the run says so."""
    rows = [
        ("1", "浙江省杭州市西湖区文三路369号", "open", "a"),
        ("2", "杭州市西湖区文三路369号", "closed", "b"),
    ]
    table = write_csv(tmp_path / "t.csv", ["id", "address", "status", "note"], rows)
    out = tmp_path / "out.jsonl"
    inputs = [str(table)] if command == "dedupe" else [str(table), str(table)]
    assert main([command, *inputs, *carry, "-o", str(out), "--no-progress"]) == 0
    assert "written under another name" in capsys.readouterr().err
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert [name for name in first if name in written] == written
    if command == "dedupe" and "input_status" in written:
        assert (first["input_status"], first["status"]) == ("open", "record")


def test_carry_star_copies_every_column_but_the_address_and_id(tmp_path: Path) -> None:
    header = ["编号", "名称", "地址", "电话"]
    table = write_csv(
        tmp_path / "t.csv", header, [("7", "青禾书店", "浙江省杭州市西湖区文三路369号", "0571-1")]
    )
    out = tmp_path / "out.csv"
    assert main(["dedupe", str(table), "--carry", "*", "-o", str(out), "--no-progress"]) == 0
    (row,) = read_csv(out)
    assert list(row)[:4] == ["id", "address", "名称", "电话"]
    assert (row["id"], row["名称"], row["电话"]) == ("7", "青禾书店", "0571-1")
    links = tmp_path / "links.csv"
    assert (
        main(["link", str(table), str(table), "--carry-left", "*", "--carry-right", "名称", "-o", str(links)])
        == 0
    )
    (link_row,) = read_csv(links)
    assert (link_row["left_名称"], link_row["left_电话"], link_row["right_名称"]) == (
        "青禾书店",
        "0571-1",
        "青禾书店",
    )
    assert "right_电话" not in link_row
    with pytest.raises(InputError, match="stands alone"):
        dedupe(TableSpec(table, carry=("*", "名称")), tmp_path / "x.csv", flags=RunFlags(progress=False))


def test_an_incremental_dedupe_keeps_the_carried_columns_of_the_aligned_records(tmp_path: Path) -> None:
    """The previous output carried 名称 (and a register's own status as input_status): its records keep
    them in the new output, beside the new records' own."""
    header = ["id", "名称", "address", "status"]
    first = write_csv(
        tmp_path / "a.csv", header, [("1", "青禾书店", "浙江省杭州市西湖区文三路369号", "open")]
    )
    aligned = tmp_path / "aligned.csv"
    assert main(["dedupe", str(first), "--carry", "*", "-o", str(aligned), "--no-progress"]) == 0
    second = write_csv(tmp_path / "b.csv", header, [("2", "青禾书店", "杭州市西湖区文三路369号", "closed")])
    out = tmp_path / "out.csv"
    args = [
        "dedupe",
        str(second),
        "--carry",
        "*",
        "--existing",
        str(aligned),
        "-o",
        str(out),
        "--no-progress",
    ]
    assert main(args) == 0
    rows = {r["id"]: r for r in read_csv(out)}
    assert [(r["status"], r["名称"], r["input_status"]) for r in rows.values()] == [
        ("existing", "青禾书店", "open"),
        ("new", "青禾书店", "closed"),
    ]
    # an aligned table without the column (carried for the first time now): empty for its records
    plain = tmp_path / "plain.csv"
    assert main(["dedupe", str(first), "-o", str(plain), "--no-progress"]) == 0
    assert main([*args[:4], "--existing", str(plain), "-o", str(tmp_path / "out2.csv"), "--no-progress"]) == 0
    assert [r["名称"] for r in read_csv(tmp_path / "out2.csv")] == ["", "青禾书店"]


def test_the_address_columns_default_to_the_ones_named_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unnamed, the address column is the one called address, or as Chinese tables call it (地址, 收货
    地址 …: ``ADDRESS_COLUMN_NAMES``), and the run says which when it is not ``address``."""
    left = write_csv(tmp_path / "left.csv", ["id", "address"], [row[:2] for row in LEFT])
    right = write_csv(tmp_path / "right.csv", ["rid", "address"], RIGHT)
    out = tmp_path / "out.csv"
    assert (
        main(["link", str(left), str(right), "-o", str(out), "--no-progress", "--judge", "structured"]) == 0
    )
    with open(out, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["left_address"] for r in rows] == [row[1] for row in LEFT]
    assert "addresses from its column" not in capsys.readouterr().err
    # Chinese tables: 地址 on one side, 收货地址 on the other; the same links
    left_cn = write_csv(tmp_path / "left_cn.csv", ["id", "备注", "地址"], [[r[0], "x", r[1]] for r in LEFT])
    right_cn = write_csv(tmp_path / "right_cn.csv", ["rid", "收货地址"], RIGHT)
    out_cn = tmp_path / "out_cn.csv"
    cmd = ["link", str(left_cn), str(right_cn), "-o", str(out_cn), "--no-progress", "--judge", "structured"]
    assert main(cmd) == 0
    err = capsys.readouterr().err
    assert "addresses from its column '地址'" in err and "addresses from its column '收货地址'" in err
    with open(out_cn, encoding="utf-8", newline="") as handle:
        rows_cn = list(csv.DictReader(handle))
    assert [(r["left_address"], r["right_id"], r["label"]) for r in rows_cn] == [
        (r["left_address"], r["right_id"], r["label"]) for r in rows
    ]
    # a table without such a column: the error names the columns there are
    other = write_csv(tmp_path / "other.csv", ["id", "location"], [row[:2] for row in LEFT])
    assert main(["dedupe", str(other), "-o", str(tmp_path / "c.csv"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "no address column" in err and "['id', 'location']" in err and "Traceback" not in err


def test_ids_default_to_the_column_named_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A table with an ``id`` column (any case; or 编号 / 序号) is identified by it unless told otherwise,
    as a record mapping's ``"id"`` key is; ``''`` numbers the rows; a table without one is numbered."""
    left = write_csv(tmp_path / "left.csv", ["ID", "address"], [row[:2] for row in LEFT])
    right = write_csv(tmp_path / "right.csv", ["rid", "address"], RIGHT)
    out = tmp_path / "out.csv"
    base = ["link", str(left), str(right), "--no-progress", "--judge", "structured"]
    assert main([*base, "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"{left}: ids from its column 'ID'" in err
    # a table without one is numbered, and the run says so (an order number column is not guessed)
    assert f"{right}: ids are row numbers (no column called id, 编号, 序号; name one to choose)" in err
    rows = read_csv(out)
    assert [r["left_id"] for r in rows] == [row[0] for row in LEFT]
    assert {r["right_id"] for r in rows if r["status"] == "match"} <= {str(n) for n in range(1, 7)}
    assert main([*base, "--left-id", "", "-o", str(tmp_path / "numbered.csv")]) == 0
    err = capsys.readouterr().err
    assert "ids from its column" not in err and f"{left}: ids are row numbers" not in err  # asked for
    assert [r["left_id"] for r in read_csv(tmp_path / "numbered.csv")] == [str(n) for n in range(1, 7)]
    # an id column that repeats an id stops the run and says how to number the rows instead
    twice = write_csv(tmp_path / "twice.csv", ["id", "address"], [("P1", LEFT[0][1]), ("P1", LEFT[1][1])])
    assert main(["dedupe", str(twice), "-o", str(tmp_path / "c.csv"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "duplicate id 'P1'" in err and "an empty one to number the rows" in err
    assert main(["dedupe", str(twice), "--id", "", "-o", str(tmp_path / "c.csv"), "--no-progress"]) == 0
    # a Chinese table's record number (编号, 序号) is its id as well; id first where both are there
    cn = write_csv(tmp_path / "cn.csv", ["序号", "地址"], [(f"N{n}", a) for n, (_, a, *_) in enumerate(LEFT)])
    assert main(["dedupe", str(cn), "-o", str(tmp_path / "cn_out.csv"), "--no-progress"]) == 0
    assert f"{cn}: ids from its column '序号'" in capsys.readouterr().err
    assert [r["id"] for r in read_csv(tmp_path / "cn_out.csv")] == [f"N{n}" for n in range(len(LEFT))]
    both = write_csv(tmp_path / "both.csv", ["编号", "id", "address"], [("x", "y", LEFT[0][1])])
    assert main(["dedupe", str(both), "-o", str(tmp_path / "both_out.csv"), "--no-progress"]) == 0
    assert f"{both}: ids from its column 'id'" in capsys.readouterr().err


def test_dedupe_duplicate_ids_against_existing_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = write_csv(tmp_path / "old.csv", ["id", "address", "cluster_id"], [("1", "文三路369号", "1")])
    new = write_csv(tmp_path / "new.csv", ["id", "addr"], [("1", "文三路369号")])
    code = main(
        [
            "dedupe",
            str(new),
            "--col",
            "addr",
            "--id",
            "id",
            "--existing",
            str(existing),
            "-o",
            str(tmp_path / "o.csv"),
        ]
    )
    assert code == 2
    assert f"new.csv: duplicate id '1' (line 2, and line 2 of {existing})" in capsys.readouterr().err


EMPTY = {"code": "empty", "message": "address is empty after removing whitespace and control characters"}


def test_unusable_rows_are_kept_and_marked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    left = write_csv(
        tmp_path / "l.csv",
        ["id", "addr"],
        [("A", "浙江省杭州市西湖区文三路369号"), ("B", "   "), ("C", ""), ("", "文三路369号")],
    )
    right = write_csv(tmp_path / "r.csv", ["rid", "address"], RIGHT)
    out = tmp_path / "o.jsonl"
    assert run_link(left, right, out) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["status"] for r in rows] == ["match", "error", "error", "error"]
    # JSONL nests the error object, as `geoalign score` does (CSV/TSV/Parquet keep it as JSON text)
    assert rows[1]["error"] == EMPTY
    assert rows[2]["error"] == EMPTY
    assert rows[3]["error"] == {"code": "missing_id", "message": "line 5: the id column is empty"}
    assert rows[0]["error"] is None
    assert [r["right_id"] for r in rows[1:]] == [None, None, None]
    assert "left records: match 1, error 3" in capsys.readouterr().err


def test_dedupe_marks_unusable_records_as_errors(tmp_path: Path) -> None:
    table = write_csv(
        tmp_path / "t.csv", ["id", "addr"], [("1", "文三路369号"), ("2", ""), ("3", "文三路 ３６９号")]
    )
    out = tmp_path / "c.csv"
    assert main(["dedupe", str(table), "--col", "addr", "--id", "id", "-o", str(out), "--no-progress"]) == 0
    rows = read_csv(out)
    assert [(r["id"], r["cluster_id"], r["status"]) for r in rows] == [
        ("1", "1", "record"),
        ("2", "", "error"),
        ("3", "1", "record"),
    ]
    assert json.loads(rows[1]["error"]) == EMPTY


def test_summary_speaks_of_the_options_given(
    tables: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    left, right = tables
    assert run_link(left, right, tmp_path / "o.csv", "--judge", "structured") == 0
    err = capsys.readouterr().err
    # the embedded matcher alone: no cascade, no "uncertain band", no internal scorer names
    assert "model: the embedded matcher scored" in err
    for word in ("uncertain", "cascade", "structured", "--model"):
        assert word not in err
    assert run_link(left, right, tmp_path / "d.csv") == 0  # the default judge: both stages are named
    err = capsys.readouterr().err
    assert "models: the embedded matcher decided" in err and "the neural stage decided" in err
    for word in ("uncertain", "cascade", "--model"):
        assert word not in err


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ("link", ["--threshold THRESHOLD", "(default: 0.2)", "(default: 2000)", "(default: local)"]),
        ("dedupe", ["(default: 1000)", "(default: cluster_id)", "(default: 0.2)"]),
    ],
)
def test_help_shows_defaults(command: str, shown: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for piece in shown:
        assert piece in text
    assert "(default: None)" not in text and "(default: False)" not in text


@pytest.mark.torch
def test_link_with_a_neural_model_runs_the_cascade(
    tables: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_module("torch", "torch")
    require_module("transformers", "torch")
    from tests.fixtures_mgeo import small_config, write_modelscope_dir

    model = write_modelscope_dir(tmp_path / "mgeo", config=small_config())
    left, right = tables
    out = tmp_path / "links.csv"
    # threshold 1.0: no structured answer is sure enough, so the neural stage decides every pair
    assert run_link(left, right, out, "--model", str(model), "--cascade-threshold", "1.0", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    cascade, judge = summary["cascade"], summary["judge"]
    scored = judge["forward_pairs"] + judge["reverse_pairs"]
    assert scored > 0
    # every pair is in the band: the neural stage decides it, fails on it, or was not needed for it
    # (the rules fix its exact_match probability: cascade.exact_bounds)
    assert cascade["neural_decided"] + cascade["neural_errors"] + judge["neural_not_needed"] == scored
    assert cascade["structured_decided"] == cascade["neural_errors"]
    assert cascade["neural_ms"] > 0
    rows = read_csv(out)
    scored_rows = [r for r in rows if r["label"]]
    assert scored_rows
    for row in scored_rows:
        stage = json.loads(row["explanation"])["cascade"]
        assert stage["stage"] == "neural" or "neural_error" in stage or stage.get("neural_not_needed")


def test_link_judge_default_runs_the_shipped_neural_stage(
    tables: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    left, right = tables
    out = tmp_path / "links.csv"
    # threshold 1.0: no structured answer is sure enough, so the shipped neural stage decides every pair
    assert run_link(left, right, out, "--judge", "default", "--cascade-threshold", "1.0", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    cascade, judge = summary["cascade"], summary["judge"]
    assert judge["forward_pairs"] > 0
    scored = judge["forward_pairs"] + judge["reverse_pairs"]
    assert cascade["neural_decided"] > 0
    assert cascade["neural_decided"] + judge["neural_not_needed"] == scored
    assert cascade["structured_decided"] == 0


def test_summary_counts_every_judged_pair_once(
    tables: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every pair the judge scored is decided by one of: the embedded matcher (on the first, cheap pass
    or inside the whole cascade), the neural stage, or the address rules without it; the human summary
    says so in numbers that add up (it said "the embedded matcher decided 0 pairs" before the cheap
    pass was counted)."""
    left, right = tables
    assert run_link(left, right, tmp_path / "o.csv", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    cascade, judge = summary["cascade"], summary["judge"]
    scored = judge["forward_pairs"] + judge["reverse_pairs"]
    assert judge["first_stage_decided"] > 0
    decided = (
        judge["first_stage_decided"]
        + cascade["structured_decided"]
        + cascade["neural_decided"]
        + judge["neural_not_needed"]
    )
    assert decided == scored
    assert run_link(left, right, tmp_path / "p.csv") == 0
    line = next(x for x in capsys.readouterr().err.splitlines() if "models:" in x)
    embedded = int(line.split("the embedded matcher decided ")[1].split(" ")[0].replace(",", ""))
    assert embedded == judge["first_stage_decided"] + cascade["structured_decided"]


def test_link_judge_structured_with_a_model_is_refused(
    tables: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    left, right = tables
    code = run_link(left, right, tmp_path / "x.csv", "--judge", "structured", "--model", str(tmp_path))
    assert code == 2
    assert "--judge structured" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_python_api_in_memory() -> None:
    from geoalign.link import dedupe_records, link_records

    rows, summary = link_records(
        [("a1", "浙江省杭州市西湖区文三路369号"), {"id": "a2", "address": "广东省深圳市南山区科技园"}],
        [("b1", "浙江省杭州市西湖区 文三路３６９号"), ("b2", "浙江省杭州市西湖区文三路368号")],
    )
    assert [(r["left_id"], r["status"], r["right_id"]) for r in rows] == [
        ("a1", "match", "b1"),
        ("a2", "no_candidates", None),
    ]
    assert summary.counts.right_records == 2
    clustered, _ = dedupe_records([("1", "文三路369号"), ("2", "文三路 ３６９号"), ("3", "文三路368号")])
    assert [r["cluster_id"] for r in clustered] == ["1", "1", "3"]
    with pytest.raises(InputError, match="no records"):
        link_records([], [("b1", "文三路369号")])


def test_dedupe_resumes_after_an_interruption(tmp_path: Path) -> None:
    from geoalign.link.pipeline import default_scorer

    # pairs of writings of one place (ids 1+2, 3+4, 5+6), then two single places
    numbers = [300, 300, 301, 301, 302, 302, 303, 304]
    records = [
        (str(i), f"浙江省杭州市西湖区文三路{n}号" if i % 2 else f"浙江省杭州市西湖区 文三路{n}号")
        for i, n in enumerate(numbers, start=1)
    ]
    table = write_csv(tmp_path / "t.csv", ["id", "addr"], records)
    spec = TableSpec(table, "addr", "id")
    full = tmp_path / "full.csv"
    dedupe(spec, full, flags=RunFlags(chunk_size=2))
    assert [r["cluster_id"] for r in read_csv(full)] == ["1", "1", "3", "3", "5", "5", "7", "8"]

    class Interrupting:
        def __init__(self) -> None:
            self.inner = default_scorer()
            self.name = self.inner.name

        @property
        def model_id(self) -> str:
            return self.inner.model_id

        def __getattr__(self, name: str):
            return getattr(self.inner, name)

        def score(self, pairs):
            if any(p.a == records[4][1] for p in pairs):  # the third chunk (records 5 and 6)
                raise KeyboardInterrupt
            return self.inner.score(pairs)

    out = tmp_path / "resumed.csv"
    with pytest.raises(KeyboardInterrupt):
        dedupe(spec, out, scorer=Interrupting(), flags=RunFlags(chunk_size=2))  # type: ignore[arg-type]
    assert (tmp_path / "resumed.csv.edges.partial").exists() and not out.exists()
    messages: list[str] = []
    dedupe(spec, out, flags=RunFlags(chunk_size=2), log=messages.append)
    assert any("resuming after 4" in m for m in messages)
    assert read_csv(out) == read_csv(full)
    assert not (tmp_path / "resumed.csv.edges.partial").exists()


def test_link_reads_and_writes_other_formats(tables: tuple[Path, Path], tmp_path: Path) -> None:
    from geoalign.io.tables import read_table
    from geoalign.io.writers import write_table

    left, right = tables
    left_pq, right_xlsx = tmp_path / "left.parquet", tmp_path / "right.xlsx"
    write_table(left_pq, ["id", "addr", "note"], [list(r) for r in LEFT])
    write_table(right_xlsx, ["rid", "address"], [list(r) for r in RIGHT])
    out_csv, out_xlsx = tmp_path / "a.csv", tmp_path / "b.xlsx"
    assert run_link(left, right, out_csv) == 0
    assert run_link(left_pq, right_xlsx, out_xlsx) == 0
    table = read_table(out_xlsx)
    i_status, i_right = table.columns.index("status"), table.columns.index("right_id")
    got = [(row.values[0], row.values[i_status], row.values[i_right]) for row in table.rows]
    expected = [(r["left_id"], r["status"], r["right_id"] or None) for r in read_csv(out_csv)]
    assert got == expected


def test_dedupe_explain_blocking(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [(str(i), a) for i, (_, a) in enumerate(RIGHT, start=1)]
    table = write_csv(tmp_path / "t.csv", ["id", "addr"], rows)
    assert main(["dedupe", str(table), "--col", "addr", "--id", "id", "--explain-blocking"]) == 0
    out = capsys.readouterr().out
    assert "blocking analysis: 6 query records x 6 indexed records" in out
    assert "full comparison would be        15 pairs" in out
    assert not list(tmp_path.glob("*.partial"))


def test_in_memory_api_gives_the_file_rows(tmp_path: Path) -> None:
    """The in-memory API and the file driver share one core: the same rows for the same records."""
    from geoalign.io.writers import write_table
    from geoalign.link import dedupe_records, link_records

    left = [(lid, address) for lid, address, _ in LEFT] + [("L7", "   ")]
    write_table(tmp_path / "l.jsonl", ["id", "address"], [list(r) for r in left])
    write_table(tmp_path / "r.jsonl", ["id", "address"], [list(r) for r in RIGHT])
    out = tmp_path / "o.jsonl"
    link(
        TableSpec(tmp_path / "l.jsonl", "address", "id"),
        TableSpec(tmp_path / "r.jsonl", "address", "id"),
        out,
    )
    from_file = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    rows, summary = link_records(left, RIGHT)
    assert rows == from_file
    assert summary.counts.status == {"match": 4, "no_match": 1, "no_candidates": 1, "error": 1}

    everything = left + RIGHT
    write_table(tmp_path / "all.jsonl", ["id", "address"], [list(r) for r in everything])
    dedupe(TableSpec(tmp_path / "all.jsonl", "address", "id"), tmp_path / "c.jsonl")
    clustered = [json.loads(line) for line in (tmp_path / "c.jsonl").read_text(encoding="utf-8").splitlines()]
    assert dedupe_records(everything)[0] == clustered
    assert {r["status"] for r in clustered} == {"record", "error"}
