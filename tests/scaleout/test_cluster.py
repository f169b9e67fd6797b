"""2 API processes and 3 workers on one PostgreSQL database and one S3 bucket: a job's outputs
spread over the workers, a worker killed mid-output, an API process killed while clients poll
and stream, the rate limit and the credits held across processes, events of workers reaching
SSE clients, and the reference scripts' flow with uploads PUT straight to the bucket."""

from __future__ import annotations

import base64
import io
import json
import threading
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from PIL import Image
from sqlalchemy import create_engine, text
from tests.scaleout.conftest import Cluster
from tests.server.conftest import Api, api_for, person_image
from tests.server.reference_client import ReferenceScript
from tests.support.gate import wait_until

from vestis.runs.samples import make_identity_image, make_pdp_photo


def _job_body(api: Api, count: int, tag: str) -> dict:
    return {
        "identity_code": api.identity(person_image(1), f"id-{tag}"),
        "project_id": api.project(f"p-{tag}"),
        "images": [api.upload(f"{tag}{i}.jpg", person_image(10 + i)) for i in range(count)],
    }


def _statuses(api: Api, job_id: str) -> list[str]:
    results = api.http.get(f"/jobs/{job_id}/results").json()["results"]
    return [r["status"] for r in results]


def _credits(api: Api) -> float:
    return float(api.http.get("/v1/credits").json()["credits"]["total"])


class Stream:
    """An SSE client on one API process, collecting events in a thread."""

    def __init__(self, base_url: str, token: str, job_id: str) -> None:
        self.events: list[dict] = []
        self.url = f"{base_url}/notifications/events"
        self.params = {"token": token, "id_task": job_id}
        self._thread = threading.Thread(target=self._read, daemon=True)
        self.connected = threading.Event()
        self._thread.start()

    def _read(self) -> None:
        with httpx.stream("GET", self.url, params=self.params, timeout=None) as response:
            name = None
            for line in response.iter_lines():
                if line.startswith("event:"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    if name == "backfill_complete":
                        self.connected.set()
                    elif name is None:
                        self.events.append(json.loads(line.split(":", 1)[1]))
                        if self.events[-1]["name"] == "completed":
                            return
                    name = None

    def names(self) -> list[str]:
        return [e["name"] for e in self.events]


def test_outputs_spread_over_workers_and_a_killed_workers_output_is_made_once(
    cluster: Cluster,
) -> None:
    api = api_for(cluster.apis[0])
    before = _credits(api)
    job_id = api.http.post("/model-swap", json=_job_body(api, 6, "spread")).json()["job_id"]
    # the gate is closed: each of the 3 workers takes one output and waits in the engine
    wait_until(lambda: _statuses(api, job_id).count("processing") == 3, what="3 outputs held")
    victim = cluster.workers[0]
    victim.kill()
    cluster.gate.open()
    assert api.wait(job_id, timeout=120)["status"] == "completed"

    results = api.http.get(f"/jobs/{job_id}/results").json()
    assert [r["status"] for r in results["results"]] == ["completed"] * 6
    makers = Counter(r["model_used"] for r in results["results"])
    living = {f"fake@{w.pid}" for w in cluster.workers[1:]}
    assert set(makers) <= living and len(makers) == 2, makers  # spread; none by the dead one
    events = api.http.post("/notifications", json={"id_task": [job_id]}).json()
    made = Counter(e["data"]["image_id"] for e in events if e["name"] == "image_result")
    assert sorted(made.values()) == [1] * 6  # every output exactly once
    assert results["credits_used"] == 6 and before - _credits(api) == 6
    # the dead worker's output was claimed a second time, by a living worker, and only then
    with create_engine(cluster.database_url).connect() as db:
        attempts = db.execute(
            text(
                "SELECT o.attempts FROM job_outputs o JOIN jobs j ON j.id = o.job_id "
                "WHERE j.public_id = :job"
            ),
            {"job": job_id},
        ).scalars()
        assert sorted(attempts) == [1, 1, 1, 1, 1, 2]
    api.http.close()


def test_an_api_process_killed_while_clients_poll_and_stream(cluster: Cluster) -> None:
    first, second = cluster.apis
    api = api_for(first)
    other = api_for(second)
    cluster.gate.close()
    job_id = api.http.post("/model-swap", json=_job_body(api, 2, "failover")).json()["job_id"]
    stream = Stream(second.base_url, second.token, job_id)
    assert stream.connected.wait(30)
    wait_until(lambda: "processing" in _statuses(api, job_id), what="an output started")
    first.kill()
    cluster.gate.open()
    # the poller's next request goes to the other process, which answers for the same job
    assert other.wait(job_id, timeout=120)["status"] == "completed"
    wait_until(lambda: "completed" in stream.names(), what="the stream saw the job end")
    assert stream.names().count("image_result") == 2
    first.start()  # the cluster goes on with both processes
    api.http.close()
    other.http.close()


def _create_at_once(apis: list[Api], body: dict, count: int) -> Counter[int]:
    """`count` job creations at once, alternating between the API processes: their codes."""
    with ThreadPoolExecutor(count) as pool:
        answers = list(
            pool.map(
                lambda n: apis[n % len(apis)].http.post("/model-swap", json=body), range(count)
            )
        )
    return Counter(a.status_code for a in answers)


def test_two_api_processes_share_one_rate_limit(cluster: Cluster) -> None:
    token = cluster.apis[0].add_user("limited", "limited-password", credits=1000)
    apis = [api_for(server, token) for server in cluster.apis]
    body = _job_body(apis[0], 1, "limit")
    codes = _create_at_once(apis, body, 10)
    assert codes == {202: 5, 429: 5}, codes
    for api in apis:
        api.http.close()


def test_concurrent_creations_cannot_overspend(cluster: Cluster) -> None:
    token = cluster.apis[0].add_user("thrifty", "thrifty-password", credits=2)
    apis = [api_for(server, token) for server in cluster.apis]
    body = _job_body(apis[0], 1, "thrift")
    codes = _create_at_once(apis, body, 20)
    # the rate limit (5/min) refuses some too; credits for 2 accept exactly 2
    assert codes[202] == 2 and codes[202] + codes[402] + codes[429] == 20, codes
    assert _credits(apis[0]) == 0
    for api in apis:
        api.http.close()


def test_reference_script_flow_uploads_straight_to_the_bucket(
    cluster: Cluster, tmp_path: Path
) -> None:
    cluster.gate.open()
    folder = tmp_path / "ARTICLE1"
    folder.mkdir()
    (folder / "image1.jpg").write_bytes(person_image(1))
    (folder / "image2.png").write_bytes(person_image(2, fmt="PNG"))
    identity = tmp_path / "Anna.jpg"
    identity.write_bytes(person_image(9, size=(200, 260)))
    server = cluster.apis[1]
    reserved = httpx.post(
        server.base_url + "/upload", json={"filename": "probe.jpg"}, headers=server.headers
    ).json()
    assert reserved["upload_url"].startswith(cluster.s3.endpoint + "/vestis-test/cluster/")

    script = ReferenceScript(server.base_url, token=server.token)
    run = script.model_swap(folder, tmp_path / "out", identity_image=identity)
    assert sorted(run.files) == ["image1_v0.jpg", "image2_v0.png"]
    with Image.open(tmp_path / "out" / "image2_v0.png") as made:
        assert made.format == "PNG" and made.size == (120, 160)
    metadata = json.loads((tmp_path / "out" / "metadata.json").read_text())
    for result in metadata["results"]:  # outputs are presigned GETs on the bucket
        assert result["output"]["full_size"].startswith(cluster.s3.endpoint + "/vestis-test/")
    kinds = {key.split("/")[1] for key in cluster.s3.stored_keys()}
    assert {"inputs", "outputs", "thumbnails", "identities"} <= kinds
    # the ZIP is streamed from the bucket
    api = api_for(server)
    link = api.http.post("/download", json={"job_id": run.job_id}).json()["download_url"]
    archive = zipfile.ZipFile(io.BytesIO(httpx.get(link).content))
    assert sorted(archive.namelist()) == ["image1_v0.jpg", "image2_v0.png"]
    api.http.close()


def test_fashn_predictions_run_on_the_workers(cluster: Cluster) -> None:
    """The API processes run no engine work (--workers 0): a prediction accepted by one is made
    by a worker, its data-URI inputs kept in the bucket meanwhile (then removed), and the other
    API process answers its status, with presigned links to the bucket or the data URIs."""
    cluster.gate.open()
    first, second = cluster.apis
    inputs = {
        "model_image": _data_uri(make_pdp_photo(1)),
        "face_reference": _data_uri(make_identity_image()),
    }
    with first.client() as accepting, second.client() as answering:
        made = {}
        for base64_mode in (False, True):
            started = accepting.post(
                "/v1/run",
                json={
                    "model_name": "model-swap",
                    "inputs": {**inputs, "return_base64": base64_mode},
                },
            )
            assert started.status_code == 200, started.text
            made[base64_mode] = started.json()["id"]
        for base64_mode, prediction_id in made.items():
            final = _wait_prediction(answering, prediction_id)
            assert final["status"] == "completed", final
            (output,) = final["output"]
            if base64_mode:
                assert output.startswith("data:image/")
                data = base64.b64decode(output.split(",", 1)[1])
            else:
                assert output.startswith(cluster.s3.endpoint + "/vestis-test/cluster/")
                data = httpx.get(output).content
            with Image.open(io.BytesIO(data)) as image:
                assert image.size == make_pdp_photo(1).size
    kinds = {key.split("/")[1] for key in cluster.s3.stored_keys()}
    assert "fashn" in kinds and "fashnin" not in kinds  # the kept inputs went with the run


def _data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _wait_prediction(client: httpx.Client, prediction_id: str) -> dict:
    answers: list[dict] = []

    def final() -> bool:
        answers.append(client.get(f"/v1/status/{prediction_id}").json())
        return answers[-1]["status"] not in ("starting", "in_queue", "processing")

    wait_until(final, timeout=120, what=f"prediction {prediction_id} final")
    return answers[-1]
