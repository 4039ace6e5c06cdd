"""The web page (try a pair, review a job's uncertain pairs) and the endpoints only it needs.

``GET /`` serves a static page (``static/``: plain HTML/CSS/JS, no build step, nothing fetched from
outside, so it works offline). The page talks to the public API (``POST /v1/match``) plus:

- ``POST /v1/parse``: the parsed components of a few addresses, with character offsets into the raw
  text, so the page can highlight each component in place (the Match explanation carries values only);
- ``POST /v1/labels`` / ``GET /v1/labels``: labels of reviewed pairs, saved on the server as
  ``<set>.tsv`` in the configured labels directory, in the format ``geoalign train --pairs`` reads
  (TSV with header ``a<TAB>b<TAB>label``, label names);
- ``GET /v1/web/info``: what the page must know before the user types anything (is a key required,
  request limits, whether labels can be saved).

The server never reads a user's data file from its own disk for the page: uploads are parsed in the
browser, which sends pairs to ``/v1/match`` like any other client.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from geoalign.errors import DataFormatError
from geoalign.server.auth import check_api_key
from geoalign.server.errors import ApiError
from geoalign.server.schemas import ErrorResponse
from geoalign.types import LABELS

log = logging.getLogger(__name__)
router = APIRouter()

STATIC_DIR: Final[Path] = Path(__file__).resolve().parent / "static"

#: The only files served from ``static/`` (a fixed list: no path from the URL ever reaches the disk).
_ASSETS: Final[dict[str, str]] = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}

#: A label set becomes a file name, so it is restricted to characters safe on every filesystem.
SET_NAME: Final[re.Pattern[str]] = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEFAULT_SET: Final[str] = "labels"

#: Most addresses in one /v1/parse request (the page sends two; the CRF costs ~1 ms each).
MAX_PARSE: Final[int] = 100

#: Most labels in one POST /v1/labels (the page sends one per key press; a re-sync sends its backlog).
MAX_LABELS_PER_REQUEST: Final[int] = 5000

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in {
        401: "missing or wrong API key",
        404: "no labels saved in this set yet",
        409: "labels are not enabled on this server (no labels directory)",
        413: "too many items in one request",
        422: "request does not match the schema",
    }.items()
}


# ---------------------------------------------------------------------------------------------- page


#: revalidate on every load, so a browser never runs an old app.js against an upgraded server
_REVALIDATE = {"Cache-Control": "no-cache"}

#: The page loads nothing from anywhere but this server (it must work offline), and the browser is
#: told so: addresses from an uploaded file can never bring a script or a remote resource with them.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@router.get("/", include_in_schema=False)
async def page() -> Response:
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers={**_REVALIDATE, "Content-Security-Policy": _CSP})


@router.get("/static/{name}", include_in_schema=False)
async def asset(name: str) -> Response:
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise ApiError(404, "not_found", f"no static file {name!r}")
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers=_REVALIDATE)


class WebInfo(BaseModel):
    auth_required: bool
    max_pairs: int
    max_chars: int
    labels_enabled: bool


@router.get("/v1/web/info", response_model=WebInfo, summary="what the web page needs to know first")
async def web_info(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    return {
        "auth_required": bool(settings.api_key),
        "max_pairs": settings.max_pairs,
        "max_chars": settings.max_chars,
        "labels_enabled": _labels_dir(request) is not None,
    }


# --------------------------------------------------------------------------------------------- parse


class ParseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    addresses: list[str] = Field(description=f"addresses to parse, at most {MAX_PARSE}")


class ParseResponse(BaseModel):
    results: list[dict[str, Any]] = Field(
        description="per address, in order: Components JSON (raw, normalized, components with offsets) "
        "or an ItemError"
    )


@router.post(
    "/v1/parse",
    response_model=ParseResponse,
    responses=_ERRORS,
    dependencies=[Depends(check_api_key)],
    summary="parse addresses into components (with offsets into the raw text)",
)
async def parse(body: ParseRequest, request: Request) -> dict[str, Any]:
    if len(body.addresses) > MAX_PARSE:
        raise ApiError(
            413, "too_many_addresses", f"{len(body.addresses)} addresses; the limit is {MAX_PARSE}"
        )
    max_chars = request.app.state.settings.max_chars
    # the CRF is CPU work: keep it off the event loop that also feeds the match engine
    results = await asyncio.to_thread(_parse_each, body.addresses, max_chars)
    return {"results": results}


def _parse_each(addresses: list[str], max_chars: int) -> list[dict[str, Any]]:
    """Components JSON per address; a bad address gets an ItemError in its slot, never failing the
    others (the page shows the error beside that address)."""
    from geoalign.address.parse import parse as parse_one
    from geoalign.errors import InputError
    from geoalign.types import ItemError

    out: list[dict[str, Any]] = []
    for text in addresses:
        if len(text) > max_chars:
            error = ItemError("too_long", f"address of {len(text)} characters; the limit is {max_chars}")
            out.append(error.to_dict())
            continue
        try:
            out.append(parse_one(text).to_dict())
        except InputError as exc:
            out.append(ItemError(exc.code, str(exc)).to_dict())
        except Exception as exc:  # a parser bug on one address must not cost the others their answer
            log.exception("parsing %r failed", text[:80])
            out.append(ItemError("parse_failed", f"the parser failed: {type(exc).__name__}").to_dict())
    return out


# -------------------------------------------------------------------------------------------- labels


class LabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    a: str = Field(min_length=1, description="query address, as it stands in the reviewed file")
    b: str = Field(min_length=1, description="candidate address")
    label: StrictStr | StrictInt = Field(
        description="exact_match, partial_match or not_match (or 2, 1, 0 in the CCKS order)"
    )


class LabelsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    set: str = Field(
        default=DEFAULT_SET,
        description="label set; saved as <set>.tsv in the labels directory",
        examples=["uncertain-2024-05"],
    )
    labels: list[LabelIn] = Field(description=f"at most {MAX_LABELS_PER_REQUEST} labels")


class LabelsResponse(BaseModel):
    set: str
    path: str = Field(description="the file on the server, for `geoalign train --pairs PATH`")
    saved: int = Field(description="labels in this request")
    total: int = Field(description="pairs labelled in the set")
    counts: dict[str, int] = Field(description="labelled pairs per label")


class LabelStore:
    """Labels of one directory: ``<set>.tsv`` files, one row per (a, b) pair.

    Saving a pair again replaces its label in place (a reviewer who changes their mind must not leave
    two contradicting rows for training). Every save rewrites the file atomically, so ``geoalign train``
    started at any moment reads a complete file; a review is human-paced, so rewriting is cheap enough.
    The lock serialises writers within this process; one server process owns a labels directory.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()

    def path(self, name: str) -> Path:
        if not SET_NAME.match(name) or name.endswith("."):
            raise ApiError(
                422,
                "invalid_set",
                f"label set name {name!r}: use 1-64 letters, digits, '_', '-' or '.', "
                "starting with a letter or digit",
            )
        return self.directory / f"{name}.tsv"

    def _read(self, path: Path) -> dict[tuple[str, str], str]:
        from geoalign.io.labels import read_labelled_pairs

        if not path.exists():
            return {}
        try:
            pairs = read_labelled_pairs(path, fmt="tsv")
        except DataFormatError as exc:
            # a hand-edited file that train would refuse too: say so instead of overwriting it
            raise ApiError(409, "labels_file_unreadable", f"cannot update {path.name}: {exc}") from exc
        return {(p.a, p.b): p.label for p in pairs}

    def save(self, name: str, labels: list[tuple[str, str, str]]) -> dict[str, Any]:
        from geoalign.io.writers import write_table

        path = self.path(name)
        with self._lock:
            rows = self._read(path)
            for a, b, label in labels:
                rows[(a, b)] = label
            write_table(path, ["a", "b", "label"], ([a, b, label] for (a, b), label in rows.items()), "tsv")
        counts: dict[str, int] = {label: 0 for label in LABELS}
        for label in rows.values():
            counts[label] += 1
        return {
            "set": name,
            "path": str(path.resolve()),
            "saved": len(labels),
            "total": len(rows),
            "counts": counts,
        }


def _one_line(text: str) -> str:
    """TSV has no quoting: a tab or line break inside an address would split the row. Every scorer's
    safe cleaning turns them into one space too, so the label still belongs to the text it scored."""
    return " ".join(text.split())


def _labels_dir(request: Request) -> str | None:
    return getattr(request.app.state.settings, "labels_dir", None)


_stores: dict[str, LabelStore] = {}
_stores_lock = threading.Lock()


def _store(request: Request) -> LabelStore:
    directory = _labels_dir(request)
    if directory is None:
        raise ApiError(
            409,
            "labels_disabled",
            "this server saves no labels: start it with `geoalign serve --labels-dir DIR`",
        )
    key = str(Path(directory).resolve())
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = LabelStore(key)
    return store


@router.post(
    "/v1/labels",
    response_model=LabelsResponse,
    responses=_ERRORS,
    dependencies=[Depends(check_api_key)],
    summary="save labels of reviewed pairs (TSV a, b, label that `geoalign train` reads)",
)
def save_labels(body: LabelsRequest, request: Request) -> dict[str, Any]:
    from geoalign.io.labels import parse_label

    store = _store(request)
    store.path(body.set)  # a bad set name is the first thing to report
    if not body.labels:
        raise ApiError(422, "no_labels", "the request holds no labels")
    if len(body.labels) > MAX_LABELS_PER_REQUEST:
        raise ApiError(
            413, "too_many_labels", f"{len(body.labels)} labels; the limit is {MAX_LABELS_PER_REQUEST}"
        )
    clean: list[tuple[str, str, str]] = []
    for i, item in enumerate(body.labels):
        try:
            label = parse_label(item.label)
        except ValueError as exc:
            raise ApiError(422, "invalid_label", f"labels[{i}]: {exc}") from exc
        a, b = _one_line(item.a), _one_line(item.b)
        if not a or not b:
            raise ApiError(422, "invalid_label", f"labels[{i}]: an address is empty")
        clean.append((a, b, label))
    return store.save(body.set, clean)


@router.get(
    "/v1/labels",
    responses={200: {"content": {"text/tab-separated-values": {}}}, **_ERRORS},
    dependencies=[Depends(check_api_key)],
    summary="download a label set as TSV",
    response_class=Response,
)
def download_labels(request: Request, name: str = Query(DEFAULT_SET, alias="set")) -> Response:
    store = _store(request)
    path = store.path(name)
    if not path.exists():
        raise ApiError(404, "no_labels", f"no labels saved in set {name!r} yet")
    return FileResponse(
        path,
        media_type="text/tab-separated-values; charset=utf-8",
        filename=path.name,
        headers={"Cache-Control": "no-store"},
    )
