"""`/v1/run`, `/v1/status`, `/v1/credits` end to end: a real server process (fake engine), real
HTTP, FASHN's bodies and codes."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import create_engine, text
from tests.fashn.conftest import (
    FAKE,
    NON_GENERATIVE,
    LocalHTTP,
    credits_of,
    data_uri,
    encode_image,
    run,
    run_to_end,
    wait_final,
)
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.e2e


def fetch_image(url: str) -> Image.Image:
    response = httpx.get(url, timeout=30)  # no Authorization: the link is signed
    assert response.status_code == 200, response.text
    return Image.open(io.BytesIO(response.content))


def assert_fashn_error(response: httpx.Response, status: int, name: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message"}, body
    assert body["error"] == name
    assert body["message"]
    return str(body["message"])


# --- the happy paths -----------------------------------------------------------------------------


def test_face_reference_swap_returns_signed_urls_and_charges_four_per_image(
    server: ServerProcess, pdp_photo: Image.Image, identity_photo: Image.Image
) -> None:
    with server.client() as client:
        before = credits_of(client)
        final = run_to_end(
            client,
            {
                "model_image": data_uri(pdp_photo, "JPEG"),
                "face_reference": data_uri(identity_photo),
                "face_reference_mode": "match_base",
                "num_images": 2,
                "output_format": "jpeg",
                "seed": 7,
            },
        )
        body = final.json()
        assert body["status"] == "completed" and body["error"] is None
        assert len(body["output"]) == 2
        assert final.headers["x-fashn-credits-used"] == "8"
        assert credits_of(client) == before - 8
    for url in body["output"]:
        assert url.startswith(server.base_url + "/files/fashn/")
        image = fetch_image(url)
        assert image.format == "JPEG" and image.size == pdp_photo.size
    # The variations differ (the fake engine's marker colour, or the brightness of the face it
    # pastes, follows the variation).
    first, second = (fetch_image(u).convert("RGB") for u in body["output"])
    assert first.tobytes() != second.tobytes()


def test_every_input_and_edge_of_range_is_accepted(
    server: ServerProcess, pdp_photo: Image.Image, identity_photo: Image.Image
) -> None:
    with server.client() as client:
        final = run_to_end(
            client,
            {
                "model_image": data_uri(pdp_photo),
                "prompt": "a woman with short red hair",
                "face_reference": data_uri(identity_photo, "JPEG"),
                "face_reference_mode": "match_reference",
                "seed": 2**32 - 1,
                "num_images": 4,
                "output_format": "png",
                "return_base64": False,
                "resolution": "1k",
                "generation_mode": "balanced",
                "aspect_ratio": "3:4",
            },
        )
    body = final.json()
    assert body["status"] == "completed", body
    assert len(body["output"]) == 4
    assert all(fetch_image(url).format == "PNG" for url in body["output"])


def test_without_face_reference_a_generative_engine_invents_the_identity(
    server: ServerProcess, pdp_photo: Image.Image
) -> None:
    with server.client() as client:
        final = run_to_end(client, {"model_image": data_uri(pdp_photo), "prompt": "any"})
    assert final.json()["status"] == "completed"
    assert final.headers["x-fashn-credits-used"] == "1"


def test_status_starts_in_progress_and_unauthenticated_links_are_refused(
    server: ServerProcess, pdp_photo: Image.Image
) -> None:
    with server.client() as client:
        started = run(client, {"model_image": data_uri(pdp_photo)})
        first = client.get(f"/v1/status/{started.json()['id']}").json()
        assert first["status"] in ("starting", "in_queue", "processing", "completed")
        final = wait_final(client, started.json()["id"]).json()
    url = final["output"][0]
    tampered = url.replace("signature=", "signature=0")
    assert_fashn_error(httpx.get(tampered), 401, "UnauthorizedAccess")
    assert_fashn_error(httpx.get(url.split("?")[0]), 401, "UnauthorizedAccess")


# --- rejected requests ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "field"),
    [
        ({"num_images": 0}, "num_images"),
        ({"num_images": 5}, "num_images"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**32}, "seed"),
        ({"output_format": "webp"}, "output_format"),
        ({"face_reference_mode": "match_face"}, "face_reference_mode"),
        ({"return_base64": "sometimes"}, "return_base64"),
        ({"return_base64": 1}, "return_base64"),
        ({"num_images": True}, "num_images"),
        ({"seed": "42"}, "seed"),
        ({"seed": 4.5}, "seed"),
        ({"resolution": "8k"}, "resolution"),
        ({"model_image": ""}, "model_image"),
        ({"model_image": None}, "model_image"),
    ],
)
def test_bad_inputs_answer_400_bad_request(
    server: ServerProcess, inputs: dict[str, object], field: str
) -> None:
    payload = {"model_image": "https://example.com/a.jpg", **inputs}
    with server.client() as client:
        message = assert_fashn_error(run(client, payload), 400, "BadRequest")
    assert f"inputs.{field}" in message


def test_missing_model_image_and_malformed_bodies(server: ServerProcess) -> None:
    with server.client() as client:
        message = assert_fashn_error(run(client, {"prompt": "x"}), 400, "BadRequest")
        assert "inputs.model_image" in message and "required" in message
        legacy = client.post("/v1/run", json={"model_image": "https://example.com/a.jpg"})
        assert "model_name" in assert_fashn_error(legacy, 400, "BadRequest")
        broken = client.post(
            "/v1/run", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert_fashn_error(broken, 400, "BadRequest")
        no_inputs = client.post("/v1/run", json={"model_name": "model-swap", "inputs": "x"})
        assert_fashn_error(no_inputs, 400, "BadRequest")
        huge = client.post(
            "/v1/run",
            content=b"{" + b" " * (40 * 1024 * 1024) + b"}",
            headers={"Content-Type": "application/json"},
        )
        assert "as URLs" in assert_fashn_error(huge, 400, "BadRequest")


@pytest.mark.parametrize("model_name", ["tryon-v1.6", "tryon-max", "edit", ""])
def test_other_models_are_not_offered(server: ServerProcess, model_name: str) -> None:
    payload = {"model_name": model_name, "inputs": {"model_image": "https://example.com/a.jpg"}}
    with server.client() as client:
        message = assert_fashn_error(client.post("/v1/run", json=payload), 400, "BadRequest")
    if model_name:
        assert model_name in message and "model-swap" in message and "product-to-model" in message


# --- product-to-model ----------------------------------------------------------------------------


def run_product(client: httpx.Client, inputs: dict[str, object]) -> httpx.Response:
    return client.post("/v1/run", json={"model_name": "product-to-model", "inputs": inputs})


def test_product_to_model_dresses_the_face_reference(
    server: ServerProcess, identity_photo: Image.Image
) -> None:
    from vestis.runs.samples import make_flat_lay

    garment = make_flat_lay("top", (30, 90, 160))
    with server.client() as client:
        started = run_product(
            client,
            {
                "product_image": data_uri(garment),
                "face_reference": data_uri(identity_photo),
                "prompt": "walking, white studio",
                "aspect_ratio": "9:16",
                "resolution": "1k",
                "num_images": 2,
                "output_format": "jpeg",
            },
        )
        assert started.status_code == 200, started.text
        final = wait_final(client, started.json()["id"])
    body = final.json()
    assert body["status"] == "completed", body
    assert final.headers["x-fashn-credits-used"] == "8"  # 4 per image with a face reference
    images = [fetch_image(url) for url in body["output"]]
    assert [(i.format, i.size) for i in images] == [("JPEG", (576, 1024))] * 2
    # the fake engine's flat-to-model pastes the garment in the lower half: the blue top
    lower = np.asarray(images[0].convert("RGB").crop((0, 512, 576, 1024))).astype(int)
    blue = int((lower[..., 2] > lower[..., 0] + 60).sum())
    assert blue > 0.05 * 576 * 512


def test_product_to_model_without_a_person_or_with_try_on_conflicts(
    server: ServerProcess, identity_photo: Image.Image
) -> None:
    from vestis.runs.samples import make_flat_lay

    dress = make_flat_lay("dress")
    garment = data_uri(dress)
    with server.client() as client:
        final = wait_final(client, run_product(client, {"product_image": garment}).json()["id"])
        assert final.json()["status"] == "failed"
        assert final.json()["error"]["name"] == "InputValidationError"
        conflict = run_product(
            client,
            {
                "product_image": garment,
                "model_image": data_uri(identity_photo),
                "face_reference": data_uri(identity_photo),
            },
        )
        assert "model_image" in assert_fashn_error(conflict, 400, "BadRequest")
        missing = run_product(client, {"face_reference": data_uri(identity_photo)})
        assert "inputs.product_image" in assert_fashn_error(missing, 400, "BadRequest")
        # try-on mode: the person of model_image wears the product, in the product's shape
        tried = run_product(
            client, {"product_image": garment, "model_image": data_uri(identity_photo)}
        )
        body = wait_final(client, tried.json()["id"]).json()
    assert body["status"] == "completed", body
    width, height = fetch_image(body["output"][0]).size
    assert max(width, height) == 1024
    assert width / height == pytest.approx(dress.width / dress.height, rel=0.02)


@pytest.mark.parametrize("token", ["wrong-token", ""])
def test_bad_token_answers_401_unauthorized_access(server: ServerProcess, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=server.base_url, headers=headers) as client:
        assert_fashn_error(
            run(client, {"model_image": "https://example.com/a.jpg"}), 401, "UnauthorizedAccess"
        )
        assert_fashn_error(client.get("/v1/status/pred_x"), 401, "UnauthorizedAccess")
        assert_fashn_error(client.get("/v1/credits"), 401, "UnauthorizedAccess")


def test_unknown_and_foreign_ids_are_404_not_found(
    server: ServerProcess, pdp_photo: Image.Image
) -> None:
    other_token = server.add_user("fashn-other", "other-password", credits=50)
    with server.client() as client, server.client(other_token) as other:
        message = assert_fashn_error(client.get("/v1/status/no-such-id"), 404, "NotFound")
        assert "no-such-id" in message
        mine = run(client, {"model_image": data_uri(pdp_photo)}).json()["id"]
        assert_fashn_error(other.get(f"/v1/status/{mine}"), 404, "NotFound")
        assert_fashn_error(client.get("/v1/unknown"), 404, "NotFound")


def test_out_of_credits_is_429_and_failures_are_refunded(
    server: ServerProcess, pdp_photo: Image.Image, identity_photo: Image.Image
) -> None:
    token = server.add_user("fashn-poor", "poor-password", credits=3)
    model_image = data_uri(pdp_photo)
    with server.client(token) as client:
        with_reference = {"model_image": model_image, "face_reference": data_uri(identity_photo)}
        message = assert_fashn_error(run(client, with_reference), 429, "OutOfCredits")
        assert "4" in message and "3" in message
        # A failed prediction costs nothing: its reservation comes back.
        failed = run_to_end(client, {"model_image": "bm90IGFuIGltYWdl", "num_images": 3})
        assert failed.json()["status"] == "failed"
        assert failed.headers["x-fashn-credits-used"] == "0"
        assert credits_of(client) == 3
        done = run_to_end(client, {"model_image": model_image, "num_images": 3})
        assert done.json()["status"] == "completed"
        assert credits_of(client) == 0
        assert_fashn_error(run(client, {"model_image": model_image}), 429, "OutOfCredits")
        balance = client.get("/v1/credits").json()
    assert balance == {"credits": {"total": 0, "subscription": 0, "on_demand": 0}}


def test_rate_limit_is_429_rate_limit_exceeded(tmp_path: Path, pdp_photo: Image.Image) -> None:
    """`/v1/run` has FASHN's own window (`--fashn-rate-limit`), not the v2 job window."""
    limited = ServerProcess(
        tmp_path, engine=FAKE, rate_limit=1, extra_args=["--fashn-rate-limit", "2"]
    )
    with limited, limited.client() as client:
        inputs = {"model_image": data_uri(pdp_photo)}
        assert run(client, inputs).status_code == 200  # over the v2 limit of 1 already
        assert run(client, inputs).status_code == 200
        refused = run(client, inputs)
    message = assert_fashn_error(refused, 429, "RateLimitExceeded")
    assert "2" in message
    assert int(refused.headers["retry-after"]) >= 1


# --- runtime failures (HTTP 200, status failed) --------------------------------------------------


def test_bare_base64_fails_with_image_load_error(
    server: ServerProcess, pdp_photo: Image.Image
) -> None:
    bare = base64.b64encode(encode_image(pdp_photo)).decode()
    with server.client() as client:
        final = run_to_end(client, {"model_image": bare})
        reference = run_to_end(
            client,
            {"model_image": data_uri(pdp_photo), "face_reference": "data:image/png;base64,!!"},
        )
    body = final.json()
    assert body["status"] == "failed" and body["output"] is None
    assert body["error"]["name"] == "ImageLoadError"
    assert "prefix" in body["error"]["message"] and "model image" in body["error"]["message"]
    assert reference.json()["error"]["name"] == "ImageLoadError"
    assert "face reference" in reference.json()["error"]["message"]


def test_without_face_reference_a_non_generative_engine_fails_clearly(
    tmp_path: Path, pdp_photo: Image.Image
) -> None:
    plain = ServerProcess(tmp_path, engine=NON_GENERATIVE)
    with plain, plain.client() as client:
        before = credits_of(client)
        final = run_to_end(client, {"model_image": data_uri(pdp_photo), "prompt": "a man"})
        after = credits_of(client)
    body = final.json()
    assert body["status"] == "failed"
    assert body["error"]["name"] == "InputValidationError"
    assert "generative engine" in body["error"]["message"]
    assert "face_reference" in body["error"]["message"]
    assert after == before


def test_no_face_in_the_model_image_fails_with_the_engines_reason(server: ServerProcess) -> None:
    plain = Image.new("RGB", (64, 64), (120, 120, 120))
    with server.client() as client:
        final = run_to_end(
            client, {"model_image": data_uri(plain), "face_reference": data_uri(plain)}
        )
    assert final.json()["error"]["name"] == "PipelineError"
    assert "No face" in final.json()["error"]["message"]


# --- base64 outputs ------------------------------------------------------------------------------


def test_base64_outputs_are_data_uris_and_base64_inputs_are_not_kept(
    tmp_path: Path, pdp_photo: Image.Image, identity_photo: Image.Image
) -> None:
    with ServerProcess(tmp_path, engine=FAKE) as fresh:
        with fresh.client() as client:
            final = run_to_end(
                client,
                {
                    "model_image": data_uri(pdp_photo),
                    "face_reference": data_uri(identity_photo),
                    "num_images": 2,
                    "output_format": "jpeg",
                    "return_base64": True,
                },
            )
        body = final.json()
        assert body["status"] == "completed"
        for output in body["output"]:
            assert output.startswith("data:image/jpeg;base64,")
            image = Image.open(io.BytesIO(base64.b64decode(output.split(",", 1)[1])))
            assert image.format == "JPEG" and image.size == pdp_photo.size
        # the inputs' blobs (kept for the worker) are gone; only the two outputs are kept
        stored = sorted(p.parent.parent.name for p in (fresh.data_dir / "blobs").rglob("*.*"))
        assert stored == ["fashn", "fashn"]
        engine = create_engine(fresh.db_url)
        with engine.connect() as db:
            inputs = db.execute(text("select inputs from fashn_predictions")).scalar_one()
        engine.dispose()
        inputs = json.loads(inputs) if isinstance(inputs, str) else inputs
        assert inputs["model_image"] == "<base64>" and inputs["face_reference"] == "<base64>"
        # any process answers the status (for an hour): the outputs survive a restart
        fresh.stop()
        fresh.start()
        with fresh.client() as client:
            again = client.get(f"/v1/status/{body['id']}").json()
        assert again["output"] == body["output"]


# --- URL inputs and webhooks ---------------------------------------------------------------------


def test_url_on_a_private_address_is_refused_by_default(
    server: ServerProcess, local_http: LocalHTTP, pdp_photo: Image.Image
) -> None:
    local_http.files["/model.png"] = (encode_image(pdp_photo), "image/png")
    with server.client() as client:
        final = run_to_end(
            client,
            {"model_image": f"{local_http.url}/model.png", "face_reference": data_uri(pdp_photo)},
        )
        webhook = run(
            client, {"model_image": data_uri(pdp_photo)}, webhook_url=f"{local_http.url}/hook"
        )
    error = final.json()["error"]
    assert error["name"] == "ImageLoadError"
    assert "127.0.0.1" in error["message"] and "allow_private_urls" in error["message"]
    assert "127.0.0.1" in assert_fashn_error(webhook, 400, "BadRequest")


def test_url_inputs_are_fetched_when_private_urls_are_allowed(
    private_server: ServerProcess, local_http: LocalHTTP, pdp_photo: Image.Image
) -> None:
    local_http.files["/model.png"] = (encode_image(pdp_photo), "image/png")
    local_http.files["/face.jpg"] = (encode_image(pdp_photo, "JPEG"), "image/jpeg")
    local_http.files["/page.html"] = (b"<html></html>", "text/plain;charset=UTF-8")
    with private_server.client() as client:
        final = run_to_end(
            client,
            {
                "model_image": f"{local_http.url}/model.png",
                "face_reference": f"{local_http.url}/face.jpg",
            },
        )
        not_image = run_to_end(
            client,
            {"model_image": f"{local_http.url}/page.html", "face_reference": data_uri(pdp_photo)},
        )
        missing = run_to_end(client, {"model_image": f"{local_http.url}/gone.png"})
        ftp = run_to_end(client, {"model_image": "ftp://127.0.0.1/model.png"})
    assert final.json()["status"] == "completed"
    assert fetch_image(final.json()["output"][0]).size == pdp_photo.size
    assert "Content-Type is not an image" in not_image.json()["error"]["message"]
    assert "404" in missing.json()["error"]["message"]
    assert "http and https" in ftp.json()["error"]["message"]


def _unsigned(url: str) -> str:
    return urlsplit(url)._replace(query="").geturl()


def test_webhook_receives_the_final_status_and_is_retried(
    private_server: ServerProcess, local_http: LocalHTTP, pdp_photo: Image.Image
) -> None:
    local_http.post_codes = [500]  # the first delivery fails, the retry succeeds
    with private_server.client() as client:
        final = run_to_end(
            client, {"model_image": data_uri(pdp_photo)}, webhook_url=f"{local_http.url}/hook?x=1"
        )
        posts = local_http.wait_posts(2)
    assert [path for path, _ in posts] == ["/hook?x=1", "/hook?x=1"]
    delivered = json.loads(posts[-1][1])
    polled = final.json()
    # Each response signs its own links, so their expiry may differ by a second between the
    # poll and the webhook: they must name the same file and serve the same image.
    delivered_urls, polled_urls = delivered.pop("output"), polled.pop("output")
    assert [_unsigned(url) for url in delivered_urls] == [_unsigned(url) for url in polled_urls]
    assert fetch_image(delivered_urls[0]).tobytes() == fetch_image(polled_urls[0]).tobytes()
    assert delivered == polled
    assert delivered["status"] == "completed"


def test_webhook_of_a_failed_prediction(
    private_server: ServerProcess, local_http: LocalHTTP
) -> None:
    with private_server.client() as client:
        final = run_to_end(client, {"model_image": "not-an-image"}, webhook_url=local_http.url)
        posts = local_http.wait_posts(1)
    delivered = json.loads(posts[0][1])
    assert delivered["status"] == "failed" == final.json()["status"]
    assert delivered["error"]["name"] == "ImageLoadError"


def test_concurrency_limit_is_429_concurrency_limit_exceeded(
    private_server: ServerProcess, local_http: LocalHTTP, pdp_photo: Image.Image
) -> None:
    """Six predictions stay in flight while their image URL holds; the seventh is refused."""
    token = private_server.add_user("fashn-busy", "busy-password", credits=100)
    local_http.files["/slow.png"] = (encode_image(pdp_photo), "image/png")
    local_http.hold_paths.add("/slow.png")
    inputs = {"model_image": f"{local_http.url}/slow.png"}
    with private_server.client(token) as client:
        ids = [run(client, inputs).json()["id"] for _ in range(6)]
        refused = run(client, inputs)
        local_http.release.set()
        finals = [wait_final(client, prediction_id).json()["status"] for prediction_id in ids]
        after = run(client, inputs)
    assert_fashn_error(refused, 429, "ConcurrencyLimitExceeded")
    assert finals == ["completed"] * 6
    assert after.status_code == 200


def test_a_prediction_cut_by_a_crash_is_made_after_restart_and_charged_once(
    tmp_path: Path, local_http: LocalHTTP, pdp_photo: Image.Image
) -> None:
    local_http.files["/held.png"] = (encode_image(pdp_photo), "image/png")
    local_http.hold_paths.add("/held.png")
    server = ServerProcess(tmp_path, engine=FAKE, extra_args=["--allow-private-urls"])
    with server:
        with server.client() as client:
            before = credits_of(client)
            started = run(client, {"model_image": f"{local_http.url}/held.png"}).json()["id"]
            assert credits_of(client) == before - 1  # reserved while it runs
        server.kill()
        server.start()
        local_http.release.set()
        with server.client() as client:
            final = wait_final(client, started).json()
            after = credits_of(client)
    assert final["status"] == "completed" and len(final["output"]) == 1
    assert after == before - 1


def test_a_prediction_that_takes_its_server_down_every_time_fails_after_three_tries(
    tmp_path: Path, local_http: LocalHTTP, pdp_photo: Image.Image
) -> None:
    """Run again after each crash, but not for ever: the fourth start fails it, refunded."""
    local_http.files["/held.png"] = (encode_image(pdp_photo), "image/png")
    local_http.hold_paths.add("/held.png")  # never answered: each server dies on it
    server = ServerProcess(tmp_path, engine=FAKE, extra_args=["--allow-private-urls"])
    with server:
        with server.client() as client:
            before = credits_of(client)
            started = run(client, {"model_image": f"{local_http.url}/held.png"}).json()["id"]
        for attempt in (1, 2, 3):
            local_http.wait_gets("/held.png", attempt)  # a worker is on it
            server.kill()
            server.start()
        with server.client() as client:
            final = wait_final(client, started).json()
            after = credits_of(client)
    assert final["status"] == "failed", final
    assert final["error"]["name"] == "PipelineError"
    assert "cut short 3 times" in final["error"]["message"]
    assert after == before
    assert local_http.gets.count("/held.png") == 3
