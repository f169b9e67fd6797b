"""Signed, auth-free GETs of stored images: uploaded inputs, outputs and their thumbnails."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse

from vestis.contract.common import ErrorBody
from vestis.server.errors import ApiError
from vestis.server.http.deps import SessionRoute, StateDep
from vestis.server.services import files

router = APIRouter(route_class=SessionRoute, tags=["files"])

#: With an S3 store, a signed link of this server answers with a short presigned GET.
REDIRECT_TTL_SECONDS = 300


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
    if state.blobs.presigns:  # the bytes are in the bucket: fetch them there
        link = state.blobs.presigned_get(
            found.blob_key, REDIRECT_TTL_SECONDS, found.content_type, found.filename
        )
        return RedirectResponse(link, status_code=307)  # type: ignore[return-value]
    return FileResponse(
        state.blobs.path(found.blob_key),
        media_type=found.content_type,
        filename=found.filename,
        content_disposition_type="inline",
    )
