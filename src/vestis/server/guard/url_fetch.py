"""Safe loading of user-given images: http(s) URLs and `data:` URIs (FASHN `model_image`,
`face_reference`).

A URL given by a user is fetched by the server, so without care it reaches whatever the server
can reach (cloud metadata at 169.254.169.254, databases on localhost, the office network). So:

- only `http` and `https`;
- the host name is resolved once, *every* resolved address must be public (checked with
  `ipaddress`, including IPv4 addresses hidden in IPv6 ones), and the connection goes to that
  checked address (no second DNS answer can swap it: no rebinding), with the original host name
  in the Host header and in TLS (SNI and certificate check);
- redirects are followed by hand, each hop checked the same way, at most `max_redirects`;
- the body is capped in bytes and the whole fetch in seconds; the Content-Type must be an image
  and the bytes must decode as one (with a pixel cap against decompression bombs).

The operator can allow private addresses (`ServerSettings.allow_private_urls`), e.g. to fetch
from an intranet image store; scheme, size, time and image checks stay on.
"""

from __future__ import annotations

import base64
import binascii
import io
import ipaddress
import re
import socket
import time
import warnings
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx
from PIL import Image

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_DATA_URI = re.compile(r"^data:(?P<mime>[^;,]*)(?P<params>(?:;[^;,]*)*),(?P<data>.*)$", re.S)
_REDIRECTS = {301, 302, 303, 307, 308}


class ImageFetchError(Exception):
    """The image could not be loaded; `str(err)` says why, for the user."""


class PrivateAddressError(ImageFetchError):
    """The URL's host resolves to an address the policy refuses. `host` and `reason` (which
    address, and what kind) let other users of the check (v2 webhooks) word their own message."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(
            f"the URL's host {host} is not public ({reason}); this server only "
            "fetches images from public addresses (an operator can allow private ones "
            "with allow_private_urls)"
        )
        self.host = host
        self.reason = reason


@dataclass(frozen=True)
class FetchPolicy:
    """Limits of one image load."""

    allow_private: bool = False
    max_bytes: int = 20 * 1024 * 1024
    timeout_seconds: float = 20.0
    max_redirects: int = 5
    max_pixels: int = 40_000_000


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, Teredo, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client address; the server part is public by definition
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_refusal(address: IPAddress) -> str | None:
    """Why `address` must not be fetched from (None when it is a public unicast address)."""
    inner = embedded_ipv4(address)
    if inner is not None:
        reason = address_refusal(inner)
        return f"{reason} (inside {address})" if reason else None
    checks = (
        ("a loopback", address.is_loopback),
        ("a link-local", address.is_link_local),
        ("a multicast", address.is_multicast),
        ("an unspecified", address.is_unspecified),
        ("a reserved", address.is_reserved),
        ("a private", address.is_private),
    )
    for label, hit in checks:
        if hit:
            return f"{address} is {label} address"
    if not address.is_global:  # e.g. 100.64.0.0/10 (carrier-grade NAT), documentation ranges
        return f"{address} is not a public address"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (a literal address resolves to itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ImageFetchError(f"cannot resolve host {host!r}: {exc}") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        # IPv6 answers may carry a zone ("%eth0"); the address itself is what is checked.
        text = str(info[4][0]).split("%", 1)[0]
        address = ipaddress.ip_address(text)
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise ImageFetchError(f"host {host!r} has no address")
    return addresses


def checked_address(url: httpx.URL, policy: FetchPolicy) -> IPAddress:
    """The first address to connect to for `url` (see `checked_addresses`)."""
    return checked_addresses(url, policy)[0]


def checked_addresses(url: httpx.URL, policy: FetchPolicy) -> list[IPAddress]:
    """The addresses to connect to for `url`, after checking the scheme and every address the
    host resolves to (one refused address refuses the host: any of them could be used)."""
    if url.scheme not in ("http", "https"):
        raise ImageFetchError(f"only http and https URLs are accepted, not {url.scheme!r}")
    if not url.host:
        raise ImageFetchError("the URL has no host")
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = resolve(url.host, port)
    if not policy.allow_private:
        for address in addresses:
            reason = address_refusal(address)
            if reason:
                raise PrivateAddressError(url.host, reason)
    return addresses


def decode_data_uri(uri: str, policy: FetchPolicy) -> bytes:
    """The bytes of a base64 `data:image/...;base64,...` URI."""
    match = _DATA_URI.match(uri)
    if match is None:
        raise ImageFetchError("malformed data URI: expected data:image/<type>;base64,<data>")
    mime = match["mime"].strip().lower()
    if not mime.startswith("image/"):
        raise ImageFetchError(f"the data URI's media type is not an image: {mime or '(none)'}")
    if "base64" not in [part.strip().lower() for part in match["params"].split(";")]:
        raise ImageFetchError("the data URI is not base64 encoded (expected ';base64,')")
    payload = re.sub(r"\s+", "", match["data"])
    if len(payload) * 3 // 4 > policy.max_bytes:
        raise ImageFetchError(f"the data URI is larger than {policy.max_bytes} bytes")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageFetchError(f"the data URI's base64 is invalid: {exc}") from exc


def send_pinned(
    client: httpx.Client,
    method: str,
    url: httpx.URL,
    policy: FetchPolicy,
    *,
    deadline: float,
    headers: dict[str, str],
    content: bytes | None = None,
    stream: bool = False,
) -> httpx.Response:
    """Send to the checked addresses of `url` in turn (the next one only when a connection
    cannot be opened), saying `url.host` in the Host header and in TLS."""
    error: httpx.ConnectError | None = None
    for address in checked_addresses(url, policy):
        remaining = max(0.1, deadline - time.monotonic())
        request = client.build_request(
            method,
            url.copy_with(host=str(address)),
            headers={"Host": url.netloc.decode("ascii"), **headers},
            content=content,
            extensions={
                "sni_hostname": url.host,
                "timeout": httpx.Timeout(remaining).as_dict(),
            },
        )
        try:
            return client.send(request, stream=stream)
        except httpx.ConnectError as exc:
            error = exc
    assert error is not None
    raise error


def _read_capped(response: httpx.Response, policy: FetchPolicy, deadline: float) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > policy.max_bytes:
        raise ImageFetchError(f"the image is larger than {policy.max_bytes} bytes ({declared})")
    body = bytearray()
    for chunk in response.iter_bytes():
        body.extend(chunk)
        if len(body) > policy.max_bytes:
            raise ImageFetchError(f"the image is larger than {policy.max_bytes} bytes")
        if time.monotonic() > deadline:
            raise ImageFetchError(f"the download took longer than {policy.timeout_seconds:g} s")
    return bytes(body)


def _checked_body(
    response: httpx.Response, url: httpx.URL, policy: FetchPolicy, deadline: float
) -> bytes:
    """The body of a final (non-redirect) answer, if it is a 200 image within the caps."""
    if response.status_code != 200:
        raise ImageFetchError(f"the URL answered HTTP {response.status_code}")
    content_type = response.headers.get("content-type", "")
    if not content_type.lower().startswith("image/"):
        raise ImageFetchError(
            f"The URL's Content-Type is not an image. Content-Type: {content_type or '(none)'}"
        )
    try:
        return _read_capped(response, policy, deadline)
    except httpx.TimeoutException as exc:
        raise ImageFetchError(
            f"the download took longer than {policy.timeout_seconds:g} s"
        ) from exc
    except httpx.HTTPError as exc:
        raise ImageFetchError(f"the download from {url.host} failed: {exc}") from exc


def fetch_url(
    url_text: str, policy: FetchPolicy, transport: httpx.BaseTransport | None = None
) -> bytes:
    """The body of an image URL, following checked redirects (see the module docstring)."""
    deadline = time.monotonic() + policy.timeout_seconds
    try:
        url = httpx.URL(url_text)
    except httpx.InvalidURL as exc:
        raise ImageFetchError(f"invalid URL: {exc}") from exc
    with httpx.Client(transport=transport, follow_redirects=False, trust_env=False) as client:
        for _hop in range(policy.max_redirects + 1):
            try:
                response = send_pinned(
                    client, "GET", url, policy,
                    deadline=deadline, headers={"Accept": "image/*"}, stream=True,
                )  # fmt: skip
            except httpx.TimeoutException as exc:
                raise ImageFetchError(
                    f"the download took longer than {policy.timeout_seconds:g} s"
                ) from exc
            except httpx.HTTPError as exc:
                raise ImageFetchError(f"cannot fetch {url.host}: {exc}") from exc
            try:
                if response.status_code in _REDIRECTS and "location" in response.headers:
                    url = httpx.URL(urljoin(str(url), response.headers["location"]))
                    continue
                return _checked_body(response, url, policy, deadline)
            finally:
                response.close()
    raise ImageFetchError(f"more than {policy.max_redirects} redirects")


def decode_image(data: bytes, policy: FetchPolicy) -> Image.Image:
    """`data` as a fully loaded RGB image, refusing what is not an image or is too large."""
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check words it as an attack, against its own limit: ours first
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width * height > policy.max_pixels:
            raise ImageFetchError(_too_many_pixels(f"{width}x{height}", width * height, policy))
        image.load()
    except ImageFetchError:
        raise
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = int(found.group(1)) if found else 0
        raise ImageFetchError(_too_many_pixels("", pixels, policy)) from exc
    except (OSError, ValueError) as exc:
        raise ImageFetchError(f"the data is not a readable image: {exc}") from exc
    return image.convert("RGB")


def _too_many_pixels(size: str, pixels: int, policy: FetchPolicy) -> str:
    has = f"{size}, {pixels / 1e6:.0f} megapixels" if size else f"{pixels / 1e6:.0f} megapixels"
    return f"the image is {has}, more than the {policy.max_pixels / 1e6:g} allowed"


def load_image(
    source: str, policy: FetchPolicy, transport: httpx.BaseTransport | None = None
) -> Image.Image:
    """An image from an http(s) URL or a `data:` URI; anything else is refused with a reason."""
    text = source.strip()
    if text[:5].lower() == "data:":
        return decode_image(decode_data_uri(text, policy), policy)
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text):
        return decode_image(fetch_url(text, policy, transport), policy)
    raise ImageFetchError(
        "expected an http(s) URL or a data URI; base64 images must carry their prefix, "
        "e.g. data:image/jpeg;base64,<BASE64>"
    )
