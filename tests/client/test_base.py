"""Unit tests of the no-I/O base: retry decision, backoff, Retry-After, error mapping, URLs."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from vestis.client import _base
from vestis.client._auth import Credentials
from vestis.client._base import RequestOptions, RetryPolicy
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
    VestisError,
    is_transient,
)


def _response(
    status: int, body: object = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    request = httpx.Request("POST", "http://api.test/model-swap?x=1")
    if isinstance(body, (dict, list)):
        return httpx.Response(status, json=body, headers=headers, request=request)
    return httpx.Response(status, text=body or "", headers=headers, request=request)


# --- retry decision ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retry"),
    [
        (400, False), (401, False), (402, False), (403, False), (404, False), (409, False),
        (413, False), (422, False), (429, True), (500, True), (502, True), (503, True),
        (504, True), (599, True), (200, False), (202, False),
    ],
)  # fmt: skip
def test_retry_decision_by_status(status: int, retry: bool) -> None:
    assert _base.is_retryable_status(status) is retry
    if status >= 400:
        assert _base.should_retry(_base.make_status_error(_response(status))) is retry


def test_connection_errors_and_timeouts_are_retried_other_errors_not() -> None:
    assert _base.should_retry(APIConnectionError("gone"))
    assert _base.should_retry(APITimeoutError("slow"))
    assert not _base.should_retry(ValueError("bug"))
    assert not _base.should_retry(VestisError("other"))


def test_retry_reasons_read_like_the_reference() -> None:
    assert _base.retry_reason(_base.make_status_error(_response(429))) == "Rate limited (429)"
    assert _base.retry_reason(_base.make_status_error(_response(503))) == "Server error (503)"
    assert _base.retry_reason(APITimeoutError("x")) == "Request timed out"
    assert _base.retry_reason(APIConnectionError("x")) == "Connection error"
    assert (
        _base.format_retry_message("Rate limited (429)", 2.08, 1, 5)
        == "Rate limited (429). Waiting 2.1s before retry 1/5..."
    )


# --- backoff -------------------------------------------------------------------------------------


@pytest.mark.parametrize("retry", [1, 2, 3, 4, 5, 6, 10, 30])
@pytest.mark.parametrize("draw", [0.0, 0.25, 0.5, 0.999])
def test_backoff_is_exponential_within_twenty_percent_and_capped(retry: int, draw: float) -> None:
    policy = RetryPolicy()
    nominal = min(2.0 ** (retry - 1), 60.0)
    wait = policy.backoff(retry, rand=lambda: draw)
    assert nominal * 0.8 - 1e-9 <= wait <= min(nominal * 1.2, 60.0) + 1e-9
    assert wait <= policy.max_delay


def test_backoff_nominal_values_are_1_2_4_8_16() -> None:
    policy = RetryPolicy()
    assert [policy.backoff(n, rand=lambda: 0.5) for n in range(1, 6)] == [1, 2, 4, 8, 16]


def test_backoff_jitter_spreads_waits() -> None:
    policy = RetryPolicy()
    assert policy.backoff(3, rand=lambda: 0.0) == pytest.approx(3.2)
    assert policy.backoff(3, rand=lambda: 1.0) == pytest.approx(4.8)


def test_retry_after_wins_over_backoff_and_is_capped() -> None:
    policy = RetryPolicy(max_delay=30)
    rate_limited = _base.make_status_error(_response(429, headers={"Retry-After": "7"}))
    assert policy.wait_seconds(1, rate_limited) == 7
    too_long = _base.make_status_error(_response(429, headers={"Retry-After": "600"}))
    assert policy.wait_seconds(1, too_long) == 30
    no_header = _base.make_status_error(_response(500))
    assert policy.wait_seconds(2, no_header, rand=lambda: 0.5) == 2


# --- Retry-After ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1", 1.0), ("0", 0.0), (" 12 ", 12.0), ("2.5", 2.5), ("-3", 0.0), (None, None), ("", None),
     ("soon", None)],
)  # fmt: skip
def test_retry_after_seconds(value: str | None, seconds: float | None) -> None:
    assert _base.parse_retry_after(value) == seconds


def test_retry_after_http_date() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=42), usegmt=True)
    assert _base.parse_retry_after(later, now=now) == pytest.approx(42)
    earlier = format_datetime(now - timedelta(seconds=42), usegmt=True)
    assert _base.parse_retry_after(earlier, now=now) == 0.0


# --- error mapping -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequestError), (422, BadRequestError), (401, AuthenticationError),
        (403, PermissionDeniedError), (404, NotFoundError), (409, ConflictError),
        (429, RateLimitError), (500, InternalServerError), (503, InternalServerError),
        (402, APIError), (413, APIError),
    ],
)  # fmt: skip
def test_status_maps_to_error_class(status: int, kind: type[APIError]) -> None:
    error = _base.make_status_error(_response(status, {"error": "nope"}))
    assert type(error) is kind
    assert error.status_code == status


def test_error_carries_request_id_body_and_server_message() -> None:
    body = {"error": "Project already exists", "project_id": "p1", "project_name": "A"}
    error = _base.make_status_error(_response(409, body, {"x-request-id": "req-77"}))
    assert isinstance(error, ConflictError)
    assert error.request_id == "req-77"
    assert error.body == body
    assert "Project already exists" in str(error)
    assert "409" in error.message and "POST http://api.test/model-swap" in error.message
    assert "req-77" in error.message
    assert "x=1" not in error.message  # query strings may hold tokens; keep them out


def test_validation_error_detail_is_in_the_message() -> None:
    body = {"error": "Invalid request", "detail": [{"field": "images", "message": "too many"}]}
    error = _base.make_status_error(_response(400, body))
    assert "Invalid request" in error.message and "images: too many" in error.message
    fastapi = {"detail": [{"loc": ["body", "project_id"], "msg": "Field required"}]}
    assert (
        "body.project_id: Field required"
        in _base.make_status_error(_response(422, fastapi)).message
    )


def test_text_body_and_rate_limit_retry_after() -> None:
    error = _base.make_status_error(_response(429, "slow down", {"Retry-After": "3"}))
    assert isinstance(error, RateLimitError)
    assert error.body == "slow down" and error.retry_after == 3.0
    assert "slow down" in error.message


def test_401_message_says_what_to_do_for_tokens_not_for_logins() -> None:
    def answer(authorization: str) -> httpx.Response:
        request = httpx.Request(
            "GET", "http://api.test/x", headers={"Authorization": authorization}
        )
        return httpx.Response(401, json={"error": "Token expired"}, request=request)

    error = _base.make_status_error(answer("Bearer abc"))
    assert error.reason == (
        "Token expired (api.test). For that server: "
        "`vestis tokens create --data-dir DIR --user NAME`, or ask its operator."
    )  # once, with the host, and not the hosted app's page: api.test is another server
    assert error.reason in error.message and "GET http://api.test/x" in error.message
    login = _base.make_status_error(answer("Basic dTpw"))
    assert login.reason == "Token expired (api.test)."  # the host, no token advice
    assert "vestis tokens" not in login.message


def test_401_from_the_hosted_api_points_to_its_token_page() -> None:
    request = httpx.Request(
        "GET", "https://v2.api.piktid.com/x", headers={"Authorization": "Bearer abc"}
    )
    response = httpx.Response(
        401, json={"error": "Unauthorized", "message": "Token expired."}, request=request
    )
    message = _base.make_status_error(response).message
    assert "app.on-model.com/profile?tab=tokens" in message
    assert "Unauthorized: Unauthorized" not in message and ".." not in message


def test_transport_errors_map_to_connection_and_timeout_errors() -> None:
    request = httpx.Request("GET", "http://api.test/jobs/1/status")
    assert type(_base.connection_error(httpx.ConnectError("reset"), request)) is APIConnectionError
    assert isinstance(_base.connection_error(httpx.ReadTimeout("slow"), request), APITimeoutError)


def _wrapped(cause: BaseException) -> httpx.ConnectError:
    """An httpx.ConnectError as httpx raises it: the socket's error in its cause chain."""
    try:
        try:
            raise cause
        except OSError as exc:
            raise httpx.ConnectError(str(exc)) from exc
    except httpx.ConnectError as error:
        return error


def test_unresolvable_names_and_refused_connections_name_the_host() -> None:
    request = httpx.Request("POST", "https://v2.api.piktid.com/project")
    dns = _base.connection_error(
        _wrapped(socket.gaierror(-2, "Name or service not known")), request
    )
    assert isinstance(dns, HostNotFoundError) and dns.host == "v2.api.piktid.com"
    assert dns.reason == "Could not resolve v2.api.piktid.com: no such host, or no network"
    local = httpx.Request("GET", "http://127.0.0.1:9/upload/img_1?signature=secret")
    refused = _base.connection_error(_wrapped(ConnectionRefusedError(111, "refused")), local)
    assert isinstance(refused, APIConnectionRefusedError) and refused.host == "127.0.0.1:9"
    assert refused.reason.startswith("127.0.0.1:9 refused the connection")
    assert "/upload" not in refused.reason and "secret" not in refused.message


def test_unreachable_hosts_are_retried_only_after_they_answered_once() -> None:
    request = httpx.Request("GET", "http://127.0.0.1:9/x")
    refused = _base.connection_error(_wrapped(ConnectionRefusedError(111, "refused")), request)
    assert not _base.should_retry(refused)
    assert _base.should_retry(refused, {"127.0.0.1:9"})  # it answered before: restarting
    assert not is_transient(refused)
    assert is_transient(_base.connection_error(httpx.ReadTimeout("slow"), request))


def test_the_servers_reason_is_said_once() -> None:
    """vestis's own 422 repeats its message in `detail`; the reason keeps one copy."""
    said = "Identity 'id_1' has no detected face; upload a clear face photo."
    body = {
        "error": "Invalid request",
        "message": said,
        "detail": [{"field": "identity_code", "message": said}],
    }
    error = _base.make_status_error(_response(422, body))
    assert error.reason == said and error.message.count(said) == 1


# --- requests ------------------------------------------------------------------------------------


def test_base_url_trailing_slash_is_stripped_and_scheme_checked() -> None:
    assert _base.normalize_base_url("http://h:1/api//") == "http://h:1/api"
    with pytest.raises(ValueError, match="http"):
        _base.normalize_base_url("h:1")


def test_request_kwargs_carry_bearer_only_when_authenticated() -> None:
    options = RequestOptions("GET", "/project", params={"per_page": 100, "page": None, "x": True})
    kwargs = _base.build_request_kwargs(options, "tok")
    assert kwargs["headers"]["Authorization"] == "Bearer tok"
    assert kwargs["params"] == {"per_page": 100, "x": "true"}
    signed = RequestOptions("PUT", "http://h/u", headers={"Content-Type": "image/png"},
                            authenticated=False)  # fmt: skip
    assert "Authorization" not in _base.build_request_kwargs(signed, "tok")["headers"]


def test_basic_header() -> None:
    assert _base.basic("user", "pa:ss") == "Basic dXNlcjpwYTpzcw=="


@pytest.mark.parametrize(
    ("base", "upload", "expected"),
    [
        ("https://api", "http://api/upload/x?s=1", "https://api/upload/x?s=1"),
        ("https://api", "https://s3/x", "https://s3/x"),
        ("http://api", "http://api/upload/x", "http://api/upload/x"),
        ("https://api", "http://h/http://x", "https://h/http://x"),
    ],
)
def test_upload_url_scheme_rewrite(base: str, upload: str, expected: str) -> None:
    assert _base.rewrite_upload_url(base, upload) == expected


@pytest.mark.parametrize(
    ("name", "ctype"),
    [("a.JPG", "image/jpeg"), ("a.jpeg", "image/jpeg"), ("a.png", "image/png"),
     ("a.webp", "image/webp"), ("noext", "image/jpeg"), ("a.txt", "image/jpeg")],
)  # fmt: skip
def test_image_content_type(name: str, ctype: str) -> None:
    assert _base.image_content_type(name) == ctype


def test_credentials_validation() -> None:
    with pytest.raises(ValueError, match="not both"):
        Credentials(token="t", username="u", password="p")
    with pytest.raises(ValueError, match="together"):
        Credentials(username="u")
    assert Credentials(username="u", password="p").needs_login()
    assert not Credentials(token="t").uses_password
