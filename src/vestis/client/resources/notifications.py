"""Notifications: the SSE stream, polling, deleting consumed ones (spec §2.11)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from contextlib import aclosing, closing
from typing import Any

from httpx_sse import ServerSentEvent

from vestis.client._sse import aiter_events, iter_events
from vestis.client._tracking import parse_notification
from vestis.client.resources._resource import AsyncAPIResource, SyncAPIResource
from vestis.contract import Notification


def _poll_body(
    id_task: str | list[str] | None, name_list: str | list[str] | None
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if id_task is not None:
        body["id_task"] = [id_task] if isinstance(id_task, str) else list(id_task)
    if name_list is not None:
        body["name_list"] = [name_list] if isinstance(name_list, str) else list(name_list)
    return body


def _notification(event: ServerSentEvent) -> Notification | None:
    """Backfill and live events carry a notification; `backfill_complete` does not."""
    if event.event == "backfill_complete":
        return None
    return parse_notification(event.data)


class Notifications(SyncAPIResource):
    def stream(
        self, id_task: str | None = None, name_list: str | None = None
    ) -> Generator[Notification, None, None]:
        """Notifications as they come over SSE: unconsumed backfill first, then live events.
        Runs until the server closes the stream; close the iterator to stop early."""
        params = {"id_task": id_task, "name_list": name_list}
        with closing(iter_events(self._http, params)) as events:
            for event in events:
                notification = _notification(event)
                if notification is not None:
                    yield notification

    def poll(
        self, id_task: str | list[str] | None = None, name_list: str | list[str] | None = None
    ) -> list[Notification]:
        """Unconsumed notifications, optionally only those of some jobs or names."""
        response = self._call("POST", "/notifications", json=_poll_body(id_task, name_list))
        return [Notification.model_validate(item) for item in response.json()]

    def delete(self, notification_id: int) -> None:
        """Mark a notification consumed so it is not replayed."""
        self._call("DELETE", f"/notifications/{notification_id}")


class AsyncNotifications(AsyncAPIResource):
    async def stream(
        self, id_task: str | None = None, name_list: str | None = None
    ) -> AsyncGenerator[Notification, None]:
        """Notifications as they come over SSE: unconsumed backfill first, then live events."""
        params = {"id_task": id_task, "name_list": name_list}
        async with aclosing(aiter_events(self._http, params)) as events:
            async for event in events:
                notification = _notification(event)
                if notification is not None:
                    yield notification

    async def poll(
        self, id_task: str | list[str] | None = None, name_list: str | list[str] | None = None
    ) -> list[Notification]:
        """Unconsumed notifications, optionally only those of some jobs or names."""
        response = await self._call("POST", "/notifications", json=_poll_body(id_task, name_list))
        return [Notification.model_validate(item) for item in response.json()]

    async def delete(self, notification_id: int) -> None:
        """Mark a notification consumed so it is not replayed."""
        await self._call("DELETE", f"/notifications/{notification_id}")
