"""A newcomer's first hour (issue 18): what they read in the help, what a flat-to-model folder
may hold, what a re-run, `--json`, `jobs download --approved` and `identities list --json`
say. Real `vestis` processes; the help is read on a pseudo-terminal of a real width."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.cli.conftest import cli_env, draw, vestis
from tests.support.server_process import FAKE_ENGINE
from tests.support.terminal import run_in_pty

pytestmark = pytest.mark.e2e

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: Every choice of --model, by command: each must show whole, on one line.
CHOICES = {
    "model-swap": ["onda", "nano_banana_pro", "nano_banana_2"],
    "flat-to-model": ["nano_banana_pro", "seedream"],
    "batch-swap": ["onda", "nano_banana_pro", "nano_banana_2"],
}


def _help(command: str, columns: int, tmp_path: Path) -> str:
    code, text = run_in_pty(
        [sys.executable, "-m", "vestis", command, "--help"], cli_env(tmp_path), columns=columns
    )
    assert code == 0, text
    return ANSI.sub("", text)


@pytest.mark.parametrize("columns", [100, 120])
@pytest.mark.parametrize("command", sorted(CHOICES))
def test_help_on_a_terminal_keeps_choices_whole_and_shows_no_python_types(
    command: str, columns: int, tmp_path: Path
) -> None:
    text = _help(command, columns, tmp_path)
    for choice in CHOICES[command]:
        assert choice in text, f"{choice!r} is cut at {columns} columns:\n{text}"
    assert "list[" not in text


def test_flat_to_model_help_says_one_folder_is_one_outfit(tmp_path: Path) -> None:
    text = " ".join(_help("flat-to-model", 120, tmp_path).split())
    assert "One folder is one outfit worn together" in text


def _two_dresses(root: Path) -> Path:
    folder = root / "SUMMER"
    draw(folder / "dress-red.jpg", "red")
    draw(folder / "dress-blue.jpg", "blue")
    draw(folder / "sandals.jpg", "black")
    return folder


def test_garments_that_would_hide_each_other_are_refused_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    """On the local engine (the embedded default) two dresses in one folder would be drawn one
    over the other and fail after the upload: refused first, in one message naming both and
    saying to split the folder; the embedded server is never even started."""
    folder = _two_dresses(tmp_path)
    identity = draw(tmp_path / "id.jpg", "white")
    env = cli_env(tmp_path)
    args = ["flat-to-model", "--input-folder", str(folder), "--identity-image", str(identity)]
    result = vestis(*args, "--output-folder", str(tmp_path / "out"), env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    said = result.stdout + result.stderr
    assert said.count("dress-blue.jpg, dress-red.jpg") == 1, said
    assert "2 dresses" in said and "Split the folder" in said and "sandals" not in said
    assert not (tmp_path / "embedded-data").exists()  # nothing started, nothing uploaded
    assert not (tmp_path / "out").exists()

    dry = vestis(*args, "--dry-run", env=env)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "One folder is one outfit worn together" in dry.stdout
    assert "would fail" in dry.stdout and "Split the folder" in dry.stdout


def test_views_of_one_garment_and_a_whole_outfit_pass_the_folder_rule(tmp_path: Path) -> None:
    folder = tmp_path / "LOOK"
    for name in ("dress-front.jpg", "dress-back.jpg", "sandals.jpg", "jacket.jpg"):
        draw(folder / name)
    env = cli_env(tmp_path)
    dry = vestis(
        "flat-to-model", "--input-folder", str(folder), "--identity-code", "c", "--dry-run",
        env=env,
    )  # fmt: skip
    assert dry.returncode == 0 and "would fail" not in dry.stdout, dry.stdout
    assert "submit  1 Flat-to-Model job, 1 output," in dry.stdout


@pytest.fixture
def env(server, tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path, VESTIS_BASE_URL=server.base_url, VESTIS_TOKEN=server.token)


def test_a_one_output_job_says_output_and_a_rerun_says_only_that_it_is_complete(
    server, catalogue, identity_code, env, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = [
        "flat-to-model", "--input-folder", str(catalogue.flat_folders[1]),
        "--identity-code", identity_code, "--output-folder", str(out),
    ]  # fmt: skip
    first = vestis(*args, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert re.search(r"Job created: \S+ \(1 output\)$", first.stdout, re.M), first.stdout
    again = vestis(*args, env=env)
    assert again.returncode == 0 and "Already complete" in again.stdout, again.stdout
    assert "Found" not in again.stdout and "to upload" not in again.stdout

    # The same folder into another output folder: the project an earlier run made is reused.
    other = vestis(*args[:-1], str(tmp_path / "other"), "--json", env=env)
    assert other.returncode == 0, other.stdout + other.stderr
    events = [json.loads(line) for line in other.stdout.splitlines()]
    (project,) = [e for e in events if e["event"] == "project"]
    assert project["reused"] is True


def test_download_of_approved_outputs_when_none_is_approved_fails_and_writes_nothing(
    server, catalogue, identity_code, env, tmp_path: Path
) -> None:
    run = vestis(
        "model-swap", "--input-folder", str(catalogue.pdp_folders[1]),
        "--identity-code", identity_code, "--output-folder", str(tmp_path / "run"),
        env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    job_id = json.loads((tmp_path / "run" / "metadata.json").read_text())["job_id"]
    target = tmp_path / "approved"
    got = vestis("jobs", "download", job_id, "--approved", "--output-folder", str(target), env=env)
    assert got.returncode == 1, got.stdout + got.stderr
    assert "Results saved" not in got.stdout
    assert f"nothing in job {job_id} is approved yet (2 outputs, none approved)" in got.stderr
    assert "vestis studio" in got.stderr
    assert not target.exists()


def test_identities_list_json_on_the_embedded_server_has_no_dead_links(
    catalogue, tmp_path: Path
) -> None:
    """The embedded server's port is gone once the command exits: no link to it is printed."""
    env = cli_env(tmp_path, VESTIS_EMBEDDED_ENGINE=FAKE_ENGINE)
    uploaded = vestis("identities", "upload", str(catalogue.identities[0]), env=env)
    assert uploaded.returncode == 0, uploaded.stderr
    listed = vestis("identities", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    body = json.loads(listed.stdout)
    assert body["identities"], body
    assert "127.0.0.1" not in listed.stdout and "http://" not in listed.stdout
    assert all("link" not in identity for identity in body["identities"])


def _imported(args: list[str], env: dict[str, str]) -> set[str]:
    """The modules `vestis <args>` imports (python -X importtime), after checking it worked."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "vestis", *args],
        env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    return {line.rsplit("|", 1)[1].strip() for line in lines}


#: What only the image work needs: a command that makes no image must not pay for it.
ENGINE_MODULES = {"mediapipe", "dlib", "skimage", "scipy"}


def test_commands_that_make_no_image_start_without_what_they_do_not_need(tmp_path: Path) -> None:
    """Start-up time in what is imported, not in seconds (a busy machine makes seconds lie;
    benchmarks/cli_start.py measures them)."""
    env = cli_env(tmp_path)
    version = _imported(["--version"], env)
    assert "vestis.cli.app" not in version and "typer" not in version
    helped = _imported(["--help"], env)
    assert not helped & {"sqlalchemy", "fastapi", "cv2", "limits", *ENGINE_MODULES}
    info = _imported(["data", "info"], env)
    assert not info & {"fastapi", "vestis.server.http.app", "cv2", "limits", *ENGINE_MODULES}
    listed = _imported(["identities", "list"], env)  # the embedded server, local engine
    assert "vestis.server.http.app" in listed
    assert not listed & {"vestis.studio", "jinja2", *ENGINE_MODULES}
