"""Fixtures of the server's end-to-end tests: one real server process per module, images drawn
with Pillow, and small helpers that speak plain HTTP (no SDK)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from PIL import Image, ImageDraw
from tests.support.server_process import ServerProcess


def person_image(seed: int = 0, size: tuple[int, int] = (120, 160), fmt: str = "JPEG") -> bytes:
    """A figure on a background (not one colour, so FakeEngine finds a face)."""
    image = Image.new("RGB", size, (200, 180 + seed % 60, 160))
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w // 3, h // 8, 2 * w // 3, 3 * h // 8), fill=(220, 170, (140 + 37 * seed) % 256))
    draw.rectangle((w // 4, 3 * h // 8, 3 * w // 4, h - 4), fill=(30, (60 + 11 * seed) % 256, 120))
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def plain_image(colour: tuple[int, int, int] = (90, 90, 90), fmt: str = "JPEG") -> bytes:
    """One flat colour: FakeEngine finds no face in it."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(buffer, fmt)
    return buffer.getvalue()


@dataclass
class Api:
    """A bearer-token httpx client plus the steps every test repeats."""

    http: httpx.Client
    base_url: str

    def project(self, name: str) -> str:
        response = self.http.post("/project", json={"project_name": name})
        if response.status_code == 409:
            return str(response.json()["project_id"])
        assert response.status_code == 200, response.text
        return str(response.json()["project_id"])

    def upload(self, name: str, data: bytes) -> str:
        reserved = self.http.post("/upload", json={"filename": name})
        assert reserved.status_code == 200, reserved.text
        body = reserved.json()
        put = httpx.put(
            body["upload_url"], content=data, headers={"Content-Type": body["content_type"]}
        )
        assert put.status_code in (200, 201), put.text
        return str(body["file_id"])

    def identity(self, data: bytes, name: str = "model") -> str:
        response = self.http.post(
            "/identity/upload",
            files={"image": (f"{name}.jpg", data, "image/jpeg")},
            data={"name": name},
        )
        if response.status_code == 409:
            return str(response.json()["existing_identity_code"])
        assert response.status_code == 200, response.text
        return str(response.json()["identity_code"])

    def wait(self, job_id: str, timeout: float = 60) -> dict:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.http.get(f"/jobs/{job_id}/status").json()
            if status["status"] in ("completed", "failed", "aborted"):
                return status
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def api_for(server: ServerProcess, token: str | None = None) -> Api:
    return Api(server.client(token), server.base_url)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A plain server (FakeEngine, no rate limit, no faults), shared by a test module."""
    with ServerProcess(tmp_path_factory.mktemp("server")) as process:
        yield process


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[Api]:
    client = api_for(server)
    yield client
    client.http.close()
