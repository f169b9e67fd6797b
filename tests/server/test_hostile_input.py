"""Input an attacker or a careless client sends: huge numbers, control characters, image bombs,
floods of refused requests, the same upload many times at once. Each gets a clear 4xx and
changes nothing it should not."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image
from tests.server.conftest import Api, api_for, person_image
from tests.server.test_load import together
from tests.support.server_process import ServerProcess

from vestis.contract.uploads import MAX_IMAGE_PIXELS


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/notifications/9223372036854775808"),
        ("DELETE", "/notifications/9223372036854775807"),
        ("GET", "/project?page=922337203685477580"),
        ("GET", "/auth/token?page=99999999999999999999"),
        ("GET", "/identity?page=9223372036854775807&min_age=99999999999999999999"),
    ],
)
def test_huge_integers_are_422_not_500(api: Api, method: str, path: str) -> None:
    response = api.http.request(method, path)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "Invalid request"


@pytest.mark.parametrize("route", ["/model-swap", "/flat-2-model"])
def test_an_empty_image_id_is_a_clear_4xx_not_500(api: Api, route: str) -> None:
    """Found by schemathesis: the lookup of a job's files (uploads PUT straight to a bucket are
    checked there) choked on an id the request's own checks refuse."""
    project = api.project("empty-ids")
    body = {"identity_code": "0", "images": [""], "project_id": project}
    response = api.http.post(route, json=body)
    assert 400 <= response.status_code < 500, response.text


@pytest.mark.parametrize("name", ["a\x00b", "line\nbreak", "\x7f"])
def test_control_characters_in_names_are_422(api: Api, name: str) -> None:
    assert api.http.post("/project", json={"project_name": name}).status_code == 422
    assert api.http.post("/upload", json={"project_name": name}).status_code == 422
    identity = api.http.post(
        "/identity/upload",
        files={"image": ("x.jpg", person_image(40), "image/jpeg")},
        data={"name": name},
    )
    assert identity.status_code == 422
    listed = api.http.get("/project", params={"per_page": 100}).json()["projects"]
    assert name not in [p["project_name"] for p in listed]


def test_identity_bomb_says_image_too_large_like_the_put_route(api: Api) -> None:
    side = int(MAX_IMAGE_PIXELS**0.5) + 100
    buffer = io.BytesIO()
    Image.new("1", (side, side), 0).save(buffer, "PNG")
    identity = api.http.post(
        "/identity/upload", files={"image": ("bomb.png", buffer.getvalue(), "image/png")}
    )
    reserved = api.http.post("/upload", json={"filename": "bomb.png"}).json()
    put = httpx.put(reserved["upload_url"], content=buffer.getvalue())
    assert identity.status_code == put.status_code == 413
    assert identity.json()["error"] == put.json()["error"] == "Image too large"


def test_parallel_uploads_of_one_identity_image_make_one_identity(
    server: ServerProcess,
) -> None:
    api = api_for(server, server.add_user("twin", "twin-password"))
    image = person_image(41)

    answers = together(
        8,
        lambda n: api.http.post(
            "/identity/upload", files={"image": (f"twin{n}.jpg", image, "image/jpeg")}
        ),
    )

    codes = sorted(a.status_code for a in answers)
    assert codes == [200] + [409] * 7, codes
    made = next(a for a in answers if a.status_code == 200).json()["identity_code"]
    assert all(a.json()["existing_identity_code"] == made for a in answers if a.status_code == 409)
    assert [i["identity_code"] for i in api.http.get("/identity").json()["identities"]] == [made]
    blobs = list((server.data_dir / "blobs" / "identities").rglob("*.jpg"))
    assert len(blobs) == 1  # the losers' copies were removed


def test_no_webhook_is_a_404_that_says_how_to_set_one(api: Api) -> None:
    for response in (api.http.get("/webhooks"), api.http.delete("/webhooks")):
        assert response.status_code == 404
        assert "PUT /webhooks" in response.json()["message"]


def test_first_batch_edit_names_the_job_type(api: Api) -> None:
    body = {
        "identity_code": api.identity(person_image(42), "typed"),
        "project_id": api.project("typed"),
        "images": [api.upload("typed.jpg", person_image(43))],
    }
    job_id = api.http.post("/model-swap", json=body).json()["job_id"]
    api.wait(job_id)
    events = api.http.post("/notifications", json={"id_task": [job_id]}).json()
    edits = [e["data"] for e in events if e["name"] == "batch_edit"]
    assert edits[0]["status"] == "pending"
    assert all(e["job_type"] == "model_swap" for e in edits)


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("limited"), rate_limit=2) as process:
        yield process


def test_refused_job_requests_do_not_use_up_the_rate_limit(limited: ServerProcess) -> None:
    api = api_for(limited)
    body = {
        "identity_code": api.identity(person_image(44), "L"),
        "project_id": api.project("limited"),
        "images": [api.upload("l.jpg", person_image(45))],
    }
    assert api.http.post("/model-swap", json={**body, "images": ["img_unknown"]}).status_code == 404
    assert api.http.post("/model-swap", json={**body, "images": []}).status_code == 422
    assert api.http.post("/model-swap", json={**body, "project_id": "nope"}).status_code == 404
    assert api.http.post("/model-swap", json=body).status_code == 202
    assert api.http.post("/model-swap", json=body).status_code == 202
    assert api.http.post("/model-swap", json=body).status_code == 429


def test_an_upload_link_is_good_for_one_upload(server: ServerProcess, api: Api) -> None:
    """A second PUT with other bytes is 409 and changes nothing (it replaced an input a
    finished job had used, orphaning the old blob); the same bytes again answer 200."""
    first, other = person_image(46), person_image(47)
    reserved = api.http.post("/upload", json={"filename": "once.jpg"}).json()
    assert httpx.put(reserved["upload_url"], content=first).status_code == 200
    inputs = server.data_dir / "blobs" / "inputs"
    blobs_before = sorted(inputs.rglob("*.jpg"))

    again = httpx.put(reserved["upload_url"], content=other)
    assert again.status_code == 409 and again.json()["error"] == "Upload link already used"
    assert httpx.put(reserved["upload_url"], content=first).status_code == 200  # a retry
    assert httpx.get(reserved["download_url"]).content == first
    assert sorted(inputs.rglob("*.jpg")) == blobs_before

    fresh = api.http.post("/upload", json={"filename": "race.jpg"}).json()
    answers = together(6, lambda n: httpx.put(fresh["upload_url"], content=person_image(50 + n)))
    assert sorted(a.status_code for a in answers) == [200] + [409] * 5
    assert len(sorted(inputs.rglob("*.jpg"))) == len(blobs_before) + 1
