"""Events across processes on PostgreSQL: an event stored by any process (a worker on machine B)
reaches the SSE streams open on every API process (machine A).

`announce` adds a `NOTIFY vestis_events` to the transaction that stores the event; PostgreSQL
delivers it to every listener when, and only if, that transaction commits, in commit order.
Each API process runs one `EventListener` (a connection that LISTENs) and pushes what it hears
to its own streams. Streams that were not connected when an event happened get it from the
stored notifications (backfill, polling), as before.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from vestis.contract.notifications import Notification
from vestis.server.store.db import Database
from vestis.server.store.models import NotificationRow

log = logging.getLogger("vestis.server.notifications")

CHANNEL = "vestis_events"
#: PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; larger events go by id.
MAX_PAYLOAD = 7900


def announce(db: Session, user_id: int, event: Notification) -> None:
    payload = json.dumps({"user_id": user_id, "event": event.model_dump()})
    if len(payload.encode()) > MAX_PAYLOAD:
        payload = json.dumps({"user_id": user_id, "id": event.id})
    db.execute(
        text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload}
    )


class EventListener:
    """Hears every process's events and hands them to `push(user_id, event)`."""

    def __init__(
        self, conninfo: str, db: Database, push: Callable[[int, Notification], None]
    ) -> None:
        self.conninfo = conninfo
        self.db = db
        self.push = push
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._listening.wait(timeout=30)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    while not self._stop.is_set():
                        for notice in connection.notifies(timeout=1.0):
                            self._hear(notice.payload)
            except Exception:  # the database went away: listen again in a moment
                log.exception("event listener lost its connection; reconnecting")
                self._stop.wait(1.0)

    def _hear(self, payload: str) -> None:
        message = json.loads(payload)
        if "event" in message:
            event = Notification.model_validate(message["event"])
        else:
            with self.db.session() as db:
                row = db.scalar(select(NotificationRow).where(NotificationRow.id == message["id"]))
                if row is None:
                    return
                event = Notification(
                    id=row.id, name=row.name, timestamp=row.timestamp, data=row.data
                )
        self.push(int(message["user_id"]), event)
