"""`vestis studio` as a user runs it: the embedded server starts, the one-time link signs the
browser in (and works once), Ctrl-C stops it."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
from tests.support.server_process import FAKE_ENGINE, REPO_ROOT
from tests.support.terminal import vestis_argv

pytestmark = pytest.mark.e2e


def test_studio_command_signs_the_browser_in_once(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "VESTIS_DATA_DIR": str(tmp_path / "data"),
        "VESTIS_EMBEDDED_ENGINE": FAKE_ENGINE,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "src")]),
    }
    process = subprocess.Popen(
        vestis_argv("studio", "--no-browser"),  # SIGINT handled, whatever started pytest
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        assert process.stdout is not None
        for line in process.stdout:  # until the link is printed (or the process ends)
            lines.append(line)
            if line.startswith("Signed-in link"):
                break
        link = lines[-1].split(": ", 1)[1].strip()
        assert "/studio/login?ticket=vsl_" in link, "".join(lines)
        browser = httpx.Client()
        signed_in = browser.get(link)
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/studio/"  # the ticket is gone from the address
        base = link.split("/studio/")[0]
        assert browser.get(base + "/studio/").status_code == 200
        again = httpx.get(link)
        assert again.status_code == 200 and "already used or has expired" in again.text
        browser.close()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert process.returncode == 130


def test_studio_on_a_busy_port_says_so_in_one_line(tmp_path: Path) -> None:
    import socket

    env = {
        **os.environ,
        "VESTIS_DATA_DIR": str(tmp_path / "data"),
        "VESTIS_EMBEDDED_ENGINE": FAKE_ENGINE,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "src")]),
    }
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            vestis_argv("studio", "--no-browser", "--port", str(port)),
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: port {port} on 127.0.0.1 is already in use: choose another --port, or leave it "
        "out for a free one\n"
    )
    assert not (tmp_path / "data").exists()  # nothing started, nothing made
