"""A full disk, for real: the server's data dir on a 20 MB tmpfs, filled up while it works.
Writes answer 507 in the API's body and leave no temp file, `/health` says the disk is full,
reads keep working, and once space is freed the same request succeeds."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from tests.support.server_process import ServerProcess

DISK_MB = 20


def noise_png(megabytes: float) -> bytes:
    side = int((megabytes * 1_000_000 / 3) ** 0.5)
    pixels = np.random.default_rng(5).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 20 MB tmpfs of its own (mounting needs root, as CI runs)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a {DISK_MB} MB tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def server(small_disk: Path, tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(small_disk)
    process.log_path = tmp_path / "server.log"  # not on the disk that fills up
    with process:
        yield process


def fill(disk: Path, leave_bytes: int) -> Path:
    """A file taking all but `leave_bytes` of the disk's free space."""
    filler = disk / "filler"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with open(filler, "wb") as handle:
        handle.truncate(0)
        chunk = b"\0" * (1024 * 1024)
        for _ in range(max(0, free - leave_bytes) // len(chunk)):
            handle.write(chunk)
    return filler


def parts(server: ServerProcess) -> list[Path]:
    return list((server.data_dir / "blobs").rglob("*.part"))


def test_upload_into_a_full_disk_is_507_and_succeeds_once_space_is_freed(
    server: ServerProcess, small_disk: Path
) -> None:
    image = noise_png(5)
    with server.client() as api:
        reserved = api.post("/upload", json={"filename": "big.png"}).json()
        assert httpx.get(server.base_url + "/health").status_code == 200
        filler = fill(small_disk, leave_bytes=2 * 1024 * 1024)

        refused = httpx.put(reserved["upload_url"], content=image, timeout=60)
        assert refused.status_code == 507, refused.text
        assert refused.json()["error"] == "Insufficient storage"
        assert "disk is full" in refused.json()["message"]
        assert parts(server) == []  # no half-written temp file left behind
        health = httpx.get(server.base_url + "/health")
        assert health.status_code == 503 and health.json()["status"] == "disk_full"
        assert api.get("/project").status_code == 200  # reads keep working

        filler.unlink()
        assert httpx.get(server.base_url + "/health").status_code == 200
        stored = httpx.put(reserved["upload_url"], content=image, timeout=60)
        assert stored.status_code == 200, stored.text
    assert server.running


def test_stale_temp_files_are_removed_at_start(server: ServerProcess) -> None:
    """What a `kill -9` mid-upload leaves: a `.part` nobody writes to any more."""
    tmp = server.data_dir / "blobs" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    stale, fresh = tmp / "stale.part", tmp / "fresh.part"
    stale.write_bytes(b"half an upload")
    fresh.write_bytes(b"still arriving")
    os.utime(stale, (1_000_000_000, 1_000_000_000))
    server.kill()
    server.start()
    assert not stale.exists()
    assert fresh.exists()  # another process may still be writing it


def _balance(server: ServerProcess) -> float:
    login = httpx.post(server.base_url + "/auth/login", auth=(server.username, server.password))
    return float(login.json()["user"]["credits"])


def _wait(api: httpx.Client, job_id: str) -> dict:
    import time

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = api.get(f"/jobs/{job_id}/status").json()
        if status["status"] in ("completed", "failed", "aborted"):
            return status
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def test_a_full_disk_mid_job_fails_and_refunds_its_outputs_and_the_worker_lives_on(
    server: ServerProcess, small_disk: Path
) -> None:
    """Was: the worker thread died (its failure handler failed too), the job stayed
    `processing` with its credits charged until a restart, and /health said 200."""
    from tests.server.conftest import person_image

    with server.client() as api:
        project = api.post("/project", json={"project_name": "disk"}).json()["project_id"]
        identity = api.post(
            "/identity/upload", files={"image": ("id.jpg", person_image(3), "image/jpeg")}
        ).json()["identity_code"]
        reserved = api.post("/upload", json={"filename": "big.png"}).json()
        assert (
            httpx.put(reserved["upload_url"], content=noise_png(3), timeout=60).status_code == 200
        )
        body = {
            "identity_code": identity,
            "project_id": project,
            "images": [reserved["file_id"]],
            # three outputs of about 3 MB, none of which fits in the 1.5 MB left, whatever the
            # order they are written in and whatever the database's own files take meanwhile
            "swap_options": {"num_variations": 3},
        }
        before = _balance(server)
        filler = fill(small_disk, leave_bytes=1536 * 1024)

        job = api.post("/model-swap", json=body).json()["job_id"]
        status = _wait(api, job)
        results = api.get(f"/jobs/{job}/results").json()
        assert status["status"] == "failed"
        assert all(r["status"] == "failed" for r in results["results"])
        assert all("disk was full" in r["error_message"] for r in results["results"])
        assert results["credits_used"] == 0 and _balance(server) == before
        assert httpx.get(server.base_url + "/health").status_code == 503
        assert parts(server) == []

        filler.unlink()  # space freed: the same worker makes the next job
        again = api.post("/model-swap", json=body).json()["job_id"]
        assert _wait(api, again)["status"] == "completed"
        assert _balance(server) == before - 3
    assert server.running


def test_the_request_after_a_507_on_the_same_connection_is_answered(
    server: ServerProcess, small_disk: Path
) -> None:
    """Was: the 507 was followed by an unhandled exception, and the client's next request on
    the same keep-alive connection was reset without an answer."""
    with server.client() as api:
        reserved = api.post("/upload", json={"filename": "big.png"}).json()
        filler = fill(small_disk, leave_bytes=2 * 1024 * 1024)
        refused = api.put(reserved["upload_url"], content=noise_png(5), timeout=60)
        assert refused.status_code == 507, refused.text
        assert api.get("/project").status_code == 200
        filler.unlink()
    assert "Exception in ASGI application" not in server.log()
