"""The polling hot path: `GET /jobs/{id}/status` in one SQL query, no ORM, no thread-pool hop.

Clients poll a job's status every few seconds, thousands of jobs at a time, so this answer is
the server's most frequent one. The token check and the job read are one query (the token row
joined to the job, its identity and project); the answer is serialised straight to bytes.

On SQLite the query runs on the event loop itself: a WAL read never waits for a writer, and a
thread-pool hop costs more than the query. On PostgreSQL (a network round trip) it runs in the
thread pool so the loop never waits on the network.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi.concurrency import run_in_threadpool
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


class StatusReader:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.on_loop = db.engine.dialect.name == "sqlite"

    async def answer(self, token: str | None, job_id: str) -> bytes:
        """The status answer as JSON bytes; 401 / 404 as `ApiError`."""
        if not token:
            raise _unauthorized(MISSING_TOKEN)
        if self.on_loop:
            row = self._read(token, job_id)
        else:
            row = await run_in_threadpool(self._read, token, job_id)
        return _answer(row, job_id)

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
