"""Packshots and garment recolours through a gateway (`vestis serve --engine onmodel,local`) to
an upstream vestis standing in for the hosted On-Model service: one remote job per job with
every field passed on, the reference image uploaded upstream, the upstream's model, job and
price on each result; an output the upstream cannot make is made by the local engine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.engines.drawn_garments import BACKDROPS, draw_garment
from tests.gateway.conftest import Gateway, as_dict, count, encoded, onmodel_env, rows
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def gateway_server(
    tmp_path_factory: pytest.TempPathFactory, upstream: ServerProcess
) -> Iterator[ServerProcess]:
    path = tmp_path_factory.mktemp("products-gateway")
    with ServerProcess(path, engine="onmodel,local", env=onmodel_env(upstream)) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(gateway_server: ServerProcess) -> Iterator[Gateway]:
    client = Gateway(gateway_server)
    yield client
    client.http.close()


def _garment() -> bytes:
    drawn = draw_garment("shirt", (60, 90, 150), BACKDROPS["white"], seed=2, size=(360, 480))
    return encoded(drawn.image)


def _sent(upstream: ServerProcess, remote_id: str) -> dict[str, Any]:
    (row,) = rows(
        upstream, "select request, job_type from jobs where public_id = :id", id=remote_id
    )
    return {"request": as_dict(row[0]), "job_type": row[1]}


def _create(gateway: Gateway, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = gateway.http.post(path, json=body)
    assert answer.status_code == 202, answer.text
    return gateway.finish(answer.json()["job_id"], timeout=180)


def test_packshot_passed_through(gateway: Gateway, upstream: ServerProcess) -> None:
    before = count(upstream, "jobs")
    front = gateway.api.upload("front.jpg", _garment())
    instructions = [
        {"style": "ghost_mannequin", "framing": "tall_3_4", "shadow": "contact",
         "num_variations": 2, "options": {"size": "2K"}},
        {"style": "flat_lay", "surface": "linen", "options": {"ar": "1:1", "format": "png"}},
    ]  # fmt: skip
    body = _create(gateway, "/create-packshot", {
        "project_id": gateway.api.project("PACKSHOT-1"),
        "images": [{"file_id": front, "note": "front view"}], "instructions": instructions,
        "options": {"model": "seedream", "use_anchor": True, "anchor_index": 1},
    })  # fmt: skip
    assert body["status"] == "completed", body
    assert count(upstream, "jobs") == before + 1  # one remote job for the three outputs
    results = body["results"]
    remote = _sent(upstream, results[0]["upstream_id"])
    assert remote["job_type"] == "create_packshot"
    sent = remote["request"]
    assert sent["images"][0]["note"] == "front view" and sent["images"][0]["file_id"] != front
    assert sent["instructions"][0]["style"] == "ghost_mannequin"
    assert sent["instructions"][1]["surface"] == "linen"
    assert sent["options"] == {"model": "seedream", "use_anchor": True, "anchor_index": 1,
                               "add_ai_watermark": False}  # fmt: skip
    assert "identity_code" not in sent
    for result in results:
        assert result["engine"] == "onmodel" and result["model_used"] == "seedream"
        assert result["upstream_credits"] == (5.0 if result["group_index"] == 0 else 3.0)
    names = sorted(r["original_filename"] for r in results)
    assert names == ["output_0_0.jpg", "output_0_1.jpg", "output_1_0.png"]


def test_recolor_passed_through_with_its_reference(
    gateway: Gateway, upstream: ServerProcess
) -> None:
    garment = gateway.api.upload("tee.jpg", _garment())
    drawn = draw_garment("tee", (120, 30, 40), BACKDROPS["white"], seed=1, size=(200, 260))
    swatch = gateway.api.upload("swatch.png", encoded(drawn.image, "PNG"))
    body = _create(gateway, "/garment-recolor", {
        "project_id": gateway.api.project("RECOLOR-1"), "images": [garment],
        "reference_image": swatch, "garment_label": "shirt", "processing_size": 4096,
        "num_variations": 2, "model": "gpt_image",
    })  # fmt: skip
    assert body["status"] == "completed", body
    results = body["results"]
    sent = _sent(upstream, results[0]["upstream_id"])["request"]
    assert sent["reference_image"] not in (None, swatch)  # the upstream's own file id
    assert sent["garment_label"] == "shirt" and sent["processing_size"] == 4096
    assert sent["num_variations"] == 2 and sent["model"] == "gpt_image"
    for result in results:
        assert result["engine"] == "onmodel" and result["upstream_credits"] == 10.0
    assert {(r["image_index"], r["group_index"]) for r in results} == {(0, 0), (0, 1)}


def test_a_refused_packshot_falls_back_to_the_local_engine(gateway: Gateway) -> None:
    front = gateway.api.upload("front.jpg", _garment())
    body = _create(gateway, "/create-packshot", {
        "project_id": gateway.api.project("PACKSHOT-2"), "images": [front],
        "instructions": [{"style": "white_cutout"},
                         {"style": "white_cutout", "prompt": "FAIL: refused upstream"}],
    })  # fmt: skip
    assert body["status"] == "completed", body
    made = {r["group_index"]: r for r in body["results"]}
    assert made[0]["engine"] == "onmodel"
    assert made[1]["engine"] == "local" and made[1]["metrics"]["garment_whole"] is True
    assert "made by the local engine instead" in made[1]["warnings"][0]
