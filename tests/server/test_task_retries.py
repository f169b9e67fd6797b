"""SQLite (the thread queue): a task that fails for a reason outside the engine (here the
database locked by another program for longer than the busy timeout, as a full disk or a
backup tool would) runs again once the database is usable, and the output ends without a
restart: done, or failed and refunded. The same for the blob store failing while an output is
stored: that step is tried again, the engine's result kept. The lock is held by this test;
each step waits for what the server logs or answers, never for a time."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
from tests.server.conftest import api_for, person_image
from tests.support.gate import Gate, wait_until
from tests.support.server_process import GATED_FAKE_ENGINE, ServerProcess


def _balance(server: ServerProcess) -> float:
    login = httpx.post(server.base_url + "/auth/login", auth=(server.username, server.password))
    return float(login.json()["user"]["credits"])


def test_a_task_that_could_not_record_runs_again(tmp_path: Path) -> None:
    gate = Gate(tmp_path / "gate")
    with ServerProcess(tmp_path, engine=GATED_FAKE_ENGINE, workers=1, env=gate.env) as server:
        if server.database_url:
            return  # the PostgreSQL variant is tests/scaleout/test_outages.py
        api = api_for(server)
        body = {
            "identity_code": api.identity(person_image(1), "locked"),
            "project_id": api.project("locked"),
            "images": [api.upload("a.jpg", person_image(10))],
        }
        before = _balance(server)
        job_id = api.http.post("/model-swap", json=body).json()["job_id"]
        # at the gate itself: every write the task makes before the engine is done (an output
        # shown `processing` may still be on its way there, and would block elsewhere)
        wait_until(lambda: gate.waiting() == 1, what="the output held at the gate")
        other = sqlite3.connect(server.data_dir / "vestis.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the write lock, until this test lets it go
        gate.open()
        # the traceback of the recording that gave up waiting for the lock (`records.record`)
        wait_until(lambda: "in record" in server.log(), what="recording failed", timeout=180)
        other.execute("ROLLBACK")
        other.close()

        final = api.wait(job_id, timeout=120)
        results = api.http.get(f"/jobs/{job_id}/results").json()
        statuses = [r["status"] for r in results["results"]]
        assert final["status"] in ("completed", "failed") and set(statuses) <= {
            "completed",
            "failed",
        }
        assert results["credits_used"] == statuses.count("completed")
        assert before - _balance(server) == statuses.count("completed")
        api.http.close()


def test_an_output_stored_while_its_folder_cannot_be_made_is_stored_once_it_can(
    tmp_path: Path,
) -> None:
    """The filesystem store failing (an OSError that is not a full disk: here the outputs'
    folder cannot be made, a plain file stands in its place) while an output is stored: the
    store step is tried again with pauses, and once the folder can be made the output is done,
    charged once. The file is put there and taken away by this test, on what the server logs."""
    gate = Gate(tmp_path / "gate")
    with ServerProcess(tmp_path, engine=GATED_FAKE_ENGINE, workers=1, env=gate.env) as server:
        api = api_for(server)
        body = {
            "identity_code": api.identity(person_image(1), "blocked"),
            "project_id": api.project("blocked"),
            "images": [api.upload("a.jpg", person_image(10))],
        }
        before = _balance(server)
        job_id = api.http.post("/model-swap", json=body).json()["job_id"]
        wait_until(lambda: gate.waiting() == 1, what="the output held at the gate")
        blocker = server.data_dir / "blobs" / "outputs"
        assert not blocker.exists()  # the first output of this server makes the folder
        blocker.write_text("not a folder")
        gate.open()
        # tried once and failed ("storing output ... trying again"; a server that gives up at
        # once says "could not store output")
        failed = lambda: "storing output" in (log := server.log()) or "not store output" in log  # noqa: E731
        wait_until(failed, what="the store failed")
        blocker.unlink()

        final = api.wait(job_id, timeout=120)
        results = api.http.get(f"/jobs/{job_id}/results").json()
        assert final["status"] == "completed", results
        assert [r["status"] for r in results["results"]] == ["completed"]
        assert results["credits_used"] == 1 and before - _balance(server) == 1
        api.http.close()
