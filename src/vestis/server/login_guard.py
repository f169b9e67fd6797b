"""Password logins under attack: failed attempts are throttled per user name and per client
address (moving windows of the `limits` library), and argon2 work is done one at a time.

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

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, Storage
from limits.strategies import MovingWindowRateLimiter

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


class LoginGuard:
    def __init__(
        self,
        storage: Storage | None = None,
        *,
        per_user: int = FAILURES_PER_USER,
        per_address: int = FAILURES_PER_ADDRESS,
        window_seconds: int = WINDOW_SECONDS,
        concurrent_checks: int = 1,
        max_waiting: int = 32,
        refusal_pause: float = REFUSAL_PAUSE_SECONDS,
    ) -> None:
        self._limiter = MovingWindowRateLimiter(storage or MemoryStorage())
        self._per_user = RateLimitItemPerSecond(per_user, window_seconds)
        self._per_address = RateLimitItemPerSecond(per_address, window_seconds)
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
        try:  # decided in turn, so the failures of the checks before this one count
            wait = self._retry_after(username, address)
            result = None if wait is not None else await check()
            if wait is None and result is None:
                self._limiter.hit(self._per_user, "login-user", username)
                self._limiter.hit(self._per_address, "login-address", address)
        finally:
            self._semaphore.release()
        if wait is not None:
            await self._refuse(
                "Too many failed logins for this user name or from this address; "
                f"retry in {wait} s.",
                wait,
            )
        return result

    def _retry_after(self, username: str, address: str) -> int | None:
        waits = []
        for item, scope, key in (
            (self._per_user, "login-user", username),
            (self._per_address, "login-address", address),
        ):
            if not self._limiter.test(item, scope, key):
                stats = self._limiter.get_window_stats(item, scope, key)
                waits.append(max(1, math.ceil(stats.reset_time - time.time())))
        return max(waits) if waits else None

    async def _refuse(self, message: str, retry_after: int) -> None:
        await asyncio.sleep(self.refusal_pause)
        raise LoginRefused(message, retry_after)
