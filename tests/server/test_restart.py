"""A server killed with SIGKILL in the middle of a job finishes that job after a restart."""

from __future__ import annotations

import httpx
from tests.server.conftest import api_for, person_image
from tests.support.gate import Gate, wait_until
from tests.support.server_process import GATED_FAKE_ENGINE, ServerProcess


def test_kill_mid_job_then_restart_finishes_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    gate = Gate(tmp_path / "gate")
    server = ServerProcess(tmp_path, engine=GATED_FAKE_ENGINE, workers=1, env=gate.env)
    server.start()
    try:
        api = api_for(server)
        body = {
            "identity_code": api.identity(person_image(80), "K"),
            "project_id": api.project("k"),
            "images": [api.upload(f"k{i}.jpg", person_image(81 + i)) for i in range(4)],
        }
        job_id = api.http.post("/model-swap", json=body).json()["job_id"]
        gate.admit(1)  # one output is made, the second is held at the gate when the kill comes

        def status() -> dict:
            return api.http.get(f"/jobs/{job_id}/status").json()

        wait_until(lambda: status()["processed_images"] >= 1, what="one output made")
        assert status()["status"] == "processing" and status()["processed_images"] == 1
        api.http.close()

        server.kill()
        gate.open()
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
        gate.open()
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
    gate = Gate(tmp_path / "gate")
    with ServerProcess(tmp_path, engine=GATED_FAKE_ENGINE, workers=1, env=gate.env) as server:
        api = api_for(server)
        body = {
            "identity_code": api.identity(person_image(95), "A"),
            "project_id": api.project("a"),
            "images": [api.upload(f"a{i}.jpg", person_image(96 + i)) for i in range(3)],
        }
        job_id = api.http.post("/model-swap", json=body).json()["job_id"]

        def results() -> dict:
            return api.http.get(f"/jobs/{job_id}/results").json()

        # The first output is being made (held at the gate) when the abort comes.
        wait_until(
            lambda: api.http.get(f"/jobs/{job_id}/status").json()["status"] != "pending",
            what="the job started",
        )
        aborted = api.http.post(f"/jobs/{job_id}/abort")
        assert aborted.status_code == 200 and aborted.json()["status"] == "aborted"
        assert api.http.post(f"/jobs/{job_id}/abort").status_code == 409
        gate.open()  # the output being made when aborted finishes; nothing else starts
        wait_until(
            lambda: not {"pending", "processing"} & {r["status"] for r in results()["results"]},
            what="no output left in flight",
        )
        final = results()
        assert final["status"] == "aborted"
        statuses = [r["status"] for r in final["results"]]
        assert statuses.count("failed") >= 1 and final["credits_used"] < 3
        events = api.http.post("/notifications", json={"id_task": [job_id]}).json()
        assert ("batch_edit", "aborted") in [(e["name"], e["data"]["status"]) for e in events]
        api.http.close()
