"""`vestis model-swap / batch-swap --provider fashn` end to end: the CLI as a process, against a
real server process; the same folder under both providers gives the same kind of outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from tests.fashn.conftest import NON_GENERATIVE
from tests.support.server_process import ServerProcess

from vestis.runs.samples import make_identity_image, make_pdp_photo

pytestmark = pytest.mark.e2e


def write_folder(folder: Path, count: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        photo = make_pdp_photo(index)
        if index == count - 1:
            photo = photo.resize((360, 480))
            photo.save(folder / f"image{index + 1}.png")
        else:
            photo.save(folder / f"image{index + 1}.jpg", quality=92)
    return folder


def cli(
    server: ServerProcess, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    connection = ["--base-url", server.base_url, "--token", server.token]
    command = [sys.executable, "-m", "vestis", *args, *connection]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=300, env={**server._env, **(env or {})}
    )


def outputs(folder: Path) -> dict[str, tuple[str, tuple[int, int]]]:
    """Image files of an output folder: name -> (format, size)."""
    found = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
            with Image.open(path) as image:
                found[path.name] = (str(image.format), image.size)
    return found


@pytest.fixture()
def identity_file(tmp_path: Path) -> Path:
    path = tmp_path / "identity.jpg"
    make_identity_image().save(path, quality=92)
    return path


def test_same_folder_gives_the_same_kind_of_outputs_under_both_providers(
    server: ServerProcess, tmp_path: Path, identity_file: Path
) -> None:
    folder = write_folder(tmp_path / "ARTICLE-001")
    onmodel = cli(
        server, "model-swap", "--input-folder", str(folder),
        "--output-folder", str(tmp_path / "out-onmodel"), "--identity-image", str(identity_file),
    )  # fmt: skip
    assert onmodel.returncode == 0, onmodel.stdout + onmodel.stderr
    fashn = cli(
        server, "model-swap", "--provider", "fashn", "--input-folder", str(folder),
        "--output-folder", str(tmp_path / "out-fashn"), "--identity-image", str(identity_file),
    )  # fmt: skip
    assert fashn.returncode == 0, fashn.stdout + fashn.stderr
    v2, v1 = outputs(tmp_path / "out-onmodel"), outputs(tmp_path / "out-fashn")
    assert v1 == v2
    assert sorted(v1) == ["image1_v0.jpg", "image2_v0.jpg", "image3_v0.png"]
    metadata = json.loads((tmp_path / "out-fashn" / "metadata.json").read_text())
    assert metadata["provider"] == "fashn"
    assert [r["download_filename"] for r in metadata["results"]] == sorted(v1)
    assert metadata["credits_used"] == 12  # 3 images x 4 credits with a face reference
    assert (tmp_path / "out-onmodel" / "metadata.json").is_file()


def test_num_images_face_reference_mode_and_resume(
    server: ServerProcess, tmp_path: Path, identity_file: Path
) -> None:
    folder = write_folder(tmp_path / "ARTICLE-002", count=2)
    output = tmp_path / "out"
    args = (
        "model-swap", "--provider", "fashn", "--input-folder", str(folder),
        "--output-folder", str(output), "--face-reference", str(identity_file),
        "--face-reference-mode", "match_base", "--num-images", "2",
    )  # fmt: skip
    first = cli(server, *args)
    assert first.returncode == 0, first.stdout + first.stderr
    assert sorted(outputs(output)) == [
        "image1_v0.jpg", "image1_v1.jpg", "image2_v0.png", "image2_v1.png",
    ]  # fmt: skip
    journal = json.loads((output / ".vestis-journal.json").read_text())
    ids = {name: entry["prediction_id"] for name, entry in journal["predictions"].items()}
    assert set(ids) == {"image1.jpg", "image2.png"} and journal["completed"] is True
    # A second run finds everything done; after losing a file it fetches only that one again,
    # from the same predictions (nothing is paid twice).
    again = cli(server, *args)
    assert again.returncode == 0 and "Already complete" in again.stdout
    (output / "image2_v1.png").unlink()
    with server.client() as client:
        before = client.get("/v1/credits").json()["credits"]["total"]
    resumed = cli(server, *args)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "image2_v1.png" in outputs(output)
    journal = json.loads((output / ".vestis-journal.json").read_text())
    assert {n: e["prediction_id"] for n, e in journal["predictions"].items()} == ids
    with server.client() as client:
        assert client.get("/v1/credits").json()["credits"]["total"] == before


def test_batch_swap_with_the_fashn_provider(
    server: ServerProcess, tmp_path: Path, identity_file: Path
) -> None:
    root = tmp_path / "catalogue"
    write_folder(root / "A", count=1)
    write_folder(root / "B", count=2)
    result = cli(
        server, "batch-swap", "--provider", "fashn", "--input-dir", str(root),
        "--output-dir", str(tmp_path / "out"), "--face-reference", str(identity_file),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(outputs(tmp_path / "out" / "A")) == ["image1_v0.png"]
    assert sorted(outputs(tmp_path / "out" / "B")) == ["image1_v0.jpg", "image2_v0.png"]
    summaries = list((tmp_path / "out").glob("batch_summary_*.json"))
    assert len(summaries) == 1
    summary = json.loads(summaries[0].read_text())
    assert summary["configuration"]["provider"] == "fashn"


def test_runtime_failure_is_reported_and_the_run_fails(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "ARTICLE-003", count=2)
    with ServerProcess(tmp_path / "srv", engine=NON_GENERATIVE) as plain:
        result = cli(
            plain, "model-swap", "--provider", "fashn", "--input-folder", str(folder),
            "--output-folder", str(tmp_path / "out"),
        )  # fmt: skip
    assert result.returncode == 1
    text = result.stdout + result.stderr
    # the same reason for both photos: said once, naming both, without the error's class name
    (line,) = [line for line in text.splitlines() if "predictions did not complete" in line]
    assert line.startswith("2 of 2 predictions did not complete: "), line
    assert line.count("invents a new identity") == 1 and "[image1.jpg, image2.png]" in line, line
    assert "Error:" not in line, line
    journal = json.loads((tmp_path / "out" / ".vestis-journal.json").read_text())
    assert journal["predictions"]["image2.png"]["status"] == "failed"


def test_identity_code_is_a_usage_error_with_fashn(server: ServerProcess, tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "X", count=1)
    result = cli(
        server, "model-swap", "--provider", "fashn", "--input-folder", str(folder),
        "--identity-code", "abc",
    )  # fmt: skip
    assert result.returncode == 2
    assert "--face-reference" in result.stdout + result.stderr


def test_embedded_default_with_the_local_engine(tmp_path: Path, identity_file: Path) -> None:
    """No --base-url and no key: the embedded server (local engine) serves /v1/run."""
    folder = tmp_path / "ARTICLE-009"
    folder.mkdir()
    make_pdp_photo(3).save(folder / "photo.jpg", quality=92)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VESTIS_", "FASHN_"))}
    env["VESTIS_DATA_DIR"] = str(tmp_path / "embedded-data")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vestis",
            "model-swap",
            "--provider",
            "fashn",
            "--input-folder",
            str(folder),
            "--output-folder",
            str(tmp_path / "out"),
            "--face-reference",
            str(identity_file),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "embedded vestis server" in result.stdout + result.stderr
    assert outputs(tmp_path / "out") == {"photo_v0.jpg": ("JPEG", (480, 640))}


def test_fashn_runs_are_paced_per_prediction_not_per_v2_job(
    server: ServerProcess, tmp_path: Path, identity_file: Path
) -> None:
    """The v2 default (5 jobs a minute) counts folders; FASHN runs one prediction per image
    and allows 50 a minute, so six images must not wait for a slot."""
    folder = write_folder(tmp_path / "ARTICLE-006", count=6)
    result = cli(
        server, "model-swap", "--provider", "fashn", "--input-folder", str(folder),
        "--output-folder", str(tmp_path / "out"), "--face-reference", str(identity_file), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    events = [json.loads(line)["event"] for line in result.stdout.splitlines() if line.strip()]
    assert events.count("job_submitted") == 6
    assert "pacing" not in events
    assert len(outputs(tmp_path / "out")) == 6


def test_dry_run_prices_face_reference_images(tmp_path: Path, identity_file: Path) -> None:
    folder = write_folder(tmp_path / "ARTICLE-010", count=3)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vestis",
            "model-swap",
            "--provider",
            "fashn",
            "--input-folder",
            str(folder),
            "--face-reference",
            str(identity_file),
            "--num-images",
            "2",
            "--dry-run",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # the default --output-folder is ./output
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 images x 2 outputs, 24 credits" in result.stdout
    assert not (tmp_path / "output").exists()


def test_on_model_environment_is_never_sent_to_fashn(
    server: ServerProcess, tmp_path: Path, identity_file: Path
) -> None:
    """VESTIS_* variables belong to the On-Model provider: with --provider fashn the key comes
    from FASHN_API_KEY. Were the bogus VESTIS_TOKEN sent, the server would answer 401."""
    folder = write_folder(tmp_path / "ENV", count=1)
    env = {k: v for k, v in server._env.items() if not k.startswith(("VESTIS_", "FASHN_"))}
    env.update(
        VESTIS_TOKEN="on-model-secret-not-for-fashn",
        VESTIS_BASE_URL="http://127.0.0.1:9",
        VESTIS_USERNAME="someone",
        VESTIS_PASSWORD="secret",
        FASHN_API_KEY=server.token,
        FASHN_BASE_URL=server.base_url,
    )
    command = [
        sys.executable, "-m", "vestis", "model-swap", "--provider", "fashn",
        "--input-folder", str(folder), "--output-folder", str(tmp_path / "out"),
        "--face-reference", str(identity_file),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(outputs(tmp_path / "out")) == ["image1_v0.png"]
    assert "on-model-secret-not-for-fashn" not in result.stdout + result.stderr
