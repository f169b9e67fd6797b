"""Review of a job's outputs: approve or reject with a note (the results' `feedback` and
`feedback_comment`, spec §2.9), and redo one output as its next `version`. The endpoints are
vestis extensions: the spec shows the fields but not how to set them."""

from __future__ import annotations

from fastapi import APIRouter

from vestis.contract.common import ErrorBody
from vestis.contract.jobs import (
    BulkFeedbackRequest,
    BulkFeedbackResponse,
    FeedbackRequest,
    JobResult,
)
from vestis.server.http.deps import DbDep, SessionRoute, StateDep, UserDep
from vestis.server.services import jobs, review

router = APIRouter(route_class=SessionRoute, tags=["review"])

EXTENSION = {"x-vestis-extension": True}
ERRORS: dict[int | str, dict[str, object]] = {404: {"model": ErrorBody}, 422: {"model": ErrorBody}}


@router.put(
    "/jobs/{job_id}/results/{output_id}/feedback",
    response_model=JobResult,
    responses=ERRORS,
    openapi_extra=EXTENSION,
    summary="Approve or reject one output (vestis extension)",
)
def put_feedback(
    state: StateDep, db: DbDep, user: UserDep, job_id: str, output_id: str, body: FeedbackRequest
) -> JobResult:
    """`feedback`: `like` (approved), `dislike` (rejected) or null (not reviewed);
    `feedback_comment`: the reviewer's note. A field left out keeps its value."""
    job = jobs.owned(db, user, job_id)
    (output,) = review.set_feedback(db, job, [output_id], body)
    return jobs.result(db, state.signer, job, output)


@router.post(
    "/jobs/{job_id}/feedback",
    response_model=BulkFeedbackResponse,
    responses=ERRORS,
    openapi_extra=EXTENSION,
    summary="Approve or reject many outputs of a job at once (vestis extension)",
)
def bulk_feedback(
    state: StateDep, db: DbDep, user: UserDep, job_id: str, body: BulkFeedbackRequest
) -> BulkFeedbackResponse:
    """The same verdict for every output in `output_ids`; all or nothing (an unknown id
    answers 404 and changes nothing)."""
    job = jobs.owned(db, user, job_id)
    outputs = review.set_feedback(db, job, body.output_ids, body)
    return BulkFeedbackResponse(results=[jobs.result(db, state.signer, job, o) for o in outputs])


@router.post(
    "/jobs/{job_id}/results/{output_id}/redo",
    status_code=202,
    response_model=JobResult,
    responses={**ERRORS, 402: {"model": ErrorBody}, 409: {"model": ErrorBody}},
    openapi_extra=EXTENSION,
    summary="Make one output again as its next version (vestis extension)",
)
def redo_output(
    state: StateDep, db: DbDep, user: UserDep, job_id: str, output_id: str
) -> JobResult:
    """202 with the new version (`version` + 1, `pending`), made with another seed and charged
    like any output (refunded if it fails). Results show it once it is made; until then, and
    if it fails, the earlier version stays the current one. 409 while the job runs or a redo
    of the same output is running; 402 without the credits."""
    assert state.runtime is not None
    job = jobs.owned(db, user, job_id)
    made = review.redo(db, state.runtime.queue, job, output_id)
    db.commit()  # the task is handed over with the commit; the answer names a saved row
    return jobs.result(db, state.signer, job, made)
