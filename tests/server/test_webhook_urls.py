"""Webhook URLs are held to the server's address policy (`vestis.server.guard.url_fetch`): a server
started without `--allow-private-urls` refuses private, loopback and link-local targets and
non-http schemes with a 422, and its deliveries go to the checked address without following
redirects. (Receivers on 127.0.0.1 with the flag on: tests/server/test_notifications_webhooks.py.)
"""

from __future__ import annotations

import ipaddress
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from tests.server.conftest import Api
from tests.support.server_process import FAKE_ENGINE

from vestis.server.embedded import EmbeddedServer
from vestis.server.guard import url_fetch
from vestis.server.guard.url_fetch import FetchPolicy, PrivateAddressError
from vestis.server.services.webhooks import WebhookSender, url_refusal
from vestis.server.store.db import Database

PUBLIC = ipaddress.ip_address("93.184.215.14")


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1:9000/hook", "loopback"),
        ("http://localhost:9000/hook", "loopback"),
        ("http://[::1]:9000/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("https://192.168.0.20/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://0.0.0.0:8000/hook", "unspecified"),
    ],
)
def test_private_webhook_urls_are_refused_by_default(api: Api, url: str, kind: str) -> None:
    response = api.http.put("/webhooks", json={"url": url})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "Invalid request"
    [detail] = body["detail"]
    assert detail["field"] == "url" and detail["position"] == "body"
    assert kind in detail["message"] and "not a public address" in detail["message"]
    assert "vestis serve --allow-private-urls" in detail["message"]


@pytest.mark.parametrize(
    "url", ["ftp://example.com/hook", "file:///etc/passwd", "gopher://10.0.0.1/", "/relative"]
)
def test_non_http_webhook_urls_are_refused(api: Api, url: str) -> None:
    response = api.http.put("/webhooks", json={"url": url})
    assert response.status_code == 422, response.text
    [detail] = response.json()["detail"]
    assert detail["field"] == "url" and "http or https" in detail["message"]


def test_a_refused_url_stores_no_webhook(api: Api) -> None:
    assert api.http.put("/webhooks", json={"url": "http://127.0.0.1:1/x"}).status_code == 422
    assert api.http.get("/webhooks").status_code == 404


def test_url_refusal_follows_the_policy() -> None:
    assert url_refusal("https://93.184.215.14/hook", FetchPolicy()) is None
    assert url_refusal("http://127.0.0.1:9000/hook", FetchPolicy(allow_private=True)) is None
    refused = url_refusal("ftp://127.0.0.1/hook", FetchPolicy(allow_private=True))
    assert refused and "http or https" in refused


def test_the_embedded_server_allows_private_urls(tmp_path: Path) -> None:
    """The CLI's embedded server runs on the user's own machine: a loopback receiver is fine,
    and gets the ping."""
    pings: queue.Queue[bytes] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            pings.put(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    try:
        with EmbeddedServer(tmp_path, engine=FAKE_ENGINE) as server:
            headers = {"Authorization": f"Bearer {server.token}"}
            answer = httpx.put(server.base_url + "/webhooks", json={"url": url}, headers=headers)
            assert answer.status_code == 200, answer.text
            assert b'"ping"' in pings.get(timeout=30)
    finally:
        receiver.shutdown()


class Recorder:
    """A mock transport that answers `status` (with a redirect to loopback) and keeps requests."""

    def __init__(self, status: int = 204) -> None:
        self.requests: list[httpx.Request] = []
        self.status = status
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, headers={"Location": "http://127.0.0.1:9000/internal"})


def _sender(tmp_path: Path, recorder: Recorder, allow_private: bool = False) -> WebhookSender:
    db = Database(f"sqlite:///{tmp_path / 'hooks.db'}")
    policy = FetchPolicy(allow_private=allow_private)
    return WebhookSender(db, lanes=1, policy=policy, transport=recorder.transport)


def _resolve_to(monkeypatch: pytest.MonkeyPatch, address: str) -> None:
    monkeypatch.setattr(url_fetch, "resolve", lambda host, port: [ipaddress.ip_address(address)])


def test_delivery_connects_to_the_checked_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _resolve_to(monkeypatch, str(PUBLIC))
    recorder = Recorder()
    sender = _sender(tmp_path, recorder)
    response = sender.post("https://hooks.example/in", b"{}", {"X-Test": "1"})
    sender.close()
    assert response.status_code == 204
    [request] = recorder.requests
    assert request.url.host == str(PUBLIC) and request.headers["host"] == "hooks.example"
    assert request.extensions["sni_hostname"] == "hooks.example"
    assert request.content == b"{}" and request.headers["x-test"] == "1"


def test_delivery_to_a_host_that_now_resolves_privately_is_not_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _resolve_to(monkeypatch, "169.254.169.254")  # e.g. DNS rebound after registration
    recorder = Recorder()
    sender = _sender(tmp_path, recorder)
    with pytest.raises(PrivateAddressError):
        sender.post("https://hooks.example/in", b"{}", {})
    sender.close()
    assert recorder.requests == []


def test_delivery_does_not_follow_redirects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _resolve_to(monkeypatch, str(PUBLIC))
    recorder = Recorder(status=302)
    sender = _sender(tmp_path, recorder)
    assert sender.post("https://hooks.example/in", b"{}", {}).status_code == 302
    sender.close()
    assert len(recorder.requests) == 1


def test_private_urls_allowed_are_posted_as_given(tmp_path: Path) -> None:
    recorder = Recorder()
    sender = _sender(tmp_path, recorder, allow_private=True)
    sender.post("http://127.0.0.1:9000/hook", b"{}", {})
    sender.close()
    [request] = recorder.requests
    assert str(request.url) == "http://127.0.0.1:9000/hook"
