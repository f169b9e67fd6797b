"""The notification bus: every event is stored (for backfill and polling) in the transaction of
the change it reports, handed to the in-transaction listeners (the webhook sender defers its
delivery there), and pushed to the user's live SSE streams once committed."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vestis.contract.notifications import BACKFILL_MAX_AGE_SECONDS, Notification
from vestis.server.store.db import Database, after_commit
from vestis.server.store.models import NotificationRow

#: A poll or a backfill returns at most this many events (the newest); delete consumed ones.
MAX_STORED_EVENTS = 1000


@dataclass(frozen=True)
class EventFilter:
    """What a stream or poll wants: job ids (`id_task`), image ids, event names."""

    id_task: frozenset[str] | None = None
    id_image: frozenset[str] | None = None
    names: frozenset[str] | None = None

    def matches(self, event: Notification) -> bool:
        if self.names is not None and event.name not in self.names:
            return False
        if self.id_task is not None and event.job_id not in self.id_task:
            return False
        if self.id_image is not None:
            image = event.data.get("image_id") or event.data.get("id_image")
            if image not in self.id_image:
                return False
        return True


def to_wire(row: NotificationRow) -> Notification:
    return Notification(id=row.id, name=row.name, timestamp=row.timestamp, data=row.data)


class _Subscriber:
    """One open stream. `None` on its queue means: check your credentials again."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Notification | None] = asyncio.Queue()

    def push(self, event: Notification | None) -> None:
        # a closed event loop means the server is stopping: the stream is gone anyway
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.queue.put_nowait, event)


class NotificationBus:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._subscribers: dict[int, set[_Subscriber]] = {}
        #: Called with (session, user_id, notification) inside the transaction that stores the
        #: event; the webhook sender defers its delivery there.
        self.listeners: list[Callable[[Session, int, Notification], None]] = []
        #: Set when events cross processes (PostgreSQL: `events_pg.announce`); every process's
        #: listener then pushes them, this one's included. Else they are pushed after commit.
        self.announce: Callable[[Session, int, Notification], None] | None = None

    def publish(self, db: Session, user_id: int, name: str, data: dict[str, Any]) -> Notification:
        """Store one event in `db`'s transaction; it reaches streams once that commits."""
        task = data.get("id_task") or data.get("job_id")
        row = NotificationRow(
            user_id=user_id,
            name=name,
            task_id=str(task) if task else None,
            timestamp=time.time(),
            data=data,
        )
        db.add(row)
        db.flush()
        event = to_wire(row)
        for listener in self.listeners:
            listener(db, user_id, event)
        if self.announce is not None:
            self.announce(db, user_id, event)
        else:
            after_commit(db, lambda: self.push(user_id, event))
        return event

    def emit(self, user_id: int, name: str, data: dict[str, Any]) -> Notification:
        """Store and publish one event in a transaction of its own."""
        with self._db.session() as session:
            return self.publish(session, user_id, name, data)

    def push(self, user_id: int, event: Notification) -> None:
        """Hand a committed event to the user's open streams in this process."""
        with self._lock:
            subscribers = list(self._subscribers.get(user_id, ()))
        for subscriber in subscribers:
            subscriber.push(event)

    def credentials_changed(self, user_id: int) -> None:
        """A token of the user was revoked: its open streams check their token now (other
        processes' streams notice at their next periodic check)."""
        with self._lock:
            subscribers = list(self._subscribers.get(user_id, ()))
        for subscriber in subscribers:
            subscriber.push(None)

    def subscribe(self, user_id: int) -> _Subscriber:
        subscriber = _Subscriber(asyncio.get_running_loop())
        with self._lock:
            self._subscribers.setdefault(user_id, set()).add(subscriber)
        return subscriber

    def unsubscribe(self, user_id: int, subscriber: _Subscriber) -> None:
        with self._lock:
            self._subscribers.get(user_id, set()).discard(subscriber)

    def stored(
        self, user_id: int, event_filter: EventFilter, max_age: float | None
    ) -> list[Notification]:
        """Undeleted events of the user, oldest first (`max_age` in seconds, None = all), at
        most the newest MAX_STORED_EVENTS of them."""
        query = select(NotificationRow).where(
            NotificationRow.user_id == user_id, NotificationRow.deleted.is_(False)
        )
        if max_age is not None:
            query = query.where(NotificationRow.timestamp >= time.time() - max_age)
        if event_filter.id_task is not None:
            query = query.where(NotificationRow.task_id.in_(event_filter.id_task))
        with self._db.session() as session:
            newest = query.order_by(NotificationRow.id.desc()).limit(MAX_STORED_EVENTS)
            rows = list(reversed(session.scalars(newest).all()))
            events = [to_wire(row) for row in rows]
        return [event for event in events if event_filter.matches(event)]

    def backfill(self, user_id: int, event_filter: EventFilter) -> list[Notification]:
        return self.stored(user_id, event_filter, BACKFILL_MAX_AGE_SECONDS)

    def delete(self, user_id: int, notification_ids: Iterable[int]) -> int:
        """Mark events consumed so they are not replayed; returns how many were the user's."""
        ids = list(notification_ids)
        with self._db.session() as session:
            rows = session.scalars(
                select(NotificationRow).where(
                    NotificationRow.id.in_(ids), NotificationRow.user_id == user_id
                )
            ).all()
            for row in rows:
                row.deleted = True
            return len(rows)
