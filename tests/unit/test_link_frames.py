"""``Matcher.link`` / ``Matcher.dedupe`` (issue 17, the Python API): a pandas or polars table in, the same
kind back with ``geoalign link`` / ``dedupe``'s columns appended, ids as given, no row dropped."""

from __future__ import annotations

from typing import Any

import pytest
from tests.servers import require_module

from geoalign.api import Matcher
from geoalign.errors import InputError
from geoalign.link.frames import DEDUPE_COLUMNS, LINK_COLUMNS
from geoalign.link.memory import dedupe_records, link_records

ORDER = "浙江省杭州市西湖区青禾路18号云杉大厦3幢501室"
SHOP = "杭州市上城区松风路6号"
RIGHT = ["青禾路18号云杉大厦3栋501", "松风路6号", "江苏省南京市鼓楼区云杉路1号"]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher("structured")


def test_pandas_link_keeps_the_left_frame_and_gives_right_ids_as_given(matcher: Matcher) -> None:
    pd = require_module("pandas", "frames")
    left = pd.DataFrame({"addr": [ORDER, None, SHOP], "qty": [1, 2, 3]}, index=["o1", "o2", "o3"])
    right = pd.DataFrame({"poi_id": [101, 102, 103], "address": RIGHT})
    out = matcher.link(left, right, left_on="addr", right_id="poi_id")
    assert isinstance(out, pd.DataFrame) and list(out.index) == ["o1", "o2", "o3"]
    assert list(out.columns) == ["addr", "qty", *LINK_COLUMNS]
    pd.testing.assert_frame_equal(out[["addr", "qty"]], left)
    assert list(out["status"]) == ["match", "error", "match"]
    assert out.loc["o1", "right_id"] == 101 and out.loc["o3", "right_id"] == 102
    assert str(out["right_id"].dtype) == "Int64" and out["right_id"].isna().tolist() == [False, True, False]
    assert out.loc["o2", "error"]["code"] == "missing" and out.loc["o1", "error"] is None
    # what the in-memory API says, record for record
    rows, _ = link_records(
        [("o1", ORDER), ("o2", None), ("o3", SHOP)],
        list(zip([101, 102, 103], RIGHT, strict=True)),
        scorer=matcher.scorer,
    )
    for row, (_, got) in zip(rows, out.iterrows(), strict=True):
        assert row["label"] == (None if pd.isna(got["label"]) else got["label"])
        if row["p_exact_match"] is not None:
            assert got["p_exact_match"] == pytest.approx(row["p_exact_match"])
    merged = out.merge(right, left_on="right_id", right_on="poi_id", how="left")
    assert merged.loc[0, "address"] == RIGHT[0]


def test_pandas_dedupe_clusters_by_index_label(matcher: Matcher) -> None:
    pd = require_module("pandas", "frames")
    frame = pd.DataFrame({"address": [ORDER, RIGHT[0], SHOP, ""]}, index=[10, 20, 30, 40])
    out = matcher.dedupe(frame)
    assert list(out.columns) == ["address", *DEDUPE_COLUMNS] and list(out.index) == [10, 20, 30, 40]
    assert out.loc[10, "cluster_id"] == out.loc[20, "cluster_id"] == 10
    assert out.loc[10, "cluster_size"] == 2 and out.loc[30, "cluster_id"] == 30
    assert out.loc[40, "status"] == "error" and out.loc[40, "error"]["code"] == "empty"


def test_polars_link_and_dedupe(matcher: Matcher) -> None:
    pl = require_module("polars", "frames")
    left = pl.DataFrame({"id": ["a", "b"], "address": [ORDER, None]})
    right = pl.DataFrame({"address": RIGHT})
    out = matcher.link(left, right, left_id="id", explain=True)
    assert isinstance(out, pl.DataFrame) and out.columns == ["id", "address", *LINK_COLUMNS, "explanation"]
    assert out["status"].to_list() == ["match", "error"]
    assert out["right_id"].to_list() == [0, None]  # no id column: the row position
    assert out["error"].to_list()[1]["code"] == "missing"
    assert out["explanation"].to_list()[0]["components"]
    clusters = matcher.dedupe(pl.DataFrame({"address": [ORDER, RIGHT[0], None]}))
    assert clusters["cluster_id"].to_list() == [0, 0, None]
    assert clusters["status"].to_list() == ["record", "record", "error"]


def test_an_empty_frame_comes_back_with_the_columns(matcher: Matcher) -> None:
    pd = require_module("pandas", "frames")
    pl = require_module("polars", "frames")
    empty = pd.DataFrame({"address": pd.Series([], dtype=object)})
    assert list(matcher.link(empty, pd.DataFrame({"address": RIGHT})).columns) == ["address", *LINK_COLUMNS]
    assert len(matcher.dedupe(empty)) == 0
    assert matcher.dedupe(pl.DataFrame({"address": []}, schema={"address": pl.String})).columns == [
        "address",
        *DEDUPE_COLUMNS,
    ]


def test_the_address_column_is_found_by_its_usual_names(matcher: Matcher) -> None:
    pd = require_module("pandas", "frames")
    left = pd.DataFrame({"编号": [7], "收货地址": [ORDER]})
    right = pd.DataFrame({"地址": RIGHT})
    out = matcher.link(left, right)
    assert out.loc[0, "status"] == "match" and out.loc[0, "right_id"] == 0
    with pytest.raises(InputError, match="no address column"):
        matcher.dedupe(pd.DataFrame({"where": [ORDER]}))


def test_records_in_rows_out_as_the_in_memory_api(matcher: Matcher) -> None:
    records = [(1, ORDER), (2, SHOP)]
    assert matcher.dedupe(records) == dedupe_records(records, scorer=matcher.scorer)[0]
    rows = matcher.link(records, list(enumerate(RIGHT)), explain=True)
    assert rows == link_records(records, list(enumerate(RIGHT)), scorer=matcher.scorer)[0]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m, f: m.link(f, f, thresold=0.5), "unknown link option"),
        (lambda m, f: m.link(f, f, on="addr"), "no column 'addr'"),
        (lambda m, f: m.dedupe(f, id="nope"), "no column 'nope'"),
        (lambda m, f: m.dedupe(f.assign(status=1)), "already has column(s) ['status']"),
        (
            lambda m, f: m.link(f[["address", "address"]], f),
            "left: the DataFrame has more than one column called",
        ),
        (lambda m, f: m.link([(1, ORDER)], [(2, SHOP)], left_id="id"), "records carry their own ids"),
        (lambda m, f: m.dedupe("not a table"), "DataFrame, or (id, address) records"),
    ],
)
def test_bad_calls_are_clear_errors(matcher: Matcher, call: Any, message: str) -> None:
    pd = require_module("pandas", "frames")
    frame = pd.DataFrame({"address": [ORDER, SHOP]})
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        call(matcher, frame)


def test_ann_true_is_the_shipped_retrieval_model(matcher: Matcher) -> None:
    require_module("usearch", "ann")
    pd = require_module("pandas", "frames")
    left = pd.DataFrame({"address": ["云杉大厦3幢501室"]})  # no road: the rule blocks alone miss it
    right = pd.DataFrame({"address": RIGHT})
    out = matcher.link(left, right, ann=True)
    assert out.loc[0, "candidate_source"] in ("ann", "both") and out.loc[0, "right_id"] == 0
