"""``POST /v1/labels`` / ``GET /v1/labels``: labels of pairs reviewed on the page, saved by the
``LabelStore`` (``io/label_store.py``) on ``app.state.labels`` as ``<set>.tsv`` in the format
``geoalign train --pairs`` reads.

Writing to the server's disk is off unless the operator chose it: ``app.state.labels`` is None unless a
labels directory is configured (``geoalign serve`` sets one only with ``--labels-dir`` or an API key).
Answers name the file inside the labels directory, never an absolute server path.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from geoalign.address.clean import lone_surrogate_at
from geoalign.io.label_store import DEFAULT_SET, Labelled, LabelsFileUnreadable, LabelStore
from geoalign.server.errors import ApiError
from geoalign.server.schemas import ErrorResponse

router = APIRouter()

#: Most labels in one POST /v1/labels (the page sends one per key press; a re-sync sends its backlog).
MAX_LABELS_PER_REQUEST: Final[int] = 5000
MAX_ID_CHARS: Final[int] = 200

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in {
        401: "missing or wrong API key",
        404: "no labels saved in this set yet",
        409: "labels are not enabled on this server, or the set's file was broken by hand",
        413: "too many items in one request",
        415: "the body is not declared as JSON",
        422: "request does not match the schema",
    }.items()
}


class LabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    a: str = Field(min_length=1, description="query address, as it stands in the reviewed file")
    b: str = Field(min_length=1, description="candidate address")
    label: StrictStr | StrictInt = Field(
        description="exact_match, partial_match or not_match (or 2, 1, 0 in the CCKS order)"
    )
    a_id: StrictStr | StrictInt | None = Field(
        default=None, description="id of the query's record (saved in column a_id)"
    )
    b_id: StrictStr | StrictInt | None = Field(
        default=None, description="id of the candidate's record (saved in column b_id)"
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
    file: str = Field(
        description="the set's file name inside the server's labels directory "
        "(`geoalign train --pairs DIR/FILE`, or download it with GET /v1/labels)"
    )
    saved: int = Field(description="labels in this request")
    total: int = Field(description="pairs labelled in the set")
    counts: dict[str, int] = Field(description="labelled pairs per label")


def _one_line(text: str) -> str:
    """TSV has no quoting: a tab or line break inside an address would split the row. Every scorer's
    safe cleaning turns them into one space too, so the label still belongs to the text it scored."""
    return " ".join(text.split())


def _store(request: Request) -> LabelStore:
    store: LabelStore | None = request.app.state.labels
    if store is None:
        raise ApiError(
            409,
            "labels_disabled",
            "this server saves no labels: start it with `geoalign serve --labels-dir DIR` "
            "(or with --api-key, which saves into ./geoalign-labels)",
        )
    return store


@router.post(
    "/v1/labels",
    response_model=LabelsResponse,
    responses=_ERRORS,
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
    clean: list[Labelled] = []
    for i, item in enumerate(body.labels):
        try:
            label = parse_label(item.label)
        except ValueError as exc:
            raise ApiError(422, "invalid_label", f"labels[{i}]: {exc}") from exc
        a, b = _one_line(item.a), _one_line(item.b)
        if not a or not b:
            raise ApiError(422, "invalid_label", f"labels[{i}]: an address is empty")
        if lone_surrogate_at(a) is not None or lone_surrogate_at(b) is not None:
            raise ApiError(422, "invalid_label", f"labels[{i}]: an address holds a lone UTF-16 surrogate")
        a_id, b_id = ("" if v is None else _one_line(str(v)) for v in (item.a_id, item.b_id))
        if max(len(a_id), len(b_id)) > MAX_ID_CHARS:
            raise ApiError(422, "invalid_label", f"labels[{i}]: a record id over {MAX_ID_CHARS} characters")
        clean.append(Labelled(a, b, label, a_id, b_id))
    try:
        summary = store.save(body.set, clean)
    except LabelsFileUnreadable as exc:
        # a hand-edited file that train would refuse too: say so instead of overwriting it
        raise ApiError(409, exc.code, str(exc)) from exc
    return {
        "set": summary.set,
        "file": summary.file,
        "saved": summary.saved,
        "total": summary.total,
        "counts": summary.counts,
    }


@router.get(
    "/v1/labels",
    responses={200: {"content": {"text/tab-separated-values": {}}}, **_ERRORS},
    summary="download a label set as TSV",
    response_class=Response,
)
def download_labels(
    request: Request,
    name: str = Query(DEFAULT_SET, alias="set"),
    if_missing: Literal["404", "empty"] = Query(
        "404", description="a set with no labels yet: 404 no_labels, or 'empty': a file with the header only"
    ),
) -> Response:
    store = _store(request)
    path = store.path(name)
    if not path.exists():
        if if_missing == "empty":
            # the page asks this way: a review that has not saved anything yet is no error (a 404 would
            # be a red line in the browser's console on every load)
            return Response(
                "a\tb\tlabel\n",
                media_type="text/tab-separated-values; charset=utf-8",
                headers={"Cache-Control": "no-store"},
            )
        raise ApiError(404, "no_labels", f"no labels saved in set {name!r} yet")
    return FileResponse(
        path,
        media_type="text/tab-separated-values; charset=utf-8",
        filename=path.name,
        headers={"Cache-Control": "no-store"},
    )
