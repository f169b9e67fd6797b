"""Rate limiting (429 + Retry-After), idempotent job creation, and fault injection."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.server.conftest import api_for, person_image
from tests.support.server_process import ServerProcess


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("limited"), rate_limit=2) as process:
        yield process


def _credits(server: ServerProcess, username: str, password: str) -> float:
    login = httpx.post(server.base_url + "/auth/login", auth=(username, password))
    return float(login.json()["user"]["credits"])


def test_rate_limit_idempotency_and_per_user_buckets(limited: ServerProcess) -> None:
    api = api_for(limited)
    body = {
        "identity_code": api.identity(person_image(60), "R"),
        "project_id": api.project("r"),
        "images": [api.upload("r.jpg", person_image(61))],
    }
    before = _credits(limited, limited.username, limited.password)

    first = api.http.post("/model-swap", json=body, headers={"Idempotency-Key": "same-key"})
    assert first.status_code == 202
    # replays answer the first job and do not count against the limit
    for _ in range(3):
        replay = api.http.post("/model-swap", json=body, headers={"Idempotency-Key": "same-key"})
        assert replay.status_code == 202 and replay.json() == first.json()
    assert _credits(limited, limited.username, limited.password) == before - 1  # one job only

    assert api.http.post("/model-swap", json=body).status_code == 202
    refused = api.http.post("/model-swap", json=body)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "2 jobs per minute" in refused.json()["message"]
    # other endpoints are not limited, and the bucket is per user
    assert api.http.get(f"/jobs/{first.json()['job_id']}/status").status_code == 200
    other = api_for(limited, limited.add_user("other", "other-password"))
    other_body = {
        "identity_code": other.identity(person_image(62), "O"),
        "project_id": other.project("o"),
        "images": [other.upload("o.jpg", person_image(63))],
    }
    assert other.http.post("/model-swap", json=other_body).status_code == 202
    # an idempotency key is per user: the same key from another user is a new job
    again = other.http.post("/model-swap", json=other_body, headers={"Idempotency-Key": "same-key"})
    assert again.status_code == 202 and again.json()["job_id"] != first.json()["job_id"]


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    faults = "429=0.3,500=0.3,drop=0.3,seed=3"
    with ServerProcess(tmp_path_factory.mktemp("faulty"), faults=faults) as process:
        yield process


def test_fault_injection(faulty: ServerProcess) -> None:
    seen: dict[str, int] = {"429": 0, "500": 0, "drop": 0, "ok": 0}
    for _ in range(60):
        try:
            response = httpx.get(faulty.base_url + "/project", headers=faulty.headers, timeout=5)
        except httpx.TransportError:
            seen["drop"] += 1
            continue
        if response.status_code == 429:
            assert response.headers["Retry-After"] == "1"
            seen["429"] += 1
        elif response.status_code == 500:
            seen["500"] += 1
        else:
            assert response.status_code == 200
            seen["ok"] += 1
    assert all(count > 0 for count in seen.values()), seen
    # never on /health
    assert all(httpx.get(faulty.base_url + "/health").status_code == 200 for _ in range(20))


def test_dropped_job_creation_still_created_the_job(faulty: ServerProcess) -> None:
    """A drop on job creation happens after the job exists: the retry with the same
    Idempotency-Key must return that job, not a second one."""
    headers = faulty.headers

    def call(
        method: str, path: str, extra: dict[str, str] | None = None, **kwargs: object
    ) -> httpx.Response:
        for _ in range(200):
            try:
                response = httpx.request(
                    method,
                    faulty.base_url + path,
                    headers={**headers, **(extra or {})},
                    timeout=10,
                    **kwargs,  # type: ignore[arg-type]
                )
            except httpx.TransportError:
                continue
            if response.status_code not in (429, 500):
                return response
        raise AssertionError("no answer without a fault in 200 tries")

    project = call("POST", "/project", json={"project_name": "f"}).json()["project_id"]
    identity = call(
        "POST", "/identity/upload", files={"image": ("f.jpg", person_image(70), "image/jpeg")}
    ).json()["identity_code"]
    upload = call("POST", "/upload", json={"filename": "f.jpg"}).json()
    assert httpx.put(upload["upload_url"], content=person_image(71)).status_code == 200
    body = {"identity_code": identity, "project_id": project, "images": [upload["file_id"]]}
    job_ids = set()
    drops = 0
    for attempt in range(40):
        key = f"key-{attempt}"
        try:
            first = httpx.post(
                faulty.base_url + "/model-swap",
                json=body,
                headers={**headers, "Idempotency-Key": key},
                timeout=10,
            )
        except httpx.TransportError:
            drops += 1
            retried = call("POST", "/model-swap", json=body, extra={"Idempotency-Key": key})
            job_ids.add(retried.json()["job_id"])
            continue
        if first.status_code == 202:
            job_ids.add(first.json()["job_id"])
    assert drops > 0
    events = call("POST", "/notifications", json={"name_list": ["batch_edit"]}).json()
    created = {e["data"]["job_id"] for e in events if e["data"]["status"] == "pending"}
    assert job_ids <= created
    assert len(created) == len(job_ids)  # no job was created twice
