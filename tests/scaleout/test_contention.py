"""Job creations against other transactions on the same user's row, on PostgreSQL: the lock
order of a creation (the user's row first, at the strength of the credit charge) and the
server-side retry of a transaction PostgreSQL ends to break a deadlock. A transaction of the
test's own holds the locks, and each step waits for PostgreSQL to say who waits for whom
(`pg_blocking_pids`), never for time."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Connection, create_engine, text
from tests.server.conftest import Api, api_for, person_image
from tests.support.gate import wait_until
from tests.support.server_process import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One API process on a fresh PostgreSQL database, with a rate limit (it locks the user)."""
    with ServerProcess(tmp_path_factory.mktemp("contention"), rate_limit=1000) as process:
        yield process


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[Api]:
    client = api_for(server)
    yield client
    client.http.close()


@pytest.fixture(scope="module")
def body(api: Api) -> dict:
    return {
        "identity_code": api.identity(person_image(1), "contended"),
        "project_id": api.project("contended"),
        "images": [api.upload("a.jpg", person_image(10))],
    }


@pytest.fixture
def other(server: ServerProcess) -> Iterator[Connection]:
    """A connection of the test's own, its transaction held open by the test."""
    engine = create_engine(server.db_url)
    with engine.connect() as connection:
        yield connection
        connection.rollback()
    engine.dispose()


def _user_id(connection: Connection, username: str) -> int:
    return int(
        connection.execute(
            text("SELECT id FROM users WHERE username = :name"), {"name": username}
        ).scalar_one()
    )


def _waits_for(server: ServerProcess, pid: int) -> bool:
    """Whether some backend is waiting for a lock that the backend `pid` holds."""
    engine = create_engine(server.db_url)
    with engine.connect() as watcher:
        waiting = watcher.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"),
            {"pid": pid},
        ).scalar_one()
    engine.dispose()
    return bool(waiting)


def _credits(api: Api) -> float:
    return float(api.http.get("/v1/credits").json()["credits"]["total"])


def _create(api: Api, body: dict, key: str | None = None) -> Future[httpx.Response]:
    headers = {"Idempotency-Key": key} if key else {}
    pool = ThreadPoolExecutor(1)
    future = pool.submit(api.http.post, "/model-swap", json=body, headers=headers)
    pool.shutdown(wait=False)
    return future


def test_a_creation_does_not_wait_for_inserts_that_reference_the_user(
    server: ServerProcess, api: Api, body: dict, other: Connection
) -> None:
    """Every uncommitted insert of a row that references the user (an upload's reservation, a
    token) holds a KEY SHARE lock on the user's row. The creation's lock on that row is taken at
    the strength its credit charge needs, which such inserts do not block; the rate limit's
    `FOR UPDATE` after the charge did wait for them (and two creations deadlocked on it)."""
    user_id = _user_id(other, server.username)
    pid = other.execute(text("SELECT pg_backend_pid()")).scalar_one()
    other.execute(text("SELECT id FROM users WHERE id = :id FOR KEY SHARE"), {"id": user_id})
    answer = _create(api, body)
    wait_until(lambda: answer.done() or _waits_for(server, pid), what="the creation ends or waits")
    assert answer.done(), "the creation waits for a KEY SHARE lock on the user's row"
    assert answer.result().status_code == 202, answer.result().text


def test_a_creation_ended_by_a_deadlock_is_run_again(
    server: ServerProcess, api: Api, body: dict, other: Connection
) -> None:
    """The test's transaction takes the Idempotency-Key's row, the creation waits for it, then
    the test's transaction updates the user's row, which the creation holds: a real deadlock.
    PostgreSQL ends the creation's transaction (the test's waits for an hour before it looks
    for deadlocks); the server runs the creation again and it succeeds once the test's
    transaction is gone, charged once."""
    user_id = _user_id(other, server.username)
    before = _credits(api)
    pid = other.execute(text("SELECT pg_backend_pid()")).scalar_one()
    other.execute(text("SET LOCAL deadlock_timeout = '1h'"))
    other.execute(
        text(
            "INSERT INTO idempotency_keys (user_id, key, endpoint, status_code, response, "
            "created_at) VALUES (:id, 'deadlock-key', 'POST /model-swap', 202, '{}', now())"
        ),
        {"id": user_id},
    )
    answer = _create(api, body, key="deadlock-key")
    wait_until(lambda: _waits_for(server, pid), what="the creation waits for the key's row")
    # blocks until PostgreSQL ends the creation's transaction to break the cycle
    other.execute(text("UPDATE users SET credits = credits WHERE id = :id"), {"id": user_id})
    other.rollback()
    response = answer.result(timeout=120)
    assert response.status_code == 202, response.text
    assert before - _credits(api) == 1
    replayed = api.http.post("/model-swap", json=body, headers={"Idempotency-Key": "deadlock-key"})
    assert replayed.json() == response.json()
    assert "running it again" in Path(server.log_path).read_text()
