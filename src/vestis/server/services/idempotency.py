"""`Idempotency-Key` (IETF draft "The Idempotency-Key HTTP Header Field"): a key names one
request, bound to its method, path, user and a hash of its body, for 24 hours.

The same key with the same request replays the first answer; the same key with another
request (another endpoint, another body) is refused with 422, never answered with the first
request's job. A key older than `KEY_TTL` is forgotten and may name a new request. The record
is written in the transaction that creates the job, so a concurrent duplicate waits for the
first request and then replays its answer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vestis.server.errors import ApiError
from vestis.server.store.models import IdempotencyRecord, utcnow

KEY_TTL = timedelta(hours=24)
#: Records written before keys were bound to their request named the job type.
_LEGACY_ENDPOINTS = {"model_swap": "POST /model-swap", "flat_2_model": "POST /flat-2-model"}


@dataclass(frozen=True)
class KeyedRequest:
    key: str
    endpoint: str  # "POST /model-swap"
    body_hash: str

    @classmethod
    def of(cls, key: str | None, method: str, path: str, body: BaseModel) -> KeyedRequest | None:
        """The keyed request, or None without a key. The body is hashed as validated (keys
        sorted, defaults filled), so the same request sent by another client library with
        other spacing or field order is the same request."""
        if not key:
            return None
        canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        return cls(key, f"{method} {path}", digest)


def recall(db: Session, user_id: int, request: KeyedRequest) -> dict[str, Any] | None:
    """The first answer to this key, if it was this request; 422 if it was another one."""
    record = db.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == request.key
        )
    )
    if record is None:
        return None
    if record.created_at < utcnow() - KEY_TTL:  # forgotten: the key may name a new request
        db.delete(record)
        db.flush()
        return None
    endpoint = _LEGACY_ENDPOINTS.get(record.endpoint, record.endpoint)
    if endpoint != request.endpoint or record.request_hash not in (None, request.body_hash):
        what = "another endpoint" if endpoint != request.endpoint else "another request body"
        raise ApiError(
            422,
            "Idempotency key reused",
            f"The Idempotency-Key {request.key!r} was used for {what} ({endpoint}) within the "
            "last 24 hours; a key names one request. Use a new key for a new request.",
        )
    return dict(record.response)


def remember(
    db: Session, user_id: int, request: KeyedRequest, status_code: int, body: dict[str, Any]
) -> None:
    """Store the answer to replay (in the caller's transaction, which writes anyway: the
    user's expired keys go at the same time)."""
    db.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user_id, IdempotencyRecord.created_at < utcnow() - KEY_TTL
        )
    )
    db.add(
        IdempotencyRecord(
            user_id=user_id,
            key=request.key,
            endpoint=request.endpoint,
            request_hash=request.body_hash,
            status_code=status_code,
            response=body,
        )
    )
