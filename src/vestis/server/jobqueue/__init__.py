"""The job queue, which imports nothing of the server: where the server defers the work of
engines and deliveries, and where workers take it from. One small interface, two backends:

- `threads.ThreadQueue`: in-process threads, for SQLite (the embedded default: one process,
  nothing to install). Tasks live in memory; at start-up the unfinished work is deferred again
  from the database (`volatile`).
- a PostgreSQL backend (Procrastinate), for many API and worker processes on many machines.

Rules every caller relies on:

- `defer(db, task, arg)` is part of the caller's transaction: the task exists if and only if
  the transaction commits (a job row and its task never exist one without the other). The
  thread backend hands the task to its threads after the commit; the PostgreSQL backend writes
  the task row in the same transaction.
- Tasks are named (`JOB`, `OUTPUT`, `PREDICTION`, `WEBHOOK`) and take one string argument (a
  public id). What each runs is given to `start` (see `vestis.server.process.runtime`).
- Tasks with the same `lock` run one at a time, in the order they were deferred (webhook
  deliveries: in order per webhook).
- `exclusive(name)` holds a lock across processes for as long as a task works on something
  (an output): no output is ever made by two workers at once. It is released if the holder
  dies, so another worker can take the work over.
- A task that raises (the database restarted or unreachable, a full disk: engine errors are
  recorded as the output's failure, never raised) runs again after a growing pause, up to
  `TASK_ATTEMPTS` runs. A queue that runs tasks also calls its `sweeper` every
  `sweep_seconds`: work that no task attends (its task failed for good, or was lost) is deferred
  again from the database, so every output ends without a restart (`OutputPipeline.sweep`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager

from sqlalchemy.orm import Session

#: Start a job: fan it out into output tasks, or run it whole on an engine that works per job.
JOB = "job"
#: Make one output of a job (one version of it).
OUTPUT = "output"
#: Run one FASHN `/v1/run` prediction.
PREDICTION = "fashn_prediction"
#: Deliver one stored notification to its user's webhook.
WEBHOOK = "webhook"

TASKS = (JOB, OUTPUT, PREDICTION, WEBHOOK)

Handler = Callable[[str], None]
#: Runs of a task that raises, before it is left to the sweep.
TASK_ATTEMPTS = 5


class JobQueue(ABC):
    #: True when deferred tasks live only in this process (lost when it stops), so the
    #: unfinished work is deferred again from the database at start-up.
    volatile: bool = False
    #: Finds and defers again the work no task attends (set by the runtime; None: no sweep).
    sweeper: Callable[[], None] | None = None
    sweep_seconds: float = 30.0

    @abstractmethod
    def defer(self, db: Session, task: str, arg: str, *, lock: str | None = None) -> None:
        """Defer `task(arg)` as part of `db`'s current transaction."""

    @abstractmethod
    def exclusive(self, name: str) -> AbstractContextManager[bool]:
        """Try to hold `name` for the duration of the block; yields False if another holds it."""

    @abstractmethod
    def live_tasks(self) -> set[tuple[str, str]]:
        """(task, arg) of every task waiting, due to run again or running, in any process."""

    @abstractmethod
    def start(self, handlers: Mapping[str, Handler]) -> None:
        """Start running deferred tasks with `handlers` (task name -> function of its arg)."""

    @abstractmethod
    def stop(self) -> None:
        """Stop taking tasks; a task cut short is taken up again (next start, or another
        worker)."""
