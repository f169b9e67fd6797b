"""The background machinery of one server or worker process: the job queue and what its tasks
run (the output pipeline, webhook deliveries), the notification bus, the rate limiters.

With SQLite everything is in this process (`ThreadQueue`, events pushed after commit). With
PostgreSQL the queue is Procrastinate's (`ProcrastinateQueue`) and events cross processes by
LISTEN/NOTIFY (`events_pg`): any number of `vestis serve` and `vestis worker` processes share
one database."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from vestis.server.guard.login_guard import LoginGuard
from vestis.server.guard.url_fetch import FetchPolicy
from vestis.server.jobqueue import JOB, OUTPUT, PREDICTION, WEBHOOK, Handler, JobQueue
from vestis.server.jobqueue.threads import ThreadQueue
from vestis.server.services.notify import NotificationBus
from vestis.server.services.ratelimit import JobRateLimiter
from vestis.server.services.webhooks import WebhookSender
from vestis.server.store.core import ServerCore
from vestis.server.store.db import after_commit
from vestis.server.store.disk import sweep_stale_parts
from vestis.server.store.models import Job

if TYPE_CHECKING:
    from vestis.server.pipeline.runner import OutputPipeline

#: Threads of a `vestis serve` process that deliver webhooks (PostgreSQL), beside its workers.
WEBHOOK_THREADS = 2


def make_queue(
    state: ServerCore, pools: list[tuple[tuple[str, ...], int]] | None = None
) -> JobQueue:
    """The queue for the database of `state`; `pools` chooses what a PostgreSQL process works
    on (default: `--workers` threads of engine work, and webhook deliveries)."""
    settings = state.settings
    if not state.db.is_postgres:
        return ThreadQueue(settings.workers, after_commit)
    from vestis.server.jobqueue.postgres import JOBS_QUEUE, WEBHOOKS_QUEUE, ProcrastinateQueue

    if pools is None:
        pools = [((JOBS_QUEUE,), settings.workers), ((WEBHOOKS_QUEUE,), WEBHOOK_THREADS)]
    return ProcrastinateQueue(
        state.db.url,
        pools=pools,
        heartbeat_seconds=max(0.5, settings.stalled_after_seconds / 6),
        stalled_after=settings.stalled_after_seconds,
    )


class Runtime:
    def __init__(
        self, state: ServerCore, queue: JobQueue | None = None, *, serves_http: bool = True
    ) -> None:
        self.state = state
        self.queue = queue or make_queue(state)
        self.bus = NotificationBus(state.db)
        self._listener = None
        if state.db.is_postgres:
            from vestis.server.jobqueue.postgres import conninfo
            from vestis.server.services import events_pg

            self.bus.announce = events_pg.announce
            if serves_http:
                self._listener = events_pg.EventListener(
                    conninfo(state.db.url), state.db, self.bus.push
                )
        policy = FetchPolicy(allow_private=state.settings.allow_private_urls)
        self.webhooks = WebhookSender(state.db, self.queue, policy=policy)
        self.bus.listeners.append(self.webhooks.defer)
        self.queue.sweeper = lambda: self.pipeline.sweep()
        self.queue.sweep_seconds = state.settings.stalled_after_seconds
        from vestis.server.fashn.service import FashnService

        self.fashn = FashnService(state, self.queue)
        #: What the sweep looks for besides outputs: predictions (given to the pipeline when
        #: it is made, so a read-only process never imports it).
        self._unattended = [self.fashn.unattended]
        self.login_guard = LoginGuard(state.db)
        self.limiter = JobRateLimiter(
            state.db,
            state.settings.rate_limit_per_minute,
            window_seconds=state.settings.rate_limit_window_seconds,
        )
        #: FASHN's own budget for `/v1/run` (50 requests per 60 s on the hosted service).
        self.fashn_limiter = JobRateLimiter(
            state.db, state.settings.fashn_runs_per_minute, "fashn-runs"
        )

    @cached_property
    def pipeline(self) -> OutputPipeline:
        """The output pipeline, made when first needed: a process with no workers on an
        in-process queue (the CLI's embedded server for a read) never needs it, and starts
        without the measures' image libraries (numpy, OpenCV) it imports."""
        from vestis.server.pipeline.runner import OutputPipeline

        pipeline = OutputPipeline(self.state, self.bus, self.queue)
        pipeline.unattended.extend(self._unattended)  # the sweep covers predictions too
        return pipeline

    def enqueue_job(self, db: Session, job: Job) -> None:
        """In the transaction that creates `job`: its `pending` event and its JOB task."""
        from vestis.server.pipeline.records import batch_event  # with the pipeline's imports

        self.bus.publish(db, job.user_id, "batch_edit", batch_event(job))
        self.queue.defer(db, JOB, job.public_id)

    def handlers(self) -> Mapping[str, Handler]:
        """What each task runs."""
        return {
            JOB: lambda job_id: self.pipeline.run_job(job_id),
            OUTPUT: lambda output_id: self.pipeline.make_output(output_id),
            WEBHOOK: self.webhooks.deliver_stored,
            PREDICTION: self.fashn.run,
        }

    async def start(self) -> None:
        root = getattr(self.state.blobs, "root", None)  # a store on this machine's disk
        if root is not None:
            sweep_stale_parts(root)
        if self._listener is not None:
            self._listener.start()
        idle = self.queue.volatile and self.state.settings.workers == 0
        if not idle:
            _ = self.pipeline  # made before any worker thread may ask for it
        self.queue.start(self.handlers())
        # an in-process queue lost its tasks with the last process: queue them again, for this
        # process's workers (with none, nothing here would run them; the next one that has
        # workers queues them)
        if self.queue.volatile and not idle:
            self.pipeline.requeue_unfinished()
            self.fashn.requeue_unfinished()

    async def stop(self) -> None:
        if "pipeline" in self.__dict__:  # made (cached_property) only once it was needed
            self.pipeline.stopping.set()
        self.queue.stop()
        if self._listener is not None:
            self._listener.stop()
        self.webhooks.close()
