"""identities / jobs / report / demo commands, and the embedded default (real local engine)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from tests.cli.conftest import cli_env, read_json, vestis

from vestis.runs.journal import JOURNAL_NAME

pytestmark = pytest.mark.e2e


def test_identities_commands(server, catalogue, tmp_path: Path):
    env = cli_env(tmp_path, VESTIS_TOKEN=server.token, VESTIS_BASE_URL=server.base_url)
    upload = vestis(
        "identities", "upload", str(catalogue.identities[0]), "--name", "Astro", env=env
    )
    assert upload.returncode == 0, upload.stderr
    code = upload.stdout.strip()
    again = vestis("identities", "upload", str(catalogue.identities[0]), env=env)
    assert again.stdout.strip() == code  # 409 -> the existing identity
    listing = vestis("identities", "list", "--json", env=env)
    assert code in {i["identity_code"] for i in json.loads(listing.stdout)["identities"]}
    shown = vestis("identities", "show", code, env=env)
    assert json.loads(shown.stdout)["identity_code"] == code
    assert vestis("identities", "delete", code, env=env).returncode == 0
    missing = vestis("identities", "show", code, env=env)
    assert missing.returncode == 1 and "Error:" in missing.stderr
    # a photo with no face is refused, as by the run commands, and not kept in the library
    faceless = tmp_path / "wall.jpg"
    Image.new("RGB", (96, 128), "grey").save(faceless)
    refused = vestis("identities", "upload", str(faceless), "--name", "Wall", env=env)
    assert refused.returncode == 1 and refused.stdout == ""
    assert "wall.jpg cannot be the identity" in refused.stderr
    assert "not kept" in refused.stderr
    listing = vestis("identities", "list", "--json", env=env)
    assert "Wall" not in {i["name"] for i in json.loads(listing.stdout)["identities"]}


def test_jobs_commands(server, catalogue, identity_code, tmp_path: Path):
    env = cli_env(tmp_path, VESTIS_TOKEN=server.token, VESTIS_BASE_URL=server.base_url)
    out = tmp_path / "run"
    run = vestis(
        "model-swap",
        "--input-folder",
        str(catalogue.pdp_folders[1]),
        "--identity-code",
        identity_code,
        "--output-folder",
        str(out),
        env=env,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    job_id = read_json(out / JOURNAL_NAME)["job"]["job_id"]
    status = vestis("jobs", "status", job_id, env=env)
    assert status.stdout.strip() == "Progress: 100.0% - Status: completed"
    results = json.loads(vestis("jobs", "results", job_id, env=env).stdout)
    assert results["job_id"] == job_id and len(results["results"]) == 2
    waited = vestis("jobs", "wait", job_id, env=env)
    assert waited.returncode == 0 and "Job finished with status: completed" in waited.stdout
    target = tmp_path / "download"
    got = vestis("jobs", "download", job_id, "--output-folder", str(target), env=env)
    assert got.returncode == 0, got.stderr
    assert sorted(p.name for p in target.glob("*.jpg")) == ["shot-1_v0.jpg", "shot-2_v0.jpg"]
    assert (target / "metadata.json").is_file()

    # review through the SDK, then only the approved outputs with --approved
    from vestis.client import Client

    with Client(base_url=server.base_url, token=server.token) as client:
        first, second = client.jobs.results(job_id).results
        liked = client.jobs.feedback(job_id, str(first.output_id), "like", comment="ok")
        assert liked.feedback == "like" and liked.feedback_comment == "ok"
        (disliked,) = client.jobs.bulk_feedback(job_id, [str(second.output_id)], "dislike")
        assert disliked.feedback == "dislike"
    approved = tmp_path / "approved"
    got = vestis(
        "jobs", "download", job_id, "--approved", "--output-folder", str(approved), env=env
    )
    assert got.returncode == 0, got.stderr
    assert sorted(p.name for p in approved.glob("*.jpg")) == [
        str(first.original_filename).replace(".jpg", "_v0.jpg")
    ]
    report = vestis("report", str(out), env=env)
    assert report.returncode == 0 and (out / "report.html").is_file()


def test_embedded_default_with_the_local_engine(catalogue: Any, tmp_path: Path):
    env = cli_env(tmp_path)  # no base URL, no credentials
    out = tmp_path / "out"
    result = vestis(
        "model-swap",
        "--input-folder",
        str(catalogue.pdp_folders[0]),
        "--identity-image",
        str(catalogue.identities[0]),
        "--output-folder",
        str(out),
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    notice = [line for line in result.stdout.splitlines() if "embedded vestis server" in line]
    assert len(notice) == 1 and str(tmp_path / "embedded-data") in notice[0]
    assert sorted(p.name for p in out.glob("*.jpg")) == ["shot-1_v0.jpg", "shot-2_v0.jpg"]
    metadata = read_json(out / "metadata.json")
    assert {r["model_used"] for r in metadata["results"]} == {"local"}
    assert (tmp_path / "embedded-data").is_dir()


def test_demo(tmp_path: Path):
    env = cli_env(tmp_path)
    result = vestis("demo", "--output", str(tmp_path / "demo"), env=env, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    demo = tmp_path / "demo"
    assert len(list(demo.glob("model-swap/ARTICLE-*/*_v0.jpg"))) == 4
    assert len(list(demo.glob("flat-to-model/SKU-*/output_*_v0.jpg"))) == 4
    assert f"Review page:           {demo / 'report.html'}" in result.stdout
    # The sample identity is the photos' own model: the demo says so, and how to see a new face.
    assert "--identity-image YOUR_PHOTO.jpg" in result.stdout
    # The demo's server keeps its data beside the demo, not in the user's library.
    assert (demo / "server-data" / "vestis.db").is_file()
    assert not (tmp_path / "embedded-data").exists()
    assert (demo / "report.html").read_text().count('<section class="run"') == 4
