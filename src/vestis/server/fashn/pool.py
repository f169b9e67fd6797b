"""A small pool of daemon threads for FASHN webhook deliveries.

Daemon threads, unlike `ThreadPoolExecutor`'s, do not hold the process open at shutdown: a
webhook waiting minutes between retries must not stop the server from exiting. Deliveries cut
short this way are lost: FASHN's webhooks are best-effort, and so are these. (Predictions run
on the job queue, `vestis.server.jobqueue`.)
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
