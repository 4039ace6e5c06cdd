"""The embedded matcher's trees as ONNX (``model.onnx`` beside ``model.txt``), run by onnxruntime.

Why: scoring with the LightGBM booster means importing ``lightgbm``, which imports scipy.sparse and,
where they are installed, pandas and scikit-learn: a cold ``geoalign match`` took 0.45 s longer in the
core install, 1.2 s longer beside pandas and 2 s longer beside both (docs/benchmarks.md, session 18).
onnxruntime is loaded anyway for the neural stage, and its ``TreeEnsembleClassifier`` ran the same 750
trees 1.6–1.7× faster than the booster on one thread. The graph is the booster converted by
``onnxmltools`` (the ``export`` extra, only needed to make the file). It computes in float32 where
LightGBM uses doubles: on the CCKS slice's 19,251 real feature rows the probabilities differ by at most
7e-7 and no label changes; each export records its own check (``model.json`` → ``onnx``), and the tests
hold the shipped pair to it.

``model.txt`` stays the model of record (training writes it; the model id is its digest). A directory
with both files is scored with the graph, which must say it was exported from that very ``model.txt``
(its SHA-256), so a retrained model never runs with stale trees.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Final

import numpy as np

from geoalign import forksafe
from geoalign.errors import ModelLoadError

ONNX_FILE: Final[str] = "model.onnx"
#: what an export's check may differ from the booster, per probability (float32 against float64)
PARITY_TOLERANCE: Final[float] = 1e-5
_INPUT: Final[str] = "features"
_PROBABILITIES: Final[str] = "probabilities"


def model_digest(model_bytes: bytes) -> str:
    """SHA-256 of a ``model.txt``: what ``model.json`` → ``onnx`` → ``from_model_sha256`` must equal."""
    return hashlib.sha256(model_bytes).hexdigest()


class OnnxForest(forksafe.LazySession):
    """``predict(features)`` → class probabilities ``(n, n_classes)``, as ``Booster.predict`` gives
    them, from the exported graph; one intra-op thread (geoalign parallelizes with processes)."""

    def __init__(self, path: Path, n_features: int, n_classes: int) -> None:
        self.path = path
        self.threads = 1
        self._session = None
        self.session = self._open(1)
        inputs = self.session.get_inputs()
        width = inputs[0].shape[1] if inputs and len(inputs[0].shape) == 2 else None
        if len(inputs) != 1 or width != n_features:
            raise ModelLoadError(f"{path}: the graph does not read {n_features} features a row")
        outputs = [o.name for o in self.session.get_outputs()]
        if _PROBABILITIES not in outputs:
            raise ModelLoadError(f"{path}: the graph has no {_PROBABILITIES!r} output (outputs: {outputs})")
        self._input = inputs[0].name
        self.n_classes = n_classes

    def _open(self, threads: int | None) -> Any:
        return forksafe.cpu_session(self.path, 1, "the structured model's graph")

    def predict(self, features: np.ndarray, num_threads: int = 1) -> np.ndarray:
        """``num_threads`` is accepted for the booster's signature; the graph always runs on one."""
        x = np.ascontiguousarray(features, dtype=np.float32)
        (probs,) = self.session.run([_PROBABILITIES], {self._input: x})
        return np.asarray(probs, dtype=np.float64).reshape(-1, self.n_classes)


def probe_rows(n_features: int, n: int = 2000, seed: int = 0) -> np.ndarray:
    """Random feature rows to compare the two runtimes on: values on a few scales, with exact zeros and
    ones mixed in (where tree thresholds sit) and NaN (real rows have missing features, which each
    split routes by its missing-value direction)."""
    rng = np.random.default_rng(seed)
    rows = rng.random((n, n_features)) * rng.choice([1.0, 3.0, 30.0], size=(1, n_features))
    rows[rng.random(rows.shape) < 0.3] = 0.0
    rows[rng.random(rows.shape) < 0.1] = 1.0
    rows[rng.random(rows.shape) < 0.05] = np.nan
    return rows


def export_forest(
    directory: str | Path, sample: np.ndarray | None = None, *, seed: int = 0
) -> dict[str, Any]:
    """Write ``model.onnx`` for the ``model.txt`` in ``directory`` and record the export in its
    ``model.json`` (``onnx``: source digest, converter versions, the parity check). The check compares
    both runtimes on ``sample`` (feature rows; e.g. real pairs) plus 2,000 ``probe_rows``; an export
    that differs by more than ``PARITY_TOLERANCE`` or changes a label is refused (InputError) and
    nothing is written. Needs the ``export`` extra."""
    from geoalign._extras import require

    require("onnxmltools", "export", "exporting the structured model to ONNX")
    import lightgbm as lgb
    import onnxmltools
    import onnxruntime as ort
    from onnxmltools.convert.common.data_types import FloatTensorType

    from geoalign.errors import InputError
    from geoalign.io.atomic import atomic_path, atomic_write_text
    from geoalign.scorers.structured import META_FILE, MODEL_FILE

    root = Path(directory)
    model_bytes = (root / MODEL_FILE).read_bytes()
    meta = json.loads((root / META_FILE).read_text(encoding="utf-8"))
    booster = lgb.Booster(model_str=model_bytes.decode("utf-8"))
    n_features, n_classes = booster.num_feature(), booster.num_model_per_iteration()
    graph = onnxmltools.convert_lightgbm(
        booster,
        initial_types=[(_INPUT, FloatTensorType([None, n_features]))],
        zipmap=False,  # a plain (n, classes) tensor, not a list of dicts
        target_opset=15,
    )
    blob = graph.SerializeToString()
    rows = probe_rows(n_features, seed=seed)
    if sample is not None and len(sample):
        rows = np.vstack([np.asarray(sample, dtype=np.float64), rows])
    session = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
    got = np.asarray(session.run([_PROBABILITIES], {_INPUT: rows.astype(np.float32)})[0], dtype=np.float64)
    want = np.asarray(booster.predict(rows, num_threads=1), dtype=np.float64).reshape(-1, n_classes)
    diff = float(np.abs(got - want).max())
    flips = int((got.argmax(axis=1) != want.argmax(axis=1)).sum())
    if diff > PARITY_TOLERANCE or flips:
        raise InputError(
            f"{root}: the ONNX trees differ from the booster by {diff:.2e} ({flips} labels change) on "
            f"{len(rows)} rows; not written"
        )
    record = {
        "file": ONNX_FILE,
        "from_model_sha256": model_digest(model_bytes),
        "converter": f"onnxmltools {onnxmltools.__version__}",
        "parity": {"rows": len(rows), "max_abs_diff": diff, "labels_changed": flips},
    }
    with atomic_path(root / ONNX_FILE) as tmp:
        tmp.write_bytes(blob)
    atomic_write_text(
        root / META_FILE, json.dumps({**meta, "onnx": record}, ensure_ascii=False, indent=2) + "\n"
    )
    return record


def load_forest(root: Path, meta: dict[str, Any], model_bytes: bytes, n_features: int, n_classes: int) -> Any:
    """The graph of a directory that has ``model.onnx``, after checking it was exported from this
    ``model.txt``; None when the directory has none (the booster is used)."""
    path = root / ONNX_FILE
    if not path.is_file():
        return None
    record = meta.get("onnx")
    if not isinstance(record, dict) or record.get("from_model_sha256") != model_digest(model_bytes):
        raise ModelLoadError(
            f"{path} was not exported from this {root / 'model.txt'} (model.json records another model "
            "or no export): re-export it (scripts/export_structured_onnx.py) or delete it"
        )
    return OnnxForest(path, n_features, n_classes)


__all__ = [
    "ONNX_FILE",
    "PARITY_TOLERANCE",
    "OnnxForest",
    "export_forest",
    "load_forest",
    "model_digest",
    "probe_rows",
]
