"""The registered scorers: name -> builder, and which scorer a model directory is for.

Each backend is a builder function registered by name; a backend module is imported only when chosen, so
choosing ``structured`` never imports torch or onnxruntime. ``BUILDERS`` is the one list of scorer names
(``--scorer``'s choices come from it). Options are declared and checked by
:class:`geoalign.scorers.spec.ScorerSpec`, which every command, the Python API and the workers use; the
builders here are the only code that knows a backend's constructor. A model directory without a named
scorer is detected by ``detect_backend``: a geoalign structured model, a geoalign ONNX export (asked of
``scorers.manifest``), else a ModelScope / Hugging Face checkpoint (torch).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from geoalign.errors import InputError
from geoalign.types import Scorer

Builder = Callable[..., Scorer]


def _structured(model: str | Path | None = None, **options: Any) -> Scorer:
    from geoalign.scorers.structured import StructuredScorer

    return StructuredScorer(model, **options)


def _torch(model: str | Path | None = None, **options: Any) -> Scorer:
    from geoalign.scorers.mgeo_torch import build_torch_scorer

    if model is None:
        raise InputError("--scorer torch needs --model DIR (a ModelScope or Hugging Face checkpoint)")
    max_chars = options.pop("max_chars", None)
    scorer = build_torch_scorer(str(model), **options)
    if max_chars is not None:  # build_torch_scorer takes no max_chars; the scorer reads it per call
        scorer.max_chars = max_chars
    return scorer


def _onnx(model: str | Path | None = None, **options: Any) -> Scorer:
    from geoalign.scorers.mgeo_onnx import OnnxScorer

    if model is None:
        raise InputError("--scorer onnx needs --model DIR (a directory written by 'geoalign export')")
    return OnnxScorer(model, **options)


def _cascade(model: str | Path | None = None, **options: Any) -> Scorer:
    from geoalign.scorers.cascade import build_cascade

    return build_cascade(model, **options)


BUILDERS: dict[str, Builder] = {
    "structured": _structured,
    "torch": _torch,
    "onnx": _onnx,
    "cascade": _cascade,
}


#: Names accepted by ``--scorer`` (the CLI shows them as choices), in the registry's order.
SCORER_NAMES: tuple[str, ...] = tuple(BUILDERS)


def detect_backend(model: str | Path) -> str:
    """Which backend a model directory is for (see the module docstring)."""
    root = Path(model).expanduser()
    if not root.exists():
        raise InputError(f"model directory {str(model)!r} does not exist")
    if not root.is_dir():
        raise InputError(f"model {str(model)!r} is a file; a model is a directory")
    meta = root / "model.json"
    if meta.is_file():
        try:
            if json.loads(meta.read_text(encoding="utf-8")).get("format") == "geoalign-structured":
                return "structured"
        except (ValueError, AttributeError):
            pass  # not ours: fall through to the other layouts
    from geoalign.scorers.manifest import is_export_dir

    if is_export_dir(root):
        return "onnx"
    return "torch"


def build_scorer(name: str | None = None, model: str | Path | None = None, **options: Any) -> Scorer:
    """The scorer for ``name`` (default: from ``model``, else ``structured``) loaded from ``model``."""
    if name is None:
        name = detect_backend(model) if model is not None else "structured"
    builder = BUILDERS.get(name)
    if builder is None:
        raise InputError(f"unknown scorer {name!r}; choose one of {', '.join(BUILDERS)}")
    return builder(model, **options)
