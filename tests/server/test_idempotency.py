"""`Idempotency-Key` is bound to method, path, user and body, and forgotten after 24 hours."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import create_engine, text
from tests.server.conftest import Api, person_image
from tests.support.server_process import ServerProcess


@pytest.fixture(scope="module")
def swap(api: Api) -> dict[str, object]:
    return {
        "identity_code": api.identity(person_image(80), "idem"),
        "project_id": api.project("idem"),
        "images": [api.upload("idem.jpg", person_image(81))],
    }


def _balance(server: ServerProcess) -> float:
    login = httpx.post(server.base_url + "/auth/login", auth=(server.username, server.password))
    return float(login.json()["user"]["credits"])


def test_a_key_replays_only_the_same_request(
    server: ServerProcess, api: Api, swap: dict[str, object]
) -> None:
    key = {"Idempotency-Key": "order-1"}
    first = api.http.post("/model-swap", json=swap, headers=key)
    assert first.status_code == 202
    before = _balance(server)

    # the same request, spelled differently (other key order and spacing): a replay
    spelled = json.dumps(dict(reversed(list(swap.items()))), indent=2)
    again = api.http.post(
        "/model-swap", content=spelled, headers={**key, "Content-Type": "application/json"}
    )
    assert again.status_code == 202 and again.json() == first.json()

    # another body, or another endpoint, with the same key: refused, no job, no charge
    bigger = {**swap, "swap_options": {"num_variations": 4}}
    for path, body in (("/model-swap", bigger), ("/flat-2-model", {**swap, "instructions": [{}]})):
        refused = api.http.post(path, json=body, headers=key)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"] == "Idempotency key reused"
        assert "order-1" in refused.json()["message"]
    assert _balance(server) == before


def test_a_key_is_forgotten_after_24_hours(
    server: ServerProcess, api: Api, swap: dict[str, object]
) -> None:
    key = {"Idempotency-Key": "order-2"}
    first = api.http.post("/model-swap", json=swap, headers=key).json()["job_id"]
    long_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=25)
    engine = create_engine(server.db_url)
    with engine.begin() as connection:
        connection.execute(
            text("update idempotency_keys set created_at = :at where key = 'order-2'"),
            {"at": long_ago},
        )
    engine.dispose()
    second = api.http.post("/model-swap", json=swap, headers=key)
    assert second.status_code == 202 and second.json()["job_id"] != first
    # and the new answer is what the key replays now
    third = api.http.post("/model-swap", json=swap, headers=key)
    assert third.json()["job_id"] == second.json()["job_id"]
