"""The SDK's packshot, recolour and identity-creation methods, sync and async, against a real
server process on the local engine."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from PIL import Image
from tests.engines.drawn_garments import BACKDROPS, draw_garment
from tests.support.server_process import ServerProcess

from vestis.client import AsyncClient, Client
from vestis.client.errors import APIError
from vestis.runs import samples

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("products-sdk"), engine="local") as process:
        yield process


def _garment(tmp_path: Path) -> Path:
    path = tmp_path / "dress.jpg"
    drawn = draw_garment("dress", (40, 70, 150), BACKDROPS["white"], seed=5, size=(420, 560))
    drawn.image.save(path, quality=92)
    return path


def test_packshot_recolor_promote_and_preset(server: ServerProcess, tmp_path: Path) -> None:
    with Client(server.base_url, token=server.token) as c:
        project = c.projects.ensure("SDK-PRODUCTS")
        garment = c.uploads.upload_file(_garment(tmp_path))
        created = c.jobs.create_packshot(
            {"project_id": project, "images": [garment],
             "instructions": [{"style": "white_cutout", "options": {"size": "1K", "ar": "1:1"}}]}
        )  # fmt: skip
        assert created.total_outputs == 1
        c.jobs.wait(created.job_id, poll_interval=0.2)
        (packshot,) = c.jobs.results(created.job_id).results
        assert packshot.metrics is not None and packshot.metrics.garment_whole is True
        data = c.downloads.fetch(packshot.image_url or "")
        assert Image.open(io.BytesIO(data)).size == (1024, 1024)

        recolor = c.jobs.garment_recolor(
            {"project_id": project, "images": [garment], "reference_text": "burgundy",
             "processing_size": 1024}
        )  # fmt: skip
        c.jobs.wait(recolor.job_id, poll_interval=0.2)
        (recoloured,) = c.jobs.results(recolor.job_id).results
        assert recoloured.metrics is not None
        assert recoloured.metrics.target_colour == "#610023"  # xkcd burgundy
        delta = recoloured.metrics.delta_e2000
        assert delta is not None and delta < 5

        with pytest.raises(APIError) as refused:
            c.identities.create({"instructions": [{"num_variations": 2}], "name": "x"})
        assert refused.value.status_code == 422 and "On-Model" in str(refused.value)

        promoted = c.identities.promote(packshot.output_id or "", name="Cutout")
        assert c.identities.promote(packshot.output_id or "").identity_code == (
            promoted.identity_code
        )
        face = tmp_path / "face.jpg"
        samples.make_identity_image().save(face)
        preset = c.identities.extract_preset(c.uploads.upload_file(face))
        assert preset.instruction_data["appearance"]["skin_tone"]
        assert "face.glasses" in preset.left_empty


def test_async_packshot_and_recolor(server: ServerProcess, tmp_path: Path) -> None:
    path = _garment(tmp_path)

    async def main() -> None:
        async with AsyncClient(server.base_url, token=server.token) as c:
            project = await c.projects.ensure("SDK-ASYNC-PRODUCTS")
            garment = await c.uploads.upload_file(path)
            packshot = await c.jobs.create_packshot(
                {"project_id": project, "images": [garment],
                 "instructions": [{"style": "flat_lay", "surface": "beige"}]}
            )  # fmt: skip
            recolor = await c.jobs.garment_recolor(
                {"project_id": project, "images": [garment], "reference_text": "#2E5A3B"}
            )
            for job in (packshot, recolor):
                final = await c.jobs.wait(job.job_id, poll_interval=0.2)
                assert final.status == "completed"

    asyncio.run(main())


def test_create_packshot_image_notes(server: ServerProcess, tmp_path: Path) -> None:
    """`image_notes` as the public script's --image-notes: every image an object, a note
    where one is given ("" for none), in the order of `images`."""
    with Client(server.base_url, token=server.token) as c:
        project = c.projects.ensure("SDK-NOTES")
        front = c.uploads.upload_file(_garment(tmp_path))
        back = c.uploads.upload_file(_garment(tmp_path))
        request = {"project_id": project, "images": [front, back],
                   "instructions": [{"style": "white_cutout", "angle": "back"}]}  # fmt: skip
        created = c.jobs.create_packshot(request, image_notes=["", "back view"])
        c.jobs.wait(created.job_id, poll_interval=0.2)
        (result,) = c.jobs.results(created.job_id).results
    assert result.status == "completed"
    # the local engine took the photo whose note names the back (else it would warn that it
    # shows the garment as photographed)
    assert not any(w.startswith("angle 'back'") for w in result.warnings), result.warnings
    engine = sqlalchemy.create_engine(server.db_url)
    try:
        with engine.connect() as connection:
            query = sqlalchemy.text("select request from jobs where public_id = :id")
            raw = connection.execute(query, {"id": created.job_id}).scalar_one()
    finally:
        engine.dispose()
    sent = raw if isinstance(raw, dict) else json.loads(raw)
    assert [(i["file_id"], i.get("note")) for i in sent["images"]] == [
        (front, None), (back, "back view")
    ]  # fmt: skip
