"""Spec §7: the reference scripts' HTTP sequence, run unchanged against a real server process
(token and username/password versions, model swap and flat-to-model)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from tests.server.conftest import person_image
from tests.server.reference_client import ReferenceScript
from tests.support.gate import Gate
from tests.support.server_process import GATED_FAKE_ENGINE, ServerProcess

STATUS_ORDER = ["pending", "processing", "completed"]


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Gate:
    """Open unless a test closes it: then outputs wait until that test lets them through."""
    opened = Gate(tmp_path_factory.mktemp("gate"))
    opened.open()
    return opened


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, gate: Gate) -> Iterator[ServerProcess]:
    path = tmp_path_factory.mktemp("reference")
    with ServerProcess(path, engine=GATED_FAKE_ENGINE, env=gate.env) as process:
        yield process
        gate.open()


@pytest.fixture
def article(tmp_path: Path) -> Path:
    folder = tmp_path / "ARTICLE123"
    folder.mkdir()
    (folder / "image1.jpg").write_bytes(person_image(1))
    (folder / "image2.png").write_bytes(person_image(2, fmt="PNG"))
    (folder / "image3_INTERNAL_.jpg").write_bytes(person_image(3))  # skipped by model swap
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.fixture
def identity_file(tmp_path: Path) -> Path:
    path = tmp_path / "Anna.jpg"
    path.write_bytes(person_image(9, size=(200, 260)))
    return path


def _assert_status_sequence(statuses: list[tuple[str, float]]) -> None:
    names = [s for s, _ in statuses]
    assert names[-1] == "completed"
    assert "processing" in names, names
    ranks = [STATUS_ORDER.index(s) for s in names]
    assert ranks == sorted(ranks), names
    progress = [p for _, p in statuses]
    assert progress == sorted(progress) and progress[-1] == 100.0


def test_model_swap_token_version(
    server: ServerProcess, gate: Gate, article: Path, identity_file: Path, tmp_path: Path
) -> None:
    # The job is held until the script has polled it `processing`, so the whole status
    # sequence is seen however busy the machine is.
    gate.close()

    def release(status: str) -> None:
        if status == "processing":
            gate.open()

    script = ReferenceScript(server.base_url, token=server.token, on_status=release)
    out = tmp_path / "out"
    try:
        run = script.model_swap(article, out, identity_image=identity_file)
    finally:
        gate.open()

    assert "Identity uploaded: " + str(run.identity_code) in run.log
    assert sorted(run.files) == ["image1_v0.jpg", "image2_v0.png"]
    _assert_status_sequence(run.statuses)
    # files are what their names say, and are the engine's work (the face box is painted over)
    with Image.open(out / "image1_v0.jpg") as first:
        assert first.format == "JPEG" and first.size == (120, 160)
    with Image.open(out / "image2_v0.png") as second:
        assert second.format == "PNG"
    original = Image.open(io.BytesIO(person_image(1))).convert("RGB")
    swapped = Image.open(out / "image1_v0.jpg").convert("RGB")
    assert swapped.getpixel((60, 30)) != original.getpixel((60, 30))
    # metadata.json is the raw results body
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["job_id"] == run.job_id and metadata["status"] == "completed"
    assert {r["original_filename"] for r in metadata["results"]} == {"image1.jpg", "image2.png"}
    for result in metadata["results"]:
        assert result["url"] == result["output"]["full_size"]
        assert result["output"]["thumbnail"]
        assert result["model_used"] == "onda"
        assert isinstance(result["quality_score"], float)
        assert isinstance(result["processing_time"], float)
        assert result["version"] == 0 and isinstance(result["image_index"], int)
    assert metadata["summary"]["successful"] == 2

    # second run of the same folder: the 409 body's project_id and the 409 identity are reused
    again = script.model_swap(article, tmp_path / "out2", identity_image=identity_file)
    assert again.project_id == run.project_id
    assert f"Using existing project: {run.project_id}" in again.log
    assert f"Identity already exists: {run.identity_code}" in again.log

    # third run by identity code: GET /identity/{code} answers 200
    third = script.model_swap(article, tmp_path / "out3", identity_code=run.identity_code)
    assert f"Using existing identity: {run.identity_code}" in third.log


def test_model_swap_username_version(
    server: ServerProcess, article: Path, identity_file: Path, tmp_path: Path
) -> None:
    script = ReferenceScript(server.base_url, login=(server.username, server.password))
    run = script.model_swap(article, tmp_path / "out", identity_image=identity_file)
    assert sorted(run.files) == ["image1_v0.jpg", "image2_v0.png"]


def test_unknown_identity_code_falls_back_to_image(
    server: ServerProcess, article: Path, identity_file: Path, tmp_path: Path
) -> None:
    script = ReferenceScript(server.base_url, token=server.token)
    run = script.model_swap(
        article, tmp_path / "out", identity_code="id_missing", identity_image=identity_file
    )
    assert run.identity_code and run.identity_code != "id_missing"


def test_flat_to_model_naming_and_formats(
    server: ServerProcess, identity_file: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "SKU-001"
    folder.mkdir()
    (folder / "shirt.jpg").write_bytes(person_image(4))
    (folder / "pants.png").write_bytes(person_image(5, fmt="PNG"))
    instructions = [
        {
            "pose": "standing front-facing",
            "background": "white studio",
            "options": {"ar": "3:4", "size": "1K", "format": "jpg"},
        },
        {
            "pose": "walking side angle",
            "background": "urban street",
            "num_variations": 2,
            "options": {"ar": "1:1", "size": "1K", "format": "png"},
        },
    ]
    script = ReferenceScript(server.base_url, token=server.token)
    out = tmp_path / "out"
    run = script.flat_to_model(folder, out, instructions, identity_image=identity_file)

    assert sorted(run.files) == ["output_0_0_v0.jpg", "output_1_0_v0.png", "output_1_1_v0.png"]
    with Image.open(out / "output_0_0_v0.jpg") as first:
        assert first.format == "JPEG" and first.size == (768, 1024)
    with Image.open(out / "output_1_1_v0.png") as last:
        assert last.format == "PNG" and last.size == (1024, 1024)
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["job_type"] == "flat_2_model"
    assert [r["group_index"] for r in metadata["results"]] == [0, 1, 1]
    assert len({r["image_index"] for r in metadata["results"]}) == 3


def test_upload_with_project_name_returns_project_id(server: ServerProcess) -> None:
    """MS-1 sends project_name with /upload and reads project_id from the answer."""
    headers = server.headers
    created = httpx.post(
        server.base_url + "/project", json={"project_name": "MS1"}, headers=headers
    ).json()
    body = httpx.post(
        server.base_url + "/upload",
        json={"project_name": "MS1", "filename": "a.jpg"},
        headers=headers,
    ).json()
    assert body["project_id"] == created["project_id"] and body["project_name"] == "MS1"


def test_project_409_fallback_listing(server: ServerProcess) -> None:
    """The listing fallback: project_text and project_key with per_page=100."""
    headers = server.headers
    httpx.post(server.base_url + "/project", json={"project_name": "LISTED"}, headers=headers)
    listing = httpx.get(
        server.base_url + "/project", params={"per_page": 100}, headers=headers
    ).json()
    match = [p for p in listing["projects"] if p["project_text"] == "LISTED"]
    assert len(match) == 1 and match[0]["project_key"].startswith("prj_")
