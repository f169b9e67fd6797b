"""A redo caught by a SIGKILL is made after the restart (redos run after their job ended, so
no job task brings them back: the start-up defers them itself)."""

from __future__ import annotations

from tests.server.conftest import api_for, person_image
from tests.support.gate import Gate, wait_until
from tests.support.server_process import GATED_FAKE_ENGINE, ServerProcess


def test_a_redo_cut_short_is_made_after_a_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    gate = Gate(tmp_path / "gate")
    server = ServerProcess(tmp_path, engine=GATED_FAKE_ENGINE, workers=1, env=gate.env)
    server.start()
    try:
        api = api_for(server)
        body = {
            "identity_code": api.identity(person_image(60), "R"),
            "project_id": api.project("redo-restart"),
            "images": [api.upload("r.jpg", person_image(61))],
        }
        job_id = api.http.post("/model-swap", json=body).json()["job_id"]
        gate.admit(1)
        assert api.wait(job_id)["status"] == "completed"
        (first,) = api.http.get(f"/jobs/{job_id}/results").json()["results"]
        redo = api.http.post(f"/jobs/{job_id}/results/{first['output_id']}/redo").json()

        def version_status() -> str:
            every = api.http.get(f"/jobs/{job_id}/results", params={"all_versions": "true"})
            return next(r["status"] for r in every.json()["results"] if r["version"] == 1)

        wait_until(lambda: version_status() == "processing", what="the redo held at the gate")
        api.http.close()
        server.kill()
        gate.open()
        server.start()

        api = api_for(server)
        wait_until(lambda: version_status() == "completed", what="the redo made after restart")
        current = api.http.get(f"/jobs/{job_id}/results").json()
        assert [r["output_id"] for r in current["results"]] == [redo["output_id"]]
        assert current["status"] == "completed" and current["processed_images"] == 1
        api.http.close()
    finally:
        gate.open()
        server.stop()
