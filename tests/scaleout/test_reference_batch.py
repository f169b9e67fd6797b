"""The reference `batch_swap.py` flow (spec §5, `--parallel 3`) against two API processes on one
PostgreSQL database and one S3 bucket, run again and again on the same folders: the creations of
parallel folders meet on the user's row in both processes (credits, the rate limit, the project
and identity each folder makes or finds). Every run ends with no server error, every folder
complete, and exactly one credit taken per output delivered. Nothing here waits for a time:
each step waits for the server's answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.scaleout.conftest import BUCKET, S3
from tests.server.conftest import person_image
from tests.server.reference_client import batch_swap
from tests.support.server_process import FAKE_ENGINE, ServerProcess

FOLDERS = 6
IMAGES_PER_FOLDER = 2
RUNS = 3


@dataclass
class Pair:
    apis: list[ServerProcess]

    def credits(self) -> float:
        with self.apis[0].client() as client:
            return float(client.get("/v1/credits").json()["credits"]["total"])

    def logs(self) -> str:
        return "".join(api.log() for api in self.apis)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, s3: S3) -> Iterator[Pair]:
    """Two `vestis serve` processes (one engine thread each), each with a data dir of its own:
    they share the database and the bucket only. A rate limit high enough never to refuse, so
    every creation takes its lock as it would in production."""
    root = tmp_path_factory.mktemp("reference-batch")
    common = {
        "engine": FAKE_ENGINE,
        "rate_limit": 1000,
        "workers": 1,
        "extra_args": ["--blob-store", f"s3://{BUCKET}/reference-batch"],
        "env": s3.env,
    }
    first = ServerProcess(root / "api-0", **common)  # type: ignore[arg-type]
    with first:
        second = ServerProcess(
            root / "api-1",
            database_url=first.database_url,
            token=first.token,
            **common,  # type: ignore[arg-type]
        )
        with second:
            yield Pair([first, second])


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("PDP")
    made = []
    for n in range(FOLDERS):
        folder = root / f"ARTICLE{n + 1}"
        folder.mkdir()
        for k in range(IMAGES_PER_FOLDER):
            (folder / f"image{k + 1}.jpg").write_bytes(person_image(10 * n + k))
        (folder / "image9_INTERNAL_.jpg").write_bytes(person_image(99))  # skipped by the script
        made.append(folder)
    return made


def test_batch_swap_parallel_on_two_api_processes_again_and_again(
    pair: Pair, folders: list[Path], tmp_path: Path
) -> None:
    identity = tmp_path / "Anna.jpg"
    identity.write_bytes(person_image(7, size=(200, 260)))
    urls = [api.base_url for api in pair.apis]
    before = pair.credits()
    delivered = 0
    identity_codes: set[str] = set()
    for number in range(RUNS):
        output = tmp_path / f"run-{number}"
        run = batch_swap(
            folders, output, urls, pair.apis[0].token, identity_image=identity, parallel=3
        )
        assert [a for a in run.answers if a[3] >= 500] == []
        # the creations went to both processes, half each, all accepted
        created = [(url, code) for url, method, path, code in run.answers if path == "/model-swap"]
        assert sorted(created) == sorted((url, 202) for url in urls * (FOLDERS // 2))
        assert run.exit_code == 0, run.summary
        assert run.summary["successful"] == FOLDERS
        assert run.summary["configuration"]["parallel"] == 3
        for folder in folders:
            written = sorted(p.name for p in (output / folder.name).iterdir())
            assert written == ["image1_v0.jpg", "image2_v0.jpg", "metadata.json"], written
            metadata = json.loads((output / folder.name / "metadata.json").read_text())
            assert [r["status"] for r in metadata["results"]] == ["completed"] * IMAGES_PER_FOLDER
            assert metadata["credits_used"] == IMAGES_PER_FOLDER
            delivered += len(run.runs[folder.name].files)
            identity_codes.add(str(run.runs[folder.name].identity_code))
        # one project per folder, found again by the later runs
        with pair.apis[1].client() as client:
            projects = client.get("/project", params={"per_page": 100}).json()["projects"]
        assert sorted(p["project_text"] for p in projects) == sorted(f.name for f in folders)
    assert delivered == RUNS * FOLDERS * IMAGES_PER_FOLDER
    assert len(identity_codes) == 1  # one identity, made once and found by every other folder
    assert before - pair.credits() == delivered
    assert "Traceback" not in pair.logs(), pair.logs()
