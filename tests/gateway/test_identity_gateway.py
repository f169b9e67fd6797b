"""Identity creation through a gateway (`vestis serve --engine onmodel,local`) to an upstream
vestis standing in for the hosted On-Model service: `POST /identity/create` becomes one remote
identity-creation job (the brief passed on as it came, under an Idempotency-Key), its drafts
come back as the gateway job's results with the upstream's job and price on each, and a draft
is promoted on the gateway. An upstream that cannot draw people (the local engine) refuses the
brief: its 422 message is the gateway job's error, and the gateway refunds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.gateway.conftest import Gateway, as_dict, count, onmodel_env, photo, rows
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.e2e

BRIEF: dict[str, Any] = {
    "instructions": [
        {"appearance": {"skin_tone": "light", "age": 30}, "hair": {"color": "red"},
         "num_variations": 2},
        {"appearance": {"skin_tone": "deep"}, "options": {"size": "2K", "ar": "1:1"}},
    ],
    "options": {"model": "auto"},
    "name": "Nordic",
}  # fmt: skip


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, upstream: ServerProcess) -> Iterator[Gateway]:
    path = tmp_path_factory.mktemp("identity-gateway")
    env = onmodel_env(upstream)
    with ServerProcess(path, engine="onmodel,local", env=env, credits=1000) as server:
        client = Gateway(server)
        yield client
        client.http.close()


def _balance(gateway: Gateway) -> float:
    server = gateway.server
    query = "select credits from users where username = :name"
    return float(rows(server, query, name=server.username)[0][0])


def test_identity_creation_passed_through(gateway: Gateway, upstream: ServerProcess) -> None:
    before_jobs = count(upstream, "jobs")
    before = _balance(gateway)
    answer = gateway.http.post("/identity/create", json=BRIEF)
    assert answer.status_code == 202, answer.text
    created = answer.json()
    assert set(created) == {"job_id", "total_variations"} and created["total_variations"] == 3
    assert before - _balance(gateway) == 2 * 2 + 3  # two 1K drafts and one 2K
    body = gateway.finish(created["job_id"], timeout=180)
    assert body["status"] == "completed", body
    assert count(upstream, "jobs") == before_jobs + 1  # one remote job for the three drafts
    results = body["results"]
    (remote,) = {r["upstream_id"] for r in results}
    ((request, job_type),) = rows(
        upstream, "select request, job_type from jobs where public_id = :id", id=remote
    )
    assert job_type == "identity_creation"
    sent = as_dict(request)
    assert sent["instructions"] == BRIEF["instructions"] and sent["name"] == "Nordic"
    sizes = {}
    for result in results:
        assert result["engine"] == "onmodel" and result["model_used"] == "fake-draw"
        size = gateway.image(result).size
        sizes[(result["group_index"], result["image_index"])] = size
        assert result["upstream_credits"] == (2.0 if result["group_index"] == 0 else 3.0)
    assert sizes == {(0, 0): (768, 1024), (0, 1): (768, 1024), (1, 0): (2048, 2048)}
    status = gateway.http.get(f"/jobs/{created['job_id']}/status").json()
    assert status["job_type"] == "identity_creation"
    # the follow-up of a draft: promoted on the gateway, where the client's identities live
    promoted = gateway.http.post(
        "/identity/promote-generated",
        json={"image_result_id": results[0]["output_id"], "name": "Nordic 1"},
    )
    assert promoted.status_code == 201, promoted.text
    code = promoted.json()["identity_code"]
    local = gateway.http.get(f"/identity/{code}").json()
    assert local["name"] == "Nordic 1" and local["preprocessing_status"] == "completed"
    # ... and upstream: the upstream's draft (the remote job's result) is its identity now,
    # which the gateway remembers, so a swap through the gateway uploads no identity again
    ((upstream_code, upstream_name),) = rows(
        upstream,
        "select i.code, i.name from identities i where i.name = 'Nordic 1'",
    )
    ((memo,),) = rows(
        gateway.server, "select value from engine_memos where key like 'onmodel:%:identity:%'"
    )
    assert memo == upstream_code
    identities_upstream = count(upstream, "identities")
    swap = gateway.http.post("/model-swap", json={
        "project_id": gateway.api.project("DRAFT-SWAP"), "identity_code": code,
        "images": [gateway.api.upload("model.jpg", photo(1))],
    })  # fmt: skip
    assert swap.status_code == 202, swap.text
    swapped = gateway.finish(swap.json()["job_id"], timeout=180)
    assert swapped["status"] == "completed", swapped
    assert count(upstream, "identities") == identities_upstream
    sent = as_dict(rows(upstream, "select request from jobs where public_id = :id",
                        id=swapped["results"][0]["upstream_id"])[0][0])  # fmt: skip
    assert sent["identity_code"] == upstream_code


def test_identity_creation_refused_upstream_is_passed_back(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    path = tmp_path_factory.mktemp("local-upstream")
    with ServerProcess(path / "up", engine="local") as local_upstream:
        env = onmodel_env(local_upstream)
        with ServerProcess(path / "gw", engine="onmodel,local", env=env) as server:
            gateway = Gateway(server)
            before = _balance(gateway)
            answer = gateway.http.post("/identity/create", json=BRIEF)
            assert answer.status_code == 202, answer.text
            body = gateway.finish(answer.json()["job_id"], timeout=180)
            after = _balance(gateway)
            gateway.http.close()
    assert body["status"] == "failed", body
    assert len(body["results"]) == 3
    for result in body["results"]:
        message = result["error_message"]
        assert "On-Model refused the job" in message, message
        assert "does not create identities from a brief" in message  # the upstream's words
    assert after == before  # every draft refunded
