"""The polling hot path: `GET /jobs/{id}/status` in one SQL query, no ORM, no thread-pool hop.

Clients poll a job's status every few seconds, thousands of jobs at a time, so this answer is
the server's most frequent one. The token check and the job read are one query (the token row
joined to the job, its identity and project); the answer is serialised straight to bytes.

On SQLite the query runs on the event loop itself: a WAL read never waits for a writer, and a
thread-pool hop costs more than the query. On PostgreSQL it runs on the event loop too, awaited
on a small pool of psycopg async connections of its own (`StatusPool`): autocommit (one round
trip a request, no BEGIN / ROLLBACK around it, no ping), the query prepared on each connection
at its first run. Through SQLAlchemy's pool in the thread pool the same read took four round
trips (ping, BEGIN, query, ROLLBACK) and a thread hop (issue 17: `benchmarks/bench_server.py
--postgres`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, and_, bindparam, select

from vestis.server.errors import ApiError, not_found
from vestis.server.guard.security import token_hash
from vestis.server.http.deps import INVALID_TOKEN, MISSING_TOKEN, TOKEN_KINDS
from vestis.server.services.jobs import StatusFacts, status_answer
from vestis.server.store.db import Database
from vestis.server.store.models import Identity, Job, Project, Token, utcnow

_QUERY = (
    select(
        Token.user_id,
        Token.kind,
        Token.revoked,
        Token.expires_at,
        Job.public_id,
        Job.job_type,
        Job.status,
        Job.total_outputs,
        Job.processed,
        Job.error_message,
        Job.request,
        Job.created_at,
        Job.updated_at,
        Identity.code,
        Identity.name,
        Project.id,
        Project.name,
        Project.key,
    )
    .select_from(Token)
    .outerjoin(Job, and_(Job.user_id == Token.user_id, Job.public_id == bindparam("job_id")))
    .outerjoin(Identity, Identity.id == Job.identity_id)
    .outerjoin(Project, Project.id == Job.project_id)
    .where(Token.token_hash == bindparam("token_hash"))
)


#: Connections of the PostgreSQL status pool: the reads are awaited on one event loop and
#: take a fraction of a millisecond each, so a few connections keep the database busy; more
#: only queue there.
STATUS_CONNECTIONS = 4
#: How the pool's connections name themselves to PostgreSQL (`pg_stat_activity`).
APPLICATION_NAME = "vestis-status"


class StatusPool:
    """PostgreSQL: psycopg async connections for the status read, autocommit, the query
    prepared on each at its first use. Opened at the first read (inside the running loop),
    closed with the app (`close`)."""

    def __init__(self, db: Database, size: int = STATUS_CONNECTIONS) -> None:
        engine = db.engine
        _args, params = engine.dialect.create_connect_args(engine.url)
        self.params = {
            **params,
            "autocommit": True,
            "prepare_threshold": 0,
            "application_name": APPLICATION_NAME,
        }
        self.sql = str(_QUERY.compile(dialect=engine.dialect))
        self.size = size
        self._pool: Any = None
        self._opening = asyncio.Lock()

    async def _open(self) -> Any:
        from psycopg_pool import AsyncConnectionPool

        async with self._opening:
            if self._pool is None:
                pool = AsyncConnectionPool(
                    kwargs=self.params, min_size=self.size, max_size=self.size, open=False
                )
                await pool.open(wait=True)
                self._pool = pool
        return self._pool

    async def read(self, token_hash: str, job_id: str) -> tuple[Any, ...] | None:
        import psycopg

        pool = self._pool or await self._open()
        values = {"token_hash": token_hash, "job_id": job_id}
        for attempt in (1, 2):
            try:
                async with pool.connection() as connection:
                    cursor = await connection.execute(self.sql, values)
                    return await cursor.fetchone()  # type: ignore[no-any-return]
            except psycopg.OperationalError:
                # connections the database dropped (a restart): the pool discards this one;
                # the others are tested and replaced before the one more try
                if attempt == 2:
                    raise
                await pool.check()
        return None

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()


class StatusReader:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.pool = StatusPool(db) if db.engine.dialect.name == "postgresql" else None

    async def answer(self, token: str | None, job_id: str) -> bytes:
        """The status answer as JSON bytes; 401 / 404 as `ApiError`."""
        if not token:
            raise _unauthorized(MISSING_TOKEN)
        if self.pool is not None:
            row = await self.pool.read(token_hash(token), job_id)
        else:
            row = self._read(token, job_id)
        return _answer(row, job_id)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    def _read(self, token: str, job_id: str) -> Row[Any] | None:
        with self.db.engine.connect() as connection:
            return connection.execute(
                _QUERY, {"token_hash": token_hash(token), "job_id": job_id}
            ).first()


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "Unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def _answer(row: Sequence[Any] | None, job_id: str) -> bytes:
    if row is None:
        raise _unauthorized(INVALID_TOKEN)
    _user, kind, revoked, expires_at, public_id, *job = row
    if revoked or kind not in TOKEN_KINDS or expires_at <= utcnow():
        raise _unauthorized(INVALID_TOKEN)
    if public_id is None:
        raise not_found("Job", job_id)
    (job_type, status, total, processed, error, request, created, updated,
     identity_code, identity_name, project_id, project_name, project_key) = job  # fmt: skip
    if isinstance(request, str):  # a driver that hands JSON back as text
        request = json.loads(request)
    facts = StatusFacts(
        public_id, job_type, status, total, processed, error, request or {},
        identity_code, identity_name, project_id, project_name, project_key, created, updated,
    )  # fmt: skip
    return status_answer(facts).model_dump_json().encode()
