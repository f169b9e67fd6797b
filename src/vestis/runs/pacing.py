"""Pacing of job submissions: one limiter shared by every worker of a batch.

The hosted API allows 5 job creations per minute per user. The reference batch scripts fire
jobs as fast as their workers get there and then back off on 429s, failing folders when the
burst lasts; vestis instead waits for a free slot in a moving one-minute window (the `limits`
library keeps the window), and when the server still answers 429 its Retry-After closes the
gate for every worker, not just the one that was refused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

DEFAULT_JOBS_PER_MINUTE = 5
SLOT_MARGIN_SECONDS = 0.5


class SubmissionPacer:
    """`acquire()` blocks until a job may be submitted; `penalize(seconds)` learns from 429s.

    `per_minute=0` disables pacing (e.g. the embedded server, which has no limit)."""

    def __init__(
        self,
        per_minute: int = DEFAULT_JOBS_PER_MINUTE,
        *,
        window_seconds: int = 60,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._sleep = sleep
        # imported here, not with the module: `limits` takes a tenth of a second to import,
        # and every `vestis` command imports this module, `--help` and `identities list` too
        from limits import RateLimitItemPerSecond
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        self._storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self._storage)
        # `per_minute` submissions in any `window_seconds` (60; tests use a shorter window).
        self._item = RateLimitItemPerSecond(max(per_minute, 1), window_seconds)
        self._window = window_seconds
        self._lock = threading.Lock()
        self._blocked_until = 0.0
        self.waited_seconds = 0.0

    def acquire(self, on_wait: Callable[[float], None] | None = None) -> None:
        """Take one submission slot, sleeping while the window is full or a 429 closed the gate;
        `on_wait(seconds)` is told before each sleep."""
        if self.per_minute <= 0:
            return
        while True:
            with self._lock:
                now = self._clock()
                wait = self._blocked_until - now
                if wait <= 0:
                    if self._limiter.hit(self._item, "jobs"):
                        return
                    stats = self._limiter.get_window_stats(self._item, "jobs")
                    # A little past the slot's expiry: the server's window starts when a
                    # request arrives, a moment after the client counted it.
                    wait = max(stats.reset_time - now, 0.0) + SLOT_MARGIN_SECONDS
            if on_wait is not None:
                on_wait(wait)
            self.waited_seconds += wait
            self._sleep(min(wait, 5.0))

    def penalize(self, retry_after: float | None) -> None:
        """The server refused a submission (429): nobody submits for `retry_after` seconds."""
        if self.per_minute <= 0:
            return
        delay = retry_after if retry_after and retry_after > 0 else self._window / self.per_minute
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + delay)
