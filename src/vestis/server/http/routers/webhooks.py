"""`PUT /webhooks` and `GET /webhooks` (spec §2.12): one webhook per user."""

from __future__ import annotations

import time

from fastapi import APIRouter, BackgroundTasks
from sqlalchemy import select

from vestis.contract.common import ErrorBody
from vestis.contract.notifications import Notification
from vestis.contract.webhooks import WebhookRequest, WebhookResponse
from vestis.server.errors import ApiError, invalid
from vestis.server.guard.url_fetch import FetchPolicy
from vestis.server.http.deps import DbDep, SessionRoute, StateDep, UserDep
from vestis.server.services.accounts import iso
from vestis.server.services.webhooks import new_secret, url_refusal
from vestis.server.store.models import Webhook, utcnow

router = APIRouter(route_class=SessionRoute, prefix="/webhooks", tags=["webhooks"])


def _wire(hook: Webhook, secret: str | None) -> WebhookResponse:
    return WebhookResponse(
        id=hook.id,
        url=hook.url,
        secret=secret,
        is_active=hook.is_active,
        created_at=iso(hook.created_at) or "",
        updated_at=iso(hook.updated_at) or "",
        last_response_status=hook.last_response_status,
        last_response_at=iso(hook.last_response_at),
    )


def _no_webhook() -> ApiError:
    return ApiError(
        404,
        "Not found",
        'No webhook is set for this user; set one with PUT /webhooks {"url": "https://..."}.',
    )


@router.put("", response_model=WebhookResponse, responses={422: {"model": ErrorBody}})
def put_webhook(
    state: StateDep, db: DbDep, user: UserDep, body: WebhookRequest, background: BackgroundTasks
) -> WebhookResponse:
    """Create or update; every call issues a new secret (shown only here) and sends `ping`
    once the answer is out, so the caller knows the secret before the ping arrives. The URL
    must be http(s) and, unless the server allows private URLs, reach only public addresses."""
    refusal = url_refusal(body.url, FetchPolicy(allow_private=state.settings.allow_private_urls))
    if refusal is not None:
        raise invalid(refusal, "url")
    hook = db.scalar(select(Webhook).where(Webhook.user_id == user.id))
    secret = new_secret()
    if hook is None:
        hook = Webhook(user_id=user.id, url=body.url, secret=secret)
        db.add(hook)
    else:
        hook.url, hook.secret, hook.is_active = body.url, secret, True
        hook.updated_at = utcnow()
    db.commit()
    assert state.runtime is not None
    ping = Notification(
        id=0, name="ping", timestamp=time.time(), data={"message": "webhook configured"}
    )
    background.add_task(state.runtime.webhooks.submit, hook.id, hook.url, secret, ping)
    return _wire(hook, secret)


@router.get("", response_model=WebhookResponse, responses={404: {"model": ErrorBody}})
def get_webhook(db: DbDep, user: UserDep) -> WebhookResponse:
    """The webhook without its secret, with the status of the last delivery."""
    hook = db.scalar(select(Webhook).where(Webhook.user_id == user.id))
    if hook is None:
        raise _no_webhook()
    return _wire(hook, None)


@router.delete("", responses={404: {"model": ErrorBody}})
def delete_webhook(db: DbDep, user: UserDep) -> dict[str, object]:
    hook = db.scalar(select(Webhook).where(Webhook.user_id == user.id))
    if hook is None:
        raise _no_webhook()
    hook.is_active = False
    return {"success": True}
