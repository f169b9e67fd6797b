"""Refuse request bodies that declare more bytes than any endpoint accepts, before they are read
(the multipart parser would otherwise spool them to disk first)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from vestis.contract.uploads import MAX_UPLOAD_BYTES

#: The largest upload plus room for multipart framing and form fields.
MAX_BODY_BYTES = MAX_UPLOAD_BYTES + 1024 * 1024


class BodyCap:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = dict(scope["headers"]).get(b"content-length", b"")
            if length.isdigit() and int(length) > self.max_bytes:
                await _too_large(send, self.max_bytes)
                return
        await self.app(scope, receive, send)


async def _too_large(send: Send, limit: int) -> None:
    message = f"Request bodies are limited to {limit} bytes; uploads to {MAX_UPLOAD_BYTES}."
    body = json.dumps({"error": "Upload too large", "message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
