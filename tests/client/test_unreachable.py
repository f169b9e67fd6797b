"""A server that cannot be reached on first contact fails the call at once, naming the host:
no retries (real sockets: a name under `.invalid`, which never resolves, a loopback port where
nothing listens, and a plain HTTP server behind an https:// URL; no network needed)."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from vestis.client import (
    APIConnectionRefusedError,
    AsyncClient,
    Client,
    HostNotFoundError,
    TLSError,
    _base,
)
from vestis.client.errors import is_transient
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


@pytest.fixture
def plain_http_port() -> Iterator[int]:
    """A loopback HTTP server that speaks no TLS."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_a_failed_tls_handshake_is_not_retried(plain_http_port: int) -> None:
    """An https:// URL on a plain HTTP server (or an untrusted certificate) will not get better
    by waiting: said at once, in plain words, not after five retries and with OpenSSL's."""
    retries: list[str] = []
    with (
        Client(
            f"https://127.0.0.1:{plain_http_port}",
            token="t",
            on_retry=lambda *a: retries.append(a[2]),
        ) as client,
        pytest.raises(TLSError) as failed,
    ):
        client.identities.get("id_1")
    assert retries == [] and not is_transient(failed.value)
    assert failed.value.reason == (
        f"The secure connection (TLS) to 127.0.0.1:{plain_http_port} failed: it does not speak "
        "TLS (is the server's URL http://?)"
    )


def test_an_untrusted_certificate_is_said_so() -> None:
    refused = ssl.SSLCertVerificationError(1, "certificate verify failed")
    refused.verify_message = "self-signed certificate"
    assert _base._tls_reason(refused) == "its certificate is not trusted (self-signed certificate)"
