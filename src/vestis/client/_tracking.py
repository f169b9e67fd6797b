"""Job tracking decisions shared by the sync and async `jobs.wait` (no I/O): which notification
is about which job, which events end a job, the deadline, and the 404 grace after creation."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from vestis.client.errors import JobFailedError, JobTimeoutError, NotFoundError
from vestis.contract import TERMINAL_STATUSES, JobStatusResponse, Notification

#: A job may answer 404 for a moment right after creation; the reference scripts allow 10.
MAX_NOT_FOUND = 10
#: Longest wait for one SSE read: the server sends a keepalive about every 15 seconds, so a
#: silent connection for this long has dropped.
SSE_READ_TIMEOUT = 35.0
#: Even with a healthy stream, the status is checked (and the stream reopened) this often, so a
#: lost event costs at most this long.
SSE_RECHECK_SECONDS = 60.0
#: Events that end a job: `batch_edit` with a terminal status (seed 004), `completed`/`error`
#: (seed 002).
TERMINAL_EVENT_NAMES = frozenset({"completed", "error"})

OnUpdate = Callable[[JobStatusResponse], None]


def parse_notification(data: str) -> Notification | None:
    """The notification in an SSE `data:` field, or None for `{}` and anything unreadable."""
    try:
        payload = json.loads(data)
    except ValueError:
        return None
    if not isinstance(payload, dict) or "id" not in payload:
        return None
    try:
        return Notification.model_validate(payload)
    except ValueError:
        return None


def is_about(notification: Notification, job_id: str) -> bool:
    """True when `data.id_task` or `data.job_id` names the job (clients must check both)."""
    data = notification.data
    return job_id in (str(data.get("id_task", "")), str(data.get("job_id", "")))


def is_terminal_event(notification: Notification) -> bool:
    if notification.name in TERMINAL_EVENT_NAMES:
        return True
    return notification.name == "batch_edit" and notification.data.get("status") in (
        TERMINAL_STATUSES
    )


def wants_status(event: str, data: str, job_id: str, every_event: bool) -> bool:
    """Whether an SSE event calls for a status check: the end of the backfill (which closes the
    race with a job that ended before the stream opened), a terminal event of this job, or any
    event of this job when every update is wanted."""
    if event == "backfill_complete":
        return True
    note = parse_notification(data)
    if note is None or not is_about(note, job_id):
        return False
    return every_event or is_terminal_event(note)


def is_terminal(status: JobStatusResponse) -> bool:
    return status.status in TERMINAL_STATUSES


def finish(status: JobStatusResponse, raise_on_failure: bool) -> JobStatusResponse:
    """Return a terminal status, or raise JobFailedError for failed/aborted when asked to."""
    if raise_on_failure and status.status != "completed":
        raise JobFailedError(status.job_id, status.status, status.error_message)
    return status


@dataclass
class Deadline:
    """The overall time limit of one `wait` call."""

    job_id: str
    timeout: float
    clock: Callable[[], float] = time.monotonic
    start: float = field(init=False)
    last_status: str | None = None

    def __post_init__(self) -> None:
        self.start = self.clock()

    def remaining(self) -> float:
        return self.timeout - (self.clock() - self.start)

    def expired(self) -> bool:
        return self.remaining() <= 0

    def check(self) -> None:
        if self.expired():
            raise self.error()

    def error(self) -> JobTimeoutError:
        return JobTimeoutError(self.job_id, self.timeout, self.last_status)

    def sleep_for(self, interval: float) -> float:
        """How long to sleep before the next poll without overshooting the deadline."""
        return max(0.0, min(interval, self.remaining()))


@dataclass
class NotFoundGrace:
    """Counts consecutive 404s of the status endpoint; the 11th in a row is final."""

    limit: int = MAX_NOT_FOUND
    count: int = 0

    def tolerate(self, error: NotFoundError) -> None:
        self.count += 1
        if self.count > self.limit:
            raise error

    def reset(self) -> None:
        self.count = 0


class RecheckDue(Exception):
    """The stream has been open for a recheck window: confirm the status, then reopen it."""


@dataclass
class RecheckWindow:
    """Guard of one stream connection: the overall deadline, then the recheck window."""

    deadline: Deadline
    length: float | None = None
    opened: float = field(init=False)

    def __post_init__(self) -> None:
        self.opened = self.deadline.clock()
        if self.length is None:
            self.length = SSE_RECHECK_SECONDS

    def __call__(self) -> None:
        self.deadline.check()
        if self.length is not None and self.deadline.clock() - self.opened >= self.length:
            raise RecheckDue()


class SSEUnavailable(Exception):
    """The event stream could not be opened or dropped; the caller falls back to polling."""
