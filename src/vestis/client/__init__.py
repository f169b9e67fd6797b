"""The vestis SDK: a typed client of the On-Model v2 API, sync (`Client`) and async
(`AsyncClient`), with retries, idempotent job creation, job tracking and webhook verification.

Imports only `contract`."""

from vestis.client._base import (
    DEFAULT_BASE_URL,
    OnRetry,
    RetryPolicy,
    format_retry_message,
    parse_retry_after,
)
from vestis.client._client import AsyncClient, Client
from vestis.client._tracking import OnUpdate
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
    JobFailedError,
    JobTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TLSError,
    VestisError,
)
from vestis.client.signatures import compute_webhook_signature, verify_webhook_signature

__all__ = [
    "DEFAULT_BASE_URL",
    "APIConnectionError",
    "APIConnectionRefusedError",
    "APIError",
    "APITimeoutError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConflictError",
    "HostNotFoundError",
    "InternalServerError",
    "JobFailedError",
    "JobTimeoutError",
    "NotFoundError",
    "OnRetry",
    "OnUpdate",
    "PermissionDeniedError",
    "RateLimitError",
    "TLSError",
    "RetryPolicy",
    "VestisError",
    "compute_webhook_signature",
    "format_retry_message",
    "parse_retry_after",
    "verify_webhook_signature",
]
