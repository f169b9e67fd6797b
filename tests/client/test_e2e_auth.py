"""Password login against a server whose login tokens expire after two seconds."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from tests.support.server_process import ServerProcess

from vestis.client import AsyncClient, Client

pytestmark = pytest.mark.e2e

#: Longer than the server's `--access-token-ttl 2`: waits for the token to expire.
EXPIRY_WAIT = 2.5


def test_expired_login_token_is_refreshed_and_the_call_replayed(
    short_token_server: ServerProcess,
) -> None:
    server = short_token_server
    with Client(server.base_url, username=server.username, password=server.password) as c:
        project = c.projects.ensure("TTL-SYNC")  # logs in on first use
        first = c.token
        time.sleep(EXPIRY_WAIT)
        assert c.projects.ensure("TTL-SYNC") == project
        assert c.token not in (None, first)


def test_failed_refresh_falls_back_to_login(short_token_server: ServerProcess) -> None:
    server = short_token_server
    with Client(server.base_url, username=server.username, password=server.password) as c:
        c.auth.login()
        c._http.credentials.refresh_token = "revoked-refresh-token"
        time.sleep(EXPIRY_WAIT)
        assert c.projects.list().pagination.page == 1
        assert c._http.credentials.refresh_token != "revoked-refresh-token"


def test_threads_share_one_renewal(short_token_server: ServerProcess) -> None:
    server = short_token_server
    with Client(server.base_url, username=server.username, password=server.password) as c:
        c.auth.login()
        time.sleep(EXPIRY_WAIT)
        errors: list[BaseException] = []

        def work(index: int) -> None:
            try:
                c.projects.ensure(f"TTL-THREAD-{index % 2}")
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []


def test_async_expired_token_is_renewed_for_concurrent_calls(
    short_token_server: ServerProcess,
) -> None:
    server = short_token_server

    async def main() -> None:
        async with AsyncClient(
            server.base_url, username=server.username, password=server.password
        ) as c:
            await c.projects.ensure("TTL-ASYNC")
            first = c.token
            await asyncio.sleep(EXPIRY_WAIT)
            answers = await asyncio.gather(*(c.projects.ensure("TTL-ASYNC") for _ in range(5)))
            assert len(set(answers)) == 1
            assert c.token != first

    asyncio.run(main())
