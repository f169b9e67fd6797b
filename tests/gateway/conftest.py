"""Fixtures of the gateway tests: an upstream `vestis serve` (the stand-in for the hosted
On-Model or FASHN service) and a gateway `vestis serve --engine onmodel,...` or `fashn,...`
pointed at it, both real processes; jobs run through the gateway's v2 API as a client would.

The gateway's identities are checked for a face by the local engine's detector, so the images
here are derived from the sample photos (a real face), not drawn."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import create_engine, text
from tests.server.conftest import Api, api_for
from tests.support.server_process import ServerProcess

from vestis.runs.samples import make_identity_image, make_pdp_photo

pytestmark = pytest.mark.e2e

REPAINT_ENGINE = "tests.support.fake_engine:RepaintingFakeEngine"


def encoded(image: Image.Image, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format=fmt)
    return buffer.getvalue()


def photo(seed: int = 0, fmt: str = "JPEG") -> bytes:
    return encoded(make_pdp_photo(seed), fmt)


def identity_bytes() -> bytes:
    return encoded(make_identity_image())


def onmodel_env(upstream: ServerProcess, **extra: str) -> dict[str, str]:
    return {
        "VESTIS_ONMODEL_URL": upstream.base_url,
        "VESTIS_ONMODEL_TOKEN": upstream.token,
        "VESTIS_ONMODEL_POLL_INTERVAL": "0.3",
        "VESTIS_ONMODEL_JOB_RATE": "off",
        **extra,
    }


def fashn_env(upstream: ServerProcess, **extra: str) -> dict[str, str]:
    return {
        "FASHN_BASE_URL": upstream.base_url,
        "FASHN_API_KEY": upstream.token,
        "VESTIS_FASHN_POLL_INTERVAL": "0.2",
        **extra,
    }


def rows(server: ServerProcess, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(server.db_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql), params))
    finally:
        engine.dispose()


def count(server: ServerProcess, table: str) -> int:
    return int(rows(server, f"select count(*) from {table}")[0][0])


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else json.loads(value or "{}")


def wait_for(condition: Any, what: str, timeout: float = 60) -> Any:
    """Poll `condition()` until it is truthy (an event in another process); its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Gateway:
    """Steps of a gateway client: project, uploads, identity, jobs, results."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.api: Api = api_for(server)

    @property
    def http(self) -> httpx.Client:
        return self.api.http

    def swap(self, files: list[tuple[str, bytes]], **options: Any) -> str:
        body: dict[str, Any] = {
            "project_id": self.api.project("ARTICLE-1"),
            "identity_code": self.api.identity(identity_bytes(), "Anna"),
            "images": [self.api.upload(name, data) for name, data in files],
            **options,
        }
        response = self.http.post("/model-swap", json=body)
        assert response.status_code == 202, response.text
        return str(response.json()["job_id"])

    def flat(
        self, garments: list[tuple[str, bytes, str | None]], instructions: list[dict[str, Any]],
        **options: Any,
    ) -> str:  # fmt: skip
        images = [
            {"file_id": self.api.upload(name, data), **({"note": note} if note else {})}
            for name, data, note in garments
        ]
        body = {
            "project_id": self.api.project("SKU-1"),
            "identity_code": self.api.identity(identity_bytes(), "Anna"),
            "images": images,
            "instructions": instructions,
            **options,
        }
        response = self.http.post("/flat-2-model", json=body)
        assert response.status_code == 202, response.text
        return str(response.json()["job_id"])

    def finish(self, job_id: str, timeout: float = 120) -> dict[str, Any]:
        status = self.api.wait(job_id, timeout)
        results = self.http.get(f"/jobs/{job_id}/results")
        assert results.status_code == 200, results.text
        body: dict[str, Any] = results.json()
        assert body["status"] == status["status"]
        return body

    def image(self, result: dict[str, Any]) -> Image.Image:
        response = httpx.get(result["output"]["full_size"], timeout=30)
        assert response.status_code == 200
        return Image.open(io.BytesIO(response.content))


@pytest.fixture(scope="session")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The upstream On-Model and FASHN service of every gateway test: a vestis server whose
    engine repaints the whole photo like a generative service (`RepaintingFakeEngine`: every
    pixel a little different, 1.25x larger) and takes 0.4 s an output, so that jobs are seen
    running. No rate limit. Shared by the session: tests compare counts before and after."""
    env = {"VESTIS_FAKE_ENGINE_DELAY": "0.4"}
    path = tmp_path_factory.mktemp("upstream")
    with ServerProcess(path, engine=REPAINT_ENGINE, env=env, workers=4) as server:
        yield server
