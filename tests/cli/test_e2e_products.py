"""`vestis create-packshot | batch-create-packshot | garment-recolor | batch-garment-recolor` and
`vestis identities create | promote` as separate processes against a real server on the local
engine: the scripts' output layout, metadata.json, batch summary, resume and dry run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from PIL import Image
from tests.cli.conftest import cli_env, vestis
from tests.engines.drawn_garments import BACKDROPS, draw_garment
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("cli-products"), engine="local") as process:
        yield process


def _garments(root: Path, names: tuple[str, ...] = ("TEE1",)) -> list[Path]:
    folders = []
    for seed, name in enumerate(names):
        folder = root / name
        folder.mkdir(parents=True)
        drawn = draw_garment("tee", (170, 45, 50), BACKDROPS["lightgrey"], seed=seed,
                             size=(360, 480))  # fmt: skip
        drawn.image.save(folder / "front.jpg", quality=92)
        folders.append(folder)
    return folders


def _connection(server: ServerProcess) -> list[str]:
    return ["--base-url", server.base_url, "--token", server.token]


def test_create_packshot_and_resume(server: ServerProcess, tmp_path: Path) -> None:
    (folder,) = _garments(tmp_path / "in")
    out = tmp_path / "out"
    args = ["create-packshot", "--input-folder", str(folder), "--output-folder", str(out),
            "--style", "white_cutout", "--framing", "tall_3_4", "--num-variations", "2",
            "--format", "png", *_connection(server)]  # fmt: skip
    env = cli_env(tmp_path)
    run = vestis(*args, env=env)
    assert run.returncode == 0, run.stderr + run.stdout
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "metadata.json", "output_0_0_v0.png", "output_0_1_v0.png"
    ]  # fmt: skip
    assert Image.open(out / "output_0_0_v0.png").size == (768, 1024)  # 1K on tall_3_4
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["job_type"] == "create_packshot"
    assert "garments whole 2/2" in run.stdout + run.stderr
    again = vestis(*args, env=env)
    assert again.returncode == 0
    assert metadata["job_id"] == json.loads((out / "metadata.json").read_text())["job_id"]


def test_generative_style_fails_the_folder(server: ServerProcess, tmp_path: Path) -> None:
    (folder,) = _garments(tmp_path / "in")
    run = vestis("create-packshot", "--input-folder", str(folder), "--output-folder",
                 str(tmp_path / "out"), *_connection(server), env=cli_env(tmp_path))  # fmt: skip
    assert run.returncode == 1  # the default style is ghost_mannequin, as in the script
    assert "ghost_mannequin" in run.stdout + run.stderr


def test_batch_recolor_summary_and_dry_run(server: ServerProcess, tmp_path: Path) -> None:
    _garments(tmp_path / "in", ("A", "B"))
    out = tmp_path / "out"
    base = ["batch-garment-recolor", "--input-dir", str(tmp_path / "in"), "--output-dir", str(out),
            "--reference-text", "forest green", "--processing-size", "1024",
            *_connection(server)]  # fmt: skip
    env = cli_env(tmp_path)
    dry = vestis(*base, "--dry-run", env=env)
    assert dry.returncode == 0 and "6 credits" in dry.stdout  # 2 folders x 1 output x 3
    run = vestis(*base, env=env)
    assert run.returncode == 0, run.stderr + run.stdout
    for name in ("A", "B"):
        assert (out / name / "output_0_0_v0.jpg").is_file()
        result = json.loads((out / name / "metadata.json").read_text())["results"][0]
        assert result["metrics"]["delta_e2000"] < 5
    (summary,) = out.glob("batch_summary_*.json")
    body = json.loads(summary.read_text())
    assert body["successful"] == 2 and body["configuration"]["reference_text"] == "forest green"
    assert list(body["configuration"])[:3] == ["parallel", "model", "garment_label"]


def test_recolor_needs_a_target(tmp_path: Path) -> None:
    (folder,) = _garments(tmp_path / "in")
    run = vestis("garment-recolor", "--input-folder", str(folder), env=cli_env(tmp_path))
    assert run.returncode == 2
    assert "--reference-image, --reference-text, or --instruction" in run.stderr


def test_identities_create_and_promote(server: ServerProcess, tmp_path: Path) -> None:
    brief = tmp_path / "brief.json"
    brief.write_text(json.dumps({"instructions": [{"num_variations": 2}], "name": "N"}))
    env = cli_env(tmp_path)
    refused = vestis("identities", "create", "--brief", str(brief), "--auto-promote",
                     *_connection(server), env=env)  # fmt: skip
    assert refused.returncode == 1 and "On-Model" in refused.stderr
    (folder,) = _garments(tmp_path / "in")
    out = tmp_path / "out"
    packshot = vestis("create-packshot", "--input-folder", str(folder), "--output-folder", str(out),
                      "--style", "white_cutout", *_connection(server), env=env)  # fmt: skip
    assert packshot.returncode == 0
    output_id = json.loads((out / "metadata.json").read_text())["results"][0]["output_id"]
    first = vestis("identities", "promote", output_id, "--name", "Cut", *_connection(server),
                   env=env)  # fmt: skip
    second = vestis("identities", "promote", output_id, *_connection(server), env=env)
    assert first.returncode == second.returncode == 0
    assert first.stdout.strip() == second.stdout.strip() != ""


def _packshot_requests(server: ServerProcess) -> list[dict]:
    engine = sqlalchemy.create_engine(server.db_url)
    try:
        with engine.connect() as connection:
            query = "select request from jobs where job_type = 'create_packshot' order by id"
            found = connection.execute(sqlalchemy.text(query)).scalars().all()
    finally:
        engine.dispose()
    return [r if isinstance(r, dict) else json.loads(r) for r in found]


def test_batch_create_packshot_image_notes(server: ServerProcess, tmp_path: Path) -> None:
    """--image-notes on a batch, as the public batch script: the same notes for every folder,
    note i to the i-th photo by name, "" for none; --input-folders and --image-notes both take
    several values in one command."""
    folders = _garments(tmp_path / "in", ("A", "B"))
    for folder in folders:  # a second photo, sorted first: back.jpg, front.jpg
        Image.open(folder / "front.jpg").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(
            folder / "back.jpg", quality=92
        )
    before = len(_packshot_requests(server))
    out = tmp_path / "out"
    run = vestis("batch-create-packshot", "--input-folders", *map(str, folders),
                 "--image-notes", "", "front view, keep the print", "--style", "white_cutout",
                 "--output-dir", str(out), *_connection(server),
                 env=cli_env(tmp_path))  # fmt: skip
    assert run.returncode == 0, run.stderr + run.stdout
    sent = _packshot_requests(server)[before:]
    assert len(sent) == 2
    for request in sent:
        assert [i.get("note") for i in request["images"]] == [None, "front view, keep the print"]
    (summary,) = out.glob("batch_summary_*.json")
    assert json.loads(summary.read_text())["successful"] == 2
