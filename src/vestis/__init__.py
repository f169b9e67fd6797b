"""vestis: on-model product imagery at catalogue scale."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from vestis.client import (
        APIConnectionError,
        APIError,
        APITimeoutError,
        AsyncClient,
        AuthenticationError,
        BadRequestError,
        Client,
        ConflictError,
        InternalServerError,
        JobFailedError,
        JobTimeoutError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        VestisError,
    )

__all__ = [
    "__version__",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConflictError",
    "InternalServerError",
    "JobFailedError",
    "JobTimeoutError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "VestisError",
]

#: The SDK's entry points and errors, importable from `vestis` directly. Loaded on first use, so
#: `import vestis` (e.g. by the server) does not pull in the client.
_CLIENT_EXPORTS = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> Any:
    if name in _CLIENT_EXPORTS:
        import vestis.client

        return getattr(vestis.client, name)
    raise AttributeError(f"module 'vestis' has no attribute {name!r}")
