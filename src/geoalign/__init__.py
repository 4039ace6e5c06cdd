"""geoalign: decide whether two Chinese address strings denote the same place, and align tables, fast.

The public vocabulary, all importable from here::

    import geoalign
    geoalign.match(a, b)                       # one pair with the default judge -> Match
    m = geoalign.Matcher(model="DIR")          # batches; the scorer is picked from DIR (see help(Matcher))
    m.score([(a, b), ...])                     # one Match or ItemError per pair, in order
    m.score(df, a="addr_a", b="addr_b")        # a pandas / polars DataFrame -> the same kind, + results
    m.link(left_df, right_df, left_on="addr")  # geoalign link on DataFrames: best right record per row
    m.dedupe(df, on="address")                 # geoalign dedupe: + cluster_id, cluster_size
    geoalign.AddressPair(a, b)                 # a pair, as scorers take it
    geoalign.normalize(text), geoalign.parse(text)
    geoalign.parse(text, model="neural")      # the accurate parser (about ten times slower)
    geoalign.LABELS                            # ("exact_match", "partial_match", "not_match")

Errors: every error geoalign raises on purpose is a ``GeoalignError``; bad input is an ``InputError``
(also a ``ValueError``), a malformed file a ``DataFormatError``, a model that cannot be loaded a
``ModelLoadError``, an optional extra that is not installed a ``MissingExtraError``.
Heavy parts (scorers, the parser's model, the engine, the server) are imported on first use, so
``import geoalign`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from geoalign.errors import DataFormatError, GeoalignError, InputError, MissingExtraError, ModelLoadError
from geoalign.types import LABELS, AddressPair, ItemError, Match

__version__ = "0.1.0"

if TYPE_CHECKING:
    from geoalign.address.normalize import normalize
    from geoalign.address.parse import parse
    from geoalign.api import Matcher
    from geoalign.scorers.spec import ScorerSpec

#: name -> module of the names loaded on first use (their modules import numpy, models, ...).
_LAZY: dict[str, str] = {
    "Matcher": "geoalign.api",
    "ScorerSpec": "geoalign.scorers.spec",
    "normalize": "geoalign.address.normalize",
    "parse": "geoalign.address.parse",
}

__all__ = [
    "LABELS",
    "AddressPair",
    "DataFormatError",
    "GeoalignError",
    "InputError",
    "ItemError",
    "Match",
    "Matcher",
    "MissingExtraError",
    "ModelLoadError",
    "ScorerSpec",
    "__version__",
    "match",
    "normalize",
    "parse",
]


def match(a: str, b: str) -> Match:
    """Compare two addresses with the default judge (``Matcher()``: shipped with the package, no
    download): label, probabilities and an explanation."""
    from geoalign.api import match as _match

    return _match(a, b)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'geoalign' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this hook
    return value


def __dir__() -> list[str]:
    # the public vocabulary, not this module's own imports (Any, importlib, the submodules, ...)
    dunders = {name for name in globals() if name.startswith("__") and name.endswith("__")}
    return sorted(set(__all__) | dunders)
