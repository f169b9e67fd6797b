"""A server that cannot be reached on first contact fails the call at once, naming the host:
no retries (real sockets: a name under `.invalid`, which never resolves, and a loopback port
where nothing listens; no network needed)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from vestis.client import (
    APIConnectionRefusedError,
    AsyncClient,
    Client,
    HostNotFoundError,
)
from vestis.client.fashn import FashnClient


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that is bound (no one else can take it) but not listening: refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def test_a_name_that_does_not_resolve_is_not_retried() -> None:
    retries: list[str] = []
    with (
        Client(
            "https://api.vestis-test.invalid", token="t", on_retry=lambda *a: retries.append(a[2])
        ) as client,
        pytest.raises(HostNotFoundError) as failed,
    ):
        client.projects.list()
    assert retries == []
    assert failed.value.reason.startswith("Could not resolve api.vestis-test.invalid")


def test_a_refused_connection_is_not_retried(closed_port: int) -> None:
    retries: list[str] = []
    with (
        Client(
            f"http://127.0.0.1:{closed_port}", token="t", on_retry=lambda *a: retries.append(a[2])
        ) as client,
        pytest.raises(APIConnectionRefusedError) as failed,
    ):
        client.identities.get("id_1")
    assert retries == []
    assert failed.value.host == f"127.0.0.1:{closed_port}"
    assert f"127.0.0.1:{closed_port} refused the connection" in failed.value.reason


def test_async_and_fashn_clients_fail_at_once_too(closed_port: int) -> None:
    import asyncio

    retries: list[str] = []

    async def main() -> None:
        async with AsyncClient(
            f"http://127.0.0.1:{closed_port}",
            token="t",
            on_retry=lambda *a: retries.append(a[2]),
        ) as client:
            with pytest.raises(APIConnectionRefusedError):
                await client.projects.list()

    asyncio.run(main())
    with (
        FashnClient(
            "key",
            base_url="https://fashn.vestis-test.invalid",
            on_retry=lambda *a: retries.append(a[2]),
        ) as fashn,
        pytest.raises(HostNotFoundError),
    ):
        fashn.credits()
    assert retries == []
