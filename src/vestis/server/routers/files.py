"""Signed, auth-free GETs of stored images: uploaded inputs, outputs and their thumbnails."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from vestis.contract.common import ErrorBody
from vestis.server.deps import SessionRoute, StateDep
from vestis.server.errors import ApiError
from vestis.server.services import files

router = APIRouter(route_class=SessionRoute, tags=["files"])


@router.get(
    "/files/{kind}/{object_id}",
    response_class=FileResponse,
    responses={403: {"model": ErrorBody}, 404: {"model": ErrorBody}},
)
def get_file(
    request: Request,
    kind: Literal["inputs", "outputs", "thumbnails", "identities"],
    object_id: str,
    state: StateDep,
) -> FileResponse:
    problem = state.signer.check(
        "GET",
        request.url.path,
        request.query_params.get("expires"),
        request.query_params.get("signature"),
    )
    if problem:
        raise ApiError(403, "Forbidden", problem)
    with state.db.session() as db:
        found = files.locate(db, kind, object_id)
    if found is None or not state.blobs.exists(found.blob_key):
        raise ApiError(404, "Not found", "That file no longer exists.")
    return FileResponse(
        state.blobs.path(found.blob_key),
        media_type=found.content_type,
        filename=found.filename,
        content_disposition_type="inline",
    )
