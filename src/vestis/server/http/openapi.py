"""The OpenAPI document says what the server really answers.

FastAPI documents a 422 body of its own (`{"detail": [{"loc", "msg", "type"}]}`) that vestis
never sends, and knows nothing of the answers that middleware and dependencies give. This
fills that in once, from the routes themselves:

* every 422 has the spec's body (`ErrorBody`); FASHN's routes answer validation errors as
  400 `BadRequest` in FASHN's body instead, and that is what they document;
* an operation behind a token declares the bearer scheme and its 401, the login its basic
  scheme, 401 and 429;
* an operation that takes a body declares 413 (the streaming body cap) and 422 (a body that
  cannot be parsed);
* every operation declares 405 (another method on its path), with `Allow`, and every one
  that writes declares 507 (the disk is full).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
FASHN_ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (`vestis tokens create`, `POST /auth/token`) or a login "
        "token (`POST /auth/login`).",
    },
    "basic": {"type": "http", "scheme": "basic", "description": "Username and password."},
}
_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing, invalid, expired or revoked credentials",
    404: "Not found (or not the caller's)",
    405: "Method not allowed on this path (see `Allow`)",
    413: "Request body too large",
    422: "Invalid request",
    429: "Too many requests (see `Retry-After`)",
    507: "The server's disk is full; nothing was stored (see `Retry-After`)",
}


def install(app: FastAPI, bearer_paths: set[tuple[str, str]]) -> None:
    """Serve the completed document. `bearer_paths`: (method, path) of every operation that
    needs a token."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                routes=app.routes,
            )
            complete(schema, bearer_paths)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def complete(schema: dict[str, Any], bearer_paths: set[tuple[str, str]]) -> None:
    components = schema.setdefault("components", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    for path, operations in schema.get("paths", {}).items():
        fashn = path.startswith(("/v1/", "/files/fashn/"))
        for method, operation in operations.items():
            verb = method.upper()
            _complete_operation(operation, verb, (verb, path) in bearer_paths, fashn, path)


def _complete_operation(
    operation: dict[str, Any], method: str, bearer: bool, fashn: bool, path: str
) -> None:
    responses = operation.setdefault("responses", {})
    error = FASHN_ERROR_REF if fashn else ERROR_REF
    if fashn:  # validation errors are FASHN's 400 BadRequest
        responses.pop("422", None)
        if "parameters" in operation or "requestBody" in operation:
            _declare(responses, 400, error)
    elif "422" in responses or "parameters" in operation or "requestBody" in operation:
        responses["422"] = _error(422, error)
    if any(param.get("in") == "path" for param in operation.get("parameters", ())):
        _declare(responses, 404, error)  # no such id, or not the caller's
    if bearer:
        operation["security"] = [{"bearer": []}]
        _declare(responses, 401, error)
    if path == "/auth/login":
        operation["security"] = [{"basic": []}]
        _declare(responses, 401, error)
        _declare(responses, 429, error)
    if "requestBody" in operation:
        _declare(responses, 413, error if not fashn else FASHN_ERROR_REF)
        if fashn:
            responses.pop("413", None)  # FASHN's routes answer a body too large as 400
    _declare(responses, 405, error, allow=True)
    if method in ("POST", "PUT", "PATCH", "DELETE") and not fashn:
        _declare(responses, 507, error)  # the disk is full: nothing was stored


def _declare(
    responses: dict[str, Any], status: int, schema: dict[str, Any], allow: bool = False
) -> None:
    if str(status) not in responses:
        responses[str(status)] = _error(status, schema, allow)


def _error(status: int, schema: dict[str, Any], allow: bool = False) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": _DESCRIPTIONS.get(status, "Error"),
        "content": {"application/json": {"schema": schema}},
    }
    if allow:
        answer["headers"] = {"Allow": {"schema": {"type": "string"}}}
    return answer
