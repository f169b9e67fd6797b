"""A gateway with FASHN as its engine (`vestis serve --engine fashn,local`, FASHN_BASE_URL at an
upstream vestis server's `/v1`): v2 model swap and flat-to-model become FASHN runs, one per
photo and per instruction, recorded with their prediction ids and FASHN's credits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.gateway.conftest import Gateway, as_dict, encoded, fashn_env, photo, rows
from tests.support.server_process import ServerProcess

from vestis.runs.samples import make_flat_lay

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, upstream: ServerProcess) -> Iterator[Gateway]:
    path = tmp_path_factory.mktemp("fashn-gateway")
    with ServerProcess(path, engine="fashn,local", env=fashn_env(upstream)) as server:
        client = Gateway(server)
        yield client
        client.http.close()


def sent_inputs(upstream: ServerProcess, prediction_id: str) -> dict:
    (row,) = rows(
        upstream, "select inputs from fashn_predictions where public_id = :id", id=prediction_id
    )
    return as_dict(row[0])


def test_model_swap_runs_once_per_photo(gateway: Gateway, upstream: ServerProcess) -> None:
    options = {"post_process": True, "swap_options": {"num_variations": 2}}
    body = gateway.finish(
        gateway.swap([("a.jpg", photo(0)), ("b.png", photo(1, "PNG"))], **options)
    )
    assert body["status"] == "completed", body
    results = body["results"]
    assert len(results) == 4
    by_photo = {r["image_index"]: r["upstream_id"] for r in results}
    assert len(set(by_photo.values())) == 2  # one prediction per photo, both variations in it
    for result in results:
        assert result["engine"] == "fashn" and result["model_used"] == "fashn:model-swap"
        assert result["upstream_credits"] == 4.0
        assert any(w.startswith("post_process") for w in result["warnings"])
        assert result["garment_locked_share"] is not None
    sent = sent_inputs(upstream, by_photo[1])
    assert sent["num_images"] == 2 and sent["output_format"] == "png"
    assert sent["face_reference_mode"] == "match_base"


def test_flat_to_model_is_product_to_model_with_a_prompt(
    gateway: Gateway, upstream: ServerProcess
) -> None:
    garments = [("top.jpg", encoded(make_flat_lay("top", (30, 90, 160))), "tucked in")]
    instructions = [{"pose": "walking", "background": "white studio", "options": {"ar": "9:16"}}]
    body = gateway.finish(gateway.flat(garments, instructions, options={"barefoot": True}))
    assert body["status"] == "completed", body
    (result,) = body["results"]
    assert result["model_used"] == "fashn:product-to-model"
    assert gateway.image(result).size == (576, 1024)
    sent = sent_inputs(upstream, result["upstream_id"])
    assert sent["prompt"] == (
        "pose: walking. background: white studio. styling: tucked in. barefoot, no shoes"
    )
    assert sent["aspect_ratio"] == "9:16" and sent["resolution"] == "1k"
