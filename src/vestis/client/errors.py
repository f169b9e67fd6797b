"""The error tree of the SDK.

`VestisError` is the root. `APIError` and its subclasses mean the server answered with an error
status; `APIConnectionError` (and `APITimeoutError`, `HostNotFoundError`,
`APIConnectionRefusedError`) mean no answer arrived. `JobFailedError` and `JobTimeoutError` are
raised by `jobs.wait` and carry the job id.

Every error has `message` (what happened, with the call: for logs and developers) and `reason`
(the cause in plain words, without addresses of endpoints or signed links: for people).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIConnectionError",
    "APIConnectionRefusedError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "HostNotFoundError",
    "InternalServerError",
    "JobFailedError",
    "JobTimeoutError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "TLSError",
    "VestisError",
    "is_transient",
]


class VestisError(Exception):
    """Base of every error the SDK raises."""

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: The cause in plain words, fit to show a person (no endpoint or signed URL in it).
        self.reason = reason or message


class APIError(VestisError):
    """The server answered with a non-success status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        request_id: str | None = None,
        body: Any = None,
        method: str | None = None,
        url: str | None = None,
        retry_after: float | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message, reason=reason)
        self.status_code = status_code
        self.request_id = request_id
        #: The parsed JSON body, or the raw text when the body is not JSON (None when empty).
        self.body = body
        self.method = method
        self.url = url
        #: Seconds from the `Retry-After` header, when the server sent one.
        self.retry_after = retry_after


class BadRequestError(APIError):
    """400 or 422: the request was refused as invalid."""


class AuthenticationError(APIError):
    """401: the token is missing, expired or invalid, or the login was refused."""


class PermissionDeniedError(APIError):
    """403: authenticated, but not allowed to do this."""


class NotFoundError(APIError):
    """404."""


class ConflictError(APIError):
    """409: the thing exists already; `body` says which (`project_id`, `existing_identity_code`)."""


class RateLimitError(APIError):
    """429: too many requests; `retry_after` says how long the server asked to wait."""


class InternalServerError(APIError):
    """5xx."""


class APIConnectionError(VestisError):
    """No response arrived: the connection failed or was dropped."""

    def __init__(
        self,
        message: str = "Connection error.",
        *,
        method: str | None = None,
        url: str | None = None,
        host: str | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message, reason=reason)
        self.method = method
        self.url = url
        #: `host` or `host:port` the call went to.
        self.host = host


class APITimeoutError(APIConnectionError):
    """No response arrived within the timeout."""


class HostNotFoundError(APIConnectionError):
    """The host name does not resolve: a wrong URL, or no network. Retried only when the same
    host answered this client before."""


class APIConnectionRefusedError(APIConnectionError):
    """Nothing listens at the host and port: the server is not running, or the URL is wrong.
    Retried only when the same host answered this client before (a server restarting)."""


class TLSError(APIConnectionError):
    """The secure connection could not be set up: the certificate is not trusted, or the host
    does not speak TLS (an `http://` server behind an `https://` URL). Retried only when the
    same host answered this client before."""


class JobFailedError(VestisError):
    """The job ended as `failed` or `aborted`."""

    def __init__(self, job_id: str, status: str, message: str | None = None) -> None:
        text = f"Job {job_id} ended with status {status!r}"
        if message:
            text += f": {message}"
        super().__init__(text)
        self.job_id = job_id
        self.status = status
        #: The server's `error_message`, if any.
        self.error_message = message


class JobTimeoutError(VestisError):
    """The job did not reach a terminal status before the client's deadline."""

    def __init__(
        self, job_id: str, timeout: float | None = None, last_status: str | None = None
    ) -> None:
        text = f"Job {job_id} did not finish"
        if timeout is not None:
            text += f" within {timeout:g} seconds"
        if last_status:
            text += f" (last status: {last_status})"
        text += "; it may still be running: wait again or check `jobs status`."
        super().__init__(text)
        self.job_id = job_id
        self.timeout = timeout
        self.last_status = last_status


def is_transient(error: BaseException) -> bool:
    """Whether the same call may succeed later without anything being changed: a dropped
    connection, a timeout, 429 and 5xx. A name that does not resolve, a refused connection, a
    failed TLS handshake and every other 4xx (401 among them) will not go away by waiting."""
    if isinstance(error, HostNotFoundError | APIConnectionRefusedError | TLSError):
        return False
    if isinstance(error, APIConnectionError):
        return True
    return isinstance(error, APIError) and (error.status_code == 429 or error.status_code >= 500)
