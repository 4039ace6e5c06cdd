"""``Matcher.score`` on a pandas or polars DataFrame (issue 17.3): the same kind of frame back, with the
input columns, the result columns of ``geoalign score``, and an ItemError in the row of a bad cell."""

from __future__ import annotations

import math
from typing import Any

import pytest
from tests.servers import require_module

from geoalign.api import Matcher
from geoalign.errors import InputError
from geoalign.frames import RESULT_COLUMNS

A, B = "浙江省杭州市西湖区文三路369号", "杭州市文三路369号"
C = "江苏省南京市鼓楼区中山路1号"


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher("structured")


def _rows() -> dict[str, list[Any]]:
    return {"id": [1, 2, 3, 4, 5], "left": [A, None, A, 7, C], "right": [B, B, math.nan, B, C]}


def test_pandas_frame_in_pandas_frame_out_with_errors_in_their_rows(matcher: Matcher) -> None:
    pd = require_module("pandas", "frames")
    frame = pd.DataFrame(_rows(), index=["r1", "r2", "r3", "r4", "r5"])
    out = matcher.score(frame, a="left", b="right")
    assert isinstance(out, pd.DataFrame) and list(out.index) == list(frame.index)
    assert list(out.columns) == ["id", "left", "right", *RESULT_COLUMNS]
    pd.testing.assert_frame_equal(out[["id", "left", "right"]], frame)  # the input kept as given
    expected = matcher.score([(A, B), (C, C)])
    for row, want in zip(("r1", "r5"), expected, strict=True):
        assert out.loc[row, "label"] == want.label  # type: ignore[union-attr]
        assert out.loc[row, "p_exact_match"] == pytest.approx(want.probabilities["exact_match"])  # type: ignore[union-attr]
        assert out.loc[row, "error"] is None
    codes = {row: out.loc[row, "error"]["code"] for row in ("r2", "r3", "r4")}
    assert codes == {"r2": "missing", "r3": "missing", "r4": "not_a_string"}  # NaN is a missing value
    assert out.loc[["r2", "r3", "r4"], "label"].isna().all()
    assert out.loc[["r2", "r3", "r4"], "p_not_match"].isna().all()
    assert "address a" in out.loc["r2", "error"]["message"]


def test_pandas_pair_is_the_first_two_columns_by_default(matcher: Matcher) -> None:
    pd = require_module("pandas", "frames")
    frame = pd.DataFrame({"q": [A, pd.NA], "c": [B, B], "note": ["x", "y"]})
    out = matcher.score(frame)
    assert list(out.columns) == ["q", "c", "note", *RESULT_COLUMNS]
    assert out["label"][0] == matcher.match(A, B).label and out["error"][1]["code"] == "missing"
    probs = matcher.predict(frame)
    assert probs.shape == (2, 3) and not math.isnan(probs[0, 0]) and math.isnan(probs[1, 0])


def test_polars_frame_in_polars_frame_out(matcher: Matcher) -> None:
    pl = require_module("polars", "frames")
    rows = _rows()
    frame = pl.DataFrame(
        {"id": rows["id"], "left": [A, None, A, None, C], "right": [B, B, float("nan"), B, C]},
        strict=False,
    )
    frame = frame.with_columns(pl.col("right").cast(pl.String, strict=False))
    out = matcher.score(frame, a="left", b="right")
    assert isinstance(out, pl.DataFrame) and out.height == frame.height
    assert out.columns == ["id", "left", "right", *RESULT_COLUMNS]
    assert out["error"].dtype == pl.Struct({"code": pl.String, "message": pl.String})
    assert out["label"][0] == matcher.match(A, B).label and out["error"][0] is None
    assert (
        out["error"][1]["code"] == "missing" and out["label"][1] is None and out["p_exact_match"][1] is None
    )
    assert out["label"][4] == matcher.match(C, C).label


def test_bad_frame_arguments_are_input_errors(matcher: Matcher) -> None:
    pd = require_module("pandas", "frames")
    with pytest.raises(InputError, match="no column 'nope'"):
        matcher.score(pd.DataFrame({"a": [A], "b": [B]}), a="nope", b="b")
    with pytest.raises(InputError, match="name both pair columns"):
        matcher.score(pd.DataFrame({"a": [A], "b": [B]}), a="a")
    with pytest.raises(InputError, match="needs two columns"):
        matcher.score(pd.DataFrame({"a": [A]}))
    with pytest.raises(InputError, match="already has column"):
        matcher.score(pd.DataFrame({"a": [A], "b": [B], "label": ["x"]}))
    # two columns of one name (pandas allows them): the one read is refused by name, not an AttributeError
    twice = pd.DataFrame([[A, B]], columns=["地址", "地址"])
    with pytest.raises(InputError, match=r"more than one column called \['地址'\]"):
        matcher.score(twice)
    # ... a repeated name the call does not read comes back as it was
    kept = matcher.score(pd.DataFrame([[A, B, "x", "y"]], columns=["a", "b", "n", "n"]))
    assert list(kept.columns[:4]) == ["a", "b", "n", "n"] and kept["label"].notna().all()
    with pytest.raises(InputError, match="a= and b= name DataFrame columns"):
        matcher.score([(A, B)], a="x", b="y")
