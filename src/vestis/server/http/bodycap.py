"""Request bodies are capped per route while they stream in, and the routes that take large
bodies check the caller's token before reading any of it.

A `Content-Length` over the cap is refused before a byte is read; a body without one
(chunked) is counted as it arrives and refused with 413 the moment it passes the cap, so a
client cannot make the server hold more than the cap in memory or on disk. Only the signed
upload PUT, the identity upload and FASHN's `/v1/run` take large bodies; everything else is
JSON of a few kB, capped at `JSON_BODY_BYTES`. The identity upload and `/v1/run` need a
token: an unauthenticated caller gets its 401 before the body is read (the signed PUT checks
its signature before reading, in its route).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vestis.contract.uploads import MAX_UPLOAD_BYTES
from vestis.server.http.deps import INVALID_TOKEN, MISSING_TOKEN

#: Any JSON request body of the API fits easily in this.
JSON_BODY_BYTES = 1024 * 1024
#: FASHN's `/v1/run` carries base64 images; its route refuses a declared length over 40 MiB
#: itself (FASHN's answer); this is the hard cap behind it.
FASHN_RUN_BYTES = 40 * 1024 * 1024 + JSON_BODY_BYTES
#: The largest upload plus room for multipart framing and form fields.
MULTIPART_UPLOAD_BYTES = MAX_UPLOAD_BYTES + JSON_BODY_BYTES

_SIGNED_PUT = re.compile(r"^/upload/[^/]+$")
#: Routes whose large bodies are read only after the token was found valid.
AUTHENTICATED_LARGE = {"/identity/upload": MULTIPART_UPLOAD_BYTES, "/v1/run": FASHN_RUN_BYTES}

#: (token or None) -> the token is valid; run in the thread pool.
TokenCheck = Callable[[str | None], bool]
#: (request headers) -> the caller may send a large body; run in the thread pool.
HeaderCheck = Callable[[dict[bytes, bytes]], bool]


class BodyTooLarge(Exception):
    """Raised from `receive` once the body passes its cap (the app stops reading)."""


def body_limit(method: str, path: str) -> int:
    if method == "PUT" and _SIGNED_PUT.match(path):
        return MAX_UPLOAD_BYTES
    return AUTHENTICATED_LARGE.get(path, JSON_BODY_BYTES)


class BodyCap:
    def __init__(self, app: ASGIApp, token_check: TokenCheck | None = None) -> None:
        self.app = app
        self.token_check = token_check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["method"], scope["path"])
        headers = dict(scope["headers"])
        # web apps beside the API (the studio's forms) register their own large routes
        extra: dict[str, tuple[int, HeaderCheck]] = getattr(
            getattr(scope.get("app"), "state", None), "large_bodies", {}
        )
        own = extra.get(scope["path"])
        limit = own[0] if own else limit
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            await _too_large(send, scope["path"], limit)
            return
        if scope["path"] in AUTHENTICATED_LARGE and not await self._token_ok(headers):
            await _unauthorized(send, scope["path"], headers)
            return
        if own and not await _allowed(own[1], headers):
            await _unauthorized(send, scope["path"], headers)
            return
        await self._capped(scope, receive, send, limit)

    async def _token_ok(self, headers: dict[bytes, bytes]) -> bool:
        if self.token_check is None:
            return True
        from starlette.concurrency import run_in_threadpool

        scheme, _, value = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        token = value.strip() if scheme.lower() == "bearer" and value.strip() else None
        return await run_in_threadpool(self.token_check, token)

    async def _capped(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        exceeded = started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:  # whatever the app makes of the interrupted body, the answer is 413
                return
            started = True
            await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, counting_receive, guarded_send)
        if exceeded and not started:
            await _too_large(send, scope["path"], limit)


async def _allowed(check: HeaderCheck, headers: dict[bytes, bytes]) -> bool:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(check, headers)


async def _answer(send: Send, status: int, body: dict[str, str], extra: list[tuple[bytes, bytes]]):  # type: ignore[no-untyped-def]
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"),  # the rest of the body is not read
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _fashn(path: str) -> bool:
    """FASHN's routes answer in FASHN's error names and codes."""
    return path.startswith("/v1/")


async def _too_large(send: Send, path: str, limit: int) -> None:
    message = (
        f"The request body is larger than this endpoint accepts ({limit} bytes); uploads are "
        f"limited to {MAX_UPLOAD_BYTES} bytes, JSON bodies to {JSON_BODY_BYTES}."
    )
    if _fashn(path):
        await _answer(send, 400, {"error": "BadRequest", "message": message}, [])
    else:
        await _answer(send, 413, {"error": "Request too large", "message": message}, [])


async def _unauthorized(send: Send, path: str, headers: dict[bytes, bytes]) -> None:
    # the words of the token check every other route makes (deps), not how this one works
    sent = headers.get(b"authorization", b"").lower().startswith(b"bearer ")
    message = INVALID_TOKEN if sent else MISSING_TOKEN
    name = "UnauthorizedAccess" if _fashn(path) else "Unauthorized"
    await _answer(
        send, 401, {"error": name, "message": message}, [(b"www-authenticate", b"Bearer")]
    )
