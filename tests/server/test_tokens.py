"""API tokens: revocation (`DELETE /auth/token/{id}`, `vestis tokens list|revoke`), tokens that
cannot outlive the token that made them, and event streams that end with their token."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import create_engine, text
from tests.support.server_process import ServerProcess

from vestis.server.services import accounts
from vestis.server.store.db import Database


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    extra = ["--sse-keepalive", "1"]  # streams re-check their token every second
    with ServerProcess(tmp_path_factory.mktemp("tokens"), extra_args=extra) as process:
        yield process


def _mint(server: ServerProcess, token: str, expiration: str = "P30D") -> tuple[str, str]:
    """(token, token_id) of a new API token made with `token`."""
    with server.client(token) as client:
        made = client.post("/auth/token", json={"expiration": expiration})
        assert made.status_code == 200, made.text
        listed = client.get("/auth/token", params={"per_page": 100}).json()["tokens"]
    expiry = made.json()["expiration_date"]
    token_id = next(t["token_id"] for t in listed if t["expiration_date"] == expiry)
    return made.json()["token"], token_id


def _status(server: ServerProcess, token: str) -> int:
    with server.client(token) as client:
        return client.get("/project").status_code


def _stream_ends(server: ServerProcess, token: str, act: object = None) -> list[str]:
    """Open an event stream with `token`, run `act()` once it is live, and read until the
    server ends it; the lines read. Fails if it is still open after 60 s."""
    lines: list[str] = []
    deadline = time.monotonic() + 60
    with httpx.stream(
        "GET", server.base_url + "/notifications/events", params={"token": token}, timeout=30
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            lines.append(line)
            if line == "event: backfill_complete" and callable(act):
                act()
            assert time.monotonic() < deadline, "the stream outlived its token"
    return lines


def test_a_login_token_cannot_mint_a_longer_lived_token(server: ServerProcess) -> None:
    login = httpx.post(server.base_url + "/auth/login", auth=(server.username, server.password))
    access = login.json()["token"]
    access_expiry = login.json()["expiration_date"]
    with server.client(access) as client:
        made = client.post("/auth/token", json={"expiration": "P1460D"}).json()
    assert made["expiration_date"] <= access_expiry  # not 4 years


def test_revoked_token_and_its_children_are_refused(server: ServerProcess) -> None:
    parent, parent_id = _mint(server, server.token)
    child, _ = _mint(server, parent)
    assert _status(server, parent) == _status(server, child) == 200

    with server.client() as client:
        revoked = client.delete(f"/auth/token/{parent_id}")
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["token_id"] == parent_id and len(revoked.json()["revoked"]) == 2
        assert client.delete(f"/auth/token/{parent_id}").status_code == 404
        listed = client.get("/auth/token", params={"per_page": 100}).json()["tokens"]
    assert parent_id not in [t["token_id"] for t in listed]
    assert _status(server, parent) == _status(server, child) == 401
    assert _status(server, server.token) == 200


def test_another_users_token_cannot_be_revoked(server: ServerProcess) -> None:
    _, mine = _mint(server, server.token)
    other = server.add_user("eve", "eve-password")
    with server.client(other) as client:
        assert client.delete(f"/auth/token/{mine}").status_code == 404
        assert client.delete("/auth/token/tok_nonexistent").status_code == 404


def test_an_open_stream_ends_when_its_token_is_revoked(server: ServerProcess) -> None:
    token, token_id = _mint(server, server.token)

    def revoke() -> None:
        with server.client() as client:
            assert client.delete(f"/auth/token/{token_id}").status_code == 200

    lines = _stream_ends(server, token, revoke)
    assert "event: backfill_complete" in lines


def test_an_open_stream_ends_when_its_token_expires(server: ServerProcess) -> None:
    token, token_id = _mint(server, server.token)
    soon = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=3)
    engine = create_engine(server.db_url)
    with engine.begin() as connection:
        connection.execute(
            text("update tokens set expires_at = :at where public_id = :id"),
            {"at": soon, "id": token_id},
        )
    engine.dispose()
    _stream_ends(server, token)
    assert _status(server, token) == 401


def test_cli_lists_and_revokes_tokens_of_a_running_server(server: ServerProcess) -> None:
    token, token_id = _mint(server, server.token)
    data = ["--data-dir", str(server.data_dir), *server.db_args()]
    listed = server.cli("tokens", "list", "--user", server.username, *data).stdout
    line = next(row for row in listed.splitlines() if row.startswith(token_id))
    assert "active" in line and token not in listed

    def revoke() -> None:
        done = server.cli("tokens", "revoke", token_id, *data)
        assert token_id in done.stdout

    _stream_ends(server, token, revoke)  # noticed at the stream's next check
    assert _status(server, token) == 401
    assert "revoked" in server.cli("tokens", "list", "--all", *data).stdout
    missing = server.cli("tokens", "revoke", token_id, *data, check=False)
    assert missing.returncode == 1 and "no active token" in missing.stderr


def test_only_the_operator_lets_tokens_outlive_their_maker() -> None:
    database = Database("sqlite://")
    database.migrate()
    with database.session() as db:
        user = accounts.create_user(db, "anna", "pw", 10)
        _, parent = accounts.issue_token(db, user, "access", timedelta(hours=1))
        _, capped = accounts.create_api_token(db, user, timedelta(days=1460), parent)
        _, long = accounts.create_api_token(db, user, timedelta(days=1460), parent, outlive=True)
    assert capped.expires_at == parent.expires_at
    assert long.expires_at > parent.expires_at + timedelta(days=1000)
