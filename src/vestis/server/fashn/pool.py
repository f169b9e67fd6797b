"""A small pool of daemon threads for FASHN work (predictions, webhook deliveries).

Daemon threads, unlike `ThreadPoolExecutor`'s, do not hold the process open at shutdown: a
webhook waiting minutes between retries, or a prediction stuck on a slow URL, must not stop the
server from exiting. Work cut short this way is not lost silently: predictions left in flight
are failed and refunded at the next start (`FashnService`), and webhooks are best-effort, as
FASHN's are.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("vestis.server.fashn")


class DaemonPool:
    """`submit(fn, *args)` runs `fn(*args)` on one of `workers` daemon threads, in order."""

    def __init__(self, workers: int, name: str) -> None:
        self._queue: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]]] = queue.Queue()
        for number in range(max(1, workers)):
            threading.Thread(target=self._loop, name=f"{name}-{number}", daemon=True).start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self._queue.put((fn, args))

    def _loop(self) -> None:
        while True:
            fn, args = self._queue.get()
            try:
                fn(*args)
            except Exception:  # one failed task must not kill the thread
                logger.exception("FASHN background task %s failed", getattr(fn, "__name__", fn))
