"""The background machinery of one server process, started and stopped with the app: the job
queue and what its tasks run (the output pipeline, webhook deliveries), the notification bus,
the job rate limiter."""

from __future__ import annotations

from sqlalchemy.orm import Session

from vestis.server.disk import sweep_stale_parts
from vestis.server.jobqueue import JOB, OUTPUT, WEBHOOK, JobQueue
from vestis.server.jobqueue.threads import ThreadQueue
from vestis.server.login_guard import LoginGuard
from vestis.server.models import Job
from vestis.server.pipeline import OutputPipeline
from vestis.server.pipeline.records import batch_event
from vestis.server.ratelimit import JobRateLimiter
from vestis.server.services.notify import NotificationBus
from vestis.server.services.webhooks import WebhookSender
from vestis.server.state import ServerState
from vestis.server.url_fetch import FetchPolicy


class Runtime:
    def __init__(self, state: ServerState, queue: JobQueue | None = None) -> None:
        self.state = state
        self.queue = queue or ThreadQueue(state.settings.workers)
        self.bus = NotificationBus(state.db)
        policy = FetchPolicy(allow_private=state.settings.allow_private_urls)
        self.webhooks = WebhookSender(state.db, self.queue, policy=policy)
        self.bus.listeners.append(self.webhooks.defer)
        self.pipeline = OutputPipeline(state, self.bus, self.queue)
        self.login_guard = LoginGuard()
        self.limiter = JobRateLimiter(
            state.settings.rate_limit_per_minute,
            window_seconds=state.settings.rate_limit_window_seconds,
        )
        #: FASHN's own budget for `/v1/run` (50 requests per 60 s on the hosted service).
        self.fashn_limiter = JobRateLimiter(state.settings.fashn_runs_per_minute, "fashn-runs")

    def enqueue_job(self, db: Session, job: Job) -> None:
        """In the transaction that creates `job`: its `pending` event and its JOB task."""
        self.bus.publish(db, job.user_id, "batch_edit", batch_event(job))
        self.queue.defer(db, JOB, job.public_id)

    async def start(self) -> None:
        root = getattr(self.state.blobs, "root", None)  # a store on this machine's disk
        if root is not None:
            sweep_stale_parts(root)
        handlers = {
            JOB: self.pipeline.run_job,
            OUTPUT: self.pipeline.make_output,
            WEBHOOK: self.webhooks.deliver_stored,
        }
        self.queue.start(handlers)
        if self.queue.volatile:
            self.pipeline.requeue_unfinished()

    async def stop(self) -> None:
        self.pipeline.stopping.set()
        self.queue.stop()
        self.webhooks.close()
