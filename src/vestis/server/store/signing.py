"""Signed, expiring URLs for uploads and output files: HMAC-SHA256 over method, path and expiry.

The links carry no credentials; whoever holds one may use it until it expires. Any change to the
path, the expiry or the signature makes it invalid (403).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from urllib.parse import urlencode

#: Output links live long enough for a slow batch to download them, and are re-issued on every
#: `GET /jobs/{id}/results`.
FILE_URL_TTL_SECONDS = 24 * 3600


class UrlSigner:
    """Signs `(method, path, expires)` with the server's secret key."""

    def __init__(self, key: bytes, base_url: str) -> None:
        self._key = key
        self.base_url = base_url.rstrip("/")
        #: A blob store's own presigned GET `(key, ttl, content type, file name) -> URL` (S3):
        #: links to stored images then point straight at the store.
        self.direct: Callable[[str, int, str | None, str | None], str] | None = None

    def blob_url(
        self, path: str, key: str | None, ttl_seconds: int, content_type: str, filename: str
    ) -> str:
        """The link to a stored image: presigned by its store when it can, else signed `path`
        on this server."""
        if self.direct is not None and key:
            return self.direct(key, ttl_seconds, content_type, filename)
        return self.url("GET", path, ttl_seconds)

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
