"""Password logins: throttled per user name and per client address (429 + Retry-After),
one argon2 check at a time, and unknown user names cost the same work as known ones."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from argon2 import PasswordHasher
from tests.server.test_load import together
from tests.support.server_process import ServerProcess

from vestis.server.guard import security
from vestis.server.guard.login_guard import FAILURES_PER_ADDRESS, FAILURES_PER_USER
from vestis.server.services import accounts
from vestis.server.store.db import Database


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of its own: the throttling windows are per process."""
    with ServerProcess(tmp_path_factory.mktemp("login")) as process:
        yield process


def _login(server: ServerProcess, username: str, password: str) -> httpx.Response:
    return httpx.post(server.base_url + "/auth/login", auth=(username, password), timeout=120)


def test_a_flood_of_wrong_passwords_is_throttled_per_user_and_address(
    server: ServerProcess,
) -> None:
    answers = together(40, lambda n: _login(server, server.username, f"guess-{n}"))

    codes = sorted(a.status_code for a in answers)
    assert codes == [401] * FAILURES_PER_USER + [429] * (40 - FAILURES_PER_USER), codes
    refused = [a for a in answers if a.status_code == 429]
    # Arriving together, more than the guard's queue of 32 may wait at once: those are turned
    # away as "being checked right now" (how many depends on how busy the machine is); the
    # rest, once the user's 10 failures are counted, by the user's window.
    busy = "Too many logins are being checked right now; retry shortly."
    windowed = [a for a in refused if a.json()["message"] != busy]
    assert len(windowed) >= 40 - FAILURES_PER_USER - 8, [a.json() for a in refused]
    assert all("retry in" in a.json()["message"] for a in windowed)
    assert all(1 <= int(a.headers["Retry-After"]) <= 300 for a in refused)
    # the user name is locked for password logins (its API token still works)
    assert _login(server, server.username, server.password).status_code == 429
    with server.client() as client:
        assert client.get("/project").status_code == 200
    # unknown names behave the same, so the 429 does not tell which names exist
    for n in range(FAILURES_PER_USER):
        assert _login(server, "nobody", f"guess-{n}").status_code == 401
    assert _login(server, "nobody", "guess").status_code == 429
    # and the address has a window of its own, across user names
    for n in range(FAILURES_PER_ADDRESS - 2 * FAILURES_PER_USER):
        assert _login(server, f"someone-{n}", "guess").status_code == 401
    assert _login(server, "someone-else", "guess").status_code == 429


class CountingHasher:
    """The server's Argon2 hasher, noting each password it hashes and each hash it checks."""

    def __init__(self, real: PasswordHasher) -> None:
        self.real = real
        self.hashed: list[str] = []
        self.checks: list[str] = []

    def hash(self, password: str) -> str:
        self.hashed.append(password)
        return self.real.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self.checks.append(password_hash)
        return self.real.verify(password_hash, password)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    counting = CountingHasher(security._hasher)
    monkeypatch.setattr(security, "_hasher", counting)
    return counting


def test_unknown_user_names_cost_one_argon2_check_like_known_ones(hasher: CountingHasher) -> None:
    """Timing must not tell which user names exist: an unknown name is checked against a
    dummy hash (same cost) instead of being answered at once."""
    checks = hasher.checks
    database = Database("sqlite://")
    database.migrate()
    with database.session() as db:
        accounts.create_user(db, "anna", "right", 10)
        assert accounts.login(db, "anna", "wrong") is None
        assert accounts.login(db, "bob", "wrong") is None
        assert accounts.login(db, "anna", "right") is not None
    assert len(checks) == 3
    assert all(h.startswith("$argon2") for h in checks)


def test_a_user_made_without_a_password_signs_in_by_token_only(hasher: CountingHasher) -> None:
    """The embedded server's `local` user: made without an Argon2 hash (its first start is
    shorter); no password logs in as it, and trying costs one check, like any other name."""
    hashed, checks = hasher.hashed, hasher.checks
    database = Database("sqlite://")
    database.migrate()
    with database.session() as db:
        accounts.create_user(db, "local", None, 10)
        assert hashed == []
        assert accounts.login(db, "local", "") is None
        assert accounts.login(db, "local", "anything") is None
    assert len(checks) == 2
    assert all(h.startswith("$argon2") for h in checks)  # the dummy hash, same cost
