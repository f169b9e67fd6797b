"""`GET /health`: liveness, engine name and version (no auth)."""

from __future__ import annotations

from fastapi import APIRouter

from vestis import __version__
from vestis.server.deps import StateDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(state: StateDep) -> dict[str, str]:
    return {"status": "ok", "engine": state.engine_name, "version": __version__}
