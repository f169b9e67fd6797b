"""Unit tests of the safe image loader: address checks, redirects, caps, data URIs."""

from __future__ import annotations

import base64
import io
import ipaddress
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from PIL import Image

from vestis.server.guard.url_fetch import (
    FetchPolicy,
    ImageFetchError,
    address_refusal,
    checked_address,
    decode_data_uri,
    embedded_ipv4,
    fetch_url,
    load_image,
)

PUBLIC_V4 = "93.184.216.34"


def png_bytes(size: tuple[int, int] = (32, 24)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "ff0e::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::1",  # 6to4 around 127.0.0.1
        "2002:a00:1::1",  # 6to4 around 10.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 around 169.254.169.254
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
        "::127.0.0.1",  # deprecated IPv4-compatible
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize(
    "address", ["8.8.8.8", PUBLIC_V4, "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"]
)
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


def test_mapped_address_reason_names_both() -> None:
    reason = address_refusal(ipaddress.ip_address("::ffff:127.0.0.1"))
    assert reason is not None and "loopback" in reason and "127.0.0.1" in reason
    assert embedded_ipv4(ipaddress.ip_address("::ffff:10.0.0.1")) == ipaddress.ip_address(
        "10.0.0.1"
    )
    assert embedded_ipv4(ipaddress.ip_address("8.8.8.8")) is None


@pytest.mark.parametrize("url", ["ftp://example.com/a.png", "file:///etc/passwd", "gopher://x/"])
def test_only_http_and_https(url: str) -> None:
    with pytest.raises(ImageFetchError, match="only http and https"):
        checked_address(httpx.URL(url), FetchPolicy(allow_private=True))


def test_localhost_name_is_refused_unless_allowed() -> None:
    with pytest.raises(ImageFetchError, match="not public"):
        checked_address(httpx.URL("http://localhost:8080/x.png"), FetchPolicy())
    allowed = checked_address(httpx.URL("http://localhost:8080/x.png"), FetchPolicy(True))
    assert allowed.is_loopback


def test_ipv6_literal_is_checked() -> None:
    with pytest.raises(ImageFetchError, match="loopback"):
        checked_address(httpx.URL("http://[::ffff:127.0.0.1]/x.png"), FetchPolicy())


# --- fetching through a mock transport (no network) ----------------------------------------------


class Recorder:
    """A MockTransport handler: answers by path, records what was sent."""

    def __init__(self, routes: dict[str, httpx.Response]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.routes.get(request.url.path, httpx.Response(404))


def image_response(data: bytes | None = None, content_type: str = "image/png") -> httpx.Response:
    return httpx.Response(200, content=data or png_bytes(), headers={"content-type": content_type})


def test_connects_to_the_checked_address_with_the_original_host() -> None:
    recorder = Recorder({"/a.png": image_response()})
    body = fetch_url(f"http://{PUBLIC_V4}:8080/a.png", FetchPolicy(), httpx.MockTransport(recorder))
    assert body == png_bytes()
    sent = recorder.requests[0]
    assert sent.url.host == PUBLIC_V4
    assert sent.headers["host"] == f"{PUBLIC_V4}:8080"


def test_redirect_to_a_private_address_is_refused() -> None:
    recorder = Recorder(
        {"/start": httpx.Response(302, headers={"location": "http://127.0.0.1/secret.png"})}
    )
    with pytest.raises(ImageFetchError, match="loopback"):
        fetch_url(f"http://{PUBLIC_V4}/start", FetchPolicy(), httpx.MockTransport(recorder))
    assert len(recorder.requests) == 1  # the private hop was never requested


def test_redirect_to_a_mapped_metadata_address_is_refused() -> None:
    target = "http://[::ffff:169.254.169.254]/latest/meta-data"
    recorder = Recorder({"/start": httpx.Response(301, headers={"location": target})})
    with pytest.raises(ImageFetchError, match="link-local"):
        fetch_url(f"http://{PUBLIC_V4}/start", FetchPolicy(), httpx.MockTransport(recorder))


def test_public_redirects_are_followed_and_capped() -> None:
    recorder = Recorder(
        {
            "/start": httpx.Response(302, headers={"location": "/next"}),
            "/next": httpx.Response(307, headers={"location": "http://8.8.8.8/final.png"}),
            "/final.png": image_response(),
        }
    )
    body = fetch_url(f"http://{PUBLIC_V4}/start", FetchPolicy(), httpx.MockTransport(recorder))
    assert body == png_bytes()
    assert [r.url.path for r in recorder.requests] == ["/start", "/next", "/final.png"]

    loop = Recorder({"/start": httpx.Response(302, headers={"location": "/start"})})
    with pytest.raises(ImageFetchError, match="redirects"):
        fetch_url(
            f"http://{PUBLIC_V4}/start", FetchPolicy(max_redirects=3), httpx.MockTransport(loop)
        )
    assert len(loop.requests) == 4


def test_content_type_must_be_an_image() -> None:
    recorder = Recorder({"/a": image_response(b"hello", "text/plain;charset=UTF-8")})
    with pytest.raises(ImageFetchError, match="Content-Type is not an image.*text/plain"):
        fetch_url(f"http://{PUBLIC_V4}/a", FetchPolicy(), httpx.MockTransport(recorder))


def test_http_errors_are_reported() -> None:
    with pytest.raises(ImageFetchError, match="HTTP 404"):
        fetch_url(f"http://{PUBLIC_V4}/missing", FetchPolicy(), httpx.MockTransport(Recorder({})))


def test_size_cap_on_declared_and_streamed_bodies() -> None:
    big = b"x" * 5000
    declared = Recorder({"/a": image_response(big)})
    with pytest.raises(ImageFetchError, match="larger than 1000 bytes"):
        fetch_url(
            f"http://{PUBLIC_V4}/a", FetchPolicy(max_bytes=1000), httpx.MockTransport(declared)
        )

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"y" * 500

    streamed = Recorder(
        {"/a": httpx.Response(200, content=chunks(), headers={"content-type": "image/png"})}
    )
    with pytest.raises(ImageFetchError, match="larger than 1000 bytes"):
        fetch_url(
            f"http://{PUBLIC_V4}/a", FetchPolicy(max_bytes=1000), httpx.MockTransport(streamed)
        )


# --- data URIs and decoding ----------------------------------------------------------------------


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def test_data_uri_round_trip() -> None:
    image = load_image(data_uri(png_bytes((40, 30)), "image/jpg"), FetchPolicy())
    assert image.size == (40, 30) and image.mode == "RGB"


def test_bare_base64_needs_its_prefix() -> None:
    bare = base64.b64encode(png_bytes()).decode()
    with pytest.raises(ImageFetchError, match="prefix"):
        load_image(bare, FetchPolicy())


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("data:text/plain;base64,aGVsbG8=", "not an image"),
        ("data:image/png,rawbytes", "not base64"),
        ("data:image/png;base64,@@@", "invalid"),
        ("data:image/png;base64", "malformed"),
    ],
)
def test_bad_data_uris(uri: str, message: str) -> None:
    with pytest.raises(ImageFetchError, match=message):
        decode_data_uri(uri, FetchPolicy())


def test_data_uri_size_cap_and_non_images() -> None:
    with pytest.raises(ImageFetchError, match="larger than"):
        load_image(data_uri(b"z" * 4000), FetchPolicy(max_bytes=1000))
    with pytest.raises(ImageFetchError, match="not a readable image"):
        load_image(data_uri(b"definitely not a png"), FetchPolicy())
    with pytest.raises(ImageFetchError, match="pixels"):
        load_image(data_uri(png_bytes((200, 200))), FetchPolicy(max_pixels=1000))


def _png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header says `width` x `height` (its CRC made right)."""
    data = bytearray(png_bytes((2, 2)))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


@pytest.mark.parametrize(
    ("size", "says"),
    [
        # over our limit, under Pillow's: refused by ours, with no Pillow warning
        ((8000, 6000), "the image is 8000x6000, 48 megapixels, more than the 40 allowed"),
        # over Pillow's warning threshold too (89 megapixels, or 60 once server.images is in)
        ((10000, 9000), "the image is 10000x9000, 90 megapixels, more than the 40 allowed"),
        # over Pillow's own (twice its MAX_IMAGE_PIXELS): its error, in our words
        ((20000, 20000), "the image is 400 megapixels, more than the 40 allowed"),
    ],
)
def test_too_many_pixels_in_plain_words(size: tuple[int, int], says: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageFetchError) as refused:
            load_image(data_uri(_png_claiming(*size)), FetchPolicy())
    assert str(refused.value) == says
    assert "bomb" not in str(refused.value) and "DOS" not in str(refused.value)


# --- a real HTTP server on 127.0.0.1 -------------------------------------------------------------


@pytest.fixture()
def local_server() -> Iterator[str]:
    image = png_bytes((20, 10))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/image.png")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(image)))
            self.end_headers()
            self.wfile.write(image)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_local_server_is_refused_by_default(local_server: str) -> None:
    with pytest.raises(ImageFetchError, match="loopback"):
        load_image(f"{local_server}/image.png", FetchPolicy())


def test_local_server_is_fetched_when_private_urls_are_allowed(local_server: str) -> None:
    image = load_image(f"{local_server}/redirect", FetchPolicy(allow_private=True))
    assert image.size == (20, 10)


def test_next_checked_address_is_tried_when_one_does_not_connect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`localhost` may resolve to ::1 first while the image server listens on 127.0.0.1 only."""
    monkeypatch.setattr(
        "vestis.server.guard.url_fetch.resolve",
        lambda host, port: [ipaddress.ip_address("::1"), ipaddress.ip_address("127.0.0.1")],
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "::1":
            raise httpx.ConnectError("connection refused")
        return image_response()

    body = fetch_url(
        "http://localhost:8080/a.png", FetchPolicy(allow_private=True), httpx.MockTransport(handler)
    )
    assert body == png_bytes()
    with pytest.raises(ImageFetchError, match="loopback"):
        fetch_url("http://localhost:8080/a.png", FetchPolicy(), httpx.MockTransport(handler))


def test_one_private_answer_refuses_the_whole_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "vestis.server.guard.url_fetch.resolve",
        lambda host, port: [ipaddress.ip_address(PUBLIC_V4), ipaddress.ip_address("10.0.0.5")],
    )
    with pytest.raises(ImageFetchError, match="10.0.0.5 is a private address"):
        checked_address(httpx.URL("https://images.example/a.png"), FetchPolicy())
