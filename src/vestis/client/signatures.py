"""Webhook signatures: `X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_PREFIX = "sha256="


def compute_webhook_signature(secret: str | bytes, body: bytes) -> str:
    """The header value a delivery of `body` carries: `sha256=` and the hex HMAC-SHA256."""
    key = secret.encode() if isinstance(secret, str) else secret
    return SIGNATURE_PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_webhook_signature(secret: str | bytes, body: bytes, header: str | None) -> bool:
    """True when `header` is the signature of the raw `body` under `secret`, compared in
    constant time. Verify the bytes as received, before any JSON parsing."""
    if not header or not secret:
        return False
    expected = compute_webhook_signature(secret, body)
    return hmac.compare_digest(expected.encode(), header.strip().encode())
