"""`POST /upload` and the signed `PUT /upload/{file_id}` (spec §2.1, §2.2)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from vestis.contract.common import ErrorBody
from vestis.contract.uploads import MAX_UPLOAD_BYTES, UploadRequest, UploadResponse
from vestis.server.errors import ApiError
from vestis.server.http.deps import DbDep, SessionRoute, StateDep, UserDep
from vestis.server.services import uploads

router = APIRouter(route_class=SessionRoute, tags=["uploads"])


@router.post("/upload", response_model=UploadResponse, responses={422: {"model": ErrorBody}})
def create_upload(state: StateDep, db: DbDep, user: UserDep, body: UploadRequest) -> UploadResponse:
    return uploads.reserve(state, db, user, body.filename, body.project_name)


def _too_large() -> ApiError:
    return ApiError(
        413,
        "Upload too large",
        f"Uploads are limited to {MAX_UPLOAD_BYTES} bytes; scale the image down.",
    )


async def _receive(request: Request, target: Path) -> bytes:
    """The body, capped at MAX_UPLOAD_BYTES, also written to `target` as it arrives (page-cache
    writes of one chunk are cheap enough for the event loop)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    with open(target, "wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise _too_large()
            out.write(chunk)
            chunks.append(chunk)
    return b"".join(chunks)


@router.put(
    "/upload/{file_id}",
    status_code=200,
    responses={
        403: {"model": ErrorBody},
        404: {"model": ErrorBody},
        409: {"model": ErrorBody, "description": "The link was used already (other bytes)"},
        413: {"model": ErrorBody},
        415: {"model": ErrorBody},
    },
)
async def put_upload(request: Request, file_id: str, state: StateDep) -> JSONResponse:
    """The pre-signed PUT: no Authorization header, the signature in the query is the proof."""
    problem = state.signer.check(
        "PUT",
        uploads.upload_path(file_id),
        request.query_params.get("expires"),
        request.query_params.get("signature"),
    )
    if problem:
        raise ApiError(403, "Forbidden", problem)
    temp = state.blobs.temp_path()
    try:
        data = await _receive(request, temp)
        await run_in_threadpool(uploads.store, state, file_id, data, temp)
    finally:
        temp.unlink(missing_ok=True)  # gone already when it was adopted
    return JSONResponse({"file_id": file_id, "size": len(data)}, status_code=200)
