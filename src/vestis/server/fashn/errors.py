"""FASHN's error answers: `{"error": <Name>, "message": <text>}` with FASHN's status codes, for
every request under `/v1` (the v2 API keeps its own error body)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from vestis.contract.fashn import ERROR_STATUS_CODES


class FashnError(Exception):
    """A rejected `/v1` request. `name` is one of FASHN's error names (BadRequest, ...)."""

    def __init__(self, name: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.message = message
        self.headers = headers

    @property
    def status_code(self) -> int:
        return ERROR_STATUS_CODES.get(self.name, 500)

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"error": self.name, "message": self.message}
        return JSONResponse(body, status_code=self.status_code, headers=self.headers)


#: How the v2 server's own errors (raised by shared dependencies, e.g. auth) are renamed.
NAME_BY_STATUS = {
    400: "BadRequest",
    401: "UnauthorizedAccess",
    403: "UnauthorizedAccess",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "BadRequest",
    413: "BadRequest",
    415: "BadRequest",
    422: "BadRequest",
    429: "RateLimitExceeded",
}


def from_status(
    status_code: int, message: str, headers: dict[str, str] | None = None
) -> FashnError:
    """The FASHN error for an HTTP error status raised by code shared with the v2 API."""
    name = NAME_BY_STATUS.get(status_code, "InternalServerError")
    return FashnError(name, message, headers)
