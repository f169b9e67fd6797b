"""Unit tests of the job-tracking decisions and webhook signatures (no I/O)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from vestis.client import (
    JobFailedError,
    JobTimeoutError,
    NotFoundError,
    compute_webhook_signature,
    verify_webhook_signature,
)
from vestis.client import _tracking as tracking
from vestis.contract import TERMINAL_STATUSES, JobStatusResponse, Notification


def _note(name: str, **data: object) -> Notification:
    return Notification(id=1, name=name, timestamp=0.0, data=dict(data))


def test_notification_names_a_job_by_id_task_or_job_id() -> None:
    assert tracking.is_about(_note("batch_edit", id_task="j1"), "j1")
    assert tracking.is_about(_note("completed", job_id="j1"), "j1")
    assert not tracking.is_about(_note("batch_edit", id_task="j2"), "j1")
    assert not tracking.is_about(_note("ping"), "j1")


@pytest.mark.parametrize(
    ("name", "status", "terminal"),
    [("batch_edit", "completed", True), ("batch_edit", "failed", True),
     ("batch_edit", "aborted", True), ("batch_edit", "processing", False),
     ("completed", None, True), ("error", None, True), ("image_result", "completed", False)],
)  # fmt: skip
def test_terminal_events(name: str, status: str | None, terminal: bool) -> None:
    assert tracking.is_terminal_event(_note(name, id_task="j", status=status)) is terminal


def test_parse_notification_skips_empty_and_garbage() -> None:
    assert tracking.parse_notification("{}") is None
    assert tracking.parse_notification("not json") is None
    note = tracking.parse_notification(
        '{"id": 3, "name": "batch_edit", "timestamp": 1.5, "data": {}}'
    )
    assert note is not None and note.id == 3


def test_one_shared_set_of_terminal_states() -> None:
    assert frozenset({"completed", "failed", "aborted"}) == TERMINAL_STATUSES
    for status in ("pending", "processing"):
        assert not tracking.is_terminal(JobStatusResponse(job_id="j", job_type="x", status=status))


@pytest.mark.parametrize("status", ["failed", "aborted"])
def test_finish_raises_job_failed_with_id_and_message(status: str) -> None:
    response = JobStatusResponse(
        job_id="j9", job_type="model_swap", status=status, error_message="boom"
    )
    with pytest.raises(JobFailedError) as info:
        tracking.finish(response, raise_on_failure=True)
    assert (info.value.job_id, info.value.status, info.value.error_message) == (
        "j9",
        status,
        "boom",
    )
    assert "j9" in str(info.value) and "boom" in str(info.value)
    assert tracking.finish(response, raise_on_failure=False) is response


def test_deadline_uses_its_clock() -> None:
    now = [100.0]
    deadline = tracking.Deadline("j1", 10.0, clock=lambda: now[0])
    assert deadline.sleep_for(5) == 5
    now[0] = 107.0
    assert deadline.sleep_for(5) == pytest.approx(3)
    deadline.check()
    now[0] = 110.0
    deadline.last_status = "processing"
    with pytest.raises(JobTimeoutError) as info:
        deadline.check()
    assert info.value.job_id == "j1" and "processing" in str(info.value)


def test_not_found_grace_allows_ten_in_a_row() -> None:
    grace = tracking.NotFoundGrace()
    error = NotFoundError("gone", status_code=404)
    for _ in range(10):
        grace.tolerate(error)
    grace.reset()
    for _ in range(10):
        grace.tolerate(error)
    with pytest.raises(NotFoundError):
        grace.tolerate(error)


def test_webhook_signature_round_trip_and_tampering() -> None:
    body = b'{"id": 1, "name": "ping", "timestamp": 0, "data": {}}'
    header = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert compute_webhook_signature("s3cret", body) == header
    assert verify_webhook_signature("s3cret", body, header)
    assert verify_webhook_signature(b"s3cret", body, header)
    assert not verify_webhook_signature("other", body, header)
    assert not verify_webhook_signature("s3cret", body + b" ", header)
    assert not verify_webhook_signature("s3cret", body, header.removeprefix("sha256="))
    assert not verify_webhook_signature("s3cret", body, None)
    assert not verify_webhook_signature("s3cret", body, "")
