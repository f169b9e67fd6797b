"""Signed, expiring URLs for uploads and output files: HMAC-SHA256 over method, path and expiry.

The links carry no credentials; whoever holds one may use it until it expires. Any change to the
path, the expiry or the signature makes it invalid (403).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

#: Output links live long enough for a slow batch to download them, and are re-issued on every
#: `GET /jobs/{id}/results`.
FILE_URL_TTL_SECONDS = 24 * 3600


class UrlSigner:
    """Signs `(method, path, expires)` with the server's secret key."""

    def __init__(self, key: bytes, base_url: str) -> None:
        self._key = key
        self.base_url = base_url.rstrip("/")

    def _signature(self, method: str, path: str, expires: int) -> str:
        message = f"{method.upper()}\n{path}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def url(self, method: str, path: str, ttl_seconds: int, *, step: int = 1) -> str:
        """The absolute signed URL for `path` (which must start with `/`). With `step` the
        expiry is rounded up to a multiple of it, so the same link (and the browser's cached
        copy) serves every page view within one step."""
        expires = int(time.time()) + ttl_seconds
        expires += -expires % step
        query = urlencode({"expires": expires, "signature": self._signature(method, path, expires)})
        return f"{self.base_url}{path}?{query}"

    def check(self, method: str, path: str, expires: str | None, signature: str | None) -> str:
        """An empty string when valid, else why not (for the 403 message)."""
        if not expires or not signature:
            return "The link is not signed."
        try:
            expires_at = int(expires)
        except ValueError:
            return "The link's expiry is malformed."
        expected = self._signature(method, path, expires_at)
        if not hmac.compare_digest(expected, signature):
            return "The link's signature does not match: it was altered or is for another file."
        if expires_at < time.time():
            return "The link has expired; request a new one."
        return ""
