"""Errors as the wire shows them (every layer of the server may import this module; it imports
none of them): `{"error": ..., "message": ..., "detail": [...]}`.

Validation errors answer **422** with the spec's body
`{"error": "Invalid request", "detail": [{"field", "message", "position"}]}`.
"""

from __future__ import annotations

import errno
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

VALIDATION_STATUS = 422
#: What a full disk looks like, as an OSError or in a database's own message.
_NO_SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_NO_SPACE_WORDS = ("database or disk is full", "no space left on device", "disk quota exceeded")

log = logging.getLogger("vestis.server.errors")


class ApiError(Exception):
    """An error answer. `extra` fields are merged into the body (e.g. a 409's `project_id`)."""

    def __init__(
        self,
        status_code: int,
        error: str,
        message: str | None = None,
        *,
        detail: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message or error)
        self.status_code = status_code
        self.error = error
        self.message = message or error
        self.detail = detail
        self.headers = headers
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.detail is not None:
            body["detail"] = self.detail
        body.update(self.extra)
        return body


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, "Not found", f"{what} {ident!r} does not exist or is not yours.")


def invalid(message: str, field: str | None = None, position: str = "body") -> ApiError:
    """A 422 in the spec's validation body, for checks that need the database."""
    return ApiError(
        VALIDATION_STATUS,
        "Invalid request",
        message,
        detail=[{"field": field, "message": message, "position": position}],
    )


def _field(loc: tuple[Any, ...]) -> tuple[str | None, str]:
    position = str(loc[0]) if loc else "body"
    rest = [str(part) for part in loc[1:]]
    return (".".join(rest) or None), position


def _validation_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = []
    for error in exc.errors():
        field, position = _field(tuple(error.get("loc", ())))
        message = str(error.get("msg", "invalid value"))
        detail.append({"field": field, "message": message, "position": position})
    summary = "; ".join(
        f"{d['field']}: {d['message']}" if d["field"] else str(d["message"]) for d in detail
    )
    body = {"error": "Invalid request", "message": summary, "detail": detail}
    return JSONResponse(body, status_code=VALIDATION_STATUS)


def _api_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)


#: What FastAPI says (as a 400) when a body cannot be parsed at all (e.g. broken multipart).
_UNPARSABLE = "There was an error parsing the body"


def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    multipart = request.headers.get("content-type", "").startswith("multipart/")
    if exc.status_code == 400 and (exc.detail == _UNPARSABLE or multipart):
        # a body that cannot be parsed is invalid input like any other: 422, the spec's body
        # (Starlette's multipart parser says what is wrong: "Invalid multipart data.", ...)
        message = f"{_UNPARSABLE}." if exc.detail == _UNPARSABLE else f"{_UNPARSABLE}: {exc.detail}"
        return JSONResponse(invalid(message, None).body(), status_code=422)
    headers = dict(exc.headers or {})
    if exc.status_code == 405 and (methods := allowed_methods(request)):
        headers["Allow"] = ", ".join(methods)
    message = str(exc.detail)
    body = {"error": message, "message": message}
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some API route serves at this path (Starlette names only the first
    route's; `/project` has a GET route and a POST route). Empty for paths of web apps
    mounted beside the API (their own `Allow` stands)."""
    matched = [
        route
        for route in getattr(request.app.state, "api_routes", ())
        if getattr(route, "include_in_schema", True)
        and route.matches(request.scope)[0] is not Match.NONE
    ]
    # `/download/bulk` is also `/download/{token}` by its shape; the literal path is the one
    static = [route for route in matched if "{" not in getattr(route, "path", "{")]
    methods: set[str] = set()
    for route in static or matched:
        methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def method_not_allowed(allowed: str) -> ApiError:
    return ApiError(
        405,
        "Method Not Allowed",
        f"This path only answers {allowed}.",
        headers={"Allow": allowed},
    )


def insufficient_storage() -> ApiError:
    return ApiError(
        507,
        "Insufficient storage",
        "The server's disk is full, so nothing was stored; free space on the server (or retry "
        "later) and send the request again.",
        headers={"Retry-After": "60"},
    )


def is_out_of_space(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says the disk is full: an `OSError` with ENOSPC,
    EDQUOT or EFBIG, or a database error saying so (SQLite: 'database or disk is full')."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _NO_SPACE_ERRNOS:
            return True
        if any(words in str(current).lower() for words in _NO_SPACE_WORDS):
            return True
        current = current.__cause__ or current.__context__
    return False


def _unexpected_handler(_request: Request, exc: Exception) -> JSONResponse:
    """Anything not handled above: a full disk is 507, the rest 500, in the API's body."""
    if is_out_of_space(exc):
        return _api_error_handler(_request, insufficient_storage())
    message = "The server failed to handle the request; try again."
    return JSONResponse({"error": "Internal server error", "message": message}, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(Exception, _unexpected_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(ApiError, _api_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)


class ErrorAnswers:
    """Pure ASGI middleware: an exception no handler took becomes its answer here (507 for a
    full disk, else 500), logged once. Starlette's last-resort handler (`_unexpected_handler`
    behind `ServerErrorMiddleware`) answers too, but then raises the exception again, and
    uvicorn closes the connection for it: the client's next request on that keep-alive
    connection was reset without an answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started:  # half an answer sent: only closing the connection can end it
                raise
            if is_out_of_space(exc):
                log.warning("%s %s: the disk is full (%s)", scope["method"], scope["path"], exc)
            else:
                log.exception("%s %s failed", scope["method"], scope["path"])
            await _unexpected_handler(Request(scope), exc)(scope, receive, send)
