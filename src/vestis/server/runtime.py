"""The background machinery of one server process, started and stopped with the app."""

from __future__ import annotations

from vestis.server.login_guard import LoginGuard
from vestis.server.ratelimit import JobRateLimiter
from vestis.server.services.notify import NotificationBus
from vestis.server.services.webhooks import WebhookSender
from vestis.server.state import ServerState
from vestis.server.url_fetch import FetchPolicy
from vestis.server.workers import JobWorkers


class Runtime:
    """Job workers, the notification bus, the webhook sender and the job rate limiter."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.bus = NotificationBus(state.db)
        policy = FetchPolicy(allow_private=state.settings.allow_private_urls)
        self.webhooks = WebhookSender(state.db, policy=policy)
        self.bus.listeners.append(self.webhooks.on_event)
        self.workers = JobWorkers(state, self.bus)
        self.login_guard = LoginGuard()
        self.limiter = JobRateLimiter(
            state.settings.rate_limit_per_minute,
            window_seconds=state.settings.rate_limit_window_seconds,
        )
        #: FASHN's own budget for `/v1/run` (50 requests per 60 s on the hosted service).
        self.fashn_limiter = JobRateLimiter(state.settings.fashn_runs_per_minute, "fashn-runs")

    async def start(self) -> None:
        self.workers.start()

    async def stop(self) -> None:
        self.workers.stop()
        self.webhooks.close()
