"""`vestis data info|clear`: the embedded server's data dir, seen and cleared; a run whose
journal points at cleared data makes its uploads and job again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import cli_env, vestis
from tests.support.server_process import FAKE_ENGINE

from vestis.server.embedded import EmbeddedServer

pytestmark = pytest.mark.e2e


def info(env: dict[str, str]) -> dict[str, Any]:
    result = vestis("data", "info", "--json", env=env)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_see_and_clear_the_embedded_servers_data(catalogue: Any, tmp_path: Path) -> None:
    env = cli_env(tmp_path, VESTIS_EMBEDDED_ENGINE=FAKE_ENGINE)
    data = Path(env["VESTIS_DATA_DIR"])
    assert "nothing yet" in vestis("data", "info", env=env).stdout
    args = [
        "model-swap",
        "--input-folder",
        str(catalogue.pdp_folders[0]),
        "--identity-image",
        str(catalogue.identities[0]),
        "--output-folder",
        str(tmp_path / "out"),
    ]
    assert vestis(*args, env=env).returncode == 0
    seen = info(env)
    assert seen["data_dir"] == str(data) and seen["bytes"] > 0 and not seen["in_use"]
    assert seen["counts"]["identities"] == 1 and seen["jobs_by_status"] == {"completed": 1}
    assert seen["counts"]["uploaded images"] == 2 and seen["counts"]["outputs"] == 2
    text = vestis("data", "info", env=env).stdout
    assert f"Data dir: {data}" in text and "Jobs: 1 (1 completed)" in text

    unasked = subprocess.run(
        [sys.executable, "-m", "vestis", "data", "clear"],
        env=env, input="\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert unasked.returncode == 1 and "Nothing deleted" in unasked.stderr and data.is_dir()
    with EmbeddedServer(data, engine=FAKE_ENGINE):  # a run on it right now
        busy = vestis("data", "clear", "--yes", env=env)
    assert busy.returncode == 1 and "in use by a running vestis command" in busy.stderr
    cleared = vestis("data", "clear", "--yes", env=env)
    assert cleared.returncode == 0 and cleared.stdout.startswith(f"Deleted {data} (")
    assert not data.exists() and not info(env)["exists"]

    # The output folder's journal names uploads and a job that are gone: made again.
    again = vestis(*args, "--post-process", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "does not hold this folder's earlier uploads and job" in again.stdout
    assert info(env)["jobs_by_status"] == {"completed": 1}


def test_clear_leaves_a_folder_that_is_not_a_data_dir_alone(tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "letter.txt").write_text("keep me")
    result = vestis("data", "clear", "--yes", "--data-dir", str(folder), env=cli_env(tmp_path))
    assert result.returncode == 1 and "does not look like a vestis data dir" in result.stderr
    assert (folder / "letter.txt").read_text() == "keep me"
