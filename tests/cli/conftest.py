"""End-to-end fixtures: a real server process (FakeEngine), a sample catalogue, and a runner
for the `vestis` command as a separate process."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from tests.support.server_process import REPO_ROOT, ServerProcess
from tests.support.terminal import vestis_argv

from vestis.runs.journal import Journal

pytestmark = pytest.mark.e2e


def draw(path: Path, color: str = "blue", size: tuple[int, int] = (96, 128)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, "PNG" if path.suffix == ".png" else "JPEG")
    return path


def cli_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of a `vestis` run: no inherited VESTIS_* settings, repo importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VESTIS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "src")])
    env["VESTIS_DATA_DIR"] = str(tmp / "embedded-data")
    env.update(extra)
    return env


def vestis(
    *args: str, env: dict[str, str], timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vestis", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_vestis(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """`vestis <args>` in the background, SIGINT handled as at a terminal
    (tests/support/terminal.py); stdout and stderr in one pipe."""
    return subprocess.Popen(
        vestis_argv(*args),
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


class Output:
    """The merged stdout and stderr of a `start_vestis` process, read on a thread, so the test
    can wait for a line (an event) with a bound on how long, instead of sleeping."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def wait_for(self, text: str, timeout: float = 120) -> None:
        """Until a line containing `text` was printed; fails if the process ends first."""
        with self._changed:
            found = self._changed.wait_for(
                lambda: self._closed or any(text in line for line in self.lines), timeout
            )
            if not found or not any(text in line for line in self.lines):
                raise AssertionError(f"no line with {text!r} in:\n{''.join(self.lines)}")

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        """The exit code and everything printed, once the process has ended."""
        code = self.process.wait(timeout=timeout)
        self._thread.join(timeout=timeout)
        return code, "".join(self.lines)


def journals(out: Path) -> list[dict[str, Any]]:
    """The journals of a batch's output folders (those written so far)."""
    found = (Journal.read(p) for p in sorted(out.glob("*")) if p.is_dir())
    return [j for j in found if j is not None]


def accepted_jobs(out: Path) -> list[str]:
    """Job ids the server accepted, as the output folders' journals record them."""
    return [j["job"]["job_id"] for j in journals(out) if (j.get("job") or {}).get("job_id")]


def job_count(server: ServerProcess) -> int:
    with sqlite3.connect(server.data_dir / "vestis.db") as db:
        return int(db.execute("select count(*) from jobs").fetchone()[0])


def job_ids(server: ServerProcess) -> list[str]:
    with sqlite3.connect(server.data_dir / "vestis.db") as db:
        return [row[0] for row in db.execute("select public_id from jobs")]


def without_signatures(value: Any) -> Any:
    """Signed links carry their expiry; two reads of the same results differ only there."""
    if isinstance(value, dict):
        return {k: without_signatures(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_signatures(v) for v in value]
    if isinstance(value, str) and "signature=" in value:
        return value.split("?", 1)[0]
    return value


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


FOLDERS = 4


def make_batch(catalogue: Any, root: Path, folders: int = FOLDERS) -> Path:
    """`folders` PDP folders of two photos each, from the sample catalogue."""
    images = [p for p in catalogue.pdp_images if p.name.startswith("shot-")]
    for index in range(folders):
        folder = root / f"ART-{index:02d}"
        folder.mkdir(parents=True)
        for shot in range(2):
            source = images[(index + shot) % len(images)]
            (folder / f"photo{shot + 1}.jpg").write_bytes(source.read_bytes())
    return root


def output_stats(out: Path) -> dict[str, tuple[int, int]]:
    """inode and mtime of every downloaded image: unchanged means not fetched again."""
    return {
        str(p.relative_to(out)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in out.glob("*/*_v0.jpg")
    }


def assert_all_complete(out: Path, folders: int = FOLDERS) -> None:
    for index in range(folders):
        target = out / f"ART-{index:02d}"
        journal = Journal.read(target)
        assert journal is not None and journal["completed"] is True, target
        assert sorted(p.name for p in target.glob("*.jpg")) == ["photo1_v0.jpg", "photo2_v0.jpg"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("server")) as process:
        yield process


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from vestis.runs.samples import write_sample_catalogue

    root = tmp_path_factory.mktemp("catalogue")
    cat = write_sample_catalogue(root)
    # Files the model-swap filter must skip, and a non-image.
    Image.open(cat.pdp_images[0]).save(cat.pdp_folders[0] / "detail_INTERNAL_.jpg")
    Image.open(cat.pdp_images[0]).save(cat.pdp_folders[0] / "pack_NONMODEL_.png")
    (cat.pdp_folders[0] / "readme.txt").write_text("not an image")
    return cat


@pytest.fixture(scope="module")
def identity_code(server: ServerProcess, catalogue: Any, tmp_path_factory) -> str:
    env = cli_env(
        tmp_path_factory.mktemp("env"), VESTIS_TOKEN=server.token, VESTIS_BASE_URL=server.base_url
    )
    # Grace Hopper's portrait: another person than the catalogue's model (the module's server
    # runs the fake engine, which does not refuse her glasses as the local engine does).
    hopper = next(p for p in catalogue.identities if p.name == "grace-hopper.jpg")
    result = vestis("identities", "upload", str(hopper), "--name", "Lisa", env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()
