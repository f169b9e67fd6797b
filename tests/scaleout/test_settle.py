"""Uploads PUT straight to the bucket are settled (checked, copied to their own key) by the job
creation that first names them, in its transaction. A creation refused after the settle rolls
the database back; the bucket must still agree with it, so the next creation completes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.scaleout.conftest import BUCKET, S3
from tests.server.conftest import Api, api_for, person_image
from tests.support.server_process import ServerProcess

PREFIX = "settle"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, s3: S3) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("settle")
    store = ["--blob-store", f"s3://{BUCKET}/{PREFIX}"]
    with ServerProcess(root, extra_args=store, env=s3.env) as server:
        client = api_for(server)
        yield client
        client.http.close()


def _kinds(s3: S3) -> list[str]:
    listed = s3.client().list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + "/")
    return sorted(item["Key"].split("/")[1] for item in listed.get("Contents", []))


def test_a_creation_refused_after_the_settle_leaves_the_upload_usable(api: Api, s3: S3) -> None:
    upload = api.upload("late.jpg", person_image(3))
    assert _kinds(s3) == ["uploads"]
    body = {"project_id": api.project("settle"), "images": [upload]}
    # the settle runs, then the job's identity is not found: 404, the transaction rolls back
    refused = api.http.post("/model-swap", json={**body, "identity_code": "nobody"})
    assert refused.status_code == 404, refused.text
    assert "uploads" in _kinds(s3)  # the PUT bytes stay where the database says they are

    identity = api.identity(person_image(1), "settle")
    created = api.http.post("/model-swap", json={**body, "identity_code": identity})
    assert created.status_code == 202, created.text
    assert api.wait(created.json()["job_id"])["status"] == "completed"
    # settled: one copy at the input's own key, the staging object gone once committed
    assert _kinds(s3).count("inputs") == 1 and "uploads" not in _kinds(s3)
