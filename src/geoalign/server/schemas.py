"""Pydantic models of the HTTP contract (ARCHITECTURE.md): they drive validation and the OpenAPI spec.

Responses are built from ``Match.to_dict()`` / ``ItemError.to_dict()`` directly (one JSON shape
everywhere); the response models here document that shape in the spec.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class PairIn(BaseModel):
    """One address pair. ``a`` is the query side, ``b`` the candidate (exact_match is one-directional)."""

    model_config = ConfigDict(extra="forbid")

    a: str = Field(description="query address", examples=["浙江省杭州市西湖区文三路369号"])
    b: str = Field(description="candidate address", examples=["杭州市文三路369号"])


class MatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pairs: list[PairIn] = Field(
        description="pairs to compare; at most the server's --max-pairs per request (else 413)"
    )
    timeout_ms: int | None = Field(
        default=None,
        ge=1,
        le=600_000,
        description="deadline for this request; items not scored by then answer deadline_exceeded",
    )


class ErrorBody(BaseModel):
    code: str = Field(examples=["overloaded"], description="the precise reason, machine-readable")
    type: str = Field(
        examples=["overloaded"],
        description="the class of error: invalid_request, authentication, not_found, timeout, conflict, "
        "overloaded, unavailable, internal",
    )
    message: str


class ErrorResponse(BaseModel):
    """Every non-2xx answer has this shape."""

    error: ErrorBody


class ItemErrorBody(BaseModel):
    code: str = Field(examples=["not_a_string"])
    message: str


class ItemErrorResponse(BaseModel):
    """A pair that could not be scored, in its own slot of ``results`` (the ItemError contract)."""

    error: ItemErrorBody


class ComponentOut(BaseModel):
    name: str
    a: str | None
    b: str | None
    status: Literal["agree", "similar", "conflict", "only_a", "only_b"]


class MatchOut(BaseModel):
    label: Literal["exact_match", "partial_match", "not_match"]
    probabilities: dict[str, float]
    scorer: str
    model: str
    explanation: dict[str, Any] | None = None
    timings_ms: dict[str, float] | None = None


class MatchResponse(BaseModel):
    results: list[MatchOut | ItemErrorResponse] = Field(
        description="one entry per input pair, in request order: a Match or an ItemError"
    )


class ModelInfo(BaseModel):
    scorer: str
    model: str
    ready: bool
    details: dict[str, Any] | None = None
    #: the batching knobs this server runs with (token budget, batch and queue limits)
    engine: dict[str, Any] | None = None


class ModelsResponse(BaseModel):
    models: list[ModelInfo]


class StatusResponse(BaseModel):
    status: str


class InfoLimits(BaseModel):
    max_pairs: int
    max_chars: int
    max_body_bytes: int
    max_queue: int
    token_budget: int
    default_timeout_ms: int | None
    body_timeout_s: float | None


class InfoResponse(BaseModel):
    version: str
    scorer: str | None = Field(description="null until the model is loaded")
    model: str | None = Field(description="model id / checksum; null until the model is loaded")
    ready: bool
    auth_required: bool
    limits: InfoLimits
