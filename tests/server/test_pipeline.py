"""The output pipeline through a real server: a flat-to-model anchor is made before the outputs
that follow it, and those are given its image; an engine that works per job gets the whole job
in one call."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.server.conftest import Api, api_for, person_image, plain_image
from tests.support.server_process import ServerProcess

FOLLOWED = "fake engine: followed the anchor"


def _flat_job(api: Api, use_anchor: bool) -> str:
    body = {
        "identity_code": api.identity(person_image(60), "Anchor"),
        "project_id": api.project("anchor"),
        "images": [api.upload("shirt.jpg", person_image(61))],
        "instructions": [{"pose": 1}, {"pose": 2}, {"pose": 3}],
        "options": {"use_anchor": use_anchor, "anchor_index": 1},
    }
    created = api.http.post("/flat-2-model", json=body)
    assert created.status_code == 202, created.text
    job_id = str(created.json()["job_id"])
    assert api.wait(job_id)["status"] == "completed"
    return job_id


def test_anchor_first_and_followers_get_its_image(api: Api) -> None:
    job_id = _flat_job(api, use_anchor=True)
    events = api.http.post("/notifications", json={"id_task": [job_id]}).json()
    made = [e["data"]["group_index"] for e in events if e["name"] == "image_result"]
    assert made[0] == 1 and sorted(made) == [0, 1, 2]
    results = api.http.get(f"/jobs/{job_id}/results").json()["results"]
    followed = {r["group_index"]: FOLLOWED in r["warnings"] for r in results}
    assert followed == {0: True, 1: False, 2: True}


def test_without_anchor_no_output_follows(api: Api) -> None:
    job_id = _flat_job(api, use_anchor=False)
    results = api.http.get(f"/jobs/{job_id}/results").json()["results"]
    assert [FOLLOWED in r["warnings"] for r in results] == [False, False, False]


@pytest.fixture(scope="module")
def job_engine_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    engine = "tests.support.fake_engine:JobFakeEngine"
    with ServerProcess(tmp_path_factory.mktemp("job-engine"), engine=engine) as server:
        yield server


def test_an_engine_that_works_per_job_gets_the_whole_job(job_engine_server: ServerProcess) -> None:
    api = api_for(job_engine_server)
    images = [api.upload(f"p{i}.jpg", person_image(70 + i)) for i in range(2)]
    body = {
        "identity_code": api.identity(person_image(69), "Whole"),
        "project_id": api.project("whole"),
        "images": [*images, api.upload("plain.jpg", plain_image())],
        "swap_options": {"num_variations": 2},
    }
    job_id = api.http.post("/model-swap", json=body).json()["job_id"]
    status = api.wait(job_id)
    assert status["status"] == "completed" and status["processed_images"] == 6
    results = api.http.get(f"/jobs/{job_id}/results").json()
    done = [r for r in results["results"] if r["status"] == "completed"]
    failed = [r for r in results["results"] if r["status"] == "failed"]
    assert len(done) == 4 and all("made in one job of 6 outputs" in r["warnings"] for r in done)
    assert len(failed) == 2 and all("No face" in r["error_message"] for r in failed)
    assert results["credits_used"] == 4
    api.http.close()
