"""Review of a job's outputs: which version of each output is current, what the quality
measures flag for a reviewer, and the reviewer's verdict (spec §2.9's `feedback`,
`feedback_comment`, `detail_needs_review`, `detail_review_reason`, `version`)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import update
from sqlalchemy.orm import Session

from vestis.contract.jobs import FeedbackRequest
from vestis.quality import review as quality_review
from vestis.server.errors import ApiError, invalid, not_found
from vestis.server.guard.security import new_public_id
from vestis.server.jobqueue import OUTPUT, JobQueue
from vestis.server.services import credits
from vestis.server.store.models import Job, JobOutput, utcnow

#: The review thresholds are the measures' own (`vestis measure` says the same as a result).
LOW_SCORE = quality_review.LOW_SCORE
SHARP_ENOUGH = quality_review.SHARP_ENOUGH
KEPT_ENOUGH = quality_review.KEPT_ENOUGH

LIKE, DISLIKE = "like", "dislike"


def slot(output: JobOutput) -> tuple[int, int]:
    """What versions of one output share: (image_index, group_index), as the spec keys them."""
    return output.image_index, output.group_index


def _rank(output: JobOutput) -> tuple[bool, int]:
    # a completed version beats any other; among equals the newest wins
    return output.status == "completed", output.version


def current_outputs(outputs: Iterable[JobOutput]) -> list[JobOutput]:
    """One output per slot, in job order: the newest completed version, else the newest.
    So a redo that is still running or failed never hides a good earlier version."""
    best: dict[tuple[int, int], JobOutput] = {}
    for output in outputs:
        key = slot(output)
        if key not in best or _rank(output) > _rank(best[key]):
            best[key] = output
    return sorted(best.values(), key=lambda o: (o.position, o.version))


def versions_of(job: Job, output: JobOutput) -> list[JobOutput]:
    """Every version of `output`'s slot, oldest first."""
    return sorted((o for o in job.outputs if slot(o) == slot(output)), key=lambda o: o.version)


def review_reasons(output: JobOutput) -> list[str]:
    """Why a reviewer should look twice at a completed output (empty: nothing flagged)."""
    if output.status != "completed":
        return []
    return quality_review.review_reasons(
        output.metrics, output.warnings or [], output.quality_score
    )


def output_of(job: Job, output_id: str) -> JobOutput:
    for output in job.outputs:
        if output.public_id == output_id:
            return output
    raise not_found("Output", output_id)


def set_feedback(
    db: Session, job: Job, output_ids: list[str], body: FeedbackRequest
) -> list[JobOutput]:
    """Record one verdict (and note, if sent) on each output; fields not sent stay as they
    are. Every id must be an output of `job` (else 404 and nothing changes)."""
    outputs = [output_of(job, output_id) for output_id in output_ids]
    sent = body.model_fields_set
    if "feedback" not in sent and "feedback_comment" not in sent:
        raise invalid("Send feedback (like, dislike or null) and/or feedback_comment.", "feedback")
    if body.feedback == LIKE:
        unfinished = [o.public_id for o in outputs if o.status != "completed"]
        if unfinished:
            raise invalid(
                f"Only completed outputs can be approved; not {', '.join(unfinished)}.",
                "feedback",
            )
    now = utcnow()
    for output in outputs:
        if "feedback" in sent:
            output.feedback = body.feedback
            output.reviewed_at = now if body.feedback is not None else None
        if "feedback_comment" in sent:
            output.feedback_comment = (body.feedback_comment or "").strip() or None
    db.flush()
    return outputs


# --- redo: one output again, as its next version ------------------------------------------------

#: Seeds of successive versions are this far apart (another seed: another face, another look).
#: Not the identity retries' step (server/pipeline/delivery.py): a redo must not make again what a
#: retry
#: of the same output already made and rejected; 1 000 003 is beyond any number of retries.
REDO_SEED_STEP = 1_000_003


def redo_seed(seed: int) -> int:
    """The seed of the next version of an output whose seed is `seed`."""
    return (seed + REDO_SEED_STEP) & 0x7FFFFFFF


def redo(db: Session, queue: JobQueue, job: Job, output_id: str) -> JobOutput:
    """Make one output again as the next `version` of its (image_index, group_index): a new
    output row with another seed, charged like any output (refunded if it fails), and one more
    output task deferred in the same transaction. The earlier versions stay; results show the
    new one once it is made."""
    if job.status not in ("completed", "failed"):
        raise ApiError(
            409, "Job not finished", f"Job {job.public_id} is {job.status}; redo after it ends."
        )
    versions = versions_of(job, output_of(job, output_id))
    if any(v.status in ("pending", "processing") for v in versions):
        raise ApiError(409, "Redo running", "A new version of this output is being made already.")
    latest = versions[-1]
    if not credits.charge(db, job.user_id, latest.price):
        raise ApiError(
            402,
            "Insufficient credits",
            f"A redo costs {latest.price:g} credits; the balance is "
            f"{credits.balance(db, job.user_id):g}.",
        )
    spec = dict(latest.spec)
    spec["seed"] = redo_seed(int(spec.get("seed") or 0))
    new = JobOutput(
        public_id=new_public_id("out"),
        position=latest.position,
        image_index=latest.image_index,
        group_index=latest.group_index,
        variation=latest.variation,
        version=latest.version + 1,
        original_filename=latest.original_filename,
        output_format=latest.output_format,
        spec=spec,
        price=latest.price,
    )
    job.outputs.append(new)
    db.execute(
        update(Job)
        .where(Job.id == job.id)
        .values(credits_charged=Job.credits_charged + latest.price)
        .execution_options(synchronize_session=False)
    )
    db.expire(job, ["credits_charged"])
    db.flush()
    queue.defer(db, OUTPUT, new.public_id)
    return new
