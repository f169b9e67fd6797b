"""Jobs: creation (validation, credits, idempotency), status and results (spec §2.6 to §2.9)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vestis.contract import pricing
from vestis.contract.jobs import (
    DEFAULT_FORMAT,
    Flat2ModelRequest,
    JobCreatedResponse,
    JobResult,
    JobResultsResponse,
    JobStatusResponse,
    ModelSwapRequest,
    ResultOutput,
    ResultsSummary,
)
from vestis.contract.products import (
    CreatePackshotRequest,
    GarmentRecolorRequest,
    IdentityCreateRequest,
)
from vestis.server.errors import ApiError, invalid, not_found
from vestis.server.guard.security import new_public_id
from vestis.server.media import images
from vestis.server.services import (
    credits,
    files,
    idempotency,
    identities,
    products,
    projects,
    review,
)
from vestis.server.services.accounts import iso
from vestis.server.services.idempotency import KeyedRequest
from vestis.server.store.models import File, Job, JobOutput, User, utcnow
from vestis.server.store.signing import UrlSigner

MODEL_SWAP = "model_swap"
FLAT_2_MODEL = "flat_2_model"
CREATE_PACKSHOT = products.CREATE_PACKSHOT
GARMENT_RECOLOR = products.GARMENT_RECOLOR
IDENTITY_CREATION = products.IDENTITY_CREATION
AnyRequest = (
    ModelSwapRequest
    | Flat2ModelRequest
    | CreatePackshotRequest
    | GarmentRecolorRequest
    | IdentityCreateRequest
)


@dataclass
class Created:
    """A job creation's answer; `job_id` is None for a replayed Idempotency-Key."""

    body: dict[str, Any]
    job_id: str | None
    user_id: int
    kind: str = ""


def replay(db: Session, user: User, keyed: KeyedRequest | None) -> Created | None:
    """The first answer to this keyed request, if there was one (422 for another request)."""
    if keyed is None:
        return None
    body = idempotency.recall(db, user.id, keyed)
    return None if body is None else Created(body, None, user.id)


def _inputs(db: Session, user: User, file_ids: list[str]) -> list[File]:
    found: list[File] = []
    for index, file_id in enumerate(file_ids):
        row = db.scalar(select(File).where(File.public_id == file_id, File.user_id == user.id))
        if row is None:
            raise ApiError(
                404,
                "Not found",
                f"images[{index}]: file {file_id!r} does not exist or is not yours.",
                detail=[{"field": f"images.{index}", "message": "unknown file_id",
                         "position": "body"}],
            )  # fmt: skip
        if not row.uploaded:
            raise invalid(
                f"images[{index}]: file {file_id!r} was reserved but its bytes were never "
                "uploaded; PUT them to the upload_url first.",
                f"images.{index}",
            )
        found.append(row)
    return found


def named_files(request: AnyRequest) -> list[str]:
    """Every file id a job request names: its images and instructions' reference images."""
    if isinstance(request, IdentityCreateRequest):
        return []
    if isinstance(request, GarmentRecolorRequest):
        return list(request.images) + ([request.reference_image] if request.reference_image else [])
    if isinstance(request, ModelSwapRequest):
        return list(request.images)
    # not `annotated_images()`: that validates, and a malformed id is the job's own check's to
    # refuse (422), not this lookup's
    ids = [item if isinstance(item, str) else item.file_id for item in request.images]
    for instruction in request.instructions or ():
        for _field, value in instruction:
            image = getattr(value, "image", None)
            if isinstance(image, str):
                ids.append(image)
    return ids


def _check_reference_images(
    db: Session, user: User, request: Flat2ModelRequest | CreatePackshotRequest
) -> None:
    """Design Values given as `{text, image}` must name an uploaded file of the caller."""
    for index, instruction in enumerate(request.instructions):
        for field, value in instruction:
            file_id = getattr(value, "image", None)
            if not isinstance(file_id, str):
                continue
            row = db.scalar(select(File).where(File.public_id == file_id, File.user_id == user.id))
            if row is None or not row.uploaded:
                raise invalid(
                    f"instructions[{index}].{field}.image: {file_id!r} is not an uploaded file "
                    "of yours.",
                    f"instructions.{index}.{field}.image",
                )


def _charge(db: Session, user: User, cost: float) -> None:
    """Take the job's price in one conditional update (402 when the balance cannot pay)."""
    if credits.charge(db, user.id, cost):
        return
    available = credits.balance(db, user.id)
    message = (
        f"This job costs {cost:g} credits but the balance is {available:g}; "
        "add credits or make a smaller job."
    )
    raise ApiError(
        402,
        "Insufficient credits",
        message,
        detail=[{"field": None, "message": message, "position": "body"}],
        credits_required=cost,
        credits_available=available,
    )


def _honest_name(upload: File) -> tuple[str, str]:
    """(original_filename, output format) for a model-swap output: the input's format, and the
    upload's name with an extension that tells the truth about it."""
    fmt = "png" if upload.image_format == "png" else "jpg"
    named = images.ext_from_filename(upload.filename)
    if named == fmt:
        return upload.filename, fmt
    stem = upload.filename.rsplit(".", 1)[0] if "." in upload.filename else upload.filename
    return f"{stem}.{fmt}", fmt


def _swap_outputs(request: ModelSwapRequest, inputs: list[File], seed: int) -> list[JobOutput]:
    outputs: list[JobOutput] = []
    variations = request.swap_options.num_variations
    for index, upload in enumerate(inputs):
        name, fmt = _honest_name(upload)
        for variation in range(variations):
            outputs.append(
                JobOutput(
                    public_id=new_public_id("out"),
                    position=len(outputs),
                    image_index=index,
                    group_index=variation,
                    variation=variation,
                    original_filename=name,
                    output_format=fmt,
                    price=pricing.model_swap_output_cost(),
                    spec={"file_id": upload.public_id, "seed": seed + index * 101 + variation},
                )
            )
    return outputs


def _flat_outputs(request: Flat2ModelRequest, seed: int) -> list[JobOutput]:
    groups = [
        products.OutputGroup(
            variations=i.num_variations,
            fmt=i.options.format or DEFAULT_FORMAT,
            width=i.options.dimensions()[0],
            height=i.options.dimensions()[1],
            price=pricing.flat_output_cost(i),
            seed=i.effective_seed(),
        )
        for i in request.instructions
    ]
    return products.instruction_outputs(groups, seed, running_index=True)


def _plan(db: Session, user: User, request: AnyRequest, seed: int) -> tuple[list[JobOutput], float]:
    """The job's outputs and price, its files checked."""
    if isinstance(request, IdentityCreateRequest):
        return products.identity_outputs(request, seed), pricing.identity_creation_cost(request)
    if isinstance(request, ModelSwapRequest):
        return _swap_outputs(request, _inputs(db, user, request.images), seed), (
            pricing.model_swap_cost(request)
        )
    if isinstance(request, GarmentRecolorRequest):
        inputs = _inputs(db, user, request.images)
        if request.reference_image:
            _reference_file(db, user, request.reference_image)
        return products.recolor_outputs(request, inputs, seed), pricing.recolor_cost(request)
    _inputs(db, user, [image.file_id for image in request.annotated_images()])
    _check_reference_images(db, user, request)
    if isinstance(request, CreatePackshotRequest):
        return products.packshot_outputs(request, seed), pricing.packshot_cost(request)
    return _flat_outputs(request, seed), pricing.flat_to_model_cost(request)


def _reference_file(db: Session, user: User, file_id: str) -> None:
    row = db.scalar(select(File).where(File.public_id == file_id, File.user_id == user.id))
    if row is None or not row.uploaded:
        raise invalid(
            f"reference_image: {file_id!r} is not an uploaded file of yours.", "reference_image"
        )


def create(
    db: Session,
    user: User,
    job_type: str,
    request: AnyRequest,
    keyed: KeyedRequest | None,
    enqueue: Callable[[Session, Job], None],
    admit: Callable[[], None] = lambda: None,
) -> Created:
    """Validate against the database, charge, and store the job (committed on return).
    `admit` runs once the job is known to be valid and paid for, before the commit; it may
    raise to refuse the job (the rate limit), which then changes nothing. `enqueue` defers the
    job's work in the same transaction: a job never exists without it."""
    if isinstance(request, IdentityCreateRequest):
        project = projects.get_or_create(db, user, products.DRAFTS_PROJECT)
    else:
        project = projects.by_key(db, user, request.project_id)
    identity = None
    if isinstance(request, (ModelSwapRequest, Flat2ModelRequest)):
        identity = identities.owned(db, user, request.identity_code)
        if not identity.face_detected:
            raise invalid(
                f"Identity {identity.code!r} has no detected face; upload a clear face photo.",
                "identity_code",
            )
    public_id = new_public_id("job")
    seed = int(public_id[-8:], 16) % 1_000_000
    outputs, cost = _plan(db, user, request, seed)
    _charge(db, user, cost)
    admit()
    job = Job(
        public_id=public_id,
        user_id=user.id,
        project_id=project.id,
        identity_id=identity.id if identity is not None else None,
        job_type=job_type,
        request=request.model_dump(mode="json"),
        total_outputs=len(outputs),
        credits_charged=cost,
        outputs=outputs,
    )
    db.add(job)
    db.flush()
    enqueue(db, job)
    body = JobCreatedResponse(job_id=public_id, total_outputs=len(outputs)).model_dump()
    if keyed is not None:
        idempotency.remember(db, user.id, keyed, 202, body)
    try:
        db.commit()
    except IntegrityError:  # the same key was used concurrently and the other request won
        db.rollback()
        again = replay(db, user, keyed)
        if again is None:
            raise
        again.kind = job_type
        return again
    return Created(body, public_id, user.id, job_type)


def count_outputs(db: Session, job: Job, finished: int, refunded: float = 0.0) -> None:
    """Add finished outputs (and their refund) to the job's counters in the database itself:
    a worker and an abort may count outputs of one job at the same time."""
    db.execute(
        update(Job)
        .where(Job.id == job.id)
        .values(
            processed=Job.processed + finished,
            credits_refunded=Job.credits_refunded + refunded,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    db.expire(job, ["processed", "credits_refunded", "updated_at"])


def abort(db: Session, job: Job) -> list[tuple[str, dict[str, Any]]]:
    """Stop a job: outputs not started yet fail and are refunded, an output being made is
    finished; the job ends `aborted`. Returns the events to emit once committed."""
    # The user's row (for the refund), then the job's, as workers recording an output and job
    # creations take them: no deadlock between them.
    credits.lock_user(db, job.user_id)
    db.execute(select(Job.id).where(Job.id == job.id).with_for_update())
    db.refresh(job)
    if job.status not in ("pending", "processing"):
        raise ApiError(409, "Job already finished", f"Job {job.public_id} is {job.status}.")
    refund, finished = 0.0, 0
    for output in job.outputs:
        failed = db.execute(
            update(JobOutput)
            .where(JobOutput.id == output.id, JobOutput.status == "pending")
            .values(status="failed", error_message="The job was aborted before this output.")
        )
        if failed.rowcount == 1:  # type: ignore[attr-defined]
            refund += output.price
            finished += 1
    count_outputs(db, job, finished, refund)
    job.status = "aborted"
    job.error_message = "Aborted by the user."
    credits.refund(db, job.user_id, refund)
    db.commit()
    db.refresh(job)
    ids = {"id_task": job.public_id, "job_id": job.public_id}
    data = {
        **ids,
        "job_type": job.job_type,
        "status": "aborted",
        "total_images": job.total_outputs,
        "processed_images": job.processed,
        "error_message": job.error_message,
    }
    events: list[tuple[str, dict[str, Any]]] = [("batch_edit", data)]
    if job.job_type == MODEL_SWAP:
        ended = {**ids, "status": "aborted", "error_message": job.error_message}
        events.append(("error", ended))
    return events


# --- reading ------------------------------------------------------------------------------------


def owned(db: Session, user: User, job_id: str) -> Job:
    job = db.scalar(select(Job).where(Job.public_id == job_id, Job.user_id == user.id))
    if job is None:
        raise not_found("Job", job_id)
    return job


def progress(status: str, processed: int, total: int) -> float:
    if status == "completed" or total == 0:
        return 100.0 if status == "completed" else 0.0
    return round(100.0 * processed / total, 1)


@dataclass(frozen=True)
class StatusFacts:
    """What a job's status answer is made of: read through the ORM (`status`) or by the
    polling fast path's single query (`server/http/status_reads.py`)."""

    public_id: str
    job_type: str
    status: str
    total_outputs: int
    processed: int
    error_message: str | None
    request: dict[str, Any]
    identity_code: str | None
    identity_name: str | None
    project_id: int
    project_name: str
    project_key: str
    created_at: datetime | None
    updated_at: datetime | None


def status_answer(facts: StatusFacts) -> JobStatusResponse:
    post_process = bool(facts.request.get("post_process"))
    post_status = None
    if post_process:
        post_status = facts.status if facts.status in ("completed", "failed") else "pending"
    options = facts.request.get("swap_options") or facts.request.get("options")
    return JobStatusResponse(
        job_id=facts.public_id,
        job_type=facts.job_type,
        status=facts.status,
        progress=progress(facts.status, facts.processed, facts.total_outputs),
        total_images=facts.total_outputs,
        processed_images=facts.processed,
        should_post_process=post_process,
        post_processing_status=post_status,
        error_message=facts.error_message,
        identity_code=facts.identity_code,
        identity_name=facts.identity_name,
        project_id=facts.project_id,
        project_text=facts.project_name,
        project_key=facts.project_key,
        processing_options=options,
        created_at=iso(facts.created_at),
        updated_at=iso(facts.updated_at),
    )


def status(job: Job) -> JobStatusResponse:
    return status_answer(
        StatusFacts(
            public_id=job.public_id,
            job_type=job.job_type,
            status=job.status,
            total_outputs=job.total_outputs,
            processed=job.processed,
            error_message=job.error_message,
            request=job.request,
            identity_code=job.identity.code if job.identity else None,
            identity_name=job.identity.name if job.identity else None,
            project_id=job.project.id,
            project_name=job.project.name,
            project_key=job.project.key,
            created_at=job.created_at,
            updated_at=job.updated_at,
        )
    )


def _input_links(db: Session, signer: UrlSigner, job: Job, output: JobOutput) -> list[ResultOutput]:
    if "file_id" in output.spec:  # one input per output: model swap, recolour
        file_ids = [output.spec["file_id"]]
    else:
        file_ids = [
            image if isinstance(image, str) else image["file_id"]
            for image in job.request.get("images") or []
        ]
    link = files.input_url
    return [ResultOutput(full_size=link(signer, f), thumbnail=link(signer, f)) for f in file_ids]


def result(db: Session, signer: UrlSigner, job: Job, output: JobOutput) -> JobResult:
    done = output.status == "completed" and output.blob_key is not None
    full = files.output_url(signer, output) if done else None
    thumb = files.thumbnail_url(signer, output) if done else None
    reasons = review.review_reasons(output)
    return JobResult(
        job_id=job.public_id,
        image_index=output.image_index,
        group_index=output.group_index,
        version=output.version,
        original_filename=output.original_filename,
        inputs=_input_links(db, signer, job, output),
        output=ResultOutput(full_size=full, thumbnail=thumb) if done else None,
        url=full,
        model_used=output.model_used,
        status=output.status,
        quality_score=output.quality_score,
        processing_time=output.processing_time,
        error_message=output.error_message,
        warnings=list(output.warnings or []),
        feedback=output.feedback,
        feedback_comment=output.feedback_comment,
        detail_needs_review=bool(reasons) if output.status == "completed" else None,
        detail_review_reason="; ".join(reasons) or None,
        created_at=iso(output.created_at),
        output_format=output.output_format,
        output_id=output.public_id,
        metrics=output.metrics,
        engine=output.engine,
        upstream_id=output.upstream_id,
        upstream_credits=output.upstream_credits,
        garment_locked_share=output.garment_locked_share,
    )


def summary(job: Job) -> ResultsSummary:
    current = review.current_outputs(job.outputs)
    done = [o for o in current if o.status == "completed"]
    failed = sum(1 for o in current if o.status == "failed")
    scores = [o.quality_score for o in done if o.quality_score is not None]
    finished = len(done) + failed
    return ResultsSummary(
        total_images=job.total_outputs,
        successful=len(done),
        failed=failed,
        average_quality_score=round(sum(scores) / len(scores), 4) if scores else 0.0,
        success_rate=round(100.0 * len(done) / finished, 1) if finished else 0.0,
        identity_consistency=_consistency(done),
    )


def _consistency(done: list[JobOutput]) -> float | None:
    """The largest face distance between two delivered outputs (one identity per job)."""
    from vestis.quality.measures import embedding_consistency  # numpy: only for results

    value = embedding_consistency([o.face_embedding for o in done if o.face_embedding])
    return None if value is None else round(value, 4)


def results(
    db: Session, signer: UrlSigner, job: Job, all_versions: bool = False
) -> JobResultsResponse:
    """The current version of each output (spec §2.9), or every version (vestis extension)."""
    base = status(job).model_dump()
    shown = job.outputs if all_versions else review.current_outputs(job.outputs)
    return JobResultsResponse(
        **base,
        results=[result(db, signer, job, o) for o in shown],
        summary=summary(job),
        credits_used=job.credits_charged - job.credits_refunded,
    )
