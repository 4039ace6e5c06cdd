"""geoalign: decide whether two Chinese address strings denote the same place, and align tables, fast.

Heavy parts (scorers, engine, server) are imported lazily so ``import geoalign`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from geoalign.types import Match

__all__ = ["__version__", "match"]


def match(a: str, b: str) -> Match:
    """Compare two addresses with the embedded default matcher (no model download)."""
    from geoalign.api import match as _match

    return _match(a, b)


def __getattr__(name: str) -> Any:
    if name == "Matcher":
        from geoalign.api import Matcher

        return Matcher
    raise AttributeError(f"module 'geoalign' has no attribute {name!r}")
