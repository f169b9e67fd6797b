"""An identity holding several photos, end to end through a real server process with the local
engine: a grin alone cannot be swapped onto a closed mouth (the engine refuses), a closed-mouth
photo beside it can, and each output says which photo it used; an open-mouth photo still gets
the grin. Photos are added, listed and removed per user; another user sees none of them.

The images are derived from the sample astronaut: its grin, and the same face with the mouth
painted closed (lips over the opening), for the identity and for the catalogue photo."""

from __future__ import annotations

import io
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from PIL import Image
from tests.server.conftest import Api, api_for, plain_image
from tests.support.server_process import ServerProcess

from vestis.quality import identity_choice
from vestis.quality.face_traits import INNER_LIPS, OUTER_LIPS, traits_at
from vestis.quality.identity_photo import face_boxes
from vestis.runs.samples import make_identity_image, make_pdp_photo


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def close_mouth(image: Image.Image) -> Image.Image:
    """`image` with the mouth opening painted over in its lips' colour and a darker line
    where the lips meet: a closed mouth to the face mesh (no teeth, lips together)."""
    rgb = np.ascontiguousarray(np.asarray(image.convert("RGB"))).copy()
    found = traits_at(rgb, face_boxes(rgb)[0][0])
    assert found is not None
    points = found[1]
    inner = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(inner, [np.round(points[INNER_LIPS]).astype(np.int32)], 1)
    outer = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(outer, [np.round(points[OUTER_LIPS]).astype(np.int32)], 1)
    colour = np.median(rgb[(outer > 0) & (inner == 0)], axis=0)
    rgb[cv2.dilate(inner, np.ones((5, 5), np.uint8)) > 0] = colour
    a, b = (tuple(int(v) for v in points[i]) for i in (78, 308))
    cv2.line(rgb, a, b, tuple(int(c * 0.6) for c in colour), 2)
    return Image.fromarray(rgb)


@pytest.fixture(scope="module")
def images() -> dict[str, Image.Image]:
    grin, catalogue = make_identity_image(), make_pdp_photo(0)
    made = {
        "grin": grin,
        "closed": close_mouth(grin),
        "open_target": catalogue,
        "closed_target": close_mouth(catalogue),
    }
    # What the test stands on, measured as the server measures it.
    faces = {k: identity_choice.measure(v) for k, v in made.items()}
    assert all(f is not None for f in faces.values())
    assert identity_choice.grins(faces["grin"]) and not identity_choice.grins(faces["closed"])
    assert faces["closed_target"].mouth_open < identity_choice.CLOSED_BELOW  # type: ignore[union-attr]
    assert faces["open_target"].mouth_open > identity_choice.CLOSED_BELOW  # type: ignore[union-attr]
    return made


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("photos"), engine="local", credits=1000) as s:
        yield s


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[Api]:
    client = api_for(server)
    yield client
    client.http.close()


def _swap(api: Api, code: str, targets: dict[str, Image.Image]) -> dict[str, dict]:  # type: ignore[type-arg]
    files = {api.upload(f"{name}.jpg", _jpeg(image)): name for name, image in targets.items()}
    body = {"identity_code": code, "project_id": api.project("photos"), "images": list(files)}
    created = api.http.post("/model-swap", json=body)
    assert created.status_code == 202, created.text
    assert api.wait(created.json()["job_id"], timeout=300)["status"] in ("completed", "failed")
    results = api.http.get(f"/jobs/{created.json()['job_id']}/results").json()["results"]
    return {r["original_filename"].rsplit(".", 1)[0]: r for r in results}


def _credits(api: Api) -> float:
    return float(api.http.get("/v1/credits").json()["credits"]["total"])


def test_a_closed_mouth_photo_beside_a_grin_is_used_for_a_closed_mouth(
    api: Api, images: dict[str, Image.Image]
) -> None:
    uploaded = api.http.post(
        "/identity/upload", files={"image": ("grin.jpg", _jpeg(images["grin"]), "image/jpeg")}
    )
    assert uploaded.status_code == 200, uploaded.text
    code = uploaded.json()["identity_code"]
    [first] = uploaded.json()["photos"]
    assert first["position"] == 0 and first["face_traits"]["mouth_open"] > 0.1

    # The grin alone: the engine refuses the closed mouth, saying what photo would do.
    alone = _swap(api, code, {"closed_target": images["closed_target"]})
    assert alone["closed_target"]["status"] == "failed"
    assert "closed mouth" in alone["closed_target"]["error_message"]
    assert "identity_photo" not in (alone["closed_target"].get("metrics") or {})

    credits = _credits(api)
    added = api.http.post(
        f"/identity/{code}/photos",
        files={"image": ("closed.jpg", _jpeg(images["closed"]), "image/jpeg")},
    )
    assert added.status_code == 200, added.text
    photo = added.json()
    assert photo["identity_code"] == code and photo["position"] == 1
    assert photo["photo_check"]["faces"] == 1
    assert photo["face_traits"]["mouth_open"] < 0.1
    assert _credits(api) == credits  # adding a photo is free

    shown = api.http.get(f"/identity/{code}").json()
    assert [p["photo_id"] for p in shown["photos"]] == [first["photo_id"], photo["photo_id"]]
    assert all(p["photo_check"]["faces"] == 1 for p in shown["photos"])
    assert shown["photo_check"] == first["photo_check"]  # the identity's own: its first photo
    listed = api.http.get(f"/identity/{code}/photos").json()
    assert listed["photos"] == shown["photos"]
    served = api.http.get(photo["link"])
    assert served.status_code == 200 and served.content == _jpeg(images["closed"])

    both = _swap(api, code, {k: images[k] for k in ("closed_target", "open_target")})
    closed, opened = both["closed_target"], both["open_target"]
    assert closed["status"] == "completed", closed["error_message"]
    assert closed["metrics"]["identity_photo"]["photo_id"] == photo["photo_id"]
    assert closed["metrics"]["identity_photo"]["refused"] == []
    assert opened["status"] == "completed", opened["error_message"]
    assert opened["metrics"]["identity_photo"]["photo_id"] == first["photo_id"]
    assert opened["metrics"]["identity_photo"]["of"] == 2


def test_adding_removing_and_what_is_refused(api: Api, images: dict[str, Image.Image]) -> None:
    grin = images["grin"].resize((300, 375))  # other bytes than the other test's identity
    code = api.identity(_jpeg(grin), "several")
    closed = _jpeg(images["closed"].resize((300, 375)))
    added = api.http.post(
        f"/identity/{code}/photos", files={"image": ("c.jpg", closed, "image/jpeg")}
    )
    assert added.status_code == 200, added.text
    again = api.http.post(
        f"/identity/{code}/photos", files={"image": ("c.jpg", closed, "image/jpeg")}
    )
    assert again.status_code == 409 and again.json()["photo_id"] == added.json()["photo_id"]
    faceless = api.http.post(
        f"/identity/{code}/photos", files={"image": ("p.jpg", plain_image(), "image/jpeg")}
    )
    assert faceless.status_code == 422 and "No face" in faceless.text
    missing = api.http.post(
        "/identity/id_nope/photos", files={"image": ("c.jpg", closed, "image/jpeg")}
    )
    assert missing.status_code == 404

    photos = api.http.get(f"/identity/{code}/photos").json()["photos"]
    assert len(photos) == 2
    # Removing the first makes the next the identity's own photo (link, check).
    removed = api.http.delete(f"/identity/{code}/photos/{photos[0]['photo_id']}")
    assert removed.status_code == 200, removed.text
    shown = api.http.get(f"/identity/{code}").json()
    assert [p["photo_id"] for p in shown["photos"]] == [photos[1]["photo_id"]]
    assert shown["photo_check"] == photos[1]["photo_check"]
    assert api.http.get(shown["link"]).content == closed
    last = api.http.delete(f"/identity/{code}/photos/{photos[1]['photo_id']}")
    assert last.status_code == 409 and "only photo" in last.json()["message"]
    gone = api.http.delete(f"/identity/{code}/photos/{photos[0]['photo_id']}")
    assert gone.status_code == 404


def test_another_user_neither_adds_nor_sees_photos(
    api: Api, server: ServerProcess, images: dict[str, Image.Image]
) -> None:
    code = api.identity(_jpeg(images["grin"].resize((280, 350))), "mine")
    [photo] = api.http.get(f"/identity/{code}/photos").json()["photos"]
    other = api_for(server, server.add_user("other", "other-password"))
    closed = _jpeg(images["closed"].resize((280, 350)))
    tried = other.http.post(
        f"/identity/{code}/photos", files={"image": ("c.jpg", closed, "image/jpeg")}
    )
    assert tried.status_code == 404
    assert other.http.get(f"/identity/{code}/photos").status_code == 404
    assert other.http.get(f"/identity/{code}").status_code == 404
    removal = other.http.delete(f"/identity/{code}/photos/{photo['photo_id']}")
    assert removal.status_code == 404
    other.http.close()
    assert [p["photo_id"] for p in api.http.get(f"/identity/{code}/photos").json()["photos"]] == [
        photo["photo_id"]
    ]


def test_the_cli_adds_lists_and_removes_photos(
    server: ServerProcess, images: dict[str, Image.Image], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    grin, closed = tmp_path / "grin.png", tmp_path / "closed.png"
    images["grin"].resize((260, 325)).save(grin)
    images["closed"].resize((260, 325)).save(closed)
    code = server.cli("identities", "upload", str(grin)).stdout.strip()
    photo_id = server.cli("identities", "add-photo", code, str(closed)).stdout.strip()
    assert photo_id.startswith("photo_")
    listed = server.cli("identities", "photos", code).stdout.splitlines()
    assert [line.split("\t")[:3] for line in listed][1] == [photo_id, "1", "closed.png"]
    assert "open_mouth" in listed[0] and "open_mouth" not in listed[1]
    missing = server.cli("identities", "add-photo", code, str(tmp_path / "nope.png"), check=False)
    assert missing.returncode == 1 and "photo not found" in missing.stderr
    server.cli("identities", "remove-photo", code, photo_id)
    assert len(server.cli("identities", "photos", code).stdout.splitlines()) == 1


def test_a_broken_multipart_body_is_invalid_input(api: Api) -> None:
    """A body the multipart parser cannot read (schemathesis sent one): 422 like any invalid
    input, on the identity upload as on adding a photo."""
    boundary = "9cc651cd2c8d168349f50fede4c361ac"
    body = f"--{boundary}\r\nFalse--{boundary}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    code = api.identity(_jpeg(make_identity_image().resize((240, 300))), "broken")
    for path in ("/identity/upload", f"/identity/{code}/photos"):
        answer = api.http.post(path, content=body, headers=headers)
        assert answer.status_code == 422, (path, answer.text)
        assert "Invalid multipart data" in answer.json()["message"]
