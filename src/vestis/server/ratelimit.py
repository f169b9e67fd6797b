"""Job creations per user per minute (the `limits` library's moving window, in memory)."""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class JobRateLimiter:
    """`per_minute` = 0 switches it off; `scope` keeps windows of different budgets apart."""

    def __init__(self, per_minute: int, scope: str = "jobs") -> None:
        self.per_minute = per_minute
        self.scope = scope
        self._item = RateLimitItemPerMinute(per_minute) if per_minute > 0 else None
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, user_id: int) -> int | None:
        """Count one job creation; None when allowed, else the seconds to wait (Retry-After)."""
        if self._item is None:
            return None
        if self._limiter.hit(self._item, self.scope, str(user_id)):
            return None
        stats = self._limiter.get_window_stats(self._item, self.scope, str(user_id))
        return max(1, math.ceil(stats.reset_time - time.time()))
