"""Shared pieces of the Ray engine: its options, the optional imports, and how an error travels
between stages (a JSON ``[code, message]`` text column, since Arrow has no ItemError)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from geoalign import _extras
from geoalign.link.candidates import Record
from geoalign.types import ItemError, Scorer

#: Builds the scorer inside each actor (must be picklable: a module-level function or a partial).
ScorerFactory = Callable[[], Scorer]


def require_ray() -> Any:
    return _extras.require("ray", "ray", "the Ray engine")


def require_pyarrow() -> Any:
    return _extras.require("pyarrow", "tables", "the Ray engine")


@dataclass(slots=True)
class RayOptions:
    """Where and how wide to run: ``address`` None starts (or joins) a local Ray; ``actors`` is the
    scoring actor pool (min, max); ``num_gpus`` per actor (0 on CPU; the ONNX scorer on CPU too)."""

    address: str | None = None
    actors: tuple[int, int] = (1, 2)
    num_gpus: float = 0.0
    cpus_per_actor: float = 1.0
    batch_records: int = 256  # query records per scoring batch (x up to max_candidates pairs)
    partitions: int | None = None  # hash partitions of the groupbys and joins (None: 2 x cluster CPUs)
    max_restarts: int = 3
    max_task_retries: int = 3


def record_from_row(
    rid: str, address: Any, line: int, error: str | None, carry: list[Any] | None = None
) -> Record:
    """A record from the engine's columns (``error`` as written by ``encode_error``)."""
    err = None
    if error is not None:
        code, message = json.loads(error)
        err = ItemError(code, message)
    return Record(id=rid, address=address, carry=carry or [], line=line, error=err)


def encode_error(error: ItemError | None) -> str | None:
    return None if error is None else json.dumps([error.code, error.message], ensure_ascii=False)
