"""The status polling fast path on PostgreSQL (issue 17): its reads go over a few connections
of its own, in autocommit, one statement a poll: no transaction is left open around them, and
however many clients poll, the process holds no more connections for it than its pool."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from tests.server.conftest import api_for, person_image
from tests.support.server_process import ServerProcess

from vestis.server.http.status_reads import APPLICATION_NAME, STATUS_CONNECTIONS


def test_status_polls_use_the_pool_of_autocommit_connections(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, workers=1) as server:
        api = api_for(server)
        body = {
            "identity_code": api.identity(person_image(1), "polls"),
            "project_id": api.project("polls"),
            "images": [api.upload("p.jpg", person_image(2))],
        }
        job_id = api.http.post("/model-swap", json=body).json()["job_id"]
        assert api.wait(job_id)["status"] == "completed"

        def poll(_: int) -> int:
            with server.client() as client:
                return sum(
                    client.get(f"/jobs/{job_id}/status").status_code == 200 for _ in range(10)
                )

        with ThreadPoolExecutor(16) as pool:
            assert sum(pool.map(poll, range(32))) == 320
        api.http.close()

        assert server.database_url is not None
        engine = create_engine(server.database_url)
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT state, xact_start, query FROM pg_stat_activity "
                    "WHERE datname = :db AND application_name = :name"
                ),
                {"db": make_url(server.database_url).database, "name": APPLICATION_NAME},
            ).all()
        engine.dispose()
    assert len(rows) == STATUS_CONNECTIONS
    assert all(state == "idle" and began is None for state, began, _ in rows)
    assert any(query.startswith("SELECT tokens.user_id") for _, _, query in rows)
