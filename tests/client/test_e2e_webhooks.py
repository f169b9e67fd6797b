"""Webhook deliveries from the real server to a local receiver, verified with the SDK helper."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from tests.client.jobflow import swap_request
from tests.support.server_process import ServerProcess

from vestis.client import AsyncClient, Client, verify_webhook_signature

pytestmark = pytest.mark.e2e

#: Upper bound on waiting for a delivery to arrive (not a speed assertion).
DELIVERY_WAIT = 60.0


class Receiver:
    """A local HTTP endpoint that records every delivery (raw body and signature header)."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[bytes, str]] = []
        self.paths: list[str] = []
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.changed:
                    receiver.deliveries.append((body, self.headers.get("X-Webhook-Signature", "")))
                    receiver.paths.append(self.path)
                    receiver.changed.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/hook"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def wait_for(self, match: Callable[[dict[str, object]], bool]) -> tuple[bytes, str]:
        """The first delivery whose JSON body matches."""
        with self.changed:
            found = self.changed.wait_for(lambda: self._find(match), timeout=DELIVERY_WAIT)
        assert found, f"no matching delivery; got {[b for b, _ in self.deliveries]}"
        return found

    def _find(self, match: Callable[[dict[str, object]], bool]) -> tuple[bytes, str] | None:
        for body, header in self.deliveries:
            if match(json.loads(body)):
                return body, header
        return None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A plain server that allows private URLs: the receiver listens on 127.0.0.1."""
    path = tmp_path_factory.mktemp("server")
    with ServerProcess(path, extra_args=["--allow-private-urls"]) as process:
        yield process


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.http.shutdown()
    # Close the socket too: deliveries still queued for this receiver are then refused at once
    # instead of hanging until their timeout, which would hold up the next test's deliveries.
    receiver.http.server_close()


def test_ping_and_job_deliveries_verify_with_the_secret(
    server: ServerProcess, receiver: Receiver, tmp_path: Path
) -> None:
    with Client(server.base_url, token=server.token) as c:
        hook = c.webhooks.set(receiver.url)
        assert hook.url == receiver.url and hook.secret
        body, header = receiver.wait_for(lambda event: event["name"] == "ping")
        assert verify_webhook_signature(hook.secret, body, header)
        assert not verify_webhook_signature("wrong-secret", body, header)
        assert not verify_webhook_signature(hook.secret, body.replace(b"ping", b"pong"), header)

        created = c.jobs.model_swap(swap_request(c, tmp_path, "HOOKS"))
        c.jobs.wait(created.job_id, poll_interval=0.2)
        body, header = receiver.wait_for(
            lambda e: (
                isinstance(e["data"], dict)
                and created.job_id in (e["data"].get("id_task"), e["data"].get("job_id"))
                and e["data"].get("status") == "completed"
            )
        )
        assert verify_webhook_signature(hook.secret, body, header)


def test_updating_the_webhook_rotates_the_secret(server: ServerProcess, receiver: Receiver) -> None:
    async def set_twice() -> tuple[str, str]:
        async with AsyncClient(server.base_url, token=server.token) as c:
            first = await c.webhooks.set(receiver.url + "?v=1")
            receiver.wait_for(lambda e: e["name"] == "ping")
            second = await c.webhooks.set(receiver.url + "?v=2")
            assert first.secret and second.secret
            return first.secret, second.secret

    old, new = asyncio.run(set_twice())
    assert old != new
    with receiver.changed:
        receiver.changed.wait_for(lambda: "/hook?v=2" in receiver.paths, timeout=DELIVERY_WAIT)
    by_path = dict(zip(receiver.paths, receiver.deliveries, strict=True))
    body, header = by_path["/hook?v=2"]
    assert verify_webhook_signature(new, body, header)
    assert not verify_webhook_signature(old, body, header)
    assert verify_webhook_signature(old, *by_path["/hook?v=1"])
