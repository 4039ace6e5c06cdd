"""Import optional dependencies with an error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from geoalign.errors import MissingExtraError


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` or raise MissingExtraError naming ``extra``.

    Only a missing top-level package becomes MissingExtraError; an ImportError raised *inside* an
    installed package is a real bug and propagates unchanged.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        root = module.split(".")[0]
        if exc.name is not None and exc.name.split(".")[0] == root:
            raise MissingExtraError(extra, feature, root) from exc
        raise
