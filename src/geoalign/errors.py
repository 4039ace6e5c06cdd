"""One exception hierarchy. The CLI turns these into one clear line and a non-zero exit; the server into
a JSON error with the right status."""

from __future__ import annotations


class GeoalignError(Exception):
    """Base of every error geoalign raises on purpose. ``code`` is the machine-readable error code."""

    code = "geoalign_error"
    exit_code = 1


class InputError(GeoalignError, ValueError):
    """The caller gave something unusable (empty address, wrong type, malformed file...). Also a
    ``ValueError``, so callers' ``except ValueError`` habits catch it."""

    code = "invalid_input"
    exit_code = 2


class DataFormatError(InputError):
    """A file could not be read in the expected format (bad header, wrong column, broken row...)."""

    code = "bad_data_format"


class ModelLoadError(GeoalignError):
    """A model directory is missing files, has inconsistent labels, or its weights do not fit."""

    code = "model_load_error"


class MissingExtraError(GeoalignError):
    """A feature needs an optional dependency group that is not installed."""

    code = "missing_extra"

    def __init__(self, extra: str, feature: str, missing: str) -> None:
        super().__init__(
            f"{feature} needs the '{extra}' extra ({missing} is not installed): "
            f"pip install 'geoalign[{extra}]'"
        )
        self.extra = extra
