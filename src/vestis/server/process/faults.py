"""Fault injection for client resilience tests (`--faults "429=0.2,500=0.1,drop=0.05,seed=7"`).

On API routes (never `/health`, the OpenAPI pages, or the signed file/upload/download links
unless `files=1`), a seeded random draw answers 429 (with `Retry-After: 1`) or 500 before any
work, or drops the connection without an answer. For job creation a drop happens *after* the job
was created, so that clients must rely on their Idempotency-Key when they retry.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EXEMPT_PREFIXES = ("/health", "/openapi.json", "/docs", "/redoc")
SIGNED_PREFIXES = ("/files/", "/download/", "/upload/")
JOB_CREATION_PATHS = ("/model-swap", "/flat-2-model")


@dataclass(frozen=True)
class FaultSpec:
    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_drop: float = 0.0
    seed: int | None = None
    files: bool = False

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        """`429=0.2,500=0.1,drop=0.05,seed=7,files=1`; unknown keys are an error."""
        values: dict[str, Any] = {}
        names = {"429": "rate_429", "500": "rate_500", "drop": "rate_drop"}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, _, raw = part.partition("=")
            key = key.strip()
            if key in names:
                values[names[key]] = float(raw)
            elif key == "seed":
                values["seed"] = int(raw)
            elif key == "files":
                values["files"] = raw.strip() not in ("", "0", "false")
            else:
                raise ValueError(f"Unknown fault {key!r}; use 429=, 500=, drop=, seed=, files=.")
        return cls(**values)


class FaultInjector:
    """Pure ASGI middleware, outermost, so it can reach the connection to drop it."""

    def __init__(self, app: ASGIApp, spec: str) -> None:
        self.app = app
        self.spec = FaultSpec.parse(spec)
        self._random = random.Random(self.spec.seed)
        self._lock = threading.Lock()

    def _applies(self, path: str) -> bool:
        if path.startswith(EXEMPT_PREFIXES):
            return False
        return self.spec.files or not path.startswith(SIGNED_PREFIXES)

    def _draw(self) -> str | None:
        with self._lock:
            roll = self._random.random()
        spec = self.spec
        if roll < spec.rate_429:
            return "429"
        if roll < spec.rate_429 + spec.rate_500:
            return "500"
        if roll < spec.rate_429 + spec.rate_500 + spec.rate_drop:
            return "drop"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._applies(scope["path"]):
            await self.app(scope, receive, send)
            return
        fault = self._draw()
        if fault in ("429", "500"):
            await _answer(send, int(fault))
        elif fault == "drop" and scope["path"] in JOB_CREATION_PATHS:
            await self.app(scope, receive, _swallow)
            await _drop(send)
        elif fault == "drop":
            await _drop(send)
        else:
            await self.app(scope, receive, send)


async def _swallow(_message: Message) -> None:
    return None


async def _answer(send: Send, status: int) -> None:
    if status == 429:
        body = {"error": "Too many requests", "message": "Injected fault: rate limited."}
        headers = [(b"retry-after", b"1")]
    else:
        body = {"error": "Internal server error", "message": "Injected fault: server error."}
        headers = []
    payload = json.dumps(body).encode()
    headers.append((b"content-type", b"application/json"))
    headers.append((b"content-length", str(len(payload)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _drop(send: Send) -> None:
    """Close the TCP connection without answering. uvicorn's `send` is a bound method of the
    request cycle, which holds the transport (hence this middleware must be outermost)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionAbortedError("Injected fault: connection dropped.")
    transport.abort()
    await asyncio.sleep(0)  # let the server notice the disconnect before the app returns


def install(app: Starlette, spec: str) -> None:
    """Wrap the whole middleware stack (Starlette's error middleware included), so the fault
    middleware sees the server's own `send`."""
    FaultSpec.parse(spec)  # fail at start-up, not on the first request
    build = app.build_middleware_stack

    def build_with_faults() -> ASGIApp:
        return FaultInjector(build(), spec)

    app.build_middleware_stack = build_with_faults  # type: ignore[method-assign]
