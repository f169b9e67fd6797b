"""`ThreadQueue`: the job queue as threads of this process (SQLite, the embedded default).

`workers` threads take unlocked tasks (jobs, outputs, predictions) in the order they were
deferred; tasks with a lock (webhook deliveries) run on a few single-thread lanes, the same
lane for the same lock, so they stay in order. A task that raises is logged and put back after
a growing pause (1, 2, 4, 8 s), `TASK_ATTEMPTS` runs in all; the thread lives. Every task queued,
running or waiting to run again is counted in `live_tasks`, for the sweep (`sweeper`, run on a
thread of its own every `sweep_seconds`).
"""

from __future__ import annotations

import logging
import queue
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from sqlalchemy.orm import Session

from vestis.server.jobqueue import TASK_ATTEMPTS, Handler, JobQueue

log = logging.getLogger("vestis.server.jobqueue")

_STOP = ("", "", 0)
#: Seconds before the second run of a task that raised; doubled for each further run.
FIRST_RETRY_SECONDS = 1.0


class ThreadQueue(JobQueue):
    volatile = True

    def __init__(
        self,
        workers: int,
        after_commit: Callable[[Session, Callable[[], None]], None],
        lanes: int = 4,
    ) -> None:
        #: `store.db.after_commit`, given by the runtime: a deferred task waits for the commit
        #: of its transaction, and the queue imports nothing of the store.
        self._after_commit = after_commit
        self.workers = workers
        self._tasks: queue.Queue[tuple[str, str, int]] = queue.Queue()
        self._lanes = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"lane-{n}") for n in range(lanes)
        ]
        self._threads: list[threading.Thread] = []
        self._handlers: Mapping[str, Handler] = {}
        self._held: set[str] = set()
        self._held_lock = threading.Lock()
        self._live: Counter[tuple[str, str]] = Counter()
        self._stopped = threading.Event()

    def defer(self, db: Session, task: str, arg: str, *, lock: str | None = None) -> None:
        self._after_commit(db, lambda: self.put(task, arg, lock))

    def put(self, task: str, arg: str, lock: str | None = None) -> None:
        """Queue a task now (not part of any transaction)."""
        with self._held_lock:
            self._live[(task, arg)] += 1
        self._queue(task, arg, lock, 1)

    def _queue(self, task: str, arg: str, lock: str | None, attempt: int) -> None:
        if lock is None:
            self._tasks.put((task, arg, attempt))
        else:
            lane = self._lanes[zlib.crc32(lock.encode()) % len(self._lanes)]
            lane.submit(self._run, task, arg, lock, attempt)

    def live_tasks(self) -> set[tuple[str, str]]:
        with self._held_lock:
            return {key for key, count in self._live.items() if count > 0}

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
        if self.sweeper is not None and self.workers > 0:
            threading.Thread(target=self._sweep_loop, name="job-sweeper", daemon=True).start()

    def _sweep_loop(self) -> None:
        assert self.sweeper is not None
        while not self._stopped.wait(self.sweep_seconds):
            try:
                self.sweeper()
            except Exception:  # the database away for a moment: the next sweep tries again
                log.exception("the sweep for unattended work failed")

    def stop(self) -> None:
        self._stopped.set()
        for _ in self._threads:
            self._tasks.put(_STOP)
        for thread in self._threads:
            thread.join(timeout=2)
        for lane in self._lanes:
            lane.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while True:
            item = self._tasks.get()
            if item == _STOP:
                return
            task, arg, attempt = item
            self._run(task, arg, None, attempt)

    def _run(self, task: str, arg: str, lock: str | None = None, attempt: int = 1) -> None:
        try:
            self._handlers[task](arg)
        except Exception:  # one failed task must not kill the thread
            if attempt < TASK_ATTEMPTS and not self._stopped.is_set():
                pause = FIRST_RETRY_SECONDS * 2 ** (attempt - 1)
                log.exception("task %s(%s) failed; run %d again in %g s", task, arg, attempt, pause)
                again = threading.Timer(pause, self._queue, (task, arg, lock, attempt + 1))
                again.daemon = True
                again.start()
                return
            log.exception("task %s(%s) failed %d times; left to the sweep", task, arg, attempt)
        with self._held_lock:
            self._live[(task, arg)] -= 1
            if self._live[(task, arg)] <= 0:
                del self._live[(task, arg)]
