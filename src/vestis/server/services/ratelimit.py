"""Rate limits per user (job creations, FASHN runs): a moving window of a minute counted in the
database, so every API process shares it (2 processes with a limit of 5 accept 5, not 10).

A request is counted by inserting its hit and then counting the window with it; a refused one
takes its hit back. On PostgreSQL the user's row is locked first, so two processes counting the
same user's window go one after the other; on SQLite the insert itself takes the database's
write lock. Counted inside the job-creation transaction, a job that is then refused for another
reason (or rolled back) leaves no hit behind.
"""

from __future__ import annotations

import math
import time

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vestis.server.services import credits
from vestis.server.store.db import Database
from vestis.server.store.models import RateLimitHit


class JobRateLimiter:
    """`per_minute` = 0 switches it off; `scope` keeps windows of different budgets apart."""

    def __init__(
        self, db: Database, per_minute: int, scope: str = "jobs", window_seconds: int = 60
    ) -> None:
        self.db = db
        self.per_minute = per_minute
        self.scope = scope
        #: A minute; shorter only for tests of clients that must keep to the limit.
        self.window_seconds = window_seconds

    @property
    def window(self) -> str:
        """ "minute", or "6 s" for a shortened window (for messages)."""
        return "minute" if self.window_seconds == 60 else f"{self.window_seconds} s"

    def hit(self, user_id: int, session: Session | None = None) -> int | None:
        """Count one request (in `session`'s transaction, else in one of its own); None when
        allowed, else the seconds to wait (Retry-After)."""
        if self.per_minute <= 0:
            return None
        if session is not None:
            return self._hit(session, user_id)
        with self.db.session() as own:
            return self._hit(own, user_id)

    def _hit(self, db: Session, user_id: int) -> int | None:
        now = time.time()
        since = now - self.window_seconds
        credits.lock_user(db, user_id)  # a no-op when the caller's transaction holds it
        mine = RateLimitHit(scope=self.scope, user_id=user_id, at=now)
        db.add(mine)
        db.flush()
        db.execute(
            delete(RateLimitHit).where(
                RateLimitHit.scope == self.scope,
                RateLimitHit.user_id == user_id,
                RateLimitHit.at <= since,
            )
        )
        earlier = db.scalars(
            select(RateLimitHit.at)
            .where(RateLimitHit.scope == self.scope, RateLimitHit.user_id == user_id)
            .where(RateLimitHit.at > since, RateLimitHit.id != mine.id)
            .order_by(RateLimitHit.at)
        ).all()
        if len(earlier) < self.per_minute:
            return None
        db.delete(mine)
        db.flush()
        # Allowed again once enough of the window's hits have aged out of it.
        frees_at = earlier[len(earlier) - self.per_minute] + self.window_seconds
        return max(1, math.ceil(frees_at - now))
