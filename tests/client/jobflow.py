"""Helpers of the job tests: everything a model-swap or flat-to-model request needs."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image
from tests.client.conftest import draw_person

from vestis.client import AsyncClient, Client


def plain_jpeg(colour: tuple[int, int, int] = (90, 90, 90)) -> bytes:
    """A single-colour image: the FakeEngine finds no face in it, so a swap on it fails."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 80), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def write_inputs(folder: Path, count: int = 2, seed: int = 10) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"image{i + 1}.jpg"
        path.write_bytes(draw_person(seed + i))
        paths.append(path)
    return paths


def swap_request(
    client: Client, folder: Path, name: str, *, images: list[Path] | None = None
) -> dict[str, Any]:
    """Project, uploads and identity for a model-swap request body."""
    project_id = client.projects.ensure(name)
    identity = folder / f"{name}-identity.jpg"
    identity.write_bytes(draw_person(99))
    code = client.identities.ensure(identity)
    files = [client.uploads.upload_file(p) for p in images or write_inputs(folder / name)]
    return {"identity_code": code, "project_id": project_id, "images": files}


async def async_swap_request(client: AsyncClient, folder: Path, name: str) -> dict[str, Any]:
    project_id = await client.projects.ensure(name)
    identity = folder / f"{name}-identity.jpg"
    identity.write_bytes(draw_person(98))
    code = await client.identities.ensure(identity)
    files = [await client.uploads.upload_file(p) for p in write_inputs(folder / name)]
    return {"identity_code": code, "project_id": project_id, "images": files}
