"""The web page (try a pair, review a job's uncertain pairs): ``GET /``, its two assets, and
``GET /v1/web/info`` (what the page must know before the user types anything: is a key required,
request limits, whether labels can be saved).

The page is static (``static/``: plain HTML/CSS/JS, no build step, nothing fetched from outside, so it
works offline) and talks to the public API (``/v1/match``) plus ``/v1/parse`` and ``/v1/labels``. The
server never reads a user's data file from its own disk for the page: uploads are parsed in the browser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel

from geoalign.server.errors import ApiError

router = APIRouter()

STATIC_DIR: Final[Path] = Path(__file__).resolve().parent / "static"

#: The only files served from ``static/`` (a fixed list: no path from the URL ever reaches the disk).
_ASSETS: Final[dict[str, str]] = {
    "app.js": "text/javascript; charset=utf-8",
    "i18n.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}

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


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> Response:
    """Browsers ask for it whatever the page says; a 404 would be a console error on every load."""
    return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml", headers=_REVALIDATE)


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
        "labels_enabled": request.app.state.labels is not None,
    }
