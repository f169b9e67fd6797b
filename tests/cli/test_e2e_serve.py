"""`vestis serve` checks its port before it does anything else."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from tests.cli.conftest import cli_env

pytestmark = pytest.mark.e2e


def test_a_busy_port_fails_before_credentials_are_made(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data = tmp_path / "server-data"
        result = subprocess.run(
            [sys.executable, "-m", "vestis", "serve", "--port", str(port),
             "--data-dir", str(data)],
            env=cli_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""  # no admin credentials, no "vestis serving"
    assert result.stderr.strip() == (
        f"Error: port {port} on 127.0.0.1 is already in use (another vestis serve?): stop that "
        "server or choose another --port"
    )
    assert not data.exists()  # no database, no account was made
