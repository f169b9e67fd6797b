"""FastAPI dependencies: the server state, a database session per request, the current user."""

from __future__ import annotations

import base64
import functools
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from vestis.server.errors import ApiError
from vestis.server.process.state import ServerState
from vestis.server.services import accounts
from vestis.server.store.db import retry_conflicts
from vestis.server.store.models import User

TOKEN_KINDS = ("access", "api")
MISSING_TOKEN = "Missing bearer token: send 'Authorization: Bearer <token>'."
INVALID_TOKEN = "The token is invalid, expired or revoked; log in again or create a new one."


async def get_state(request: Request) -> ServerState:
    """Async on purpose: no I/O, so it need not hop to the thread pool."""
    state: ServerState = request.app.state.vestis
    return state


StateDep = Annotated[ServerState, Depends(get_state)]


def get_db(state: StateDep) -> Iterator[Session]:
    with state.db.session() as session:
        yield session


#: Committed when the route function returns, *before* the answer is sent (a client that
#: reads an id from the answer can use it at once), by `SessionRoute` in the route's own thread.
DbDep = Annotated[Session, Depends(get_db, scope="function")]


class SessionRoute(APIRoute):
    """Commits the request's session in the route function's own thread, as it returns.

    FastAPI would commit it (the dependency's exit) only after serialising the answer, which
    for a plain `def` route waits for a thread of the request pool. A route that has written
    holds SQLite's write lock meanwhile; when every pool thread is taken by requests waiting
    for that lock, nobody gets one back until SQLite's busy timeout fails them all (50
    concurrent uploads stalled so). Committing before the thread is given back ends that."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _commit_on_return(endpoint)
        super().__init__(path, endpoint, **kwargs)


def _commit_on_return(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """The route runs as one unit of work on its session: committed as it returns, and run
    again as a whole when PostgreSQL ends it for a deadlock or serialisation failure."""

    @functools.wraps(endpoint)
    def call(*args: Any, **kwargs: Any) -> Any:
        sessions = [value for value in kwargs.values() if isinstance(value, Session)]
        if len(sessions) != 1:
            return _commit_all(endpoint(*args, **kwargs), sessions)
        return retry_conflicts(sessions[0], lambda: endpoint(*args, **kwargs))

    return call


def _commit_all(result: Any, sessions: list[Session]) -> Any:
    for session in sessions:
        if session.in_transaction():
            session.commit()
    return result


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "Unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _user_from_token(db: Session, token: str | None) -> User:
    if not token:
        raise _unauthorized(MISSING_TOKEN)
    user = accounts.user_for_token(db, token, TOKEN_KINDS)
    if user is None:
        raise _unauthorized(INVALID_TOKEN)
    return user


def current_user(request: Request, db: DbDep) -> User:
    return _user_from_token(db, bearer(request))


def basic_credentials(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise ApiError(
            401,
            "Unauthorized",
            "Log in with 'Authorization: Basic base64(username:password)'.",
            headers={"WWW-Authenticate": 'Basic realm="vestis"'},
        )
    try:
        username, _, password = base64.b64decode(value).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(401, "Unauthorized", "Malformed Basic credentials.") from exc
    return username, password


UserDep = Annotated[User, Depends(current_user)]


@dataclass(frozen=True)
class Grant:
    """Who a long-lived response (an event stream) serves, and on which token's authority."""

    user_id: int
    token: str
    expires_at: datetime

    def still_valid(self, state: ServerState) -> bool:
        """The token is neither expired nor revoked (asks the database)."""
        with state.db.session() as db:
            return accounts.valid_token(db, self.token, TOKEN_KINDS) is not None


def authenticate(state: ServerState, request: Request, query_token: str | None) -> Grant:
    """The grant of a bearer header or `?token=`, with a short session of its own (for
    streaming responses that must not hold a database session open)."""
    token = bearer(request) or query_token
    if not token:
        raise _unauthorized(MISSING_TOKEN)
    with state.db.session() as db:
        row = accounts.valid_token(db, token, TOKEN_KINDS)
        if row is None:
            raise _unauthorized(INVALID_TOKEN)
        return Grant(row.user_id, token, row.expires_at)


def token_is_valid(state: ServerState, token: str | None) -> bool:
    """Whether `token` is a valid login or API token (for checks before a body is read)."""
    if not token:
        return False
    with state.db.session() as db:
        return accounts.user_for_token(db, token, TOKEN_KINDS) is not None


async def checks_token_itself() -> None:
    """Marks a route that reads and checks the bearer token on its own (the status fast path,
    event streams), so the OpenAPI document declares it like routes that use `UserDep`."""


def needs_token(route: APIRoute) -> bool:
    """Whether the route is behind a token (for the OpenAPI document)."""
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        if dependant.call in (current_user, checks_token_itself):
            return True
        pending.extend(dependant.dependencies)
    return False
