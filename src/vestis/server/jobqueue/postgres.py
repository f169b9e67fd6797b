"""`ProcrastinateQueue`: the job queue on PostgreSQL, through Procrastinate, for any number of API
and worker processes on any number of machines.

- **Deferring** writes Procrastinate's task row through the caller's own database connection,
  inside its transaction (`Task.configure(connection=...)`), so the task commits or rolls back
  with the change that made it. Deferring needs no pool and no worker: API processes only defer.
- **Working** (`run_worker`): a Procrastinate worker takes tasks from the queues it is given
  (`jobs`: jobs, outputs, predictions; `webhooks`: deliveries), `concurrency` at a time, each on
  a thread of its own (the pipeline is synchronous). It beats a heartbeat every
  `heartbeat_seconds`; every worker also looks, as often, for tasks whose worker's heartbeat is
  older than `stalled_after` seconds (killed, machine lost) and puts them back in the queue, where
  another worker takes them.
- **Exclusive holds** (`exclusive`) are PostgreSQL session advisory locks on a connection for
  holds that each thread keeps: unlocked at the end of the hold, released by PostgreSQL the
  moment the holder's process dies. A task put back in the queue while its first worker is in
  fact still alive (a heartbeat late, not dead) finds the output held and ends; so no output is
  ever made by two workers at once, and a result is recorded only under the claim it was made
  for.
- **Retries**: a task that raises runs again after 2, 4, 8, 16 s (`TASK_ATTEMPTS` runs), once
  the database is back; `sweeper` (`OutputPipeline.sweep`) runs every `sweep_seconds` beside
  the workers and defers again the work whose task failed for good.
- **Schema**: `ensure_schema` applies Procrastinate's schema on a database that has none, and
  Procrastinate's own migration files newer than the one recorded on one that has an older one
  (`queue_schema` table), under an advisory lock so processes starting together do not race.

Why Procrastinate and not Celery over Redis: the job rows are in PostgreSQL already, so the
queue adds no second system to keep consistent (a job and its task commit together), and a long
GPU task is never redelivered by a broker's visibility timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import procrastinate
import psycopg
from procrastinate.schema import SchemaManager
from sqlalchemy import Connection, make_url, text
from sqlalchemy.orm import Session

from vestis.server.jobqueue import (
    JOB,
    OUTPUT,
    PREDICTION,
    TASK_ATTEMPTS,
    TASKS,
    WEBHOOK,
    Handler,
    JobQueue,
)

log = logging.getLogger("vestis.server.jobqueue")

JOBS_QUEUE = "jobs"
WEBHOOKS_QUEUE = "webhooks"
QUEUE_OF = {JOB: JOBS_QUEUE, OUTPUT: JOBS_QUEUE, PREDICTION: JOBS_QUEUE, WEBHOOK: WEBHOOKS_QUEUE}
QUEUES = (JOBS_QUEUE, WEBHOOKS_QUEUE)
#: (queues, concurrency) of the worker a `vestis serve --workers N` process runs: engine work on
#: N threads, and deliveries on their own two so a long job never holds a webhook back.
Pools = list[tuple[tuple[str, ...], int]]
#: Runs 2..TASK_ATTEMPTS of a task that raised wait 2, 4, 8, 16 s (Procrastinate: 2 ** attempt).
RETRY = procrastinate.RetryStrategy(max_attempts=TASK_ATTEMPTS - 1, exponential_wait=2)
_TRY_LOCK = "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))"
_UNLOCK = "SELECT pg_advisory_unlock(hashtextextended(%s, 0))"


def conninfo(url: str) -> str:
    """A libpq connection string for a SQLAlchemy `postgresql+psycopg://` URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _app(connector: Any, handlers: Mapping[str, Handler] | None = None) -> procrastinate.App:
    app = procrastinate.App(connector=connector)
    for name in TASKS:
        handler = handlers.get(name) if handlers else None
        task = _task_function(name, handler)
        app.task(name=name, queue=QUEUE_OF[name], retry=RETRY)(task)
    return app


def _task_function(name: str, handler: Handler | None):  # type: ignore[no-untyped-def]
    def run(arg: str) -> None:
        if handler is None:
            raise RuntimeError(f"this process does not run {name} tasks")
        try:
            handler(arg)
        except Exception:
            log.exception("task %s(%s) failed; Procrastinate runs it again (RETRY)", name, arg)
            raise

    run.__name__ = name
    return run


class ProcrastinateQueue(JobQueue):
    volatile = False

    def __init__(
        self,
        database_url: str,
        *,
        pools: Pools | None = None,
        heartbeat_seconds: float = 5.0,
        stalled_after: float = 30.0,
    ) -> None:
        self.conninfo = conninfo(database_url)
        self.pools = pools if pools is not None else [((JOBS_QUEUE,), 2), ((WEBHOOKS_QUEUE,), 2)]
        self.heartbeat_seconds = heartbeat_seconds
        self.stalled_after = stalled_after
        # Defers go through the caller's connection: a sync connector that is never opened.
        self._deferrer = _app(procrastinate.SyncPsycopgConnector(conninfo=self.conninfo))
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Task[None] | None = None
        #: Each thread's connection for `exclusive` holds.
        self._holds = threading.local()

    # --- deferring --------------------------------------------------------------------------

    def defer(self, db: Session, task: str, arg: str, *, lock: str | None = None) -> None:
        connection = db.connection().connection.driver_connection
        configured = self._deferrer.tasks[task].configure(connection=connection, lock=lock)
        configured.defer(arg=arg)

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """Held on this thread's own connection for holds (kept from one task to the next: a
        new connection for each output cost a PostgreSQL backend's start every time), and
        released at the end of the block; a connection that fails is closed, which releases
        every lock it held."""
        connection, held = self._try_lock(name)
        try:
            yield held
        finally:
            if held:
                try:
                    connection.execute(_UNLOCK, (name,))
                except psycopg.Error:
                    self._drop_hold_connection()

    def _try_lock(self, name: str) -> tuple[psycopg.Connection[Any], bool]:
        for attempt in (1, 2):
            connection = self._hold_connection()
            try:
                row = connection.execute(_TRY_LOCK, (name,)).fetchone()
                return connection, bool(row and row[0])
            except psycopg.OperationalError:
                # the database restarted since this connection was made: once more, anew
                self._drop_hold_connection()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _hold_connection(self) -> psycopg.Connection[Any]:
        connection: psycopg.Connection[Any] | None = getattr(self._holds, "connection", None)
        if connection is None or connection.closed:
            connection = psycopg.connect(self.conninfo, autocommit=True)
            self._holds.connection = connection
        return connection

    def _drop_hold_connection(self) -> None:
        connection = getattr(self._holds, "connection", None)
        self._holds.connection = None
        if connection is not None:
            with contextlib.suppress(psycopg.Error):
                connection.close()  # the server ends the session: its locks go with it

    def live_tasks(self) -> set[tuple[str, str]]:
        with psycopg.connect(self.conninfo, autocommit=True) as connection:
            rows = connection.execute(
                "SELECT task_name, args->>'arg' FROM procrastinate_jobs "
                "WHERE status IN ('todo', 'doing')"
            ).fetchall()
        return {(str(task), str(arg)) for task, arg in rows}

    # --- working ----------------------------------------------------------------------------

    def start(self, handlers: Mapping[str, Handler]) -> None:
        """Run the workers of `pools` on a thread of this process (`vestis serve`)."""
        pools = [(queues, n) for queues, n in self.pools if n > 0]
        if not pools:
            return
        ready = threading.Event()

        def main() -> None:
            self._loop = asyncio.new_event_loop()
            self._main = self._loop.create_task(self.run_workers(handlers, pools, signals=False))
            ready.set()
            with contextlib.suppress(asyncio.CancelledError):
                self._loop.run_until_complete(self._main)
            self._loop.close()

        self._thread = threading.Thread(target=main, name="queue-worker", daemon=True)
        self._thread.start()
        ready.wait()

    def stop(self) -> None:
        if self._thread is None or self._loop is None or self._main is None:
            return
        self._loop.call_soon_threadsafe(self._main.cancel)
        self._thread.join(timeout=30)
        self._thread = None

    async def run_workers(
        self, handlers: Mapping[str, Handler], pools: Pools, *, signals: bool = True
    ) -> None:
        """Take tasks until stopped (SIGINT/SIGTERM with `signals`, or cancelled): one
        Procrastinate worker per pool, and the put-back of stalled tasks."""
        app = _app(procrastinate.PsycopgConnector(conninfo=self.conninfo), handlers)
        async with app.open_async():
            recovery = asyncio.create_task(self._put_back_stalled(app))
            sweeping = asyncio.create_task(self._sweep()) if self.sweeper else None
            workers = [
                app.run_worker_async(
                    queues=list(queues),
                    concurrency=concurrency,
                    name=f"vestis-{'-'.join(queues)}",
                    install_signal_handlers=signals and index == 0,
                    update_heartbeat_interval=self.heartbeat_seconds,
                    stalled_worker_timeout=self.stalled_after,
                    fetch_job_polling_interval=self.heartbeat_seconds,
                    delete_jobs="successful",
                )
                for index, (queues, concurrency) in enumerate(pools)
            ]
            try:
                await asyncio.gather(*workers)
            finally:
                for helper in filter(None, (recovery, sweeping)):
                    helper.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await helper

    async def _sweep(self) -> None:
        assert self.sweeper is not None
        while True:
            await asyncio.sleep(self.sweep_seconds)
            try:
                await asyncio.to_thread(self.sweeper)
            except Exception:  # the database away for a moment: the next sweep tries again
                log.exception("the sweep for unattended work failed")

    async def _put_back_stalled(self, app: procrastinate.App) -> None:
        manager = app.job_manager
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=self.stalled_after)
                for job in stalled:
                    with contextlib.suppress(Exception):  # another worker put it back first
                        await manager.retry_job(job)
                        log.warning("task %s %s of a dead worker put back", job.task_name, job.id)
            except Exception:  # the database away for a moment: try again next time
                log.exception("looking for stalled tasks failed")


# --- schema ---------------------------------------------------------------------------------


def _migrations() -> list[Path]:
    folder = Path(SchemaManager.get_migrations_path())
    return sorted(folder.glob("*.sql"))


def ensure_schema(connection: Connection) -> bool:
    """Bring Procrastinate's schema to the installed version (inside the caller's transaction,
    which holds the schema lock); True when it was created just now."""
    raw = connection.connection.driver_connection
    latest = _migrations()[-1].name
    applied = connection.execute(
        text("SELECT applied FROM queue_schema WHERE name = 'procrastinate'")
    ).scalar()
    has_tables = connection.execute(
        text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
    ).scalar()
    created = not has_tables
    if created:
        raw.execute(SchemaManager.get_schema())
        _defer_unfinished(connection)
    elif applied is None:
        log.warning("Procrastinate's tables have no recorded version; taking them as %s", latest)
    else:
        for path in _migrations():
            if path.name > applied:
                log.warning("applying Procrastinate migration %s", path.name)
                raw.execute(path.read_text(encoding="utf-8"))
    connection.execute(text("DELETE FROM queue_schema WHERE name = 'procrastinate'"))
    connection.execute(
        text("INSERT INTO queue_schema (name, applied) VALUES ('procrastinate', :applied)"),
        {"applied": latest},
    )
    return created


def _defer_unfinished(connection: Connection) -> None:
    """A database that ran jobs before it had the queue (one vestis process with its threads):
    its unfinished jobs and predictions get their tasks now, so the workers take them up."""
    app = _app(procrastinate.SyncPsycopgConnector(conninfo=""))
    deferrer = app.tasks[JOB]
    raw = connection.connection.driver_connection
    jobs = connection.execute(
        text("SELECT public_id FROM jobs WHERE status IN ('pending', 'processing') ORDER BY id")
    ).scalars()
    for job_id in jobs:
        deferrer.configure(connection=raw).defer(arg=job_id)
    predictions = connection.execute(
        text(
            "SELECT public_id FROM fashn_predictions "
            "WHERE status IN ('starting', 'in_queue', 'processing') ORDER BY id"
        )
    ).scalars()
    for prediction_id in predictions:
        app.tasks[PREDICTION].configure(connection=raw).defer(arg=prediction_id)
