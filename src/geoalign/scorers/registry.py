"""Build a scorer from ``--scorer NAME`` and/or ``--model DIR`` (the CLI, the API and the server share it).

Each backend is a builder function registered by name; a backend module is imported only when chosen, so
choosing ``structured`` never imports torch or onnxruntime. ``--model DIR`` without ``--scorer`` picks the
backend from what the directory holds: a geoalign structured model (``model.json``), a geoalign ONNX
export (``geoalign_export.json``), else a ModelScope / Hugging Face checkpoint (torch).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from geoalign.errors import GeoalignError, InputError
from geoalign.types import Scorer

Builder = Callable[..., Scorer]

#: Names accepted by ``--scorer`` (the CLI shows them as choices).
SCORER_NAMES: tuple[str, ...] = ("structured", "torch", "onnx", "cascade")


def _structured(model: str | Path | None = None, **options: Any) -> Scorer:
    from geoalign.scorers.structured import StructuredScorer

    return StructuredScorer(model, **options)


def _torch(model: str | Path | None = None, **options: Any) -> Scorer:
    from geoalign.scorers.mgeo_torch import build_torch_scorer

    if model is None:
        raise InputError("--scorer torch needs --model DIR (a ModelScope or Hugging Face checkpoint)")
    return build_torch_scorer(str(model), **options)


def _onnx(model: str | Path | None = None, **options: Any) -> Scorer:
    from geoalign.scorers.mgeo_onnx import OnnxScorer

    if model is None:
        raise InputError("--scorer onnx needs --model DIR (a directory written by 'geoalign export')")
    return OnnxScorer(model, **options)


def _cascade(model: str | Path | None = None, **options: Any) -> Scorer:
    from geoalign.scorers.cascade import build_cascade

    return build_cascade(model, **options)


def _not_available(name: str) -> Builder:
    def build(model: str | Path | None = None, **options: Any) -> Scorer:
        raise GeoalignError(
            f"the {name!r} scorer is not available yet in this geoalign build; use --scorer structured"
        )

    return build


BUILDERS: dict[str, Builder] = {
    "structured": _structured,
    "torch": _torch,
    "onnx": _onnx,
    "cascade": _cascade,
}


def register(name: str, builder: Builder) -> None:
    """Register (or replace) the builder of a backend: ``builder(model=None, **options) -> Scorer``."""
    BUILDERS[name] = builder


def detect_backend(model: str | Path) -> str:
    """Which backend a model directory is for (see the module docstring)."""
    root = Path(model)
    if not root.is_dir():
        raise InputError(f"--model {str(model)!r} is not a directory")
    meta = root / "model.json"
    if meta.is_file():
        try:
            if json.loads(meta.read_text(encoding="utf-8")).get("format") == "geoalign-structured":
                return "structured"
        except (ValueError, AttributeError):
            pass  # not ours: fall through to the other layouts
    if (root / "geoalign_export.json").is_file():
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


def add_scorer_arguments(parser: Any) -> None:
    """``--scorer`` / ``--model`` for the commands that score (match, score, eval)."""
    parser.add_argument(
        "--scorer",
        choices=SCORER_NAMES,
        default=None,
        help="backend (default: from --model, else the embedded 'structured' matcher)",
    )
    parser.add_argument("--model", metavar="DIR", default=None, help="model directory for the scorer")
    parser.add_argument(
        "--device", default=None, help="torch scorer: cpu (default) or cuda[:N]; ignored by structured"
    )
    parser.add_argument(
        "--provider",
        default=None,
        help="onnx scorer: auto (default; the chosen one is reported), cpu, cuda, tensorrt, openvino",
    )


def scorer_from_args(args: Any, **options: Any) -> Scorer:
    name = args.scorer or (detect_backend(args.model) if args.model is not None else "structured")
    if name == "torch" and getattr(args, "device", None):
        options.setdefault("device", args.device)
    if name == "onnx" and getattr(args, "provider", None):
        options.setdefault("provider", args.provider)
    return build_scorer(name, args.model, **options)
