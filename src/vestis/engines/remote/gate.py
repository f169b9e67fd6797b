"""Per-account pacing shared by every worker thread of a gateway process.

An upstream account has limits of its own (On-Model: 5 job creations a minute; FASHN: 50 runs a
minute, 6 predictions in flight). Every worker that talks to the same account goes through the
same `AccountGate`, so the gateway as a whole keeps to them: a moving window (the `limits`
library) paces the calls before they are sent, and a 429 with `Retry-After` closes the gate for
every worker until that time, instead of each worker learning it on its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

#: Longest single sleep while waiting, so that a stopping server is noticed.
_SLICE = 0.5


class AccountGate:
    """A moving-window limit (`rate`, e.g. "5/minute"; None = none) plus a shared 429 pause."""

    def __init__(self, rate: str | None) -> None:
        self._item = parse(rate) if rate else None
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._closed_until = 0.0
        self._lock = threading.Lock()
        self._turn = threading.Lock()

    @property
    def rate(self) -> str | None:
        return str(self._item) if self._item else None

    def close_for(self, seconds: float) -> None:
        """A 429 said to wait `seconds`: nobody sends to this account before then."""
        with self._lock:
            self._closed_until = max(self._closed_until, time.monotonic() + max(0.0, seconds))

    def _paused(self) -> float:
        with self._lock:
            return max(0.0, self._closed_until - time.monotonic())

    def wait_open(self, stopping: Callable[[], bool] | None = None) -> bool:
        """Wait while a 429 pause lasts; False if `stopping()` turned true meanwhile."""
        while (left := self._paused()) > 0:
            if stopping is not None and stopping():
                return False
            time.sleep(min(left, _SLICE))
        return True

    @contextmanager
    def turn(self, stopping: Callable[[], bool] | None = None) -> Iterator[bool]:
        """One call at a time, when the window has room; the call is counted once it returns
        (the upstream accepted it), so this window frees no earlier than the upstream's own,
        which counted it on arrival. Yields False (and counts nothing) if `stopping()` turned
        true while waiting; a call that raises is not counted (a 429 pauses the gate)."""
        with self._turn:
            while True:
                if not self.wait_open(stopping):
                    yield False
                    return
                if self._item is None or self._limiter.test(self._item, "calls"):
                    break
                reset = self._limiter.get_window_stats(self._item, "calls").reset_time
                if stopping is not None and stopping():
                    yield False
                    return
                time.sleep(min(max(reset - time.time(), 0.01), _SLICE))
            yield True
            if self._item is not None:
                self._limiter.hit(self._item, "calls")

    def acquire(self, stopping: Callable[[], bool] | None = None) -> bool:
        """Wait for the pause and for room in the window, then count one call. False if
        `stopping()` turned true while waiting (nothing is counted then)."""
        while True:
            if not self.wait_open(stopping):
                return False
            if self._item is None or self._limiter.hit(self._item, "calls"):
                return True
            reset = self._limiter.get_window_stats(self._item, "calls").reset_time
            if stopping is not None and stopping():
                return False
            time.sleep(min(max(reset - time.time(), 0.01), _SLICE))


class AccountSlots:
    """At most `size` things in flight per account (FASHN's 6 concurrent predictions)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._semaphore = threading.BoundedSemaphore(size)

    def acquire(self, stopping: Callable[[], bool] | None = None) -> bool:
        while not self._semaphore.acquire(timeout=_SLICE):
            if stopping is not None and stopping():
                return False
        return True

    def release(self) -> None:
        self._semaphore.release()


_gates: dict[str, AccountGate] = {}
_slots: dict[str, AccountSlots] = {}
_registry_lock = threading.Lock()


def gate_for(key: str, rate: str | None) -> AccountGate:
    """The process-wide gate of `key` (an account fingerprint plus what it limits)."""
    with _registry_lock:
        gate = _gates.get(key)
        if gate is None or gate.rate != (str(parse(rate)) if rate else None):
            gate = _gates[key] = AccountGate(rate)
        return gate


def slots_for(key: str, size: int) -> AccountSlots:
    with _registry_lock:
        slots = _slots.get(key)
        if slots is None or slots.size != size:
            slots = _slots[key] = AccountSlots(size)
        return slots
