"""Notifications: `GET /notifications/events` (SSE), `POST /notifications` (poll),
`DELETE /notifications/{id}` (spec §2.11)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from sse_starlette import EventSourceResponse, ServerSentEvent

from vestis.contract.common import MAX_NUMERIC_ID
from vestis.contract.notifications import Notification, NotificationPollRequest
from vestis.server.errors import ApiError, method_not_allowed
from vestis.server.http.deps import (
    Grant,
    SessionRoute,
    StateDep,
    UserDep,
    authenticate,
    checks_token_itself,
)
from vestis.server.process.runtime import Runtime
from vestis.server.process.state import ServerState
from vestis.server.services.notify import EventFilter
from vestis.server.store.models import utcnow

router = APIRouter(route_class=SessionRoute, prefix="/notifications", tags=["notifications"])


def _split(values: list[str] | None) -> frozenset[str] | None:
    if not values:
        return None
    return frozenset(v.strip() for value in values for v in value.split(",") if v.strip())


def _runtime(state: StateDep) -> Runtime:
    assert state.runtime is not None
    return state.runtime


def _event(notification: Notification, kind: str | None) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(notification.model_dump()), event=kind)


async def _stream(
    request: Request, state: ServerState, grant: Grant, event_filter: EventFilter
) -> AsyncIterator[ServerSentEvent]:
    """Backfill, then live events while the grant's token holds: the stream ends when the
    token expires, and when it is revoked (at once in this process, within one keepalive
    interval when another process or the CLI revoked it); and after `sse_max_seconds`."""
    bus = _runtime(state).bus
    subscriber = bus.subscribe(grant.user_id)  # before the backfill, so nothing falls between
    recheck = max(0.5, state.settings.sse_keepalive_seconds)
    lifetime = state.settings.sse_max_seconds
    ends_at = asyncio.get_running_loop().time() + lifetime if lifetime > 0 else float("inf")
    try:
        backfill = await run_in_threadpool(bus.backfill, grant.user_id, event_filter)
        last_id = 0
        for notification in backfill:
            last_id = max(last_id, notification.id)
            yield _event(notification, "backfill")
        yield ServerSentEvent(data="{}", event="backfill_complete")
        while not await request.is_disconnected():
            left = (grant.expires_at - utcnow()).total_seconds()
            if left <= 0:
                yield ServerSentEvent(comment="token expired")
                return
            lived_out = ends_at - asyncio.get_running_loop().time()
            if lived_out <= 0:
                yield ServerSentEvent(comment="stream lifetime reached: reconnect")
                return
            try:
                wait = min(left, recheck, lived_out)
                notification = await asyncio.wait_for(subscriber.queue.get(), wait)
            except TimeoutError:
                notification = None
            if notification is None:
                if not await run_in_threadpool(grant.still_valid, state):
                    yield ServerSentEvent(comment="token revoked or expired")
                    return
            elif notification.id > last_id and event_filter.matches(notification):
                yield _event(notification, None)
    finally:
        bus.unsubscribe(grant.user_id, subscriber)


@router.api_route("/events", methods=["POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def events_other_methods() -> None:
    """Before `/{notification_id}`, which would take `events` for an id and answer 422."""
    raise method_not_allowed("GET")


@router.get(
    "/events",
    response_class=EventSourceResponse,
    dependencies=[Depends(checks_token_itself)],
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    request: Request,
    state: StateDep,
    token: Annotated[str | None, Query(description="Token, for clients without headers")] = None,
    id_task: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies it)
    id_image: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies it)
    name_list: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies it)
) -> EventSourceResponse:
    """Backfill (`event: backfill`), then `event: backfill_complete`, then live events (no
    `event:` field), with `: keepalive` comments in between."""
    grant = await run_in_threadpool(authenticate, state, request, token)
    event_filter = EventFilter(_split(id_task), _split(id_image), _split(name_list))
    return EventSourceResponse(
        _stream(request, state, grant, event_filter),
        ping=state.settings.sse_keepalive_seconds,
        ping_message_factory=lambda: ServerSentEvent(comment="keepalive"),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post("", response_model=list[Notification])
def poll(state: StateDep, user: UserDep, body: NotificationPollRequest) -> list[Notification]:
    """Every undeleted notification of the caller (optionally by job and name), oldest first."""
    event_filter = EventFilter(
        frozenset(body.id_task) if body.id_task else None,
        None,
        frozenset(body.name_list) if body.name_list else None,
    )
    return _runtime(state).bus.stored(user.id, event_filter, None)


@router.delete("/{notification_id}")
def delete(
    state: StateDep,
    user: UserDep,
    notification_id: Annotated[int, Path(ge=1, le=MAX_NUMERIC_ID)],
) -> dict[str, object]:
    if not _runtime(state).bus.delete(user.id, [notification_id]):
        raise ApiError(404, "Not found", f"Notification {notification_id} does not exist.")
    return {"success": True, "deleted": notification_id}
