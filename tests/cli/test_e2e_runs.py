"""The four run commands against the real server process, with the reference flags, compared
with what the spec says the reference scripts produce (names, metadata.json, summary, exit
codes, console lines)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from tests.cli.conftest import (
    cli_env,
    draw,
    job_count,
    read_json,
    vestis,
    without_signatures,
)

from vestis.client import Client
from vestis.contract import output_dimensions
from vestis.runs.journal import JOURNAL_NAME

pytestmark = pytest.mark.e2e


@pytest.fixture
def env(server, tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path)


def remote(server) -> list[str]:
    return ["--base-url", server.base_url, "--token", server.token]


def test_model_swap_matches_the_reference_outputs(server, catalogue, identity_code, env, tmp_path):
    out = tmp_path / "results" / "ARTICLE-001"
    before = job_count(server)
    result = vestis(
        "model-swap",
        "--input-folder",
        str(catalogue.pdp_folders[0]),
        *remote(server),
        "--identity-code",
        identity_code,
        "--output-folder",
        str(out),
        "--post-process",
        "--model",
        "onda",
        "--use-anchor",
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert job_count(server) == before + 1
    assert sorted(p.name for p in out.iterdir()) == [
        JOURNAL_NAME,
        "metadata.json",
        "shot-1_v0.jpg",
        "shot-2_v0.jpg",
    ]
    text = (out / "metadata.json").read_text()
    metadata = json.loads(text)
    assert text == json.dumps(metadata, indent=2)  # 2-space indent, no trailing newline
    with Client(base_url=server.base_url, token=server.token) as client:
        body = client.jobs.results_raw(metadata["job_id"])
        status = client.jobs.status(metadata["job_id"])
    assert without_signatures(metadata) == without_signatures(body)
    assert status.should_post_process is True
    assert status.processing_options is not None
    assert status.processing_options["model"] == "onda"
    assert status.processing_options["use_anchor"] is True
    for line in (
        "=" * 70,
        "Model Swap",
        "Found 2 images to upload",
        "Successfully uploaded 2/2 images",
        f"Using existing identity: {identity_code}",
        "Job created: job_",
        "Waiting for job to complete...",
        "Job finished with status: completed",
        "Retrieving results...",
        "Downloaded: shot-1_v0.jpg (model: ",
        "Results saved to",
        "Processing complete",
    ):
        assert line in result.stdout
    # The engine's note on each output is printed once for the folder, and counted.
    assert result.stdout.count("post-processing is a no-op") == 1
    assert "Warning: fake engine: post-processing is a no-op [2 outputs]" in result.stdout
    # The fake engine pastes the identity's photo crudely: the realism measure says so, in
    # words without per-output figures, so outputs with the same defects share one line; the
    # count has both outputs either way.
    unreal = [ln for ln in result.stdout.splitlines() if "Warning: face looks unreal (" in ln]
    assert 1 <= len(unreal) <= 2 and len({ln.split(" [")[0] for ln in unreal}) == len(unreal)
    assert "Processing complete; 4 warnings (printed above)" in result.stdout
    assert server.token not in result.stdout + result.stderr
    assert server.token not in (out / JOURNAL_NAME).read_text()
    with Image.open(out / "shot-1_v0.jpg") as image:
        assert image.format == "JPEG"


def test_rerun_of_a_finished_folder_submits_and_downloads_nothing(
    server, catalogue, identity_code, env, tmp_path
):
    out = tmp_path / "out"
    args = [
        "model-swap",
        "--input-folder",
        str(catalogue.pdp_folders[1]),
        *remote(server),
        "--identity-code",
        identity_code,
        "--output-folder",
        str(out),
    ]
    assert vestis(*args, env=env).returncode == 0
    stats = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("*.jpg")}
    before = job_count(server)
    again = vestis(*args, env=env)
    assert again.returncode == 0 and "Already complete" in again.stdout
    assert job_count(server) == before
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("*.jpg")} == stats
    dry = vestis(*args, "--dry-run", env=env)
    assert dry.returncode == 0 and "nothing to do" in dry.stdout


def test_flat_to_model_simple_flags(server, catalogue, identity_code, env, tmp_path):
    out = tmp_path / "flat"
    result = vestis(
        "flat-to-model",
        "--input-folder",
        str(catalogue.flat_folders[0]),
        *remote(server),
        "--identity-code",
        identity_code,
        "--output-folder",
        str(out),
        "--prompt",
        "summer",
        "--pose",
        "standing",
        "--background",
        "white studio",
        "--num-variations",
        "2",
        "--size",
        "1K",
        "--aspect-ratio",
        "9:16",
        "--format",
        "png",
        "--seed",
        "7",
        "--image-notes",
        "tucked in",
        "",
        "--model",
        "seedream",
        "--no-consistency",
        "--barefoot",
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    names = sorted(p.name for p in out.glob("output_*"))
    assert names == ["output_0_0_v0.png", "output_0_1_v0.png"]
    with Image.open(out / names[0]) as image:
        assert image.format == "PNG"
        assert image.size == output_dimensions("1K", "9:16")
    assert "Found 2 SKU images to upload" in result.stdout
    assert "(2 outputs)" in result.stdout and "Downloading results..." in result.stdout
    metadata = read_json(out / "metadata.json")
    assert {r["model_used"] for r in metadata["results"]} == {"seedream"}


def test_batch_swap_summary_and_layout(server, catalogue, identity_code, env, tmp_path):
    out = tmp_path / "batch"
    before = job_count(server)
    result = vestis(
        "batch-swap",
        "--input-dir",
        str(catalogue.pdp_folders[0].parent),
        *remote(server),
        "--identity-code",
        identity_code,
        "--output-dir",
        str(out),
        "--parallel",
        "9",
        "--model",
        "nano_banana_2",
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert job_count(server) == before + 2
    for folder in catalogue.pdp_folders:
        target = out / folder.name
        assert sorted(p.name for p in target.glob("*.jpg")) == ["shot-1_v0.jpg", "shot-2_v0.jpg"]
        assert (target / "metadata.json").is_file()
    (summary_path,) = out.glob("batch_summary_*.json")
    summary = read_json(summary_path)
    assert list(summary) == [
        "timestamp",
        "configuration",
        "total_folders",
        "successful",
        "failed",
        "total_time_seconds",
        "results",
    ]
    assert summary["configuration"] == {
        "parallel": 5,
        "post_process": False,
        "model": "nano_banana_2",
        "use_anchor": False,
        "base_url": server.base_url,
        "identity_code": identity_code,
        "identity_image": None,
    }
    assert (summary["total_folders"], summary["successful"], summary["failed"]) == (2, 2, 0)
    assert {r["folder"] for r in summary["results"]} == {"ARTICLE-001", "ARTICLE-002"}
    assert all(set(r) == {"folder", "success", "processing_time"} for r in summary["results"])
    for line in (
        "Batch Model Swap",
        "Folders to process: 2",
        "Parallel workers: 5",
        "Post-processing: False",
        "Model: nano_banana_2",
        "Consistency: off",
        f"API base URL: {server.base_url}",
        "  1. ARTICLE-001",
        "Successful: 2",
        f"Batch summary saved to {summary_path}",
    ):
        assert line in result.stdout
    # OK, with the realism measure's warnings on the fake engine's crude paste
    assert "ARTICLE-001: OK, " in result.stdout and "looks real 0/" in result.stdout
    assert server.token not in summary_path.read_text()


def test_batch_flat2model_with_instructions_file(server, catalogue, env, tmp_path):
    instructions = tmp_path / "instructions.json"
    instructions.write_text(
        json.dumps(
            {
                "instructions": [
                    {"pose": "standing", "options": {"ar": "3:4", "size": "1K", "format": "jpg"}},
                    {
                        "pose": "walking",
                        "num_variations": 2,
                        "options": {"ar": "1:1", "format": "jpg"},
                    },
                ]
            }
        )
    )
    out = tmp_path / "flatbatch"
    result = vestis(
        "batch-flat2model",
        "--input-folders",
        *map(str, catalogue.flat_folders),
        *remote(server),
        "--identity-image",
        str(catalogue.identities[0]),
        "--output-dir",
        str(out),
        "--instructions-file",
        str(instructions),
        "--barefoot",
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for folder in catalogue.flat_folders:
        assert sorted(p.name for p in (out / folder.name).glob("output_*")) == [
            "output_0_0_v0.jpg",
            "output_1_0_v0.jpg",
            "output_1_1_v0.jpg",
        ]
    (summary_path,) = out.glob("batch_summary_*.json")
    config = read_json(summary_path)["configuration"]
    assert list(config) == [
        "parallel",
        "model",
        "enhance_consistency",
        "barefoot",
        "base_url",
        "identity_code",
        "identity_image",
        "instructions_file",
    ]
    assert config["barefoot"] is True and config["enhance_consistency"] is True
    assert config["instructions_file"] == str(instructions)
    assert "Loaded 2 instructions from instructions.json" in result.stdout
    assert f"Instructions file: {instructions}" in result.stdout


def test_batch_failures_exit_1_and_are_summarised(server, catalogue, identity_code, env, tmp_path):
    root = tmp_path / "in"
    (root / "GOOD").mkdir(parents=True)
    (root / "GOOD" / "a.jpg").write_bytes(catalogue.pdp_images[0].read_bytes())
    (root / "EMPTY").mkdir(parents=True)
    draw(root / "EMPTY" / "only_INTERNAL_.jpg")
    out = tmp_path / "out"
    result = vestis(
        "batch-swap",
        "--input-dir",
        str(root),
        *remote(server),
        "--identity-code",
        identity_code,
        "--output-dir",
        str(out),
        env=env,
    )
    assert result.returncode == 1
    summary = read_json(next(out.glob("batch_summary_*.json")))
    by_folder = {r["folder"]: r for r in summary["results"]}
    assert by_folder["GOOD"]["success"] is True, result.stdout
    assert by_folder["EMPTY"] == {
        "folder": "EMPTY",
        "success": False,
        "processing_time": by_folder["EMPTY"]["processing_time"],
    }
    assert "No processable images found in" in result.stdout
    assert "EMPTY: FAILED" in result.stdout and "Failed folders:" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["model-swap", "--input-folder", "x"],
            2,
            "Either --identity-code or --identity-image must be provided",
        ),
        (
            ["batch-swap", "--input-dir", "x", "--input-folders", "y", "--identity-code", "c"],
            2,
            "not allowed with",
        ),
        (["batch-flat2model", "--identity-code", "c"], 2, "is required"),
        (
            ["model-swap", "--input-folder", "x", "--identity-code", "c", "--model", "seedream"],
            2,
            "seedream",
        ),
        (["flat-to-model", "--input-folder", "x", "--identity-code", "c", "--size", "8K"], 2, "8K"),
        (
            ["batch-swap", "--input-folders", "nope1", "nope2", "--identity-code", "c"],
            1,
            "Folder not found: nope2",
        ),
        (
            ["batch-swap", "--input-dir", "nope", "--identity-code", "c"],
            1,
            "Input directory not found: nope",
        ),
        (
            [
                "flat-to-model",
                "--input-folder",
                ".",
                "--identity-code",
                "c",
                "--instructions-file",
                "missing.json",
            ],
            1,
            "Instructions file not found",
        ),
        (
            [
                "model-swap",
                "--input-folder",
                "x",
                "--identity-code",
                "c",
                "--base-url",
                "http://127.0.0.1:9",
            ],
            2,
            "needs credentials",
        ),
    ],
)
def test_usage_and_input_errors(args: list[str], code: int, message: str, env, tmp_path):
    result = vestis(*args, env=env)
    assert result.returncode == code, result.stdout + result.stderr
    assert message in result.stdout + result.stderr


def test_json_events_and_env_credentials(server, catalogue, identity_code, tmp_path):
    env = cli_env(tmp_path, VESTIS_TOKEN=server.token, VESTIS_BASE_URL=server.base_url)
    out = tmp_path / "j"
    result = vestis(
        "model-swap",
        "--input-folder",
        str(catalogue.pdp_folders[1]),
        "--identity-code",
        identity_code,
        "--output-folder",
        str(out),
        "--json",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    names = [e["event"] for e in events]
    for name in (
        "files_found",
        "uploaded",
        "job_submitted",
        "job_finished",
        "downloaded",
        "results_saved",
    ):
        assert name in names
    assert server.token not in result.stdout


def test_username_password_with_expiring_tokens(tmp_path, catalogue):
    from tests.support.server_process import ServerProcess

    with ServerProcess(
        tmp_path / "srv",
        extra_args=["--access-token-ttl", "2"],
        engine="tests.support.fake_engine:SlowFakeEngine",
    ) as srv:
        env = cli_env(tmp_path, VESTIS_USERNAME=srv.username, VESTIS_PASSWORD=srv.password)
        out = tmp_path / "out"
        result = vestis(
            "batch-swap",
            "--input-folders",
            *map(str, catalogue.pdp_folders),
            "--base-url",
            srv.base_url,
            "--identity-image",
            str(catalogue.identities[0]),
            "--output-dir",
            str(out),
            env=env,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert job_count(srv) == 2
        assert srv.password not in result.stdout + result.stderr
        for folder in catalogue.pdp_folders:
            assert len(list((out / folder.name).glob("*_v0.jpg"))) == 2


@pytest.mark.parametrize("identity", ["code", "image"])
def test_bad_token_fails_with_a_hint_and_without_retrying(
    identity, server, catalogue, env, tmp_path
):
    """The identity image goes to the upload route, whose token check runs before the body is
    read (server/http/bodycap): its words are the same plain ones."""
    chosen = (
        ["--identity-code", "x"]
        if identity == "code"
        else ["--identity-image", str(catalogue.identities[0])]
    )
    result = vestis(
        "batch-swap",
        "--input-folders",
        str(catalogue.pdp_folders[0]),
        "--base-url",
        server.base_url,
        "--token",
        "vst_wrong",
        *chosen,
        "--output-dir",
        str(tmp_path / "o"),
        env=env,
    )
    assert result.returncode == 1
    # One line, before any folder: the server's reason once, with self-hosted advice only.
    (line,) = result.stdout.splitlines()
    assert "The token is invalid, expired or revoked" in line, line
    assert line.count("invalid") == 1 and "vestis tokens create" in line
    assert f"({server.base_url.removeprefix('http://')})" in line
    assert "app.on-model.com" not in line and "vst_wrong" not in line
    assert "body" not in line  # no word of how the server checks it


def test_a_wrong_password_names_the_host(server, catalogue, env, tmp_path):
    result = vestis(
        "model-swap",
        "--input-folder",
        str(catalogue.pdp_folders[0]),
        "--base-url",
        server.base_url,
        "--username",
        server.username,
        "--password",
        "not-the-password",
        "--identity-code",
        "x",
        "--output-folder",
        str(tmp_path / "o"),
        env=env,
    )
    assert result.returncode == 1
    (line,) = result.stdout.splitlines()
    host = server.base_url.removeprefix("http://")
    assert line.endswith(f"Wrong username or password ({host})."), line


@pytest.mark.parametrize("where", ["unresolvable", "closed port"])
def test_a_server_that_cannot_be_reached_fails_at_once_naming_the_host(
    where: str, catalogue, env, tmp_path
):
    """No retries and no folder retried: one line that says which host (no network needed)."""
    import socket

    with socket.socket() as sock:  # bound, not listening: connections to it are refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        base_url = (
            "https://api.vestis-test.invalid"
            if where == "unresolvable"
            else (f"http://127.0.0.1:{port}")
        )
        for command in ("model-swap", "batch-swap"):
            folder = "--input-folder" if command == "model-swap" else "--input-folders"
            result = vestis(
                command, folder, str(catalogue.pdp_folders[0]), "--identity-code", "x",
                "--base-url", base_url, "--token", "t", "--output-dir", str(tmp_path / "o"),
                env=env,
            )  # fmt: skip
            assert result.returncode == 1, result.stdout + result.stderr
            assert "retry" not in result.stdout.lower()
            errors = [line for line in result.stdout.splitlines() if "Error" in line]
            expected = (
                "Could not resolve api.vestis-test.invalid"
                if where == "unresolvable"
                else f"127.0.0.1:{port} refused the connection"
            )
            assert len(errors) == 1 and expected in errors[0], result.stdout


def test_local_mistakes_are_found_before_anything_is_sent(server, catalogue, env, tmp_path):
    before = job_count(server)
    folder = tmp_path / "ART"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(catalogue.pdp_images[0].read_bytes())
    (folder / "b.jpg").write_text("a text file named like a photo")
    missing_identity = vestis(
        "model-swap", "--input-folder", str(folder), "--identity-image", "nope.jpg",
        "--output-folder", str(tmp_path / "o1"), env=env,
    )  # fmt: skip
    assert missing_identity.returncode == 1
    assert "Identity image not found: nope.jpg" in missing_identity.stdout
    assert "embedded vestis server" not in missing_identity.stdout  # nothing was started
    unreadable = vestis(
        "model-swap", "--input-folder", str(folder), *remote(server),
        "--identity-image", str(catalogue.identities[0]), "--output-folder", str(tmp_path / "o2"),
        env=env,
    )  # fmt: skip
    assert unreadable.returncode == 1
    assert "b.jpg: not a readable image (JPEG, PNG or WebP expected)" in unreadable.stdout
    assert "--allow-partial" in unreadable.stdout
    assert job_count(server) == before
    partial = vestis(
        "model-swap", "--input-folder", str(folder), *remote(server), "--allow-partial",
        "--identity-image", str(catalogue.identities[0]), "--output-folder", str(tmp_path / "o2"),
        env=env,
    )  # fmt: skip
    assert partial.returncode == 0, partial.stdout + partial.stderr
    assert "Warning: Skipped b.jpg: not a readable image" in partial.stdout
    assert "Processing complete, 1 missing (accepted with --allow-partial)" in partial.stdout
    assert job_count(server) == before + 1


def test_a_faceless_identity_is_refused_before_any_upload_and_not_kept(
    server, catalogue, env, tmp_path
):
    before = job_count(server)
    faceless = draw(tmp_path / "wall.jpg", "grey")  # FakeEngine finds no face in a plain image
    result = vestis(
        "model-swap", "--input-folder", str(catalogue.pdp_folders[0]), *remote(server),
        "--identity-image", str(faceless), "--output-folder", str(tmp_path / "o"), env=env,
    )  # fmt: skip
    assert result.returncode == 1
    assert "wall.jpg cannot be the identity" in result.stdout and "not kept" in result.stdout
    assert "Identity ready" not in result.stdout and "Uploaded" not in result.stdout
    assert job_count(server) == before
    with Client(base_url=server.base_url, token=server.token) as client:
        names = [i.name for i in client.identities.list(per_page=100).identities]
    assert "wall" not in names


def test_an_unknown_identity_code_fails_before_uploading(server, catalogue, env, tmp_path):
    result = vestis(
        "batch-swap", "--input-folders", str(catalogue.pdp_folders[0]), *remote(server),
        "--identity-code", "PiktidSummer", "--output-dir", str(tmp_path / "o"), env=env,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "Identity code 'PiktidSummer' not found on this server. `vestis identities list` shows "
        "the codes it has; --identity-image uploads a photo instead."
    ]
