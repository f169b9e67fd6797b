"""Fault tests: the server misbehaves on purpose (429s, 500s, dropped connections, expiring
tokens) or the client is killed mid-batch; every folder still ends completed, no job is
submitted twice and nothing already downloaded is fetched again."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import (
    FOLDERS,
    Output,
    accepted_jobs,
    assert_all_complete,
    cli_env,
    job_count,
    journals,
    make_batch,
    output_stats,
    read_json,
    start_vestis,
    vestis,
)
from tests.support.gate import Gate, wait_until
from tests.support.server_process import GATED_FAKE_ENGINE, ServerProcess

from vestis.client import Client
from vestis.runs.journal import Journal

pytestmark = pytest.mark.e2e


def test_flaky_server_every_folder_completes_once(tmp_path: Path, catalogue: Any):
    root = make_batch(catalogue, tmp_path / "in")
    out = tmp_path / "out"
    with ServerProcess(tmp_path / "srv", faults="429=0.2,500=0.1,drop=0.05,seed=7") as srv:
        with Client(base_url=srv.base_url, token=srv.token, max_retries=10) as client:
            code = client.identities.ensure(catalogue.identities[0], name="Lisa")
        env = cli_env(tmp_path, VESTIS_TOKEN=srv.token)
        args = [
            "batch-swap",
            "--input-dir",
            str(root),
            "--base-url",
            srv.base_url,
            "--identity-code",
            code,
            "--output-dir",
            str(out),
            "--parallel",
            "4",
        ]
        results = [vestis(*args, env=env)]
        stats = output_stats(out)
        # A folder may still fail after all its retries (bad luck); running the same command
        # again must finish it without redoing anything.
        while results[-1].returncode != 0 and len(results) < 3:
            results.append(vestis(*args, env=env))
            for name, stat in stats.items():
                assert output_stats(out)[name] == stat, f"{name} was downloaded again"
            stats = output_stats(out)
        assert results[-1].returncode == 0, results[-1].stdout + results[-1].stderr
        assert_all_complete(out)
        assert job_count(srv) == FOLDERS
        summary = read_json(sorted(out.glob("batch_summary_*.json"))[-1])
        assert summary["successful"] == FOLDERS


def test_client_killed_mid_batch_resumes_without_resubmitting(tmp_path: Path, catalogue: Any):
    root = make_batch(catalogue, tmp_path / "in")
    out = tmp_path / "out"
    gate = Gate(tmp_path / "gate")
    with ServerProcess(tmp_path / "srv", engine=GATED_FAKE_ENGINE, env=gate.env) as srv:
        env = cli_env(tmp_path, VESTIS_TOKEN=srv.token)
        args = [
            "batch-swap",
            "--input-dir",
            str(root),
            "--base-url",
            srv.base_url,
            "--identity-image",
            str(catalogue.identities[0]),
            "--output-dir",
            str(out),
            "--parallel",
            "2",
        ]
        process = start_vestis(*args, env=env)
        try:
            # Both workers have a job accepted; the gate holds every output.
            wait_until(lambda: len(accepted_jobs(out)) == 2, what="two jobs accepted")
            with Client(base_url=srv.base_url, token=srv.token) as client:
                finish_one_job(gate, client, out)
            # One folder done (downloaded), the other's job accepted and still held.
            wait_until(lambda: any(j.get("completed") for j in journals(out)), what="a folder done")
            assert any(
                not j.get("completed") and (j.get("job") or {}).get("job_id") for j in journals(out)
            )
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
            gate.open()
        accepted = set(accepted_jobs(out))
        jobs_at_kill = job_count(srv)
        stats = output_stats(out)
        assert stats, "something was downloaded before the kill"
        again = vestis(*args, env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert_all_complete(out)
        # Each folder has exactly one job; the jobs accepted before the kill were reused.
        assert job_count(srv) == FOLDERS
        assert jobs_at_kill <= FOLDERS
        final = {Journal.read(p)["job"]["job_id"] for p in out.glob("ART-*")}  # type: ignore[index]
        assert accepted <= final
        for name, stat in stats.items():
            assert output_stats(out)[name] == stat, f"{name} was downloaded again"


def finish_one_job(gate: Gate, client: Client, out: Path) -> None:
    """Let outputs through one at a time until one accepted job has completed on the server;
    each is counted as made before the next is let through, so no second job finishes."""
    admitted = 0

    def made() -> int:
        return sum(client.jobs.status(job).processed_images for job in accepted_jobs(out))

    def completed() -> bool:
        return any(client.jobs.status(job).status == "completed" for job in accepted_jobs(out))

    while not completed():
        gate.admit(1)
        admitted += 1
        wait_until(lambda n=admitted: made() >= n, what=f"{admitted} outputs made")


def test_ctrl_c_stops_at_once_and_the_rerun_finishes(tmp_path: Path, catalogue: Any):
    root = make_batch(catalogue, tmp_path / "in", folders=3)
    out = tmp_path / "out"
    gate = Gate(tmp_path / "gate")
    with ServerProcess(tmp_path / "srv", engine=GATED_FAKE_ENGINE, env=gate.env) as srv:
        env = cli_env(tmp_path, VESTIS_TOKEN=srv.token)
        args = [
            "batch-swap",
            "--input-dir",
            str(root),
            "--base-url",
            srv.base_url,
            "--identity-image",
            str(catalogue.identities[0]),
            "--output-dir",
            str(out),
        ]
        process = start_vestis(*args, env=env)
        output = Output(process)
        try:
            # Every folder's job is accepted and held at the gate: none can finish, so exiting
            # is stopping, not waiting.
            wait_until(lambda: len(accepted_jobs(out)) == 3, what="three jobs accepted")
            process.send_signal(signal.SIGINT)
            code, text = output.finish(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
            gate.open()
        assert code == 130, text
        assert text.count("Interrupted. Run the same command again to resume") == 1, text
        assert "Traceback" not in text
        assert not any(j.get("completed") for j in journals(out))
        again = vestis(*args, env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert_all_complete(out, folders=3)
        assert job_count(srv) == 3


def test_ctrl_c_while_one_folder_waits_for_its_job(tmp_path: Path, catalogue: Any):
    """The single-folder command waits in the main thread, inside a socket read (SSE)."""
    gate = Gate(tmp_path / "gate")
    out = tmp_path / "out"
    with ServerProcess(tmp_path / "srv", engine=GATED_FAKE_ENGINE, env=gate.env) as srv:
        env = cli_env(tmp_path, VESTIS_TOKEN=srv.token, VESTIS_BASE_URL=srv.base_url)
        args = [
            "model-swap",
            "--input-folder",
            str(catalogue.pdp_folders[0]),
            "--identity-image",
            str(catalogue.identities[0]),
            "--output-folder",
            str(out),
        ]
        process = start_vestis(*args, env=env)
        output = Output(process)
        try:
            output.wait_for("Waiting for job to complete")
            process.send_signal(signal.SIGINT)
            code, text = output.finish(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
            gate.open()
        assert code == 130, text
        assert text.count("Interrupted.") == 1 and "Traceback" not in text, text
        again = vestis(*args, env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "Resuming job" in again.stdout
        assert job_count(srv) == 1


def test_ctrl_c_during_start_up_of_the_embedded_server(tmp_path: Path, catalogue: Any):
    gate = Gate(tmp_path / "gate")  # never opened: the run cannot end by itself
    env = cli_env(tmp_path, VESTIS_EMBEDDED_ENGINE=GATED_FAKE_ENGINE, **gate.env)
    process = start_vestis(
        "model-swap",
        "--input-folder",
        str(catalogue.pdp_folders[0]),
        "--identity-image",
        str(catalogue.identities[0]),
        "--output-folder",
        str(tmp_path / "out"),
        env=env,
    )
    output = Output(process)
    try:
        output.wait_for("embedded vestis server")
        process.send_signal(signal.SIGINT)
        code, text = output.finish(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 130, text
    assert "Traceback" not in text and text.count("Interrupted.") == 1, text
    # one line, the last (how far the run got before the signal landed depends on the machine)
    assert text.strip().splitlines()[-1].startswith("Interrupted."), text


def test_ctrl_c_while_the_command_starts_is_one_line(monkeypatch, capsys):
    """An interrupt while the commands are still being imported: no traceback."""
    import vestis.cli as cli

    exits: list[int] = []

    def importing() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.interrupts, "install", importing)
    monkeypatch.setattr(cli.interrupts.os, "_exit", exits.append)
    cli.main()
    assert exits == [130]
    assert capsys.readouterr().err == "Interrupted.\n"
