"""Packshot and recolour jobs in the review studio (they have no identity): listed, shown,
approved and redone as the other job types, against a real server on the local engine."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from tests.engines.drawn_garments import BACKDROPS, draw_garment
from tests.gateway.conftest import encoded
from tests.server.conftest import Api, api_for
from tests.studio.conftest import csrf_of, sign_in
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("studio-products"), engine="local") as process:
        yield process


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[Api]:
    client = api_for(server)
    yield client
    client.http.close()


def _job(api: Api, path: str, body: dict) -> str:
    created = api.http.post(path, json=body)
    assert created.status_code == 202, created.text
    job_id = str(created.json()["job_id"])
    assert api.wait(job_id, timeout=120)["status"] == "completed"
    return job_id


def _finished_redo(client: httpx.Client, api: Api, job_id: str) -> dict:
    """The redo's result, once its job's stream says the output was made."""
    with api.http.stream("GET", "/notifications/events", params={"id_task": job_id}) as events:
        for line in events.iter_lines():
            if line.startswith("data: "):
                event = json.loads(line[6:])
                data = event.get("data") or {}
                if event.get("name") == "image_result" and data.get("version") == 1:
                    break
    body = api.http.get(f"/jobs/{job_id}/results", params={"all_versions": "true"}).json()
    return next(r for r in body["results"] if r["version"] == 1)


def test_packshot_and_recolour_jobs_in_the_studio(server: ServerProcess, api: Api) -> None:
    drawn = draw_garment("tee", (170, 45, 50), BACKDROPS["lightgrey"], seed=7, size=(360, 480))
    garment = api.upload("tee.jpg", encoded(drawn.image))
    project = api.project("STUDIO-PRODUCTS")
    packshot = _job(api, "/create-packshot", {"project_id": project, "images": [garment],
                    "instructions": [{"style": "white_cutout"}]})  # fmt: skip
    recolour = _job(api, "/garment-recolor", {"project_id": project, "images": [garment],
                    "reference_text": "navy"})  # fmt: skip
    client = sign_in(server, server.username, server.password)
    listing = client.get("/studio/")
    assert listing.status_code == 200 and "packshot" in listing.text and "recolour" in listing.text
    for job_id in (packshot, recolour):
        page = client.get(f"/studio/jobs/{job_id}")
        assert page.status_code == 200, page.text
        assert "output_0_0_v0" in page.text and 'alt="identity' not in page.text
    output = api.http.get(f"/jobs/{recolour}/results").json()["results"][0]["output_id"]
    token = csrf_of(client, f"/studio/jobs/{recolour}")
    liked = client.post(f"/studio/jobs/{recolour}/outputs/{output}/review",
                        data={"verdict": "like", "csrf_token": token})  # fmt: skip
    assert liked.status_code == 303
    assert api.http.get(f"/jobs/{recolour}/results").json()["results"][0]["feedback"] == "like"
    redo = client.post(f"/studio/jobs/{recolour}/outputs/{output}/redo",
                       data={"csrf_token": token})  # fmt: skip
    assert redo.status_code == 303
    again = _finished_redo(client, api, recolour)
    assert again["status"] == "completed" and again["metrics"]["delta_e2000"] < 5
