"""Everything the sync and async clients share that does no I/O: request building, the retry
decision, backoff, `Retry-After` parsing and mapping error responses to typed errors."""

from __future__ import annotations

import base64
import email.utils
import mimetypes
import random
import socket
import ssl
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from vestis.client.errors import (
    APIConnectionError,
    APIConnectionRefusedError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    HostNotFoundError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TLSError,
)

DEFAULT_BASE_URL = "https://v2.api.piktid.com"
DEFAULT_MAX_RETRIES = 5
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
#: The reference scripts give the signed PUT 120 seconds.
UPLOAD_TIMEOUT = 120.0
USER_AGENT = "vestis-python"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REQUEST_ID_HEADER = "x-request-id"
TOKEN_HELP = "Generate a new token at https://app.on-model.com/profile?tab=tokens"
#: The same advice for any other server (a self-hosted or embedded vestis server).
SELF_HOSTED_TOKEN_HELP = (
    "For that server: `vestis tokens create --data-dir DIR --user NAME`, or ask its operator"
)
HOSTED_API_HOST = "v2.api.piktid.com"

#: Called before each retry with (retry number from 1, seconds to wait, reason).
OnRetry = Callable[[int, float, str], None]


def normalize_base_url(base_url: str) -> str:
    """The base URL without its trailing slashes; it must be http(s)."""
    url = base_url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
    return url


def bearer(token: str) -> str:
    return f"Bearer {token}"


def basic(username: str, password: str) -> str:
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class RequestOptions:
    """One API call as the caller describes it; turned into an `httpx.Request` per attempt."""

    method: str
    #: A path under the base URL ("/jobs/x/status") or an absolute URL (signed links).
    url: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    #: Multipart files: field -> (filename, bytes, content type). Bytes, so retries can resend.
    files: Mapping[str, tuple[str, bytes, str]] | None = None
    data: Mapping[str, str] | None = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Send the Bearer token (and re-authenticate on 401). False for login and signed URLs.
    authenticated: bool = True
    timeout: float | None = None


def build_request_kwargs(options: RequestOptions, token: str | None) -> dict[str, Any]:
    """Keyword arguments for `httpx.Client.build_request` for one attempt."""
    headers = {"Accept": "application/json", **options.headers}
    if options.authenticated and token:
        headers["Authorization"] = bearer(token)
    kwargs: dict[str, Any] = {"method": options.method, "url": options.url, "headers": headers}
    if options.params:
        kwargs["params"] = {k: _param(v) for k, v in options.params.items() if v is not None}
    if options.json is not None:
        kwargs["json"] = options.json
    if options.files is not None:
        kwargs["files"] = dict(options.files)
    if options.data is not None:
        kwargs["data"] = dict(options.data)
    if options.content is not None:
        kwargs["content"] = options.content
    if options.timeout is not None:
        kwargs["timeout"] = options.timeout
    return kwargs


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


# --- retries ------------------------------------------------------------------------------------


def is_retryable_status(status_code: int) -> bool:
    """429 and 5xx are worth retrying; every other 4xx would fail the same way again."""
    return status_code == 429 or 500 <= status_code <= 599


def should_retry(error: BaseException, answered_hosts: Collection[str] = ()) -> bool:
    """Retry connection errors, timeouts, 429 and 5xx; never other 4xx or non-API errors.

    A host name that does not resolve, a refused connection and a failed TLS handshake are
    retried only when that host answered this client before (a server restarting): on first
    contact they mean a wrong URL, no network, no server or an untrusted certificate, and
    waiting would only delay saying so."""
    if isinstance(error, HostNotFoundError | APIConnectionRefusedError | TLSError):
        return error.host in answered_hosts
    if isinstance(error, APIConnectionError):
        return True
    if isinstance(error, APIError):
        return is_retryable_status(error.status_code)
    return False


def retry_reason(error: BaseException) -> str:
    """A short human reason, e.g. `Rate limited (429)`, as the reference scripts print it."""
    if isinstance(error, APITimeoutError):
        return "Request timed out"
    if isinstance(error, APIConnectionError):
        return "Connection error"
    if isinstance(error, APIError):
        if error.status_code == 429:
            return "Rate limited (429)"
        return f"Server error ({error.status_code})"
    return type(error).__name__


def format_retry_message(reason: str, wait: float, retry: int, max_retries: int) -> str:
    """`Rate limited (429). Waiting 2.1s before retry 1/5...`"""
    return f"{reason}. Waiting {wait:.1f}s before retry {retry}/{max_retries}..."


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait. Defaults follow the reference scripts: 5 retries, waits of
    about 1, 2, 4, 8, 16 seconds with +-20% jitter, never more than 60 seconds."""

    max_retries: int = DEFAULT_MAX_RETRIES
    initial_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 0.2

    def backoff(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        """Wait before retry number `retry` (1-based): exponential, jittered, capped."""
        delay = min(self.initial_delay * 2.0 ** max(retry - 1, 0), self.max_delay)
        jittered = delay + delay * self.jitter * (2.0 * rand() - 1.0)
        return max(0.0, min(jittered, self.max_delay))

    def wait_seconds(
        self, retry: int, error: BaseException, rand: Callable[[], float] = random.random
    ) -> float:
        """The server's `Retry-After` when it sent one (capped at max_delay), else backoff."""
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, int | float):
            return max(0.0, min(float(retry_after), self.max_delay))
        return self.backoff(retry, rand)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value: delta-seconds or an HTTP-date. None if absent
    or unreadable; never negative."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


# --- error mapping ------------------------------------------------------------------------------

_STATUS_ERRORS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: BadRequestError,
    429: RateLimitError,
}


def error_class(status_code: int) -> type[APIError]:
    if status_code in _STATUS_ERRORS:
        return _STATUS_ERRORS[status_code]
    if status_code >= 500:
        return InternalServerError
    return APIError


def parse_body(response: httpx.Response) -> Any:
    """The JSON body, or the text when it is not JSON, or None when empty."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def server_message(body: Any) -> str | None:
    """The server's own words from an error body, once: its `message` (else its short `error`),
    then whatever `detail` adds (a string, the spec's `[{field, message}]` or FastAPI's
    `[{loc, msg}]`), leaving out repeats of the message."""
    if isinstance(body, str):
        return body.strip()[:500] or None
    if not isinstance(body, dict):
        return None
    said = [body.get(k) for k in ("message", "error")]
    head = next((v.strip() for v in said if isinstance(v, str) and v.strip()), None)
    extra: list[str] = []
    detail = body.get("detail")
    items = [detail] if isinstance(detail, str) else detail if isinstance(detail, list) else []
    for item in items:
        if isinstance(item, dict):
            text = item.get("message") or item.get("msg")
            where = item.get("field") or ".".join(str(p) for p in item.get("loc", []) or [])
        else:
            text, where = item, None
        if not isinstance(text, str) or not text or (head and text.strip() in head):
            continue
        line = f"{where}: {text}" if where else text
        if line not in extra:
            extra.append(line)
    if head and extra:
        return f"{head.rstrip('.')}: {'; '.join(extra)}"
    return head or "; ".join(extra) or None


def host_of(url: httpx.URL) -> str:
    """`host` or `host:port` (when the port is not the scheme's default), for messages."""
    return f"{url.host}:{url.port}" if url.port else str(url.host)


def make_status_error(response: httpx.Response) -> APIError:
    """The typed error for a non-success response: `reason` in the server's words (with what to
    do about a refused token), `message` with the call and status too."""
    status = response.status_code
    body = parse_body(response)
    request = response.request
    method, url = request.method, str(request.url.copy_with(query=None))
    reason = server_message(body) or f"{status} {response.reason_phrase}".rstrip()
    authorization = request.headers.get("authorization", "")
    if status == 401 and authorization.startswith("Bearer "):
        advice = TOKEN_HELP if request.url.host == HOSTED_API_HOST else SELF_HOSTED_TOKEN_HELP
        reason = f"{reason.rstrip('.')} ({host_of(request.url)}). {advice}."
    elif status == 401 and authorization.startswith("Basic "):
        reason = f"{reason.rstrip('.')} ({host_of(request.url)})."
    text = f"{method} {url} failed: {status} {response.reason_phrase}: {reason}"
    request_id = response.headers.get(REQUEST_ID_HEADER)
    if request_id:
        text += f" (request id {request_id})"
    return error_class(status)(
        text,
        status_code=status,
        request_id=request_id,
        body=body,
        method=method,
        url=url,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
        reason=reason,
    )


def _cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first exception of `kind` in the chain that httpx and httpcore wrap around it."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def connection_error(exc: httpx.TransportError, request: httpx.Request) -> APIConnectionError:
    """Map an httpx transport failure to the SDK's error for it, naming the host: a name that
    does not resolve, a refused connection, a timeout, or another failure."""
    method, url = request.method, str(request.url.copy_with(query=None))
    host = host_of(request.url)
    error_class: type[APIConnectionError] = APIConnectionError
    if isinstance(exc, httpx.TimeoutException):
        error_class = APITimeoutError
        reason = f"No answer from {host} in time ({type(exc).__name__})"
    elif _cause(exc, socket.gaierror) is not None:
        error_class = HostNotFoundError
        reason = f"Could not resolve {request.url.host}: no such host, or no network"
    elif _cause(exc, ConnectionRefusedError) is not None:
        error_class = APIConnectionRefusedError
        reason = f"{host} refused the connection: is the server running, and is the URL right?"
    elif (tls := _cause(exc, ssl.SSLError)) is not None:
        error_class = TLSError
        reason = f"The secure connection (TLS) to {host} failed: {_tls_reason(tls)}"
    else:
        reason = f"The connection to {host} failed ({exc or type(exc).__name__})"
    return error_class(
        f"{method} {url} failed: {reason}", method=method, url=url, host=host, reason=reason
    )


def _tls_reason(error: BaseException) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"its certificate is not trusted ({error.verify_message})"
    code = getattr(error, "reason", None)
    if code == "WRONG_VERSION_NUMBER":
        return "it does not speak TLS (is the server's URL http://?)"
    return str(code or error)


# --- uploads ------------------------------------------------------------------------------------


def rewrite_upload_url(base_url: str, upload_url: str) -> str:
    """Spec §2.2: behind an https base URL, an http upload URL is switched to https (first
    occurrence only), as the reference scripts do for proxies that report the wrong scheme."""
    if base_url.startswith("https://") and upload_url.startswith("http://"):
        return upload_url.replace("http://", "https://", 1)
    return upload_url


def image_content_type(filename: str) -> str:
    """Content type from the extension, as the scripts send it (`image/jpeg` when unknown)."""
    lower = filename.lower()
    if lower.endswith(".png"):
        return "image/png"
    if lower.endswith((".jpg", ".jpeg")):
        return "image/jpeg"
    guessed, _ = mimetypes.guess_type(filename)
    return guessed if guessed and guessed.startswith("image/") else "image/jpeg"
