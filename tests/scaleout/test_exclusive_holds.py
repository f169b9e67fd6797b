"""`ProcrastinateQueue.exclusive` (issue 17): a hold is PostgreSQL's session advisory lock on a
connection each thread keeps for its holds, not a new connection (a backend's start) for every
output; another process cannot take what is held, and can once the hold ends."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from tests.support.server_process import fresh_database_url

from vestis.server.jobqueue.postgres import ProcrastinateQueue


@pytest.fixture
def url() -> str:
    made = fresh_database_url()
    if made is None:
        pytest.skip("VESTIS_TEST_POSTGRES_URL is not set")
    return made


def test_holds_exclude_other_processes_until_they_end(url: str) -> None:
    mine, other = ProcrastinateQueue(url), ProcrastinateQueue(url)
    with mine.exclusive("output:a") as held:
        assert held
        with other.exclusive("output:a") as taken, other.exclusive("output:b") as free:
            assert not taken and free
    with other.exclusive("output:a") as taken:
        assert taken


def test_a_threads_holds_share_one_connection(url: str) -> None:
    queue = ProcrastinateQueue(url)
    engine = create_engine(url)
    holders = set()
    with engine.connect() as watcher:
        for number in range(5):
            with queue.exclusive(f"output:{number}") as held:
                assert held
                holders |= set(
                    watcher.execute(
                        # this test's database only: the PostgreSQL pass runs other test
                        # files beside this one on the same cluster
                        text(
                            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                            " AND database = (SELECT oid FROM pg_database"
                            " WHERE datname = current_database())"
                        )
                    ).scalars()
                )
                watcher.rollback()
    engine.dispose()
    assert len(holders) == 1
