"""`POST /model-swap`, `POST /flat-2-model` (202), `GET /jobs/{id}/status|results`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from vestis.contract.common import ErrorBody
from vestis.contract.jobs import (
    Flat2ModelRequest,
    JobCreatedResponse,
    JobResultsResponse,
    JobStatusResponse,
    ModelSwapRequest,
)
from vestis.server.errors import ApiError
from vestis.server.http.deps import (
    DbDep,
    SessionRoute,
    StateDep,
    UserDep,
    bearer,
    checks_token_itself,
)
from vestis.server.http.status_reads import StatusReader
from vestis.server.process.runtime import Runtime
from vestis.server.services import credits, jobs, uploads
from vestis.server.services.idempotency import KeyedRequest
from vestis.server.services.jobs import Created
from vestis.server.store.models import User

router = APIRouter(route_class=SessionRoute, tags=["jobs"])

CREATION_ERRORS: dict[int | str, dict[str, object]] = {
    402: {"model": ErrorBody, "description": "Not enough credits"},
    404: {"model": ErrorBody},
    422: {"model": ErrorBody},
    429: {"model": ErrorBody, "description": "Too many job creations (Retry-After)"},
}
PATHS = {
    jobs.MODEL_SWAP: "/model-swap",
    jobs.FLAT_2_MODEL: "/flat-2-model",
    jobs.CREATE_PACKSHOT: "/create-packshot",
    jobs.GARMENT_RECOLOR: "/garment-recolor",
    jobs.IDENTITY_CREATION: "/identity/create",
}
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


async def get_runtime(state: StateDep) -> Runtime:
    assert state.runtime is not None
    return state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _rate_limit(runtime: Runtime, db: Session, user_id: int) -> None:
    """Count the job in the user's window, in the transaction that creates it."""
    wait = runtime.limiter.hit(user_id, db)
    if wait is not None:
        per_minute = runtime.limiter.per_minute
        raise ApiError(
            429,
            "Too many requests",
            f"At most {per_minute} jobs per {runtime.limiter.window}; retry in {wait} s.",
            headers={"Retry-After": str(wait)},
        )


def _answer(created: Created) -> JSONResponse:
    body = created.body
    if created.kind == jobs.IDENTITY_CREATION:  # the hosted API's shape for drafts
        body = {"job_id": body["job_id"], "total_variations": body["total_outputs"]}
    return JSONResponse(body, status_code=202)


def _create(
    runtime: Runtime,
    db: Session,
    user: User,
    kind: str,
    body: jobs.AnyRequest,
    idempotency_key: str | None,
) -> JSONResponse:
    """Replay the answer of an Idempotency-Key seen before (no rate limit: no new job), or
    create the job within the user's rate limit. Only a job that is really created counts
    against the limit: a request refused for its content (404, 422, 402) does not."""
    keyed = KeyedRequest.of(idempotency_key, "POST", PATHS[kind], body)
    # The user's row before any other (the uploads' rows, the job's): one lock order with every
    # transaction that charges or refunds, and the rate limit's count goes one at a time.
    credits.lock_user(db, user.id)
    replayed = jobs.replay(db, user, keyed)
    if replayed is not None:
        replayed.kind = kind
        return _answer(replayed)
    uploads.settle(runtime.state, db, user.id, jobs.named_files(body))
    created = jobs.create(
        db,
        user,
        kind,
        body,
        keyed,
        enqueue=runtime.enqueue_job,
        admit=lambda: _rate_limit(runtime, db, user.id),
    )
    return _answer(created)


@router.post(
    "/model-swap",
    status_code=202,
    response_model=JobCreatedResponse,
    responses=CREATION_ERRORS,
)
def model_swap(
    runtime: RuntimeDep,
    db: DbDep,
    user: UserDep,
    body: ModelSwapRequest,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return _create(runtime, db, user, jobs.MODEL_SWAP, body, idempotency_key)


@router.post(
    "/flat-2-model",
    status_code=202,
    response_model=JobCreatedResponse,
    responses=CREATION_ERRORS,
)
def flat_2_model(
    runtime: RuntimeDep,
    db: DbDep,
    user: UserDep,
    body: Flat2ModelRequest,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return _create(runtime, db, user, jobs.FLAT_2_MODEL, body, idempotency_key)


@router.get(
    "/jobs/{job_id}/status",
    response_model=JobStatusResponse,
    responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody}},
    dependencies=[Depends(checks_token_itself)],
)
async def job_status(request: Request, state: StateDep, job_id: str) -> Response:
    """The polling hot path: one query, no ORM, no thread-pool hop (`status_reads`)."""
    reader: StatusReader = request.app.state.status_reader
    body = await reader.answer(bearer(request), job_id)
    return Response(body, media_type="application/json")


@router.post(
    "/jobs/{job_id}/abort",
    response_model=JobStatusResponse,
    responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}},
)
def abort_job(runtime: RuntimeDep, db: DbDep, user: UserDep, job_id: str) -> JobStatusResponse:
    """Extension: stop a pending or processing job; unstarted outputs are refunded."""
    job = jobs.owned(db, user, job_id)
    events = jobs.abort(db, job)
    for name, data in events:
        runtime.bus.emit(user.id, name, data)
    return jobs.status(job)


AllVersions = Annotated[
    bool,
    Query(
        description="vestis extension: every version of each output (redos), oldest first, "
        "instead of only the current one."
    ),
]


@router.get("/jobs/{job_id}/results", response_model=JobResultsResponse)
def job_results(
    state: StateDep, db: DbDep, user: UserDep, job_id: str, all_versions: AllVersions = False
) -> JobResultsResponse:
    """The current version of each output: the newest completed one (a redo still running or
    failed leaves the earlier version in place), else the newest."""
    return jobs.results(db, state.signer, jobs.owned(db, user, job_id), all_versions)
