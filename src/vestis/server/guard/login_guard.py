"""Password logins under attack: failed attempts are throttled per user name and per client
address (moving windows counted in the database, `login_failures`: every API process sees the
same windows, and a restart does not lift a lock-out), and argon2 work is done one at a time.
Every way to sign in with a password goes through the one guard of its process (`/auth/login`,
the studio's sign-in form).

argon2 is made to be expensive (about 0.15 s of CPU and 64 MiB per check): a flood of
logins, right or wrong, must not take the CPU and memory that status polls and uploads need.
So at most `concurrent_checks` checks run at once, later ones wait their turn without a
thread, and when too many wait the newest are refused. A refused attempt (429 with
`Retry-After`) is answered after a short pause that costs the server nothing but holds the
caller back, so a flooding client cannot turn cheap refusals into a busy loop either.

Unknown user names are checked against a dummy hash and count towards the same windows, so
neither the time of an answer nor the moment throttling starts tells which names exist.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from anyio import to_thread
from sqlalchemy import delete, select

from vestis.server.store.db import Database
from vestis.server.store.models import LoginFailure

T = TypeVar("T")

#: Failed logins allowed per user name, and per client address, within `WINDOW_SECONDS`.
FAILURES_PER_USER = 10
FAILURES_PER_ADDRESS = 30
WINDOW_SECONDS = 300
#: How long a refused attempt is held before its 429 goes out (seconds; costs no CPU).
REFUSAL_PAUSE_SECONDS = 1.0


class LoginRefused(Exception):
    """Too many attempts: answer 429 with `Retry-After: retry_after`."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class FailureWindows:
    """Failed logins per (scope, key) in a moving window, in the database."""

    def __init__(self, db: Database, limits: dict[str, int], window_seconds: int) -> None:
        self.db = db
        self.limits = limits
        self.window_seconds = window_seconds

    def retry_after(self, keys: list[tuple[str, str]]) -> int | None:
        """Seconds until every window of `keys` allows another attempt; None when they do."""
        now = time.time()
        waits = []
        with self.db.session() as db:
            for scope, key in keys:
                times = db.scalars(
                    select(LoginFailure.at)
                    .where(LoginFailure.scope == scope, LoginFailure.key == key[:255])
                    .where(LoginFailure.at > now - self.window_seconds)
                    .order_by(LoginFailure.at)
                ).all()
                limit = self.limits[scope]
                if len(times) >= limit:
                    frees_at = times[len(times) - limit] + self.window_seconds
                    waits.append(max(1, math.ceil(frees_at - now)))
        return max(waits) if waits else None

    def count(self, keys: list[tuple[str, str]]) -> None:
        """Count one failure in each window of `keys` (and forget the ones out of them)."""
        now = time.time()
        with self.db.session() as db:
            for scope, key in keys:
                db.execute(
                    delete(LoginFailure).where(
                        LoginFailure.scope == scope,
                        LoginFailure.key == key[:255],
                        LoginFailure.at <= now - self.window_seconds,
                    )
                )
                db.add(LoginFailure(scope=scope, key=key[:255], at=now))


class LoginGuard:
    def __init__(
        self,
        db: Database,
        *,
        per_user: int = FAILURES_PER_USER,
        per_address: int = FAILURES_PER_ADDRESS,
        window_seconds: int = WINDOW_SECONDS,
        concurrent_checks: int = 1,
        max_waiting: int = 32,
        refusal_pause: float = REFUSAL_PAUSE_SECONDS,
    ) -> None:
        limits = {"user": per_user, "address": per_address}
        self._windows = FailureWindows(db, limits, window_seconds)
        self._concurrent = concurrent_checks
        self._semaphore: asyncio.Semaphore | None = None
        self._waiting = 0
        self._max_waiting = max_waiting
        self.refusal_pause = refusal_pause

    async def attempt(
        self, username: str, address: str, check: Callable[[], Awaitable[T | None]]
    ) -> T | None:
        """Run `check` (the password check: its result, None for a wrong password) within the
        limits; a None result counts as a failure. Raises `LoginRefused`."""
        if self._waiting >= self._max_waiting:
            await self._refuse("Too many logins are being checked right now; retry shortly.", 1)
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self._concurrent)
        self._waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self._waiting -= 1
        keys = [("user", username), ("address", address)]
        try:  # decided in turn, so the failures of the checks before this one count
            wait = await to_thread.run_sync(self._windows.retry_after, keys)
            result = None if wait is not None else await check()
            if wait is None and result is None:
                await to_thread.run_sync(self._windows.count, keys)
        finally:
            self._semaphore.release()
        if wait is not None:
            await self._refuse(
                "Too many failed logins for this user name or from this address; "
                f"retry in {wait} s.",
                wait,
            )
        return result

    async def _refuse(self, message: str, retry_after: int) -> None:
        await asyncio.sleep(self.refusal_pause)
        raise LoginRefused(message, retry_after)
