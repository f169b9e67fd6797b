"""A job's page: every output beside its input, face crops, filters; review (approve or reject
with a note, one by one or in bulk), versions, and the approved outputs as a ZIP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from vestis.contract.jobs import FeedbackRequest
from vestis.server.http.deps import DbDep, StateDep
from vestis.server.process.state import ServerState
from vestis.server.services import jobs, review
from vestis.server.services.downloads import safe_entry_name, zip_jobs
from vestis.server.store.models import Job, JobOutput
from vestis.studio import crops, views
from vestis.studio.auth import CsrfChecked, StudioUser
from vestis.studio.runs import swap_event
from vestis.studio.templating import fragment, page

router = APIRouter()
Mode = Literal["compare", "faces"]


def _mode(job: Job, mode: str | None) -> str:
    return "faces" if mode == "faces" and job.job_type == jobs.MODEL_SWAP else "compare"


def _card_context(job: Job, mode: str) -> dict[str, object]:
    return {"job_id": job.public_id, "mode": mode}


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(
    request: Request,
    state: StateDep,
    db: DbDep,
    user: StudioUser,
    job_id: str,
    show: str = "all",
    view: str | None = None,
) -> HTMLResponse:
    job = jobs.owned(db, user, job_id)
    mode = _mode(job, view)
    return page(
        request,
        "job.html",
        user=user,
        nav="runs",
        view=views.job_view(db, state.signer, job, show),
        filters=views.FILTERS,
        since=views.stamp(),
        **_card_context(job, mode),
    )


def _card_html(
    request: Request, state: ServerState, db: DbDep, job: Job, slot_output: JobOutput, mode: str
) -> str:
    current = next(
        o for o in review.current_outputs(job.outputs) if review.slot(o) == review.slot(slot_output)
    )
    card = views.card(db, state.signer, job, current)
    return fragment(request, "_card.html", card=card, **_card_context(job, mode))


def _back_to(job: Job, anchor: str = "", query: str = "") -> RedirectResponse:
    return RedirectResponse(f"/studio/jobs/{job.public_id}{query}{anchor}", status_code=303)


@router.post("/jobs/{job_id}/outputs/{output_id}/review", dependencies=[CsrfChecked])
def review_one(
    request: Request,
    state: StateDep,
    db: DbDep,
    user: StudioUser,
    job_id: str,
    output_id: str,
    verdict: Annotated[Literal["like", "dislike", "clear"], Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
    view: Annotated[str, Form()] = "compare",
) -> Response:
    job = jobs.owned(db, user, job_id)
    body = FeedbackRequest(
        feedback=None if verdict == "clear" else verdict, feedback_comment=note or None
    )
    (output,) = review.set_feedback(db, job, [output_id], body)
    if request.headers.get("hx-request"):
        return HTMLResponse(_card_html(request, state, db, job, output, _mode(job, view)))
    slot = "-".join(map(str, review.slot(output)))
    return _back_to(job, f"#card-{slot}")


@router.post("/jobs/{job_id}/outputs/{output_id}/redo", dependencies=[CsrfChecked])
def redo_one(
    request: Request,
    state: StateDep,
    db: DbDep,
    user: StudioUser,
    job_id: str,
    output_id: str,
    view: Annotated[str, Form()] = "compare",
) -> Response:
    """The output again as its next version (as `POST .../redo` of the API); the card shows
    the redo running, then the new version when it is made (live)."""
    assert state.runtime is not None
    job = jobs.owned(db, user, job_id)
    made = review.redo(db, state.runtime.queue, job, output_id)
    db.commit()
    if request.headers.get("hx-request"):
        return HTMLResponse(_card_html(request, state, db, job, made, _mode(job, view)))
    slot = "-".join(map(str, review.slot(made)))
    return _back_to(job, f"#card-{slot}")


@router.post("/jobs/{job_id}/review-bulk", dependencies=[CsrfChecked])
def review_bulk(
    db: DbDep,
    user: StudioUser,
    job_id: str,
    verdict: Annotated[Literal["like", "dislike", "clear"], Form()],
    output_ids: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    note: Annotated[str, Form(max_length=2000)] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """The same verdict for every selected output; a note, if typed, replaces theirs."""
    job = jobs.owned(db, user, job_id)
    if output_ids:
        fields = {"feedback": None if verdict == "clear" else verdict}
        if note.strip():
            fields["feedback_comment"] = note
        review.set_feedback(db, job, output_ids, FeedbackRequest(**fields))
    query = back if back.startswith("?") else ""
    return _back_to(job, query=query)


@router.get("/jobs/{job_id}/approved.zip")
def approved_zip(state: StateDep, db: DbDep, user: StudioUser, job_id: str) -> Response:
    """The approved outputs (current versions), named as the reference scripts name them."""
    job = jobs.owned(db, user, job_id)
    data = zip_jobs(state.blobs, [job], approved_only=True, single=True)
    name = safe_entry_name(f"{job.project.name}-approved.zip")
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/jobs/{job_id}/outputs/{output_id}/face/{which}.jpg")
def face_crop(
    state: StateDep,
    db: DbDep,
    user: StudioUser,
    job_id: str,
    output_id: str,
    which: crops.Which,
) -> Response:
    job = jobs.owned(db, user, job_id)
    output = review.output_of(job, output_id)
    data = crops.face_crop(state, db, job, output, which)
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


@router.get("/jobs/{job_id}/outputs/{output_id}/versions", response_class=HTMLResponse)
def versions_page(
    request: Request, state: StateDep, db: DbDep, user: StudioUser, job_id: str, output_id: str
) -> HTMLResponse:
    job = jobs.owned(db, user, job_id)
    output = review.output_of(job, output_id)
    current = next(
        o for o in review.current_outputs(job.outputs) if review.slot(o) == review.slot(output)
    )
    cards = [views.card(db, state.signer, job, o) for o in review.versions_of(job, output)]
    return page(
        request, "versions.html", user=user, nav="runs", cards=cards, job_id=job.public_id,
        current=current.version,
    )  # fmt: skip


# --- live updates of an open job page -----------------------------------------------------------


def _updates(
    state: ServerState, request: Request, user_id: int, job_id: str, data: dict, mode: str
) -> list[ServerSentEvent]:  # type: ignore[type-arg]
    """The fragments an event changes: the job's head, and the card of the output it names
    (every card for `{"all": True}`)."""
    with state.db.session() as db:
        job = db.query(Job).filter(Job.public_id == job_id, Job.user_id == user_id).one_or_none()
        if job is None:
            return []
        view = views.job_view(db, state.signer, job, "all")
        events = [swap_event("jobhead", fragment(request, "_job_head.html", view=view))]
        if "image_index" in data or data.get("all"):
            slot = f"{data.get('image_index')}-{data.get('group_index', 0)}"
            for card in view.cards:
                if card.slot == slot or data.get("all"):
                    html = fragment(
                        request, "_card.html", card=card, **_card_context(job, _mode(job, mode))
                    )
                    events.append(swap_event(f"card-{card.slot}", html))
        return events


def _changed_since(state: ServerState, job_id: str, since: datetime | None) -> bool:
    with state.db.session() as db:
        job = db.scalar(select(Job).where(Job.public_id == job_id))
        return since is not None and job is not None and job.updated_at >= since


async def _job_updates(
    request: Request,
    state: ServerState,
    user_id: int,
    job_id: str,
    mode: str,
    since: datetime | None,
) -> AsyncIterator[ServerSentEvent]:
    assert state.runtime is not None
    bus = state.runtime.bus
    subscriber = bus.subscribe(user_id)  # before the catch-up, so nothing falls between
    try:
        if await run_in_threadpool(_changed_since, state, job_id, since):
            # the job moved between the page and this stream: send all of it again
            everything = {"all": True}
            for update in await run_in_threadpool(
                _updates, state, request, user_id, job_id, everything, mode
            ):
                yield update
        while not await request.is_disconnected():
            event = await subscriber.queue.get()
            if (event.data.get("id_task") or event.data.get("job_id")) != job_id:
                continue
            for update in await run_in_threadpool(
                _updates, state, request, user_id, job_id, event.data, mode
            ):
                yield update
    finally:
        bus.unsubscribe(user_id, subscriber)


@router.get("/jobs/{job_id}/events")
def job_events(
    request: Request,
    state: StateDep,
    db: DbDep,
    user: StudioUser,
    job_id: str,
    view: str | None = None,
    since: str | None = None,
) -> EventSourceResponse:
    jobs.owned(db, user, job_id)
    return EventSourceResponse(
        _job_updates(request, state, user.id, job_id, view or "compare", views.parse_stamp(since)),
        ping=state.settings.sse_keepalive_seconds,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
