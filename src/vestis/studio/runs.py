"""The runs list (projects and jobs, newest first, filter by status) and its live updates:
one server-sent event per job change, carrying the job's new table row."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from vestis.server.http.deps import DbDep, StateDep
from vestis.server.process.state import ServerState
from vestis.server.store.models import Job
from vestis.studio import views
from vestis.studio.auth import StudioUser
from vestis.studio.templating import fragment, page

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def runs_page(
    request: Request,
    db: DbDep,
    user: StudioUser,
    status: str | None = None,
    project: str | None = None,
) -> HTMLResponse:
    return page(
        request,
        "runs.html",
        user=user,
        nav="runs",
        rows=views.job_rows(db, user, status, project),
        since=views.stamp(),
        statuses=views.JOB_STATUSES,
        status=status or "",
        projects=views.project_names(db, user),
        project=project or "",
    )


def swap_event(element_id: str, html: str, new_into: str | None = None) -> ServerSentEvent:
    """An update for `studio.js`: replace the element `element_id` by `html` (or, when the page
    has none, add it at the top of `new_into`)."""
    body = {"id": element_id, "html": html, "into": new_into}
    return ServerSentEvent(data=json.dumps(body), event="swap")


def job_ids_of(event_data: dict[str, object]) -> str | None:
    value = event_data.get("id_task") or event_data.get("job_id")
    return str(value) if value else None


def _row_html(state: ServerState, request: Request, user_id: int, job_id: str) -> str | None:
    with state.db.session() as db:
        job = db.scalar(select(Job).where(Job.public_id == job_id, Job.user_id == user_id))
        if job is None:
            return None
        return fragment(request, "_run_row.html", row=views.job_row(job))


def _changed_rows(
    state: ServerState, request: Request, user_id: int, since: datetime | None
) -> list[ServerSentEvent]:
    """Rows of the jobs that changed since the page was made (before its stream opened)."""
    if since is None:
        return []
    with state.db.session() as db:
        changed = db.scalars(
            select(Job)
            .where(Job.user_id == user_id, Job.updated_at >= since)
            .order_by(Job.id)
            .limit(200)
        ).all()
        return [
            swap_event(
                f"row-{job.public_id}",
                fragment(request, "_run_row.html", row=views.job_row(job)),
                new_into="runs-body",
            )
            for job in changed
        ]


async def _row_updates(
    request: Request, state: ServerState, user_id: int, since: datetime | None
) -> AsyncIterator[ServerSentEvent]:
    assert state.runtime is not None
    bus = state.runtime.bus
    subscriber = bus.subscribe(user_id)  # before the catch-up, so nothing falls between
    try:
        for update in await run_in_threadpool(_changed_rows, state, request, user_id, since):
            yield update
        while not await request.is_disconnected():
            event = await subscriber.queue.get()
            job_id = job_ids_of(event.data)
            if job_id is None:
                continue
            html = await run_in_threadpool(_row_html, state, request, user_id, job_id)
            if html is None:
                continue
            # the page replaces the row with this id, or puts a new job's row on top
            yield swap_event(f"row-{job_id}", html, new_into="runs-body")
    finally:
        bus.unsubscribe(user_id, subscriber)


@router.get("/events")
def run_events(
    request: Request, state: StateDep, user: StudioUser, since: str | None = None
) -> EventSourceResponse:
    return EventSourceResponse(
        _row_updates(request, state, user.id, views.parse_stamp(since)),
        ping=state.settings.sse_keepalive_seconds,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
