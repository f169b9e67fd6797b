"""The blob store away while an output is stored: moto's S3 server stopped after the engine made
the output and started again (empty: moto keeps nothing) once the server said the store failed.
The store step is tried again with pauses (`store.blobs.store_retrying`), so the output ends
done, charged once, its image in the bucket; the engine's work is not thrown away."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.fashn.conftest import credits_of, run, wait_final
from tests.scaleout.conftest import S3
from tests.server.conftest import api_for, person_image
from tests.support.gate import Gate, wait_until
from tests.support.server_process import GATED_FAKE_ENGINE, ServerProcess, free_port

BUCKET = "vestis-outage"


class Moto:
    """moto's standalone S3 server on one port, which a test may stop and start again."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.s3 = S3(
            f"http://127.0.0.1:{self.port}",
            {
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.port}",
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_DEFAULT_REGION": "us-east-1",
            },
        )
        self.process: subprocess.Popen[bytes] | None = None

    def _answers(self) -> bool:
        assert self.process is not None and self.process.poll() is None, "moto did not start"
        try:
            return httpx.get(self.s3.endpoint + "/", timeout=2).status_code < 500
        except httpx.HTTPError:
            return False

    def start(self) -> None:
        """Up and answering, with an empty bucket."""
        with open(self.folder / "moto.log", "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._answers, timeout=60, what="moto's S3 server")
        self.s3.client().create_bucket(Bucket=BUCKET)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture
def moto(tmp_path: Path) -> Iterator[Moto]:
    server = Moto(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _balance(server: ServerProcess) -> float:
    login = httpx.post(server.base_url + "/auth/login", auth=(server.username, server.password))
    return float(login.json()["user"]["credits"])


def test_an_output_stored_while_s3_is_down_is_stored_once_it_is_back(
    moto: Moto, tmp_path: Path
) -> None:
    gate = Gate(tmp_path / "gate")
    server = ServerProcess(
        tmp_path,
        engine=GATED_FAKE_ENGINE,
        workers=1,
        extra_args=["--blob-store", f"s3://{BUCKET}/outage"],
        env={**gate.env, **moto.s3.env},
    )
    with server:
        api = api_for(server)
        body = {
            "identity_code": api.identity(person_image(1), "outage"),
            "project_id": api.project("outage"),
            "images": [api.upload("a.jpg", person_image(10))],
        }
        before = _balance(server)
        created = api.http.post("/model-swap", json=body)
        assert created.status_code == 202, created.text
        job_id = created.json()["job_id"]
        # inputs loaded, the engine's call waiting: from here the worker only writes
        wait_until(lambda: gate.waiting() == 1, what="the output at the gate")

        moto.stop()
        gate.open()
        # the first try failed ("storing output ... trying again"; a server that gives up at
        # once says "could not store output")
        failed = lambda: "storing output" in (log := server.log()) or "not store output" in log  # noqa: E731
        wait_until(failed, what="the store failed", timeout=180)
        moto.start()

        final = api.wait(job_id, timeout=180)
        results = api.http.get(f"/jobs/{job_id}/results").json()
        assert final["status"] == "completed", results
        [result] = results["results"]
        assert result["status"] == "completed", result
        assert results["credits_used"] == 1
        assert before - _balance(server) == 1
        image = httpx.get(result["url"], timeout=30)  # in the bucket started again
        assert image.status_code == 200 and image.content[:2] == b"\xff\xd8"
        api.http.close()


def test_a_prediction_stored_while_s3_is_down_completes_once_it_is_back(
    moto: Moto, tmp_path: Path
) -> None:
    """The same for a FASHN prediction's images: completed, charged once, not refunded."""
    gate = Gate(tmp_path / "gate")
    server = ServerProcess(
        tmp_path,
        engine=GATED_FAKE_ENGINE,
        workers=1,
        extra_args=["--blob-store", f"s3://{BUCKET}/outage"],
        env={**gate.env, **moto.s3.env},
    )
    with server, server.client() as client:
        before = credits_of(client)
        photo = base64.b64encode(person_image(30)).decode()
        started = run(client, {"model_image": f"data:image/jpeg;base64,{photo}"})
        assert started.status_code == 200, started.text
        wait_until(lambda: gate.waiting() == 1, what="the prediction at the gate")

        moto.stop()
        gate.open()
        failed = lambda: "storing prediction" in server.log() or "crashed" in server.log()  # noqa: E731
        wait_until(failed, what="the store failed", timeout=180)
        moto.start()

        final = wait_final(client, started.json()["id"], timeout=180).json()
        assert final["status"] == "completed", final
        assert credits_of(client) == before - 1
        [link] = final["output"]
        assert httpx.get(link, timeout=30).status_code == 200
