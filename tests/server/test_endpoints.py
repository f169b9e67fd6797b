"""Every v2 endpoint against a real server process: auth, projects, uploads, identities, jobs
(validation, status, results, per-output failure), downloads, credits, OpenAPI."""

from __future__ import annotations

import io
import json
import zipfile

import httpx
import pytest
from tests.server.conftest import Api, api_for, person_image, plain_image
from tests.support.server_process import ServerProcess

# --- auth -----------------------------------------------------------------------------------------


def test_health_needs_no_auth(server: ServerProcess) -> None:
    body = httpx.get(server.base_url + "/health").json()
    assert body["status"] == "ok" and body["engine"] == "fake" and body["version"]
    assert body["workers"] == 2


def test_missing_and_bad_tokens_are_401(server: ServerProcess) -> None:
    assert httpx.get(server.base_url + "/project").status_code == 401
    bad = httpx.get(server.base_url + "/project", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and "invalid, expired or revoked" in bad.json()["message"]


def test_login_refresh_and_api_tokens(server: ServerProcess) -> None:
    base = server.base_url
    assert httpx.post(base + "/auth/login", auth=(server.username, "wrong")).status_code == 401
    login = httpx.post(base + "/auth/login", auth=(server.username, server.password)).json()
    assert login["user"]["username"] == server.username
    assert login["user"]["credits"] > 0
    fresh = httpx.post(base + "/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert fresh.status_code == 200 and fresh.json()["token"] != login["token"]
    # a refresh token is spent by its use
    reuse = httpx.post(base + "/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert reuse.status_code == 401

    headers = {"Authorization": f"Bearer {fresh.json()['token']}"}
    for expiration in ("P30D", "2D,01:00:00", 7200):
        made = httpx.post(base + "/auth/token", json={"expiration": expiration}, headers=headers)
        assert made.status_code == 200, made.text
    new_token = made.json()["token"]
    assert httpx.get(base + "/project", headers={"Authorization": f"Bearer {new_token}"}).is_success
    too_short = httpx.post(base + "/auth/token", json={"expiration": 60}, headers=headers)
    assert too_short.status_code == 422
    assert too_short.json()["detail"][0]["field"] == "expiration"
    listing = httpx.get(base + "/auth/token", params={"per_page": 2}, headers=headers).json()
    assert listing["pagination"]["per_page"] == 2 and len(listing["tokens"]) == 2
    assert listing["pagination"]["has_next"] is True


# --- projects and uploads ---------------------------------------------------------------------


def test_projects_create_conflict_and_paging(api: Api) -> None:
    first = api.http.post("/project", json={"project_name": "campaign"})
    assert first.status_code == 200
    again = api.http.post("/project", json={"project_name": "campaign"})
    assert again.status_code == 409
    assert again.json()["project_id"] == first.json()["project_id"]
    for n in range(3):
        api.project(f"paged-{n}")
    page = api.http.get("/project", params={"per_page": 2, "page": 2}).json()
    assert page["pagination"]["page"] == 2 and len(page["projects"]) == 2
    bad = api.http.post("/project", json={"project_name": ""})
    assert bad.status_code == 422
    assert bad.json()["error"] == "Invalid request"
    assert bad.json()["detail"][0] == {
        "field": "project_name",
        "message": bad.json()["detail"][0]["message"],
        "position": "body",
    }


def test_upload_gives_signed_put_and_download_url(api: Api) -> None:
    reserved = api.http.post("/upload", json={"filename": "look.png"}).json()
    assert reserved["content_type"] == "image/png" and reserved["filename"] == "look.png"
    assert reserved["upload_url"].startswith(api.base_url + "/upload/")
    data = person_image(3, fmt="PNG")
    put = httpx.put(reserved["upload_url"], content=data, headers={"Content-Type": "image/png"})
    assert put.status_code == 200
    fetched = httpx.get(reserved["download_url"])
    assert fetched.status_code == 200 and fetched.content == data
    unnamed = api.http.post("/upload", json={}).json()
    assert unnamed["filename"].endswith(".jpg") and len(unnamed["filename"]) > 30


# --- identities ---------------------------------------------------------------------------------


def test_identity_lifecycle(api: Api) -> None:
    data = person_image(21, size=(90, 120))
    made = api.http.post(
        "/identity/upload",
        files={"image": ("zoe.jpg", data, "image/jpeg")},
        data={"name": "Zoe", "tag": "summer"},
    )
    assert made.status_code == 200
    body = made.json()
    assert body["face_detected"] is True and body["success"] is True
    assert body["face_metadata"]["box"]
    code = body["identity_code"]
    events = api.http.post("/notifications", json={"name_list": "identity_preprocessing"}).json()
    said = {"identity_code": code, "status": "completed", "face_detected": True, "findings": []}
    assert said in [e["data"] for e in events]
    dup = api.http.post("/identity/upload", files={"image": ("other-name.jpg", data, "image/jpeg")})
    assert dup.status_code == 409 and dup.json()["existing_identity_code"] == code

    got = api.http.get(f"/identity/{code}").json()
    assert got["name"] == "Zoe" and got["original_filename"] == "zoe.jpg"
    assert httpx.get(got["link"]).content == data
    assert api.http.get(f"/identity/{code}/status").json()["preprocessing_status"] == "completed"

    patched = api.http.patch(
        f"/identity/{code}/metadata", json={"gender": "female", "age": 31, "tag": "summer"}
    )
    assert patched.json()["image_description"] == {"tag": "summer", "gender": "female", "age": 31}
    assert api.http.patch(f"/identity/{code}/metadata", json={"gender": "x"}).status_code == 422
    for tag in ("nul\x00", "esc\x1b[31m"):  # control characters, as in every other text field
        assert api.http.patch(f"/identity/{code}/metadata", json={"tag": tag}).status_code == 422

    api.identity(person_image(22), name="Adam")
    by_name = api.http.get("/identity", params={"sort_by": "name", "order": "asc"}).json()
    names = [i["name"] for i in by_name["identities"]]
    assert names == sorted(names, key=str.lower)
    found = api.http.get("/identity", params={"search": "zo"}).json()["identities"]
    assert [i["identity_code"] for i in found] == [code]
    filtered = api.http.get("/identity", params={"gender": "female", "min_age": 30}).json()
    assert [i["identity_code"] for i in filtered["identities"]] == [code]

    assert api.http.delete(f"/identity/{code}").status_code == 200
    assert api.http.get(f"/identity/{code}").status_code == 404


def test_identity_without_face_cannot_be_used(api: Api) -> None:
    made = api.http.post(
        "/identity/upload", files={"image": ("wall.jpg", plain_image(), "image/jpeg")}
    )
    assert made.status_code == 200 and made.json()["face_detected"] is False
    code = made.json()["identity_code"]
    assert api.http.get(f"/identity/{code}/status").json()["preprocessing_status"] == "failed"
    job = api.http.post(
        "/model-swap",
        json={
            "identity_code": code,
            "project_id": api.project("noface"),
            "images": [api.upload("a.jpg", person_image(1))],
        },
    )
    assert job.status_code == 422 and job.json()["detail"][0]["field"] == "identity_code"


# --- jobs -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def setup(api: Api) -> dict[str, str]:
    return {
        "project_id": api.project("jobs"),
        "identity_code": api.identity(person_image(30, size=(100, 140)), name="Jobs"),
        "image": api.upload("pdp.jpg", person_image(31)),
        "png": api.upload("pdp.png", person_image(32, fmt="PNG")),
        "plain": api.upload("plain.jpg", plain_image()),
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"images": []}, "images"),
        ({"images": ["x"] * 11}, "images"),
        ({"swap_options": {"num_variations": 5}}, "swap_options.num_variations"),
        ({"swap_options": {"model": "dall-e"}}, "swap_options.model"),
        ({"project_id": None}, "project_id"),
    ],
)
def test_model_swap_validation(api: Api, setup: dict, change: dict, field: str) -> None:
    body = {
        "identity_code": setup["identity_code"],
        "project_id": setup["project_id"],
        "images": [setup["image"]],
        **change,
    }
    response = api.http.post("/model-swap", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "Invalid request"
    assert response.json()["detail"][0]["field"] == field
    assert response.json()["detail"][0]["position"] == "body"


@pytest.mark.parametrize(
    "change",
    [
        {"instructions": [{}] * 11},
        {"instructions": [{"num_variations": 9}]},
        {"instructions": [{"options": {"size": "8K"}}]},
        {"instructions": [{"options": {"ar": "2:1"}}]},
        {"instructions": [{"options": {"format": "gif"}}]},
        {"instructions": [{"options": {"width": 1024}}]},
        {"instructions": [{"options": {"width": 1000, "height": 1004}}]},
        {"instructions": [{"options": {"width": 4096, "height": 512}}]},
        {"instructions": [{}], "options": {"anchor_index": 1}},
        {"options": {"model": "nano_banana_2"}},
        {"images": [{"note": "no file id"}]},
    ],
)
def test_flat_validation(api: Api, setup: dict, change: dict) -> None:
    body = {
        "identity_code": setup["identity_code"],
        "project_id": setup["project_id"],
        "images": [setup["image"]],
        **change,
    }
    response = api.http.post("/flat-2-model", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_unknown_ids_are_404(api: Api, setup: dict) -> None:
    base = {
        "identity_code": setup["identity_code"],
        "project_id": setup["project_id"],
        "images": [setup["image"]],
    }
    for change in ({"project_id": "prj_nope"}, {"identity_code": "id_nope"}, {"images": ["img_x"]}):
        assert api.http.post("/model-swap", json={**base, **change}).status_code == 404
    reserved = api.http.post("/upload", json={"filename": "never.jpg"}).json()
    never = api.http.post("/model-swap", json={**base, "images": [reserved["file_id"]]})
    assert never.status_code == 422 and "never uploaded" in never.json()["message"]
    assert api.http.get("/jobs/job_nope/status").status_code == 404


def test_model_swap_variations_failures_and_fields(api: Api, setup: dict) -> None:
    body = {
        "identity_code": setup["identity_code"],
        "project_id": setup["project_id"],
        "images": [setup["image"], setup["png"], setup["plain"]],
        "post_process": True,
        "swap_options": {"num_variations": 2, "add_ai_watermark": True},
        "use_alternative_method": True,
    }
    created = api.http.post("/model-swap", json=body)
    assert created.status_code == 202
    assert created.json()["status"] == "pending" and created.json()["total_outputs"] == 6
    job_id = created.json()["job_id"]
    status = api.wait(job_id)
    assert status["status"] == "completed" and status["progress"] == 100.0
    assert status["total_images"] == 6 and status["processed_images"] == 6
    assert status["should_post_process"] is True
    assert status["identity_code"] == setup["identity_code"]
    assert status["project_key"] == setup["project_id"] and isinstance(status["project_id"], int)
    assert status["processing_options"]["model"] == "nano_banana_pro"  # legacy flag mapped

    results = api.http.get(f"/jobs/{job_id}/results").json()
    by_status = {r["status"] for r in results["results"]}
    assert by_status == {"completed", "failed"}
    failed = [r for r in results["results"] if r["status"] == "failed"]
    assert len(failed) == 2 and all("No face" in r["error_message"] for r in failed)
    assert all(r["output"] is None and r["url"] is None for r in failed)
    done = [r for r in results["results"] if r["status"] == "completed"]
    assert [(r["image_index"], r["group_index"]) for r in done] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert {r["original_filename"] for r in done} == {"pdp.jpg", "pdp.png"}
    assert all(r["warnings"] for r in done)  # the engine's warnings are passed on
    assert results["summary"]["successful"] == 4 and results["summary"]["failed"] == 2
    # variations differ; the watermark corner is dark
    from PIL import Image

    first, second = (Image.open(io.BytesIO(httpx.get(r["url"]).content)) for r in done[:2])
    assert first.tobytes() != second.tobytes()
    assert max(first.convert("RGB").getpixel((first.width - 10, first.height - 8))) < 60
    thumb = httpx.get(done[0]["output"]["thumbnail"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    # failed outputs are refunded: 6 charged, 2 refunded
    assert results["credits_used"] == 4


def test_flat_per_output_failure_and_custom_size(api: Api, setup: dict) -> None:
    body = {
        "identity_code": setup["identity_code"],
        "project_id": setup["project_id"],
        "images": [setup["image"], {"file_id": setup["png"], "note": "tucked in"}],
        "instructions": [
            {
                "pose": 3,
                "camera": {"framing": "full body"},
                "options": {"width": 512, "height": 768},
            },
            {"prompt": "please FAIL", "background": {"text": "beach", "image": setup["plain"]}},
        ],
    }
    created = api.http.post("/flat-2-model", json=body)
    assert created.status_code == 202 and created.json()["total_outputs"] == 2
    status = api.wait(created.json()["job_id"])
    assert status["status"] == "completed" and "1 of 2" in status["error_message"]
    results = api.http.get(f"/jobs/{created.json()['job_id']}/results").json()["results"]
    assert results[0]["status"] == "completed" and results[1]["status"] == "failed"
    from PIL import Image

    image = Image.open(io.BytesIO(httpx.get(results[0]["output"]["full_size"]).content))
    assert image.size == (512, 768)


def test_job_fails_when_every_output_fails(api: Api, setup: dict) -> None:
    body = {
        "identity_code": setup["identity_code"],
        "project_id": setup["project_id"],
        "images": [setup["plain"]],
    }
    job_id = api.http.post("/model-swap", json=body).json()["job_id"]
    status = api.wait(job_id)
    assert status["status"] == "failed" and "No face" in status["error_message"]
    assert api.http.get(f"/jobs/{job_id}/results").json()["credits_used"] == 0


def test_credits_refuse_unpayable_job(server: ServerProcess, setup: dict) -> None:
    token = server.add_user("poor", "poor-password", credits=1)
    poor = api_for(server, token)
    body = {
        "identity_code": poor.identity(person_image(40), "P"),
        "project_id": poor.project("p"),
        "images": [poor.upload("a.jpg", person_image(41))],
        "swap_options": {"num_variations": 2},
    }
    refused = poor.http.post("/model-swap", json=body)
    assert refused.status_code == 402
    assert refused.json()["error"] == "Insufficient credits"
    assert "costs 2 credits but the balance is 1" in refused.json()["message"]
    assert refused.json()["detail"][0]["message"] == refused.json()["message"]
    body["swap_options"] = {"num_variations": 1}
    assert poor.http.post("/model-swap", json=body).status_code == 202


# --- downloads ----------------------------------------------------------------------------------


def test_usage_counts_a_users_completed_outputs(server: ServerProcess) -> None:
    """`vestis usage` on the server's database (PostgreSQL too, as docs/deploy.md runs it): one
    row for the user and engine, with the outputs made."""
    reader = api_for(server, server.add_user("usage-reader", "usage-pass-1"))
    body = {
        "identity_code": reader.identity(person_image(40, size=(100, 140)), name="Usage"),
        "project_id": reader.project("usage"),
        "images": [reader.upload("usage.jpg", person_image(41))],
    }
    created = reader.http.post("/model-swap", json=body)
    assert created.status_code == 202, created.text
    assert reader.wait(created.json()["job_id"])["status"] == "completed"
    reader.http.close()
    data = ["--data-dir", str(server.data_dir), *server.db_args()]
    shown = server.cli("usage", "--user", "usage-reader", "--json", *data).stdout.splitlines()
    rows = [json.loads(line) for line in shown]
    assert [(row["user"], row["outputs"]) for row in rows] == [("usage-reader", 1)], rows


def test_zip_downloads(api: Api, setup: dict) -> None:
    body = {
        "identity_code": setup["identity_code"],
        "project_id": setup["project_id"],
        "images": [setup["image"], setup["png"]],
        "swap_options": {"num_variations": 2},
    }
    one = api.http.post("/model-swap", json=body).json()["job_id"]
    two = api.http.post("/model-swap", json={**body, "swap_options": {}}).json()["job_id"]
    api.wait(one)
    api.wait(two)
    link = api.http.post("/download", json={"job_id": one}).json()
    assert link["expires"].endswith("Z")
    archive = zipfile.ZipFile(io.BytesIO(httpx.get(link["download_url"]).content))
    assert sorted(archive.namelist()) == [
        "pdp_v0.jpg",
        "pdp_v0.png",
        "pdp_v0_g1.jpg",
        "pdp_v0_g1.png",
    ]
    bulk = api.http.post("/download/bulk", json={"job_ids": [one, two]}).json()
    names = zipfile.ZipFile(io.BytesIO(httpx.get(bulk["download_url"]).content)).namelist()
    assert len(names) == 6 and {n.split("/")[0] for n in names} == {one, two}
    assert api.http.post("/download", json={"job_id": "job_nope"}).status_code == 404
    assert httpx.get(api.base_url + "/download/not-a-token").status_code == 404


def test_openapi_is_generated_from_the_contract(server: ServerProcess) -> None:
    spec = httpx.get(server.base_url + "/openapi.json").json()
    for path in (
        "/model-swap",
        "/flat-2-model",
        "/jobs/{job_id}/results",
        "/identity/upload",
        "/notifications/events",
        "/webhooks",
        "/download/bulk",
        "/auth/token",
    ):
        assert path in spec["paths"], path
    schemas = spec["components"]["schemas"]
    assert {"ModelSwapRequest", "Flat2ModelRequest", "JobResultsResponse", "ErrorBody"} <= set(
        schemas
    )
    assert "202" in spec["paths"]["/model-swap"]["post"]["responses"]
