"""The database side of the pipeline: claiming an output, recording its result, finishing the
job, and the events of each step. Every counter several workers touch is one SQL statement
(`processed + 1`, refunds), and recording locks the job's row first, so the worker that records
the last output of a job is the one that finishes it, exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from vestis.server.jobqueue import JOB, OUTPUT
from vestis.server.pipeline.inputs import anchor_position
from vestis.server.services import credits
from vestis.server.services.jobs import MODEL_SWAP
from vestis.server.services.notify import NotificationBus
from vestis.server.services.review import current_outputs
from vestis.server.store.models import Job, JobOutput, utcnow

UNFINISHED = ("pending", "processing")


@dataclass(frozen=True)
class Claim:
    """An output this worker has taken (`attempt` fences its result: see `record`)."""

    output_pk: int
    output_id: str
    attempt: int
    price: float
    image_index: int
    group_index: int
    variation: int
    fmt: str
    spec: dict[str, Any]
    job_pk: int
    job_id: str
    user_id: int
    job_type: str
    request: dict[str, Any]
    is_anchor: bool
    #: 0 for the job's own outputs; a redo (a later version) runs after its job has ended.
    version: int = 0


@dataclass(frozen=True)
class Stored:
    """What the store step made of an engine output."""

    blob_key: str
    thumb_key: str
    model_used: str | None
    quality_score: float | None
    warnings: list[str]
    #: Who made it (the engine of the chain), the upstream work behind it and its cost there,
    #: and the share of pixels the garment lock kept.
    engine: str | None = None
    upstream_id: str | None = None
    upstream_credits: float | None = None
    garment_locked_share: float | None = None
    #: What vestis.quality measured (the result's `metrics`) and the output face's embedding.
    metrics: dict[str, Any] | None = None
    face_embedding: list[float] | None = None


def batch_event(job: Job) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id_task": job.public_id,
        "job_id": job.public_id,
        "job_type": job.job_type,
        "status": job.status,
        "total_images": job.total_outputs,
        "processed_images": job.processed,
    }
    if job.error_message:
        data["error_message"] = job.error_message
    return data


def start_job(db: Session, bus: NotificationBus, job_pk: int) -> bool:
    """pending -> processing (with its event); False if the job had started already."""
    started = db.execute(
        update(Job)
        .where(Job.id == job_pk, Job.status == "pending")
        .values(status="processing", updated_at=utcnow())
    )
    if started.rowcount != 1:  # type: ignore[attr-defined]
        return False
    job = db.get(Job, job_pk)
    assert job is not None
    db.refresh(job)
    bus.publish(db, job.user_id, "batch_edit", batch_event(job))
    return True


def next_outputs(job: Job) -> list[JobOutput]:
    """The outputs to defer now: the anchor alone while it is unfinished, else every
    unfinished output."""
    unfinished = [o for o in job.outputs if o.status in UNFINISHED]
    anchor = anchor_position(job)
    if anchor is not None and any(o.id == anchor for o in unfinished):
        return [o for o in unfinished if o.id == anchor]
    return unfinished


def claim(db: Session, bus: NotificationBus, output_id: str) -> Claim | None:
    """Take one unfinished output of a running job (pending, or processing by a worker that is
    gone: the caller holds the output's exclusive lock). None when there is nothing to do."""
    output = db.scalar(select(JobOutput).where(JobOutput.public_id == output_id))
    if output is None or output.status not in UNFINISHED:
        return None
    job = output.job
    redo = output.version > 0 and job.status != "aborted"
    if job.status not in UNFINISHED and not redo:
        return None  # aborted: its unstarted outputs were failed and refunded by the abort
    attempt = db.scalar(
        update(JobOutput)
        .where(JobOutput.id == output.id, JobOutput.attempts == output.attempts)
        .where(JobOutput.status.in_(UNFINISHED))
        .values(status="processing", attempts=JobOutput.attempts + 1)
        .returning(JobOutput.attempts)
        .execution_options(synchronize_session=False)
    )
    if attempt is None:
        return None
    if not redo:
        start_job(db, bus, job.id)
    return Claim(
        output_pk=output.id,
        output_id=output.public_id,
        attempt=attempt,
        price=output.price,
        image_index=output.image_index,
        group_index=output.group_index,
        variation=output.variation,
        fmt=output.output_format,
        spec=dict(output.spec),
        job_pk=job.id,
        job_id=job.public_id,
        user_id=job.user_id,
        job_type=job.job_type,
        request=dict(job.request),
        is_anchor=anchor_position(job) == output.id,
        version=output.version,
    )


def record(
    db: Session,
    bus: NotificationBus,
    claim: Claim,
    stored: Stored | None,
    error: str | None,
    elapsed: float,
) -> list[JobOutput] | None:
    """Record one output's result, refund a failure, emit its events and finish the job if it
    was the last. None when the claim was lost (another worker took the output over after this
    one was presumed dead): nothing is changed. Otherwise the outputs that were waiting for
    this one (the anchor's followers), for the caller to defer."""
    failed = stored is None or error is not None
    refund = claim.price if failed else 0.0
    if refund:  # the user's row before the job's, as every transaction takes them
        credits.lock_user(db, claim.user_id)
    # Locks the job row: recorders of one job go one at a time from here on. A redo is not one
    # of the job's outputs to count.
    processed = db.execute(
        update(Job)
        .where(Job.id == claim.job_pk)
        .values(
            processed=Job.processed + (0 if claim.version else 1),
            credits_refunded=Job.credits_refunded + refund,
            updated_at=utcnow(),
        )
        .returning(Job.processed)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    values: dict[str, Any] = {"processing_time": elapsed}
    if stored is not None and not failed:
        values.update(
            status="completed",
            blob_key=stored.blob_key,
            thumb_key=stored.thumb_key,
            model_used=stored.model_used,
            quality_score=stored.quality_score,
            warnings=list(stored.warnings),
            engine=stored.engine,
            upstream_id=stored.upstream_id,
            upstream_credits=stored.upstream_credits,
            garment_locked_share=stored.garment_locked_share,
            metrics=stored.metrics,
            face_embedding=stored.face_embedding,
        )
    else:
        values.update(status="failed", error_message=error)
    mine = db.execute(
        update(JobOutput)
        .where(JobOutput.id == claim.output_pk, JobOutput.status == "processing")
        .where(JobOutput.attempts == claim.attempt)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if mine.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        return None
    credits.refund(db, claim.user_id, refund)
    job = db.get(Job, claim.job_pk)
    assert job is not None
    db.refresh(job)
    bus.publish(db, claim.user_id, "image_result", _image_event(claim, job, values, processed))
    followers: list[JobOutput] = []
    if claim.version:
        settle_after_redo(db, bus, job)
        return followers
    if claim.is_anchor:
        followers = [o for o in job.outputs if o.status in UNFINISHED]
    if not followers:
        finish_if_done(db, bus, job)
    return followers


def settle_after_redo(db: Session, bus: NotificationBus, job: Job) -> None:
    """A failed job whose redo made an output is completed now (with its event)."""
    if job.status != "failed":
        return
    current = current_outputs(job.outputs)
    if not any(o.status == "completed" for o in current):
        return
    failed = sum(1 for o in current if o.status == "failed")
    job.status = "completed"
    job.error_message = (
        f"{failed} of {len(current)} output(s) failed; see each result's error_message."
        if failed
        else None
    )
    job.updated_at = utcnow()
    db.flush()
    bus.publish(db, job.user_id, "batch_edit", batch_event(job))


def _image_event(claim: Claim, job: Job, values: dict[str, Any], processed: int) -> dict[str, Any]:
    return {
        "id_task": claim.job_id,
        "job_id": claim.job_id,
        "image_id": claim.output_id,
        "image_index": claim.image_index,
        "group_index": claim.group_index,
        "version": claim.version,
        "status": values["status"],
        "error_message": values.get("error_message"),
        "processed_images": processed,
        "total_images": job.total_outputs,
    }


def finish_if_done(db: Session, bus: NotificationBus, job: Job) -> None:
    """End the job when no output is left to make (call with the job's row locked)."""
    if job.status not in UNFINISHED:
        return  # aborted: the abort told everyone
    left = db.scalar(
        select(func.count(JobOutput.id)).where(
            JobOutput.job_id == job.id, JobOutput.status.in_(UNFINISHED)
        )
    )
    if left:
        return
    failed = [o for o in job.outputs if o.status == "failed"]
    if failed and len(failed) == len(job.outputs):
        job.status = "failed"
        job.error_message = f"All {len(failed)} output(s) failed: {failed[0].error_message}"
    else:
        job.status = "completed"
        if failed:
            job.error_message = (
                f"{len(failed)} of {len(job.outputs)} output(s) failed; see each result's "
                "error_message."
            )
    job.updated_at = utcnow()
    db.flush()
    bus.publish(db, job.user_id, "batch_edit", batch_event(job))
    if job.job_type == MODEL_SWAP:
        name = "completed" if job.status == "completed" else "error"
        data = {"job_id": job.public_id, "id_task": job.public_id, "status": job.status}
        if job.error_message:
            data["error_message"] = job.error_message
        bus.publish(db, job.user_id, name, data)


def unattended(db: Session, live: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The work no task attends (`live`: the queue's tasks): `("job", id)` for each unfinished
    job without a task for it or for any of its unfinished outputs, `("output", id)` for each
    unfinished redo of an ended job without a task."""
    rows = db.execute(
        select(Job.public_id, Job.status, JobOutput.public_id)
        .outerjoin(JobOutput, and_(JobOutput.job_id == Job.id, JobOutput.status.in_(UNFINISHED)))
        .where(or_(Job.status.in_(UNFINISHED), JobOutput.id.is_not(None)))
    ).all()
    jobs: dict[str, list[str]] = {}
    found: set[tuple[str, str]] = set()
    for job_id, status, output_id in rows:
        if status in UNFINISHED:
            jobs.setdefault(job_id, []).extend([output_id] if output_id else [])
        elif (OUTPUT, output_id) not in live:
            found.add((OUTPUT, output_id))
    for job_id, outputs in jobs.items():
        if (JOB, job_id) not in live and all((OUTPUT, o) not in live for o in outputs):
            found.add((JOB, job_id))
    return found
