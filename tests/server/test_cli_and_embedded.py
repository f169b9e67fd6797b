"""`vestis serve` / `users add` / `tokens create`, and the in-process EmbeddedServer."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from tests.support.server_process import FAKE_ENGINE, REPO_ROOT, ServerProcess

from vestis.server.embedded import EmbeddedServer


def test_first_start_prints_admin_once_and_token_ttl(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path)
    with server:
        pass
    server.extra_args = ["--access-token-ttl", "1"]
    with server:
        admin_token = next(
            line.split(": ", 1)[1] for line in server.log().splitlines() if "API token:" in line
        )
        password = next(
            line.split(": ", 1)[1] for line in server.log().splitlines() if "password:" in line
        )
        before = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
        login = httpx.post(server.base_url + "/auth/login", auth=("admin", password))
        after = datetime.now(UTC).replace(tzinfo=None)
        assert login.status_code == 200
        headers = {"Authorization": f"Bearer {admin_token}"}
        assert httpx.get(server.base_url + "/project", headers=headers).status_code == 200
        # --access-token-ttl 1: the login token expires a second after it was issued (bounded
        # by the clock around the call, however long the call took), API tokens do not.
        expires = datetime.fromisoformat(login.json()["expiration_date"].removesuffix("Z"))
        assert before + timedelta(seconds=1) <= expires <= after + timedelta(seconds=1)
        until_expired = after + timedelta(seconds=1) - datetime.now(UTC).replace(tzinfo=None)
        time.sleep(max(0.0, until_expired.total_seconds()) + 0.05)
        short = {"Authorization": f"Bearer {login.json()['token']}"}
        assert httpx.get(server.base_url + "/project", headers=short).status_code == 401
        assert httpx.get(server.base_url + "/project", headers=headers).status_code == 200
    assert server.log().count("First start") == 1


def test_users_and_tokens_commands(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path)
    data = ["--data-dir", str(server.data_dir), *server.db_args()]
    added = server.cli("users", "add", "ann", "--password", "pw-ann", "--credits", "7", *data)
    assert added.stdout == ""  # nothing on stdout but what scripts need
    duplicate = server.cli("users", "add", "ann", "--password", "x", *data, check=False)
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    token = server.cli("tokens", "create", "--user", "ann", *data).stdout
    assert token.strip().startswith("vst_") and token.count("\n") == 1
    missing = server.cli("tokens", "create", "--user", "nobody", *data, check=False)
    assert missing.returncode == 1 and "no user" in missing.stderr
    # VESTIS_DATA_DIR instead of --data-dir
    # this checkout's vestis (src/), not whichever one the environment has installed
    path = os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "src")])
    env = {**os.environ, "VESTIS_DATA_DIR": str(server.data_dir), "PYTHONPATH": path}
    by_env = subprocess.run(
        [sys.executable, "-m", "vestis", "tokens", "create", "--user", "ann", *server.db_args()],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert by_env.returncode == 0 and by_env.stdout.startswith("vst_")
    env.pop("VESTIS_DATA_DIR")
    no_dir = subprocess.run(
        [sys.executable, "-m", "vestis", "tokens", "create"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert no_dir.returncode != 0 and "VESTIS_DATA_DIR" in no_dir.stderr
    with server:
        headers = {"Authorization": f"Bearer {token.strip()}"}
        login = httpx.post(server.base_url + "/auth/login", auth=("ann", "pw-ann")).json()
        assert login["user"]["credits"] == 7
        assert httpx.get(server.base_url + "/project", headers=headers).status_code == 200


def test_embedded_server_reuses_its_token(tmp_path: Path) -> None:
    with EmbeddedServer(tmp_path, engine=FAKE_ENGINE) as server:
        first = server.token
        health = httpx.get(server.base_url + "/health").json()
        assert health["engine"] == "fake"
        headers = {"Authorization": f"Bearer {first}"}
        made = httpx.post(server.base_url + "/project", json={"project_name": "e"}, headers=headers)
        assert made.status_code == 200
    with EmbeddedServer(tmp_path, engine=FAKE_ENGINE) as server:
        assert server.token == first
        headers = {"Authorization": f"Bearer {first}"}
        again = httpx.post(
            server.base_url + "/project", json={"project_name": "e"}, headers=headers
        )
        assert again.status_code == 409
    assert (tmp_path / "embedded-token").stat().st_mode & 0o077 == 0


def test_a_second_server_on_a_sqlite_data_dir_stops_at_once(tmp_path: Path) -> None:
    with ServerProcess(tmp_path) as server:
        if server.database_url:  # with PostgreSQL there is no data-dir lock: many processes
            return
        second = server.cli(
            "serve", "--data-dir", str(server.data_dir), "--port", "0", "--engine", FAKE_ENGINE,
            check=False,
        )  # fmt: skip
        assert second.returncode == 1
        assert "Another vestis server" in second.stderr and str(server.data_dir) in second.stderr
        assert "--database-url" in second.stderr
        # the first one is untouched
        assert httpx.get(server.base_url + "/health").status_code == 200


def test_worker_needs_postgresql(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path)
    refused = server.cli(
        "worker", "--database-url", f"sqlite:///{tmp_path / 'x.db'}", "--data-dir",
        str(tmp_path), check=False,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "needs a PostgreSQL database" in refused.stderr


def test_worker_refuses_an_unknown_engine_in_one_line(tmp_path: Path) -> None:
    """As `vestis serve` does: a usage error (exit 2) naming --engine, before any connection
    (the database here is never reached), not a traceback."""
    server = ServerProcess(tmp_path)
    refused = server.cli(
        "worker", "--database-url", "postgresql+psycopg://nobody:none@127.0.0.1:1/none",
        "--data-dir", str(tmp_path), "--engine", "bogus", check=False,
    )  # fmt: skip
    assert refused.returncode == 2, refused.stderr
    assert "--engine" in refused.stderr and "bogus" in refused.stderr
    # what to give instead: every engine that ships, and the form of one's own
    for name in ("'local'", "'onmodel'", "'fashn'", "package.module:attr"):
        assert name in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
