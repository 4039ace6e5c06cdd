"""Optional API key: ``Authorization: Bearer <key>``. No key configured = open (the server binds
127.0.0.1 by default, so an open server is only reachable locally unless someone chose otherwise)."""

from __future__ import annotations

import hmac

from fastapi import Request

from geoalign.server.errors import ApiError


def check_api_key(request: Request) -> None:
    """FastAPI dependency: 401 unless the configured key is presented (constant-time comparison)."""
    expected: str | None = request.app.state.settings.api_key
    if not expected:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise ApiError(
            401,
            "unauthorized",
            "missing or wrong API key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
