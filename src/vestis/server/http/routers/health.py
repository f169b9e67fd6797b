"""`GET /health`: liveness, the engine and worker threads making outputs here, version (no
auth)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from vestis import __version__
from vestis.server.http.deps import SessionRoute, StateDep
from vestis.server.store import disk

router = APIRouter(route_class=SessionRoute, tags=["health"])


@router.get("/health", responses={503: {"description": "The data dir's disk is (nearly) full"}})
def health(state: StateDep) -> JSONResponse:
    """Liveness, and whether the data dir can take an upload: 503 with `status: "disk_full"`
    when less than `MIN_FREE_BYTES` are free (it says 200 again once space is freed)."""
    free = disk.free_bytes(state.settings.data_dir)
    full = free < disk.MIN_FREE_BYTES
    workers = state.settings.workers
    body = {
        "status": "disk_full" if full else "ok",
        # an API process that makes no outputs (`--workers 0`) names no engine: the workers'
        # engines make them, and they may differ from the one it loaded for face checks
        "engine": state.engine_name if workers > 0 else None,
        "workers": workers,
        "version": __version__,
        "disk": {"free_bytes": free, "min_free_bytes": disk.MIN_FREE_BYTES},
    }
    return JSONResponse(body, status_code=503 if full else 200)
