"""What the studio's pages show, read from the database: rows of the runs list, the cards of a
job page. No HTTP here; the routes render these with the templates."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from vestis.contract.jobs import describe_instruction
from vestis.contract.numbering import flat_label
from vestis.server.services import review
from vestis.server.services.downloads import reference_name
from vestis.server.services.jobs import MODEL_SWAP
from vestis.server.store.models import File, Identity, Job, JobOutput, User, utcnow
from vestis.server.store.signing import FILE_URL_TTL_SECONDS, UrlSigner

#: Signed image links are re-issued at most once an hour, so pages reuse cached images.
LINK_STEP_SECONDS = 3600
FILTERS = {
    "all": "all",
    "failed": "failed",
    "warnings": "with warnings",
    "low": "low score",
    "unreviewed": "not yet reviewed",
}
JOB_STATUSES = ("pending", "processing", "completed", "failed", "aborted")
#: How the server words a failure that is not the engine's verdict on the inputs
#: (`server.pipeline.runner`): a redo may well succeed.
NOT_REFUSALS = ("Internal engine error", "The server stopped while making this output")


def signed(signer: UrlSigner, path: str) -> str:
    """A signed link relative to the site, so it works whatever host name the page came from."""
    url = signer.url("GET", path, FILE_URL_TTL_SECONDS, step=LINK_STEP_SECONDS)
    return url[len(signer.base_url) :]


def stamp() -> str:
    """When a page was made (its live stream catches up on changes after this)."""
    return (utcnow() - timedelta(seconds=1)).isoformat()


def parse_stamp(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


_KINDS = {
    MODEL_SWAP: "model swap",
    "create_packshot": "packshot",
    "garment_recolor": "recolour",
    "identity_creation": "identity drafts",
}


def kind_label(job_type: str) -> str:
    return _KINDS.get(job_type, "flat-to-model")


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


# --- runs list --------------------------------------------------------------------------------


@dataclass
class JobRow:
    job_id: str
    project: str
    kind: str
    identity: str
    status: str
    processed: int
    total: int
    created: str
    counts: dict[str, int]
    #: Outputs made (completed), the figure people read as "done": a failed output is
    #: processed, but nothing was made.
    made: int = 0


def job_row(job: Job) -> JobRow:
    current = review.current_outputs(job.outputs)
    counts = Counter(
        "approved"
        if o.feedback == review.LIKE
        else "rejected"
        if o.feedback == review.DISLIKE
        else "failed"
        if o.status == "failed"
        else "to review"
        if o.status == "completed"
        else "waiting"
        for o in current
    )
    return JobRow(
        job_id=job.public_id,
        project=job.project.name,
        kind=kind_label(job.job_type),
        identity=job.identity.name if job.identity else "",
        status=job.status,
        processed=job.processed,
        total=job.total_outputs,
        created=when(job.created_at),
        counts=dict(counts),
        made=sum(1 for o in current if o.status == "completed"),
    )


def job_rows(db: Session, user: User, status: str | None, project: str | None) -> list[JobRow]:
    query = (
        select(Job)
        .where(Job.user_id == user.id)
        .options(selectinload(Job.outputs))
        .order_by(Job.id.desc())
        .limit(500)
    )
    if status in JOB_STATUSES:
        query = query.where(Job.status == status)
    jobs = db.scalars(query).all()
    rows = [job_row(job) for job in jobs]
    return [r for r in rows if not project or r.project == project]


def project_names(db: Session, user: User) -> list[str]:
    from vestis.server.store.models import Project

    names = db.scalars(
        select(Project.name).where(Project.user_id == user.id).order_by(Project.name)
    )
    return list(names)


# --- one job ----------------------------------------------------------------------------------


@dataclass
class Picture:
    url: str
    name: str
    note: str | None = None


@dataclass
class Card:
    """One output slot of a job, at its current version."""

    output_id: str
    slot: str
    label: str
    filename: str
    status: str
    version: int
    model_used: str | None
    score: float | None
    warnings: list[str]
    reasons: list[str]
    error: str | None
    feedback: str | None
    comment: str | None
    inputs: list[Picture]
    output_url: str | None
    instruction: list[tuple[str, str]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    redo_running: bool = False
    is_swap: bool = True
    #: (label, value, flagged) of the quality measures, for the side panel.
    measures: list[tuple[str, str, bool]] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        """Failed because the engine refused the inputs (a face cut by the frame, garments
        that hide each other): a redo of the same inputs would be refused again. A crash or a
        stopped server is not a refusal."""
        if self.status != "failed":
            return False
        return not (self.error or "").startswith(NOT_REFUSALS)

    @property
    def reviewed(self) -> bool:
        return self.feedback is not None


def _inputs(db: Session, signer: UrlSigner, job: Job) -> dict[str, Picture]:
    request = job.request
    notes: dict[str, str | None] = {}
    for item in request.get("images") or []:
        if isinstance(item, dict):
            notes[item["file_id"]] = item.get("note")
        else:
            notes[item] = None
    rows = db.scalars(select(File).where(File.public_id.in_(list(notes)))).all()
    return {
        row.public_id: Picture(
            signed(signer, f"/files/inputs/{row.public_id}"), row.filename, notes.get(row.public_id)
        )
        for row in rows
    }


def _label(job: Job, output: JobOutput) -> str:
    if "file_id" in output.spec:  # one input per output: model swap, recolour
        return f"{output.original_filename} · variation {output.variation + 1}"
    return flat_label(output.group_index, output.variation, sep=" · ")


def card(db: Session, signer: UrlSigner, job: Job, output: JobOutput, inputs=None) -> Card:  # type: ignore[no-untyped-def]
    inputs = inputs if inputs is not None else _inputs(db, signer, job)
    versions = review.versions_of(job, output)
    is_swap = job.job_type == MODEL_SWAP
    if "file_id" in output.spec:
        shown = [inputs[output.spec["file_id"]]] if output.spec.get("file_id") in inputs else []
        instruction: list[tuple[str, str]] = []
    else:
        shown = list(inputs.values())
        instructions = job.request.get("instructions") or [{}]
        index = output.group_index if output.group_index < len(instructions) else 0
        instruction = describe_instruction(instructions[index])
    done = output.status == "completed" and output.blob_key is not None
    return Card(
        output_id=output.public_id,
        slot=f"{output.image_index}-{output.group_index}",
        label=_label(job, output),
        filename=reference_name(output.original_filename, output.version),
        status=output.status,
        version=output.version,
        model_used=output.model_used,
        score=output.quality_score,
        warnings=list(output.warnings or []),
        reasons=review.review_reasons(output),
        error=output.error_message,
        feedback=output.feedback,
        comment=output.feedback_comment,
        inputs=shown,
        output_url=signed(signer, f"/files/outputs/{output.public_id}") if done else None,
        instruction=instruction,
        versions=[
            {"version": v.version, "output_id": v.public_id, "status": v.status} for v in versions
        ],
        redo_running=any(v.status in ("pending", "processing") for v in versions)
        and output.status == "completed",
        is_swap=is_swap,
        measures=measures(output.metrics or {}),
    )


def _share(value: object) -> str | None:
    return f"{value:.1%}" if isinstance(value, float) else None


def measures(metrics: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """The quality measures of an output in words, each with whether it is a problem."""
    rows: list[tuple[str, str, bool]] = []
    distance = metrics.get("identity_distance")
    if isinstance(distance, float):
        same = metrics.get("is_identity")
        words = f"{distance:.2f} ({'same person' if same else 'not the identity'})"
        rows.append(("identity distance", words, same is False))
    original = metrics.get("original_distance")
    if isinstance(original, float):
        rows.append(("distance to original model", f"{original:.2f}", False))
    realism = metrics.get("realism")
    if isinstance(realism, dict):
        defects = [str(d) for d in realism.get("defects") or []]
        words = f"no: {', '.join(defects)}" if defects else "yes"
        rows.append(("looks like a photo", words, bool(defects)))
    kept = metrics.get("unchanged_outside_head")
    if isinstance(kept, float):
        rows.append(("kept outside the head", f"{kept:.1%}", kept < review.KEPT_ENOUGH))
    sharp = metrics.get("sharpness_ratio")
    if isinstance(sharp, float):
        rows.append(("face sharpness vs photo", f"{sharp:.2f}", sharp < review.SHARP_ENOUGH))
    if (metrics.get("attempts") or 1) > 1:
        rows.append(("attempts", str(metrics["attempts"]), False))
    for garment in metrics.get("garments") or []:
        if isinstance(garment, dict):
            verdict = str(garment.get("verdict") or "")
            name = garment.get("name") or garment.get("kind") or "garment"
            rows.append((f"garment {name}", verdict, verdict not in ("", "ok")))
    return rows


def matches(card_: Card, show: str) -> bool:
    if show == "failed":
        return card_.status == "failed"
    if show == "warnings":
        return bool(card_.warnings)
    if show == "low":
        return card_.score is not None and card_.score < review.LOW_SCORE
    if show == "unreviewed":
        return card_.status == "completed" and not card_.reviewed
    return True


@dataclass
class JobView:
    job: Job
    row: JobRow
    kind: str
    identity_name: str
    identity_code: str
    identity_url: str
    cards: list[Card]
    shown: list[Card]
    show: str
    filter_counts: dict[str, int]
    credits_used: float
    models: list[str]
    problem: str | None = None


def problem(job: Job, cards: list[Card]) -> str | None:
    """What went wrong with the job, in plain words; each card says why its output failed (the
    API's message points at result fields, which the studio shows on the cards)."""
    failed = sum(1 for c in cards if c.status == "failed")
    if failed and failed == len(cards):
        return f"No output was made: all {failed} failed. Each card below says why."
    if failed:
        return f"{failed} of {len(cards)} outputs failed. Each card below says why."
    return job.error_message


def job_view(db: Session, signer: UrlSigner, job: Job, show: str) -> JobView:
    inputs = _inputs(db, signer, job)
    cards = [card(db, signer, job, o, inputs) for o in review.current_outputs(job.outputs)]
    show = show if show in FILTERS else "all"
    identity: Identity | None = job.identity
    return JobView(
        job=job,
        row=job_row(job),
        kind=kind_label(job.job_type),
        identity_name=identity.name if identity else "",
        identity_code=identity.code if identity else "",
        identity_url=signed(signer, f"/files/identities/{identity.code}") if identity else "",
        cards=cards,
        shown=[c for c in cards if matches(c, show)],
        show=show,
        filter_counts={key: sum(1 for c in cards if matches(c, key)) for key in FILTERS},
        credits_used=job.credits_charged - job.credits_refunded,
        models=sorted({c.model_used for c in cards if c.model_used}),
        problem=problem(job, cards),
    )
