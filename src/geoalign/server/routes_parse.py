"""``POST /v1/parse``: the parsed components of a few addresses, with character offsets into the raw
text, so the page can highlight each component in place (the Match explanation carries values only)."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any, Final, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from geoalign.address.clean import lone_surrogate_at
from geoalign.errors import ModelLoadError
from geoalign.server.errors import ApiError
from geoalign.server.routes_match import ERRORS

log = logging.getLogger(__name__)
router = APIRouter()

#: Most addresses in one /v1/parse request (the page sends two; the CRF costs ~1 ms each).
MAX_PARSE: Final[int] = 100


class ParseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    addresses: list[str] = Field(description=f"addresses to parse, at most {MAX_PARSE}")
    model: Literal["linear", "neural"] = Field(
        "linear",
        description="'linear': the fast parser (the matcher's); 'neural': the accurate parser (about 1-2 "
        "points more span F1, ~10x the CPU per address; loaded at its first request)",
    )


class ParseResponse(BaseModel):
    results: list[dict[str, Any]] = Field(
        description="per address, in order: Components JSON (raw, normalized, components with offsets) "
        "or an ItemError"
    )


@router.post(
    "/v1/parse",
    response_model=ParseResponse,
    responses=ERRORS,
    summary="parse addresses into components (with offsets into the raw text)",
)
async def parse(body: ParseRequest, request: Request) -> dict[str, Any]:
    if len(body.addresses) > MAX_PARSE:
        raise ApiError(
            413, "too_many_addresses", f"{len(body.addresses)} addresses; the limit is {MAX_PARSE}"
        )
    for i, text in enumerate(body.addresses):
        # the answer echoes the raw text with offsets into it: a lone surrogate cannot be echoed
        # (nor offset meaningfully), so the request is refused, naming the address
        at = lone_surrogate_at(text)
        if at is not None:
            raise ApiError(
                422, "invalid_text", f"addresses[{i}]: a lone UTF-16 surrogate at character {at} is not text"
            )
    max_chars = request.app.state.settings.max_chars
    # the CRF is CPU work: keep it off the event loop that also feeds the match engine
    try:
        results = await asyncio.to_thread(_parse_each, body.addresses, max_chars, body.model)
    except ModelLoadError as exc:
        raise ApiError(503, "model_unavailable", f"the {body.model} parser cannot be loaded: {exc}") from exc
    return {"results": results}


@functools.cache
def _parser(model: str) -> Any:
    """The parser a request names, loaded once (the neural one at its first request: ~1 s)."""
    from geoalign.address.parse import Parser, default_parser

    parser = default_parser() if model == "linear" else Parser(model)
    parser.load()  # a model that cannot load is the request's error, not each address's
    return parser


def _parse_each(addresses: list[str], max_chars: int, model: str = "linear") -> list[dict[str, Any]]:
    """Components JSON per address; a bad address gets an ItemError in its slot, never failing the
    others (the page shows the error beside that address)."""
    from geoalign.errors import InputError
    from geoalign.types import ItemError

    parse_one = _parser(model).parse

    out: list[dict[str, Any]] = []
    for text in addresses:
        try:
            if len(text) > max_chars:
                # the one length policy (CLI, Python, /v1/match): the first max_chars characters are
                # parsed and the answer says so; offsets into that prefix are offsets into the text
                found = parse_one(text[:max_chars]).to_dict()
                found["raw"] = text
                found["truncated"] = {"by": "max_chars", "at_char": max_chars}
                out.append(found)
                continue
            out.append(parse_one(text).to_dict())
        except InputError as exc:
            out.append(ItemError(exc.code, str(exc)).to_dict())
        except Exception as exc:  # a parser bug on one address must not cost the others their answer
            log.exception("parsing %r failed", text[:80])
            out.append(ItemError("parse_failed", f"the parser failed: {type(exc).__name__}").to_dict())
    return out
