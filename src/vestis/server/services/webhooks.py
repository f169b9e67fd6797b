"""Webhook deliveries: each stored event of a user with an active webhook becomes a WEBHOOK task,
deferred in the transaction that stores the event and locked per webhook, so every event is
delivered once and in order per webhook, whichever process made it. Deliveries are signed POSTs
(`X-Webhook-Signature: sha256=<hex HMAC>` over the raw body), retried with exponential backoff
by tenacity, the last response status recorded.

A webhook URL is a request the server makes for a user, so it is held to the address policy of
`vestis.server.guard.url_fetch` (the one FASHN image URLs and webhooks use): http(s) only, and
unless
the operator passed `--allow-private-urls`, every address the host resolves to must be public
(no loopback, private, link-local, ... targets), checked when the URL is registered and again at
each delivery, which then connects to the checked address (`send_pinned`: a DNS answer that
changes between check and send cannot redirect it). Redirects are never followed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session
from tenacity import (
    RetryError,
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from vestis.contract.notifications import Notification
from vestis.contract.webhooks import SIGNATURE_HEADER
from vestis.server.guard.url_fetch import (
    FetchPolicy,
    ImageFetchError,
    PrivateAddressError,
    checked_addresses,
    send_pinned,
)
from vestis.server.jobqueue import WEBHOOK, JobQueue
from vestis.server.services.notify import to_wire
from vestis.server.store.db import Database
from vestis.server.store.models import NotificationRow, Webhook, utcnow

log = logging.getLogger("vestis.server.webhooks")

DELIVERY_ATTEMPTS = 4
DELIVERY_TIMEOUT_SECONDS = 10


ALLOW_PRIVATE_HINT = (
    "an operator who trusts the network can allow private addresses by starting the server "
    "with `vestis serve --allow-private-urls`"
)


class RetryableDelivery(Exception):
    """The receiver was unreachable or answered 429/5xx: worth another try."""


def url_refusal(url: str, policy: FetchPolicy) -> str | None:
    """Why `url` cannot be a webhook URL under `policy` (None when it can); for the user."""
    try:
        parts = urlsplit(url)
        target = httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        return f"url is not a valid URL: {exc}"
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"url must be an absolute http or https URL, not {url!r}"
    if policy.allow_private:
        return None
    try:
        checked_addresses(target, policy)
    except PrivateAddressError as exc:
        return (
            f"url's host {exc.host} is not a public address ({exc.reason}); this server only "
            f"delivers webhooks to public addresses; {ALLOW_PRIVATE_HINT}"
        )
    except ImageFetchError as exc:
        return f"url cannot receive webhooks: {exc}"
    return None


def _body(event: Notification) -> bytes:
    return json.dumps(event.model_dump(), separators=(",", ":")).encode("utf-8")


def new_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """Deliveries of stored events run as queue tasks (`defer`, `deliver_stored`); the ping of a
    new webhook, which is not a stored event, runs on `lanes` single-thread executors of this
    process. Either way a slow receiver (retrying) holds up only its own webhook's deliveries."""

    def __init__(
        self,
        db: Database,
        queue: JobQueue | None = None,
        lanes: int = 2,
        backoff: float = 0.5,
        *,
        policy: FetchPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._db = db
        self._queue = queue
        self._lanes = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"webhook-{n}")
            for n in range(lanes)
        ]
        self._policy = policy or FetchPolicy()
        self._transport = transport
        self._made: httpx.Client | None = None
        self._making = threading.Lock()
        self._backoff = backoff

    @property
    def _client(self) -> httpx.Client:
        """The delivery client, made with the first delivery: building its TLS context is a
        good part of a server's start, and most starts (every command of the CLI) send none."""
        with self._making:
            if self._made is None:
                # No environment proxies: the connection must go to the checked address itself.
                self._made = httpx.Client(
                    timeout=DELIVERY_TIMEOUT_SECONDS,
                    follow_redirects=False,
                    trust_env=False,
                    transport=self._transport,
                )
            return self._made

    def defer(self, db: Session, user_id: int, event: Notification) -> None:
        """Bus listener (inside the event's transaction): defer its delivery if the user has an
        active webhook."""
        hook_id = db.scalar(
            select(Webhook.id).where(Webhook.user_id == user_id, Webhook.is_active.is_(True))
        )
        if hook_id is not None and self._queue is not None:
            self._queue.defer(db, WEBHOOK, str(event.id), lock=f"webhook-{hook_id}")

    def deliver_stored(self, notification_id: str) -> None:
        """WEBHOOK task: deliver one stored event to its user's webhook, if still active."""
        with self._db.session() as session:
            row = session.get(NotificationRow, int(notification_id))
            if row is None:
                return
            hook = session.scalar(
                select(Webhook).where(Webhook.user_id == row.user_id, Webhook.is_active.is_(True))
            )
            if hook is None:
                return
            event = to_wire(row)
            hook_id, url, secret = hook.id, hook.url, hook.secret
        self._deliver(hook_id, url, secret, _body(event))

    def submit(self, hook_id: int, url: str, secret: str, event: Notification) -> None:
        """Deliver `event` from this process (the ping of a new webhook)."""
        lane = self._lanes[hook_id % len(self._lanes)]
        lane.submit(self._deliver, hook_id, url, secret, _body(event))

    def _deliver(self, hook_id: int, url: str, secret: str, body: bytes) -> None:
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body)}

        @retry(
            stop=stop_after_attempt(DELIVERY_ATTEMPTS),
            wait=wait_exponential(multiplier=self._backoff, max=30),
            retry=retry_if_exception_type(RetryableDelivery),
        )
        def attempt() -> None:
            try:
                response = self.post(url, body, headers)
            except PrivateAddressError as exc:
                # Not retried: the host now resolves to a refused address (e.g. DNS rebinding).
                self._record(hook_id, None)
                log.warning("webhook %s: not delivered: %s", url, exc)
                return
            except (httpx.HTTPError, ImageFetchError) as exc:  # ImageFetchError: DNS failed
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

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """One POST to `url`, to a checked address unless private URLs are allowed; the
        answer is returned as is (a redirect is not followed)."""
        if self._policy.allow_private:
            return self._client.post(url, content=body, headers=headers)
        deadline = time.monotonic() + DELIVERY_TIMEOUT_SECONDS
        return send_pinned(
            self._client, "POST", httpx.URL(url), self._policy,
            deadline=deadline, headers=headers, content=body,
        )  # fmt: skip

    def _record(self, hook_id: int, status: int | None) -> None:
        with self._db.session() as session:
            hook = session.get(Webhook, hook_id)
            if hook is not None:
                hook.last_response_status = status
                hook.last_response_at = utcnow()

    def close(self) -> None:
        for lane in self._lanes:
            lane.shutdown(wait=False, cancel_futures=True)
        with self._making:
            if self._made is not None:
                self._made.close()
