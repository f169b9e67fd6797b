"""Pacing against a rate-limited server: the batch waits for free slots instead of failing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import cli_env, job_count, read_json, vestis
from tests.cli.test_e2e_faults import assert_all_complete, make_batch
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.e2e


def test_batch_paces_submissions_to_the_servers_limit(tmp_path: Path, catalogue: Any):
    root = make_batch(catalogue, tmp_path / "in", folders=3)
    out = tmp_path / "out"
    with ServerProcess(tmp_path / "srv", rate_limit=2) as srv:
        env = cli_env(tmp_path, VESTIS_TOKEN=srv.token)
        result = vestis(
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
            "3",
            "--jobs-per-minute",
            "2",
            "--verbose",
            env=env,
            timeout=400,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Pacing job submissions: waiting" in result.stdout
        assert job_count(srv) == 3
    assert_all_complete(out, folders=3)
    assert read_json(next(out.glob("batch_summary_*.json")))["successful"] == 3
