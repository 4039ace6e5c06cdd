"""DataFrames in and out of ``Matcher.score``: pandas or polars, whichever the caller already uses.

A frame is recognised by its type's module (``pandas`` / ``polars``) without importing either: geoalign
depends on neither (the ``frames`` extra installs both), and a caller holding a DataFrame has its
library installed. The pair is two columns,
by position (the first two) or named (``a="addr_a", b="addr_b"``). The answer is a frame of the same
library with the input's columns (and, for pandas, its index), then the columns of ``geoalign score``'s
output: ``label``, ``p_exact_match``, ``p_partial_match``, ``p_not_match``, ``error``. A cell that is
not usable text (None, NaN, NA, a number) becomes that row's ``ItemError`` (``missing`` or
``not_a_string``): ``label`` and the probabilities are null there and ``error`` holds
``{"code", "message"}`` (a struct column in polars); no row is ever dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

from geoalign.errors import InputError
from geoalign.types import LABELS, AddressPair, ItemError, Match, Result

#: The columns added after the input's, as ``geoalign score`` writes them.
RESULT_COLUMNS: Final[tuple[str, ...]] = ("label", *(f"p_{name}" for name in LABELS), "error")


def frame_kind(obj: Any) -> str | None:
    """``"pandas"`` or ``"polars"`` for a DataFrame of that library, else None (nothing is imported)."""
    cls = type(obj)
    root = cls.__module__.split(".", 1)[0]
    if root in ("pandas", "polars") and cls.__name__ == "DataFrame":
        return root
    return None


def check_named_once(frame: Any, used: Sequence[Any], which: str = "") -> None:
    """An InputError if a column the call reads (``used``) is one of two of that name in a pandas frame
    (polars allows none): selecting it would give a frame, not a column, and no answer could say which
    one it read. Other repeated names are the caller's and come back as they are."""
    names = list(frame.columns)
    twice = [name for name in dict.fromkeys(used) if name is not None and names.count(name) > 1]
    if twice:
        said = f"{which}: " if which else ""
        raise InputError(f"{said}the DataFrame has more than one column called {twice}; rename them first")


def _columns(frame: Any, a: str | None, b: str | None) -> tuple[Any, Any]:
    col_a, col_b = _named_columns(frame, a, b)
    check_named_once(frame, (col_a, col_b))
    return col_a, col_b


def _named_columns(frame: Any, a: str | None, b: str | None) -> tuple[Any, Any]:
    names = list(frame.columns)
    if (a is None) != (b is None):
        raise InputError("name both pair columns (a=..., b=...) or neither (the first two columns)")
    if a is None or b is None:
        if len(names) < 2:
            raise InputError(f"a DataFrame of pairs needs two columns, this one has {len(names)}: {names}")
        return names[0], names[1]
    missing = [name for name in (a, b) if name not in names]
    if missing:
        raise InputError(f"no column {', '.join(map(repr, missing))} in the DataFrame; its columns: {names}")
    return a, b


def cell_value(value: Any, kind: str) -> Any:
    """A cell as the scorers take it: missing values (None, NaN, pandas NA/NaT) become None, so their
    row's error says ``missing`` rather than ``not_a_string``."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        return None
    if kind == "pandas":
        import pandas as pd

        try:
            if pd.isna(value) is True:
                return None
        except (TypeError, ValueError):  # e.g. a list in a cell: not a missing value, not a string
            pass
    return value


def pairs_of(frame: Any, a: str | None = None, b: str | None = None) -> list[AddressPair]:
    """The frame's pairs, one per row, in row order (see the module docstring for the columns)."""
    kind = frame_kind(frame)
    if kind is None:
        raise InputError(f"not a pandas or polars DataFrame: {type(frame).__name__}")
    col_a, col_b = _columns(frame, a, b)
    if kind == "pandas":
        values_a, values_b = frame[col_a].tolist(), frame[col_b].tolist()
    else:
        values_a, values_b = frame.get_column(col_a).to_list(), frame.get_column(col_b).to_list()
    return [
        AddressPair(cell_value(x, kind), cell_value(y, kind)) for x, y in zip(values_a, values_b, strict=True)
    ]


def check_room(frame: Any, added: Sequence[str] = RESULT_COLUMNS, which: str = "") -> None:
    """An InputError, before any scoring, if the frame already holds a name of the ``added`` columns
    (``which``: the argument's name, said first where a call takes several frames)."""
    clash = [name for name in added if name in list(frame.columns)]
    if clash:
        said = f"{which}: " if which else ""
        raise InputError(
            f"{said}the DataFrame already has column(s) {clash}, which the result adds; rename them first"
        )


def error_series(name: str, errors: Sequence[dict[str, str] | None]) -> Any:
    """A polars column of ``{"code", "message"}`` errors (null where none), as every frame writes it."""
    import polars as pl

    return pl.Series(name, errors, dtype=pl.Struct({"code": pl.String, "message": pl.String}))


def with_results(frame: Any, results: Sequence[Result]) -> Any:
    """``frame`` with the result columns appended (a new frame of the same library)."""
    kind = frame_kind(frame)
    check_room(frame)
    if len(results) != len(frame):
        raise AssertionError(f"{len(results)} results for {len(frame)} rows")
    labels: list[str | None] = []
    probs: dict[str, list[float | None]] = {name: [] for name in LABELS}
    errors: list[dict[str, str] | None] = []
    for result in results:
        if isinstance(result, Match):
            labels.append(result.label)
            for name in LABELS:
                probs[name].append(float(result.probabilities[name]))
            errors.append(None)
        else:
            assert isinstance(result, ItemError)
            labels.append(None)
            for name in LABELS:
                probs[name].append(None)
            errors.append({"code": result.code, "message": result.message})
    if kind == "pandas":
        out = frame.copy()
        out["label"] = labels
        for name in LABELS:
            out[f"p_{name}"] = [math.nan if p is None else p for p in probs[name]]
        out["error"] = errors
        return out
    import polars as pl

    added = [pl.Series("label", labels, dtype=pl.String)]
    added += [pl.Series(f"p_{name}", probs[name], dtype=pl.Float64) for name in LABELS]
    added.append(error_series("error", errors))
    return frame.with_columns(added)


__all__ = ["RESULT_COLUMNS", "check_room", "error_series", "frame_kind", "pairs_of", "with_results"]
