"""Security cases: users see only their own objects, signed links resist tampering and expire,
client names never become paths, uploads are capped in bytes and pixels, non-images refused,
ZIP entry names are safe."""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import stat
import time
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from PIL import Image
from sqlalchemy import create_engine, text
from tests.server.conftest import Api, api_for, person_image
from tests.support.server_process import ServerProcess

from vestis.contract.uploads import MAX_IMAGE_PIXELS, MAX_UPLOAD_BYTES


@pytest.fixture(scope="module")
def mine(api: Api) -> dict[str, str]:
    setup = {
        "project_id": api.project("private"),
        "identity_code": api.identity(person_image(100), "Mine"),
        "image": api.upload("mine.jpg", person_image(101)),
    }
    job = api.http.post("/model-swap", json={**setup, "images": [setup["image"]]}).json()
    api.wait(job["job_id"])
    return {**setup, "job_id": job["job_id"]}


@pytest.fixture(scope="module")
def intruder(server: ServerProcess) -> Api:
    return api_for(server, server.add_user("mallory", "mallory-password"))


def test_other_users_objects_are_404(intruder: Api, mine: dict[str, str]) -> None:
    job = mine["job_id"]
    assert intruder.http.get(f"/jobs/{job}/status").status_code == 404
    assert intruder.http.get(f"/jobs/{job}/results").status_code == 404
    assert intruder.http.get(f"/identity/{mine['identity_code']}").status_code == 404
    assert intruder.http.delete(f"/identity/{mine['identity_code']}").status_code == 404
    assert intruder.http.post("/download", json={"job_id": job}).status_code == 404
    assert intruder.http.post("/download/bulk", json={"job_ids": [job]}).status_code == 404
    # using someone else's project, identity or file in a job
    own = {
        "project_id": intruder.project("m"),
        "identity_code": intruder.identity(person_image(102)),
        "images": [intruder.upload("m.jpg", person_image(103))],
    }
    for key in ("project_id", "identity_code"):
        assert intruder.http.post("/model-swap", json={**own, key: mine[key]}).status_code == 404
    stolen = {**own, "images": [mine["image"]]}
    assert intruder.http.post("/model-swap", json=stolen).status_code == 404
    # the same project name is free for another user
    assert intruder.http.post("/project", json={"project_name": "private"}).status_code == 200
    # and notifications are per user
    events = intruder.http.post("/notifications", json={"id_task": [job]}).json()
    assert events == []


def _sql(server: ServerProcess, statement: str) -> list[tuple]:
    """Run SQL on the server's database (SQLite or PostgreSQL)."""
    engine = create_engine(server.db_url)
    try:
        with engine.begin() as connection:
            result = connection.execute(text(statement))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _signing_key(server: ServerProcess) -> bytes:
    rows = _sql(server, "select value from server_secrets where name='url_signing'")
    return bytes.fromhex(rows[0][0])


def test_signed_links_tampered_or_expired_are_403(
    server: ServerProcess, api: Api, mine: dict[str, str]
) -> None:
    url = api.http.get(f"/jobs/{mine['job_id']}/results").json()["results"][0]["output"][
        "full_size"
    ]
    assert httpx.get(url).status_code == 200
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    base = f"{parts.scheme}://{parts.netloc}"
    forged_sig = {**query, "signature": "0" * 64}
    assert httpx.get(f"{base}{parts.path}?{urlencode(forged_sig)}").status_code == 403
    longer = {**query, "expires": str(int(query["expires"]) + 3600)}
    assert httpx.get(f"{base}{parts.path}?{urlencode(longer)}").status_code == 403
    other_path = parts.path.replace("/outputs/", "/thumbnails/")
    assert httpx.get(f"{base}{other_path}?{parts.query}").status_code == 403
    assert httpx.get(f"{base}{parts.path}").status_code == 403
    # correctly signed with the server's key, but expired
    past = int(time.time()) - 10
    message = f"GET\n{parts.path}\n{past}".encode()
    signature = hmac.new(_signing_key(server), message, hashlib.sha256).hexdigest()
    expired = httpx.get(f"{base}{parts.path}?expires={past}&signature={signature}")
    assert expired.status_code == 403 and "expired" in expired.json()["message"]
    # an upload URL is for PUT only and for that file only
    reserved = api.http.post("/upload", json={"filename": "x.jpg"}).json()
    other = api.http.post("/upload", json={"filename": "y.jpg"}).json()
    swapped = reserved["upload_url"].replace(reserved["file_id"], other["file_id"])
    assert httpx.put(swapped, content=person_image(1)).status_code == 403


@pytest.mark.parametrize(
    "name",
    ["../../../etc/passwd.jpg", "..\\..\\windows\\evil.jpg", "/abs/path/x.png", "..", "a\x00b.jpg"],
)
def test_file_names_never_become_paths(server: ServerProcess, api: Api, name: str) -> None:
    reserved = api.http.post("/upload", json={"filename": name})
    assert reserved.status_code == 200
    body = reserved.json()
    assert "/" not in body["filename"] and "\\" not in body["filename"]
    assert body["filename"] not in ("", ".", "..") and "\x00" not in body["filename"]
    assert httpx.put(body["upload_url"], content=person_image(5)).status_code == 200
    blobs = (server.data_dir / "blobs").resolve()
    for path in server.data_dir.parent.rglob("*"):
        if path.is_file() and path.name.startswith(("passwd", "evil")):
            raise AssertionError(f"client file name reached the disk: {path}")
    assert all(p.resolve().is_relative_to(blobs) for p in blobs.rglob("*"))


def test_zip_entry_names_are_safe(api: Api, mine: dict[str, str]) -> None:
    evil = api.upload("../../..\\evil name;rm -rf.jpg", person_image(6))
    job = api.http.post("/model-swap", json={**mine, "images": [evil]}).json()["job_id"]
    api.wait(job)
    original = api.http.get(f"/jobs/{job}/results").json()["results"][0]["original_filename"]
    assert "/" not in original and "\\" not in original
    link = api.http.post("/download", json={"job_id": job}).json()["download_url"]
    names = zipfile.ZipFile(io.BytesIO(httpx.get(link).content)).namelist()
    assert len(names) == 1
    assert all(".." not in n and "/" not in n and "\\" not in n and " " not in n for n in names)


def _put(api: Api, data: bytes) -> httpx.Response:
    reserved = api.http.post("/upload", json={"filename": "big.png"}).json()
    return httpx.put(reserved["upload_url"], content=data, timeout=60)


def test_oversize_upload_is_413(api: Api) -> None:
    response = _put(api, b"\0" * (MAX_UPLOAD_BYTES + 1))
    assert response.status_code == 413 and "limited to" in response.json()["message"]


def test_oversize_identity_upload_is_413_before_parsing(api: Api) -> None:
    big = b"\0" * (MAX_UPLOAD_BYTES + 2 * 1024 * 1024)
    response = api.http.post("/identity/upload", files={"image": ("big.jpg", big, "image/jpeg")})
    assert response.status_code == 413 and "limited to" in response.json()["message"]


@pytest.mark.parametrize("times", [1, 2])  # Pillow warns above the limit and raises above 2x
def test_decompression_bomb_is_refused(api: Api, times: int) -> None:
    side = int((times * MAX_IMAGE_PIXELS) ** 0.5) + 100
    buffer = io.BytesIO()
    Image.new("1", (side, side), 0).save(buffer, "PNG")  # a few kB that decode to 60+ MP
    assert len(buffer.getvalue()) < 2_000_000
    response = _put(api, buffer.getvalue())
    message = response.json()["message"]
    assert response.status_code == 413
    # The documented limit, in plain words, whichever way Pillow refused.
    assert "more than the limit of 60 megapixels" in message and "attack" not in message
    assert f"{side * side / 1e6:.0f} megapixels" in message
    identity = api.http.post(
        "/identity/upload", files={"image": ("bomb.png", buffer.getvalue(), "image/png")}
    )
    assert identity.status_code == 413


@pytest.mark.parametrize(
    "data", [b"%PDF-1.4 not an image", b"", b"\x89PNG\r\n\x1a\n truncated", b"GIF89a" + b"\0" * 20]
)
def test_non_images_are_refused_with_a_clear_message(api: Api, data: bytes) -> None:
    response = _put(api, data)
    assert response.status_code == 415
    assert "image" in response.json()["message"].lower()


def test_expired_download_link_is_403(
    server: ServerProcess, api: Api, mine: dict[str, str]
) -> None:
    link = api.http.post("/download", json={"job_id": mine["job_id"]}).json()["download_url"]
    assert httpx.get(link).status_code == 200
    _sql(server, "update download_tokens set expires_at = '2000-01-01 00:00:00'")
    expired = httpx.get(link)
    assert expired.status_code == 403 and "expired" in expired.json()["message"]


def test_secrets_are_stored_hashed(server: ServerProcess) -> None:
    login = httpx.post(server.base_url + "/auth/login", auth=(server.username, server.password))
    secrets = [server.token, server.password, login.json()["token"], login.json()["refresh_token"]]
    passwords = [row[0] for row in _sql(server, "select password_hash from users")]
    assert passwords and all(value.startswith("$argon2") for value in passwords)
    stored = passwords + [row[0] for row in _sql(server, "select token_hash from tokens")]
    for secret in secrets:
        assert not any(secret in value for value in stored)
    files = b"".join(p.read_bytes() for p in server.data_dir.glob("vestis.db*"))  # SQLite only
    assert not any(secret.encode() in files for secret in secrets)


def test_data_dir_is_0700_and_the_database_0600(server: ServerProcess) -> None:
    """The database holds the URL-signing key, webhook secrets and password hashes."""
    assert stat.S_IMODE(server.data_dir.stat().st_mode) == 0o700
    files = list(server.data_dir.glob("vestis.db*"))
    assert files or server.database_url  # SQLite: the database and its WAL files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_blobs_are_0600_in_0700_folders_whatever_the_umask(tmp_path: Path) -> None:
    """The users' photos and outputs; was 0644 in 0755 folders (0666/0777 under umask 000)."""
    process = ServerProcess(tmp_path)
    before = os.umask(0)  # the server inherits it
    try:
        process.start()
    finally:
        os.umask(before)
    with process:
        api = api_for(process)
        body = {
            "identity_code": api.identity(person_image(1), "private"),
            "project_id": api.project("private"),
            "images": [api.upload("a.jpg", person_image(2))],
        }
        job_id = api.http.post("/model-swap", json=body).json()["job_id"]
        assert api.wait(job_id)["status"] == "completed"
        api.http.close()
    blobs = process.data_dir / "blobs"
    kinds = {path.relative_to(blobs).parts[0] for path in blobs.rglob("*.*")}
    assert {"inputs", "identities", "outputs", "thumbnails"} <= kinds, kinds
    for path in [blobs, *blobs.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
