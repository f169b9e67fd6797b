"""Job creations per user per minute (the `limits` library's moving window, in memory). The
window is a minute; `window_seconds` shortens it for tests of clients that must keep to it."""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class JobRateLimiter:
    """`per_minute` = 0 switches it off; `scope` keeps windows of different budgets apart."""

    def __init__(self, per_minute: int, scope: str = "jobs", window_seconds: int = 60) -> None:
        self.per_minute = per_minute
        self.scope = scope
        self.window_seconds = window_seconds
        self._item = RateLimitItemPerSecond(per_minute, window_seconds) if per_minute > 0 else None
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, user_id: int) -> int | None:
        """Count one job creation; None when allowed, else the seconds to wait (Retry-After)."""
        if self._item is None:
            return None
        if self._limiter.hit(self._item, self.scope, str(user_id)):
            return None
        stats = self._limiter.get_window_stats(self._item, self.scope, str(user_id))
        return max(1, math.ceil(stats.reset_time - time.time()))

    @property
    def window(self) -> str:
        """ "minute", or "6 s" for a shortened window (for messages)."""
        return "minute" if self.window_seconds == 60 else f"{self.window_seconds} s"
