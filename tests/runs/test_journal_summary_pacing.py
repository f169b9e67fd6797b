import json
from pathlib import Path

import pytest

from vestis.runs.journal import JOURNAL_NAME, Journal
from vestis.runs.pacing import SLOT_MARGIN_SECONDS, SubmissionPacer
from vestis.runs.spec import clamp_parallel
from vestis.runs.summary import (
    FolderOutcome,
    build_summary,
    flat_configuration,
    swap_configuration,
    write_summary,
)


def test_journal_round_trip_and_atomic_file(tmp_path: Path):
    journal = Journal.open(tmp_path / "out")
    journal.set_in("uploads", "a.jpg", {"sha256": "x", "file_id": "f1"})
    data = json.loads((tmp_path / "out" / JOURNAL_NAME).read_text())
    assert data["uploads"]["a.jpg"]["file_id"] == "f1"
    assert [p.name for p in (tmp_path / "out").iterdir()] == [JOURNAL_NAME]  # no temp left
    assert Journal.open(tmp_path / "out").section("uploads")["a.jpg"]["sha256"] == "x"


def test_prepare_job_keeps_the_key_until_the_request_changes_or_the_job_fails(tmp_path: Path):
    journal = Journal.open(tmp_path)
    first = journal.prepare_job("fp1", ["a.jpg"])
    assert first["job_id"] is None and first["idempotency_key"]
    # A crash before the job id was written: the same key comes back.
    again = Journal.open(tmp_path).prepare_job("fp1", ["a.jpg"])
    assert again["idempotency_key"] == first["idempotency_key"]
    journal = Journal.open(tmp_path)
    journal.update_job(job_id="job_1", status="pending")
    assert Journal.open(tmp_path).prepare_job("fp1", ["a.jpg"])["job_id"] == "job_1"
    journal.update_job(status="failed")
    fresh = Journal.open(tmp_path).prepare_job("fp1", ["a.jpg"])
    assert fresh["job_id"] is None and fresh["idempotency_key"] != first["idempotency_key"]
    changed = Journal.open(tmp_path).prepare_job("fp2", ["a.jpg"])
    assert changed["idempotency_key"] != fresh["idempotency_key"]


def test_damaged_journal_is_set_aside(tmp_path: Path):
    (tmp_path / JOURNAL_NAME).write_text("{half")
    assert Journal.open(tmp_path).data == {"version": 1}
    assert any(p.name.startswith(".vestis-journal.damaged") for p in tmp_path.iterdir())


def test_summary_has_the_reference_keys_in_order(tmp_path: Path):
    config = swap_configuration(
        parallel=3,
        post_process=False,
        model="auto",
        use_anchor=True,
        base_url="u",
        identity_code="C",
        identity_image=None,
    )
    assert list(config) == [
        "parallel",
        "post_process",
        "model",
        "use_anchor",
        "base_url",
        "identity_code",
        "identity_image",
    ]
    flat = flat_configuration(
        parallel=1,
        model="auto",
        enhance_consistency=True,
        barefoot=False,
        base_url="u",
        identity_code=None,
        identity_image="i.jpg",
        instructions_file=None,
    )
    assert list(flat) == [
        "parallel",
        "model",
        "enhance_consistency",
        "barefoot",
        "base_url",
        "identity_code",
        "identity_image",
        "instructions_file",
    ]
    outcomes = [
        FolderOutcome("B", True, 40.234),
        FolderOutcome("A", False, 3.0, message="no images"),
        FolderOutcome("C", False, 0.0, error="boom"),
    ]
    summary = build_summary(config, outcomes, 123.44)
    assert list(summary) == [
        "timestamp",
        "configuration",
        "total_folders",
        "successful",
        "failed",
        "total_time_seconds",
        "results",
    ]
    assert summary["results"] == [
        {"folder": "B", "success": True, "processing_time": 40.2},
        {"folder": "A", "success": False, "processing_time": 3.0},
        {"folder": "C", "success": False, "error": "boom"},
    ]
    assert (summary["total_folders"], summary["successful"], summary["failed"]) == (3, 1, 2)
    assert summary["total_time_seconds"] == 123.4
    path = write_summary(tmp_path, summary)
    assert path.name.startswith("batch_summary_") and len(path.stem) == len("batch_summary_") + 15
    assert json.loads(path.read_text()) == summary
    assert write_summary(tmp_path, summary) != path  # same second: a new file, not overwritten


def test_parallel_is_clamped_silently():
    assert [clamp_parallel(v) for v in (-3, 0, 1, 3, 5, 9)] == [1, 1, 1, 3, 5, 5]


def test_pacer_waits_when_the_window_is_full_and_after_a_429():
    sleeps: list[float] = []

    class Slept(Exception):
        pass

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        raise Slept  # one look is enough: the window is a minute, however slow the machine

    pacer = SubmissionPacer(2, window_seconds=60, sleep=sleep)
    waits: list[float] = []
    pacer.acquire(waits.append)
    pacer.acquire(waits.append)
    assert waits == []
    # Third in the same window: told how long to wait (up to the window and the margin), sleeps.
    with pytest.raises(Slept):
        pacer.acquire(waits.append)
    assert len(waits) == 1 and 0 < waits[0] <= 60.0 + SLOT_MARGIN_SECONDS
    assert sleeps == [min(waits[0], 5.0)]
    waits.clear()
    sleeps.clear()
    pacer = SubmissionPacer(5, window_seconds=60, sleep=sleeps.append, clock=lambda: 1000.0)
    pacer.penalize(7.0)
    calls = iter([1000.0, 1007.5])
    pacer._clock = lambda: next(calls, 1007.5)
    pacer.acquire(waits.append)
    assert waits == [7.0]


def test_pacer_off_never_waits():
    pacer = SubmissionPacer(0, sleep=lambda s: (_ for _ in ()).throw(AssertionError))
    for _ in range(50):
        pacer.acquire()
