"""`Client` and `AsyncClient`: the entry points. Each wires one transport to the resources."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from vestis.client._auth import Credentials
from vestis.client._base import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    OnRetry,
    RequestOptions,
    RetryPolicy,
)
from vestis.client._http import AsyncHTTP, SyncHTTP
from vestis.client.resources.auth import AsyncAuth, Auth
from vestis.client.resources.downloads import AsyncDownloads, Downloads
from vestis.client.resources.identities import AsyncIdentities, Identities
from vestis.client.resources.jobs import AsyncJobs, Jobs
from vestis.client.resources.notifications import AsyncNotifications, Notifications
from vestis.client.resources.projects import AsyncProjects, Projects
from vestis.client.resources.uploads import AsyncUploads, Uploads
from vestis.client.resources.webhooks import AsyncWebhooks, Webhooks


def _policy(max_retries: int, retry_policy: RetryPolicy | None) -> RetryPolicy:
    if retry_policy is None:
        return RetryPolicy(max_retries=max_retries)
    return retry_policy


class Client:
    """Synchronous client of the On-Model v2 API.

    Authenticate with an API `token`, or with `username` and `password` (logs in on first use
    and renews the token on 401). Failed calls are retried up to `max_retries` times on
    connection errors, timeouts, 429 and 5xx; `on_retry(retry, wait_seconds, reason)` is called
    before each wait."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_policy: RetryPolicy | None = None,
        on_retry: OnRetry | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._http = SyncHTTP(
            base_url,
            Credentials(token=token, username=username, password=password),
            retry_policy=_policy(max_retries, retry_policy),
            on_retry=on_retry,
            timeout=timeout,
            http_client=http_client,
        )
        self.auth = Auth(self._http)
        self.projects = Projects(self._http)
        self.uploads = Uploads(self._http)
        self.identities = Identities(self._http)
        self.jobs = Jobs(self._http)
        self.downloads = Downloads(self._http)
        self.notifications = Notifications(self._http)
        self.webhooks = Webhooks(self._http)

    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def max_retries(self) -> int:
        return self._http.retry_policy.max_retries

    @property
    def token(self) -> str | None:
        """The Bearer token in use (None before a password login)."""
        return self._http.credentials.token

    def health(self) -> dict[str, Any]:
        """`GET /health` of a vestis server (no auth)."""
        response = self._http.request(RequestOptions("GET", "/health", authenticated=False))
        body: dict[str, Any] = response.json()
        return body

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient:
    """Asynchronous client of the On-Model v2 API; same arguments and resources as `Client`,
    with `async` methods."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_policy: RetryPolicy | None = None,
        on_retry: OnRetry | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._http = AsyncHTTP(
            base_url,
            Credentials(token=token, username=username, password=password),
            retry_policy=_policy(max_retries, retry_policy),
            on_retry=on_retry,
            timeout=timeout,
            http_client=http_client,
        )
        self.auth = AsyncAuth(self._http)
        self.projects = AsyncProjects(self._http)
        self.uploads = AsyncUploads(self._http)
        self.identities = AsyncIdentities(self._http)
        self.jobs = AsyncJobs(self._http)
        self.downloads = AsyncDownloads(self._http)
        self.notifications = AsyncNotifications(self._http)
        self.webhooks = AsyncWebhooks(self._http)

    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def max_retries(self) -> int:
        return self._http.retry_policy.max_retries

    @property
    def token(self) -> str | None:
        """The Bearer token in use (None before a password login)."""
        return self._http.credentials.token

    async def health(self) -> dict[str, Any]:
        """`GET /health` of a vestis server (no auth)."""
        response = await self._http.request(RequestOptions("GET", "/health", authenticated=False))
        body: dict[str, Any] = response.json()
        return body

    async def close(self) -> None:
        await self._http.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
