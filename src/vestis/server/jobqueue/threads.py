"""`ThreadQueue`: the job queue as threads of this process (SQLite, the embedded default).

`workers` threads take unlocked tasks (jobs, outputs, predictions) in the order they were
deferred; tasks with a lock (webhook deliveries) run on a few single-thread lanes, the same
lane for the same lock, so they stay in order. A task that raises is logged; the thread lives.
"""

from __future__ import annotations

import logging
import queue
import threading
import zlib
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from sqlalchemy.orm import Session

from vestis.server.db import after_commit
from vestis.server.jobqueue import Handler, JobQueue

log = logging.getLogger("vestis.server.jobqueue")

_STOP = ("", "")


class ThreadQueue(JobQueue):
    volatile = True

    def __init__(self, workers: int, lanes: int = 4) -> None:
        self.workers = workers
        self._tasks: queue.Queue[tuple[str, str]] = queue.Queue()
        self._lanes = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"lane-{n}") for n in range(lanes)
        ]
        self._threads: list[threading.Thread] = []
        self._handlers: Mapping[str, Handler] = {}
        self._held: set[str] = set()
        self._held_lock = threading.Lock()

    def defer(self, db: Session, task: str, arg: str, *, lock: str | None = None) -> None:
        after_commit(db, lambda: self.put(task, arg, lock))

    def put(self, task: str, arg: str, lock: str | None = None) -> None:
        """Queue a task now (not part of any transaction)."""
        if lock is None:
            self._tasks.put((task, arg))
        else:
            lane = self._lanes[zlib.crc32(lock.encode()) % len(self._lanes)]
            lane.submit(self._run, task, arg)

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        with self._held_lock:
            mine = name not in self._held
            self._held.add(name)
        try:
            yield mine
        finally:
            if mine:
                with self._held_lock:
                    self._held.discard(name)

    def start(self, handlers: Mapping[str, Handler]) -> None:
        self._handlers = handlers
        for number in range(self.workers):
            thread = threading.Thread(target=self._loop, name=f"job-worker-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        for _ in self._threads:
            self._tasks.put(_STOP)
        for thread in self._threads:
            thread.join(timeout=2)
        for lane in self._lanes:
            lane.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while True:
            task, arg = self._tasks.get()
            if (task, arg) == _STOP:
                return
            self._run(task, arg)

    def _run(self, task: str, arg: str) -> None:
        try:
            self._handlers[task](arg)
        except Exception:  # one failed task must not kill the thread
            log.exception("task %s(%s) failed", task, arg)
