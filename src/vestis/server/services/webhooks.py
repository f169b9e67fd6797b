"""Webhook deliveries: signed POSTs (`X-Webhook-Signature: sha256=<hex HMAC>` over the raw
body), retried with exponential backoff by tenacity, the last response status recorded."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import select
from tenacity import (
    RetryError,
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from vestis.contract.notifications import Notification
from vestis.contract.webhooks import SIGNATURE_HEADER
from vestis.server.db import Database
from vestis.server.models import Webhook, utcnow

log = logging.getLogger("vestis.server.webhooks")

DELIVERY_ATTEMPTS = 4
DELIVERY_TIMEOUT_SECONDS = 10


class RetryableDelivery(Exception):
    """The receiver was unreachable or answered 429/5xx: worth another try."""


def new_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """Deliveries run on `lanes` single-thread executors; a webhook always uses the same lane,
    so its events arrive in the order they happened, and a slow receiver (retrying) holds up
    only its own lane."""

    def __init__(self, db: Database, lanes: int = 4, backoff: float = 0.5) -> None:
        self._db = db
        self._lanes = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"webhook-{n}")
            for n in range(lanes)
        ]
        self._client = httpx.Client(timeout=DELIVERY_TIMEOUT_SECONDS, follow_redirects=False)
        self._backoff = backoff

    def on_event(self, user_id: int, event: Notification) -> None:
        """Bus listener: queue a delivery if the user has an active webhook."""
        with self._db.session() as session:
            hook = session.scalar(
                select(Webhook).where(Webhook.user_id == user_id, Webhook.is_active.is_(True))
            )
            if hook is None:
                return
            hook_id, url, secret = hook.id, hook.url, hook.secret
        self.submit(hook_id, url, secret, event)

    def submit(self, hook_id: int, url: str, secret: str, event: Notification) -> None:
        body = json.dumps(event.model_dump(), separators=(",", ":")).encode("utf-8")
        lane = self._lanes[hook_id % len(self._lanes)]
        lane.submit(self._deliver, hook_id, url, secret, body)

    def _deliver(self, hook_id: int, url: str, secret: str, body: bytes) -> None:
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body)}

        @retry(
            stop=stop_after_attempt(DELIVERY_ATTEMPTS),
            wait=wait_exponential(multiplier=self._backoff, max=30),
            retry=retry_if_exception_type(RetryableDelivery),
        )
        def attempt() -> None:
            try:
                response = self._client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                self._record(hook_id, None)
                raise RetryableDelivery(str(exc)) from exc
            self._record(hook_id, response.status_code)
            if response.status_code == 429 or response.status_code >= 500:
                raise RetryableDelivery(f"receiver answered {response.status_code}")

        try:
            attempt()
        except RetryError as exc:
            log.warning("webhook %s: giving up after %d attempts: %s", url, DELIVERY_ATTEMPTS, exc)
        except Exception:  # a bug here must not kill the delivery pool
            log.exception("webhook %s: delivery failed", url)

    def _record(self, hook_id: int, status: int | None) -> None:
        with self._db.session() as session:
            hook = session.get(Webhook, hook_id)
            if hook is not None:
                hook.last_response_status = status
                hook.last_response_at = utcnow()

    def close(self) -> None:
        for lane in self._lanes:
            lane.shutdown(wait=False, cancel_futures=True)
        self._client.close()
