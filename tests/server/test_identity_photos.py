"""The identity photo check at upload, end to end through a real server process: what the
photo shows is stored, shown on GET /identity/{code}, said by `vestis identities upload` and
`show`; a photo of two people is refused and nothing is kept."""

from __future__ import annotations

import io
import json
import re

import numpy as np
from PIL import Image
from tests.server.conftest import Api
from tests.support.server_process import ServerProcess

from vestis.runs.samples import make_portrait_identity_image


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def _two_people() -> bytes:
    from skimage import data

    face = Image.fromarray(np.asarray(data.astronaut())).crop((96, 0, 352, 256))
    pair = Image.new("RGB", (512, 256))
    pair.paste(face, (0, 0))
    pair.paste(face.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (256, 0))
    return _jpeg(pair)


def test_what_the_photo_shows_is_kept_and_shown(api: Api, server: ServerProcess, tmp_path) -> None:  # type: ignore[no-untyped-def]
    uploaded = api.http.post(
        "/identity/upload",
        files={"image": ("hopper.jpg", _jpeg(make_portrait_identity_image()), "image/jpeg")},
    )
    assert uploaded.status_code == 200, uploaded.text
    check = uploaded.json()["photo_check"]
    assert check["faces"] == 1
    names = [f["name"] for f in check["findings"]]
    assert "glasses" in names
    assert check["figures"]["wears_glasses"] == 1.0
    code = uploaded.json()["identity_code"]
    shown = api.http.get(f"/identity/{code}").json()
    assert shown["photo_check"] == check
    listed = api.http.get("/identity").json()["identities"]
    assert next(i for i in listed if i["identity_code"] == code)["photo_check"] == check

    # The CLI says it at upload (stderr; stdout stays the code alone) and shows it.
    photo = tmp_path / "hopper.png"
    make_portrait_identity_image().save(photo)  # other bytes: a new identity
    done = server.cli("identities", "upload", str(photo), "--name", "hopper-png")
    new_code = done.stdout.strip()
    assert new_code.startswith("id") and new_code != code
    assert "Note: wears glasses: the local engine cannot take them off" in done.stderr
    show = json.loads(server.cli("identities", "show", new_code).stdout)
    assert "glasses" in [f["name"] for f in show["photo_check"]["findings"]]


def test_a_photo_of_two_people_is_refused(api: Api) -> None:
    before = api.http.get("/identity").json()["pagination"]["total"]
    refused = api.http.post(
        "/identity/upload", files={"image": ("pair.jpg", _two_people(), "image/jpeg")}
    )
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["error"] == "Several faces" and body["faces"] == 2
    assert "shows 2 faces" in body["message"] and "one person" in body["message"]
    assert api.http.get("/identity").json()["pagination"]["total"] == before


def test_the_studio_says_it_at_upload(api: Api, server: ServerProcess) -> None:
    from tests.studio.conftest import csrf_of, sign_in

    studio = sign_in(server, server.username, server.password)
    photo = make_portrait_identity_image().resize((400, 469))  # other bytes: a new identity
    answer = studio.post(
        "/studio/identities",
        data={"csrf_token": csrf_of(studio, "/studio/identities"), "name": "Grace"},
        files={"image": ("grace.jpg", _jpeg(photo), "image/jpeg")},
    )
    studio.close()
    assert answer.status_code == 200, answer.text
    assert "Note: wears glasses: the local engine cannot take them off" in answer.text
    code = re.search(r"ready to use \((id_\w+)\)", answer.text)
    assert code, answer.text
    events = api.http.post("/notifications", json={"name_list": "identity_preprocessing"}).json()
    [said] = [e["data"] for e in events if e["data"]["identity_code"] == code[1]]
    assert "glasses" in said["findings"]
