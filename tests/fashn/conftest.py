"""Fixtures of the FASHN tests: servers (real processes), images, polling."""

from __future__ import annotations

import base64
import io
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from PIL import Image
from tests.support.server_process import ServerProcess

from vestis.runs.samples import make_identity_image, make_pdp_photo

FAKE = "tests.fashn.engines:fake"
NON_GENERATIVE = "tests.fashn.engines:non_generative"


def encode_image(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def data_uri(image: Image.Image, fmt: str = "PNG") -> str:
    mime = "image/png" if fmt == "PNG" else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(encode_image(image, fmt)).decode()}"


@pytest.fixture(scope="session")
def pdp_photo() -> Image.Image:
    return make_pdp_photo(1)


@pytest.fixture(scope="session")
def identity_photo() -> Image.Image:
    return make_identity_image()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A default server (private URLs refused, no rate limit) with the fake engine."""
    with ServerProcess(tmp_path_factory.mktemp("fashn-server"), engine=FAKE) as running:
        yield running


@pytest.fixture(scope="module")
def private_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server started with --allow-private-urls (URL inputs and webhooks on 127.0.0.1)."""
    path = tmp_path_factory.mktemp("fashn-private")
    with ServerProcess(path, engine=FAKE, extra_args=["--allow-private-urls"]) as running:
        yield running


def wait_final(client: httpx.Client, prediction_id: str, timeout: float = 60) -> httpx.Response:
    """Poll `/v1/status/{id}` until the prediction is final; the last response."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/v1/status/{prediction_id}")
        assert response.status_code == 200, response.text
        if response.json()["status"] not in ("starting", "in_queue", "processing"):
            return response
        assert time.monotonic() < deadline, f"prediction still {response.json()['status']}"
        time.sleep(0.1)


def run(client: httpx.Client, inputs: dict[str, Any], **params: str) -> httpx.Response:
    return client.post(
        "/v1/run", json={"model_name": "model-swap", "inputs": inputs}, params=params or None
    )


def run_to_end(client: httpx.Client, inputs: dict[str, Any], **params: str) -> httpx.Response:
    started = run(client, inputs, **params)
    assert started.status_code == 200, started.text
    assert started.json()["error"] is None
    return wait_final(client, started.json()["id"])


def credits_of(client: httpx.Client) -> int:
    return int(client.get("/v1/credits").json()["credits"]["total"])


@dataclass
class LocalHTTP:
    """A tiny HTTP server on 127.0.0.1: serves `files`, records POSTs, can hold GETs."""

    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    posts: list[tuple[str, bytes]] = field(default_factory=list)
    #: Paths of the GETs received, in order.
    gets: list[str] = field(default_factory=list)
    #: Answer codes for the next POSTs (then 200).
    post_codes: list[int] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    hold_paths: set[str] = field(default_factory=set)
    received: threading.Condition = field(default_factory=threading.Condition)
    url: str = ""

    def wait_posts(self, count: int, timeout: float = 60) -> list[tuple[str, bytes]]:
        with self.received:
            self.received.wait_for(lambda: len(self.posts) >= count, timeout)
            return list(self.posts)

    def wait_gets(self, path: str, count: int, timeout: float = 60) -> None:
        """Until `path` was asked for `count` times (a server's worker started on it)."""
        with self.received:
            seen = self.received.wait_for(lambda: self.gets.count(path) >= count, timeout)
        assert seen, f"{path} asked for {self.gets.count(path)} times, not {count}"


@pytest.fixture()
def local_http() -> Iterator[LocalHTTP]:
    state = LocalHTTP()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            with state.received:
                state.gets.append(self.path)
                state.received.notify_all()
            if self.path in state.hold_paths:
                state.release.wait(60)
            found = state.files.get(self.path)
            if found is None:
                self.send_response(404)
                self.end_headers()
                return
            body, content_type = found
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.received:
                code = state.post_codes.pop(0) if state.post_codes else 200
                state.posts.append((self.path, body))
                state.received.notify_all()
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    http.daemon_threads = True
    state.url = f"http://127.0.0.1:{http.server_address[1]}"
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield state
    state.release.set()
    http.shutdown()
    http.server_close()
