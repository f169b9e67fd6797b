"""`POST /download`, `POST /download/bulk`, `GET /download/{token}` (spec §2.10)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse

from vestis.contract.common import ErrorBody
from vestis.contract.downloads import BulkDownloadRequest, DownloadRequest, DownloadResponse
from vestis.server.http.deps import DbDep, SessionRoute, StateDep, UserDep
from vestis.server.services import downloads

router = APIRouter(route_class=SessionRoute, prefix="/download", tags=["downloads"])


@router.post("", response_model=DownloadResponse, responses={404: {"model": ErrorBody}})
def download(state: StateDep, db: DbDep, user: UserDep, body: DownloadRequest) -> DownloadResponse:
    return downloads.create(db, user, state.settings.base_url, [body.job_id], body.approved_only)


@router.post("/bulk", response_model=DownloadResponse, responses={404: {"model": ErrorBody}})
def bulk_download(
    state: StateDep, db: DbDep, user: UserDep, body: BulkDownloadRequest
) -> DownloadResponse:
    return downloads.create(db, user, state.settings.base_url, body.job_ids, body.approved_only)


@router.get(
    "/{token}",
    response_class=Response,
    responses={
        200: {"content": {"application/zip": {}}},
        403: {"model": ErrorBody},
        404: {"model": ErrorBody},
    },
)
def fetch(state: StateDep, db: DbDep, token: str) -> StreamingResponse:
    """The ZIP itself; no auth, the token is the proof. Expired links answer 403."""
    pieces, filename = downloads.build_zip(db, state.blobs, token)
    return StreamingResponse(
        pieces,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
