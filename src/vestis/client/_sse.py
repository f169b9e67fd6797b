"""Server-sent events from `GET /notifications/events` through httpx-sse, for both transports.
A guard runs between received chunks (keepalive comments included), so a caller's deadline is
honoured even while the stream stays busy with keepalives."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator, Mapping
from typing import Any, cast

import httpx
from httpx_sse import EventSource, ServerSentEvent, SSEError

from vestis.client._base import bearer, connection_error, make_status_error
from vestis.client._http import AsyncHTTP, SyncHTTP
from vestis.client.errors import APIConnectionError

EVENTS_PATH = "/notifications/events"
Guard = Callable[[], None]


def _no_guard() -> None:
    return None


class _GuardedResponse:
    """Gives EventSource the response's text, calling the guard between chunks."""

    def __init__(self, response: httpx.Response, guard: Guard) -> None:
        self._response = response
        self._guard = guard

    @property
    def headers(self) -> httpx.Headers:
        return self._response.headers

    def iter_text(self) -> Iterator[str]:
        for chunk in self._response.iter_text():
            self._guard()
            yield chunk

    async def aiter_text(self) -> AsyncIterator[str]:
        async for chunk in self._response.aiter_text():
            self._guard()
            yield chunk


def _headers(token: str | None) -> dict[str, str]:
    headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
    if token:
        headers["Authorization"] = bearer(token)
    return headers


def _timeout(read_timeout: float | None) -> httpx.Timeout:
    return httpx.Timeout(30.0, connect=10.0, read=read_timeout)


def iter_events(
    http: SyncHTTP,
    params: Mapping[str, Any],
    *,
    read_timeout: float | None = None,
    guard: Guard = _no_guard,
) -> Generator[ServerSentEvent, None, None]:
    """Yield every event of one connection (backfill, backfill_complete, live). Raises a typed
    APIError when the stream cannot be opened, APIConnectionError when it drops."""
    query = {k: v for k, v in params.items() if v is not None}
    for replay in (False, True):
        token = http.current_token()
        request = http.http.build_request(
            "GET",
            EVENTS_PATH,
            params=query,
            headers=_headers(token),
            timeout=_timeout(read_timeout),
        )
        try:
            response = http.http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise connection_error(exc, request) from exc
        try:
            if response.status_code == 401 and not replay and http.credentials.uses_password:
                http.reauthenticate(stale=token)
                continue
            if not response.is_success:
                response.read()
                raise make_status_error(response)
            source = EventSource(cast(httpx.Response, _GuardedResponse(response, guard)))
            yield from source.iter_sse()
            return
        except httpx.TransportError as exc:
            raise connection_error(exc, request) from exc
        except SSEError as exc:
            raise APIConnectionError(f"Not an event stream: {exc}") from exc
        finally:
            response.close()


async def aiter_events(
    http: AsyncHTTP,
    params: Mapping[str, Any],
    *,
    read_timeout: float | None = None,
    guard: Guard = _no_guard,
) -> AsyncGenerator[ServerSentEvent, None]:
    """Async twin of `iter_events`."""
    query = {k: v for k, v in params.items() if v is not None}
    for replay in (False, True):
        token = await http.current_token()
        request = http.http.build_request(
            "GET",
            EVENTS_PATH,
            params=query,
            headers=_headers(token),
            timeout=_timeout(read_timeout),
        )
        try:
            response = await http.http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise connection_error(exc, request) from exc
        try:
            if response.status_code == 401 and not replay and http.credentials.uses_password:
                await http.reauthenticate(stale=token)
                continue
            if not response.is_success:
                await response.aread()
                raise make_status_error(response)
            source = EventSource(cast(httpx.Response, _GuardedResponse(response, guard)))
            async for event in source.aiter_sse():
                yield event
            return
        except httpx.TransportError as exc:
            raise connection_error(exc, request) from exc
        except SSEError as exc:
            raise APIConnectionError(f"Not an event stream: {exc}") from exc
        finally:
            await response.aclose()
