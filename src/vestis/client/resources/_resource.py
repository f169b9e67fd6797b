"""Base classes of the resources: each holds the transport of its client."""

from __future__ import annotations

from typing import Any

import httpx

from vestis.client._base import RequestOptions
from vestis.client._http import AsyncHTTP, SyncHTTP


class SyncAPIResource:
    def __init__(self, http: SyncHTTP) -> None:
        self._http = http

    def _call(self, method: str, url: str, **options: Any) -> httpx.Response:
        return self._http.request(RequestOptions(method, url, **options))


class AsyncAPIResource:
    def __init__(self, http: AsyncHTTP) -> None:
        self._http = http

    async def _call(self, method: str, url: str, **options: Any) -> httpx.Response:
        return await self._http.request(RequestOptions(method, url, **options))
