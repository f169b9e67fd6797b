"""Fault tests: the server misbehaves on purpose (429s, 500s, dropped connections, expiring
tokens) or the client is killed mid-batch; every folder still ends completed, no job is
submitted twice and nothing already downloaded is fetched again."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import (
    FOLDERS,
    assert_all_complete,
    cli_env,
    job_count,
    make_batch,
    output_stats,
    read_json,
    vestis,
)
from tests.support.server_process import ServerProcess

from vestis.client import Client
from vestis.runs.journal import JOURNAL_NAME, Journal

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
    with ServerProcess(tmp_path / "srv", engine="tests.support.fake_engine:SlowFakeEngine") as srv:
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
        process = subprocess.Popen(
            [sys.executable, "-m", "vestis", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                journals = [Journal.read(p) for p in out.glob("ART-*")] if out.exists() else []
                done = [j for j in journals if j and j.get("completed")]
                waiting = [
                    j
                    for j in journals
                    if j and not j.get("completed") and (j.get("job") or {}).get("job_id")
                ]
                if done and waiting:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the batch never reached a folder done and another job in flight")
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
        accepted = {
            Journal.read(p)["job"]["job_id"]  # type: ignore[index]
            for p in out.glob("ART-*")
            if (p / JOURNAL_NAME).is_file() and (Journal.read(p) or {}).get("job", {}).get("job_id")
        }
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


def test_ctrl_c_stops_at_once_and_the_rerun_finishes(tmp_path: Path, catalogue: Any):
    root = make_batch(catalogue, tmp_path / "in", folders=3)
    out = tmp_path / "out"
    with ServerProcess(tmp_path / "srv", engine="tests.support.fake_engine:SlowFakeEngine") as srv:
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
        process = subprocess.Popen(
            [sys.executable, "-m", "vestis", *args],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and job_count(srv) == 0:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
        assert process.returncode == 130, output
        assert "Interrupted. Run the same command again to resume" in output
        # It stopped without waiting for the folders in flight (each job takes seconds).
        journals = [Journal.read(p) or {} for p in out.glob("ART-*")]
        assert not all(j.get("completed") for j in journals) or len(journals) < 3
        again = vestis(*args, env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert_all_complete(out, folders=3)
        assert job_count(srv) == 3
