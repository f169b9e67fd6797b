"""FASHN model-swap on the real local engine (a server process with `--engine local`)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from tests.fashn.conftest import data_uri, run_to_end
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    path: Path = tmp_path_factory.mktemp("fashn-local")
    with ServerProcess(path, engine="local", workers=1) as running:
        yield running


def test_face_reference_swap_on_the_local_engine(
    local_server: ServerProcess, pdp_photo: Image.Image, identity_photo: Image.Image
) -> None:
    with local_server.client() as client:
        final = run_to_end(
            client,
            {
                "model_image": data_uri(pdp_photo, "JPEG"),
                "face_reference": data_uri(identity_photo, "JPEG"),
                "face_reference_mode": "match_base",
                "output_format": "png",
            },
        )
    body = final.json()
    assert body["status"] == "completed", body
    response = httpx.get(body["output"][0], timeout=30)
    output = Image.open(io.BytesIO(response.content)).convert("RGB")
    assert output.size == pdp_photo.size
    # Something changed (the face), and most of the photo (garments, background) did not.
    before = np.asarray(pdp_photo.convert("RGB"), dtype=np.int16)
    after = np.asarray(output, dtype=np.int16)
    changed = np.abs(before - after).max(axis=2) > 12
    assert 0.001 < changed.mean() < 0.5


def test_without_face_reference_the_local_engine_says_it_needs_a_generative_engine(
    local_server: ServerProcess, pdp_photo: Image.Image
) -> None:
    with local_server.client() as client:
        before = client.get("/v1/credits").json()["credits"]["total"]
        final = run_to_end(client, {"model_image": data_uri(pdp_photo), "prompt": "a woman"})
        after = client.get("/v1/credits").json()["credits"]["total"]
    body = final.json()
    assert body["status"] == "failed"
    assert body["error"]["name"] == "InputValidationError"
    assert "generative engine" in body["error"]["message"]
    assert "(local)" in body["error"]["message"]
    assert final.headers["x-fashn-credits-used"] == "0"
    assert after == before
