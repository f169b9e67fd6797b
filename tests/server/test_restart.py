"""A server killed with SIGKILL in the middle of a job finishes that job after a restart."""

from __future__ import annotations

import time

import httpx
from tests.server.conftest import api_for, person_image
from tests.support.server_process import SLOW_FAKE_ENGINE, ServerProcess


def test_kill_mid_job_then_restart_finishes_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = ServerProcess(tmp_path, engine=SLOW_FAKE_ENGINE, workers=1)
    server.start()
    try:
        api = api_for(server)
        body = {
            "identity_code": api.identity(person_image(80), "K"),
            "project_id": api.project("k"),
            "images": [api.upload(f"k{i}.jpg", person_image(81 + i)) for i in range(4)],
        }
        job_id = api.http.post("/model-swap", json=body).json()["job_id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = api.http.get(f"/jobs/{job_id}/status").json()
            if status["status"] == "processing" and status["processed_images"] >= 1:
                break
            time.sleep(0.1)
        assert status["status"] == "processing" and status["processed_images"] < 4
        api.http.close()

        server.kill()
        server.start()

        api = api_for(server)
        final = api.wait(job_id, timeout=60)
        assert final["status"] == "completed" and final["processed_images"] == 4
        results = api.http.get(f"/jobs/{job_id}/results").json()["results"]
        assert [r["status"] for r in results] == ["completed"] * 4
        for result in results:  # every output is really there, and only once
            assert httpx.get(result["output"]["full_size"]).status_code == 200
        events = api.http.post("/notifications", json={"id_task": [job_id]}).json()
        assert sum(1 for e in events if e["name"] == "image_result") >= 4
        assert [e["name"] for e in events][-1] == "completed"
        api.http.close()
    finally:
        server.stop()


def test_state_survives_a_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with ServerProcess(tmp_path) as server:
        api = api_for(server)
        project = api.project("kept")
        code = api.identity(person_image(90), "Kept")
        body = {
            "identity_code": code,
            "project_id": project,
            "images": [api.upload("kept.jpg", person_image(91))],
        }
        job_id = api.http.post("/model-swap", json=body).json()["job_id"]
        api.wait(job_id)
        url = api.http.get(f"/jobs/{job_id}/results").json()["results"][0]["url"]
        login = httpx.post(server.base_url + "/auth/login", auth=(server.username, server.password))
        api.http.close()
        server.stop()
        server.start()
        api = api_for(server)
        assert (
            api.http.post("/project", json={"project_name": "kept"}).json()["project_id"] == project
        )
        assert api.http.get(f"/identity/{code}").status_code == 200
        assert api.http.get(f"/jobs/{job_id}/status").json()["status"] == "completed"
        assert httpx.get(url).status_code == 200  # signing key survived
        token = login.json()["token"]
        assert httpx.get(
            server.base_url + "/project", headers={"Authorization": f"Bearer {token}"}
        ).is_success
        api.http.close()


def test_abort_stops_a_running_job(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with ServerProcess(tmp_path, engine=SLOW_FAKE_ENGINE, workers=1) as server:
        api = api_for(server)
        body = {
            "identity_code": api.identity(person_image(95), "A"),
            "project_id": api.project("a"),
            "images": [api.upload(f"a{i}.jpg", person_image(96 + i)) for i in range(3)],
        }
        job_id = api.http.post("/model-swap", json=body).json()["job_id"]
        while api.http.get(f"/jobs/{job_id}/status").json()["status"] == "pending":
            time.sleep(0.05)
        aborted = api.http.post(f"/jobs/{job_id}/abort")
        assert aborted.status_code == 200 and aborted.json()["status"] == "aborted"
        assert api.http.post(f"/jobs/{job_id}/abort").status_code == 409
        time.sleep(2.5)  # the output being made when aborted finishes; nothing else starts
        results = api.http.get(f"/jobs/{job_id}/results").json()
        assert results["status"] == "aborted"
        statuses = [r["status"] for r in results["results"]]
        assert "pending" not in statuses and "processing" not in statuses
        assert statuses.count("failed") >= 1 and results["credits_used"] < 3
        events = api.http.post("/notifications", json={"id_task": [job_id]}).json()
        assert ("batch_edit", "aborted") in [(e["name"], e["data"]["status"]) for e in events]
        api.http.close()
