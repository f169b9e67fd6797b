"""Delivery of FASHN webhooks: the final status object, POSTed to the `webhook_url` given on
`/v1/run`, retried with backoff (tenacity) up to 5 times on any non-2xx answer or network error,
as FASHN does. FASHN documents no signature, so none is sent.

The URL is held to the same address policy as image URLs (no private, loopback or link-local
targets unless the operator allows them), checked when the run is accepted and again at each
delivery, and the POST goes to the checked address (no DNS rebinding); redirects are not followed.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx
import tenacity

from vestis.server.fashn.pool import DaemonPool
from vestis.server.guard.url_fetch import FetchPolicy, ImageFetchError, checked_address, send_pinned

logger = logging.getLogger("vestis.server.fashn.webhooks")

MAX_RETRIES = 5
#: Waits of 2, 6, 18, 54 and 162 s between attempts: about 4 minutes in all.
RETRY_WAIT = tenacity.wait_exponential(multiplier=2, exp_base=3, max=300)
TIMEOUT_SECONDS = 10.0


class WebhookRefused(Exception):
    """The receiver answered non-2xx or could not be reached (retried)."""


def check_webhook_url(url: str, policy: FetchPolicy) -> str | None:
    """Why `url` cannot receive webhooks (None when it can)."""
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL as exc:
        return f"webhook_url is not a valid URL: {exc}"
    try:
        checked_address(target, policy)
    except ImageFetchError as exc:
        return f"webhook_url cannot be used: {exc}"
    return None


class WebhookSender:
    """Sends deliveries on two daemon threads, so workers never wait for receivers."""

    def __init__(self, policy: FetchPolicy, wait: tenacity.wait.wait_base = RETRY_WAIT) -> None:
        self.policy = policy
        self.wait = wait
        self._pool = DaemonPool(2, "fashn-webhook")

    def send(self, url: str, payload: dict[str, Any]) -> None:
        self._pool.submit(self._deliver, url, json.dumps(payload).encode("utf-8"))

    def _deliver(self, url: str, body: bytes) -> None:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(MAX_RETRIES + 1),
            wait=self.wait,
            retry=tenacity.retry_if_exception_type(WebhookRefused),
            reraise=True,
        )
        try:
            retrying(self._post, url, body)
        except WebhookRefused as exc:
            logger.warning(
                "FASHN webhook to %s given up after %d retries: %s", url, MAX_RETRIES, exc
            )
        except ImageFetchError as exc:
            logger.warning("FASHN webhook to %s refused: %s", url, exc)

    def _post(self, url: str, body: bytes) -> None:
        target = httpx.URL(url)
        headers = {"Content-Type": "application/json", "User-Agent": "vestis-fashn-webhook"}
        with httpx.Client(trust_env=False) as client:
            try:
                response = send_pinned(
                    client, "POST", target, self.policy,
                    deadline=time.monotonic() + TIMEOUT_SECONDS, headers=headers, content=body,
                )  # fmt: skip
            except httpx.HTTPError as exc:
                raise WebhookRefused(f"no answer: {exc}") from exc
        if not response.is_success:
            raise WebhookRefused(f"the receiver answered HTTP {response.status_code}")
