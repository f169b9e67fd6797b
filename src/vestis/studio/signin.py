"""Signing in and out: user name and password, an API token, or a one-time link."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from vestis.server.guard.login_guard import LoginRefused
from vestis.server.http.deps import DbDep, StateDep
from vestis.server.services import accounts
from vestis.server.store.models import User
from vestis.studio import auth
from vestis.studio.auth import CsrfChecked
from vestis.studio.templating import page

router = APIRouter()


def _with_session(request: Request, response: Response, plain: str) -> Response:
    response.set_cookie(
        auth.SESSION_COOKIE,
        plain,
        max_age=int(auth.SESSION_TTL.total_seconds()),
        path=auth.COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(auth.PRE_COOKIE, path=auth.COOKIE_PATH)
    return response


@router.get("/login")
def login_page(
    request: Request, db: DbDep, state: StateDep, next: str | None = None, ticket: str | None = None
) -> Response:
    """The sign-in form; with `ticket` (a one-time link from `vestis studio`), sign in at once
    and go on without the ticket in the address."""
    if ticket:
        user = auth.redeem_ticket(db, ticket)
        if user is not None:
            response = RedirectResponse(auth.safe_next(next), status_code=303)
            return _with_session(request, response, auth.start_session(db, user))
    nonce = request.cookies.get(auth.PRE_COOKIE) or secrets.token_urlsafe(24)
    error = "That sign-in link was already used or has expired." if ticket else None
    csrf = auth.csrf_for(state, nonce, "pre")
    response = page(request, "login.html", next=auth.safe_next(next), error=error, csrf=csrf)
    response.set_cookie(
        auth.PRE_COOKIE, nonce, path=auth.COOKIE_PATH, httponly=True, samesite="strict"
    )
    return response


async def _user_for(
    request: Request, db: DbDep, state: StateDep, username: str, password: str, token: str
) -> User | None:
    """The user of a token, or of a password checked through the process's one login guard
    (the same throttle as `/auth/login`: a refusal raises `LoginRefused`)."""
    if token.strip():
        return await run_in_threadpool(
            accounts.user_for_token, db, token.strip(), ("access", "api")
        )
    if not (username and password):
        return None
    assert state.runtime is not None
    address = request.client.host if request.client else "unknown"
    return await state.runtime.login_guard.attempt(
        username, address, lambda: run_in_threadpool(accounts.login, db, username, password)
    )


@router.post("/login", dependencies=[CsrfChecked])
async def login(
    request: Request,
    db: DbDep,
    state: StateDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/studio/",
) -> Response:
    try:
        user = await _user_for(request, db, state, username, password, token)
    except LoginRefused as refused:
        refusal = page(
            request, "login.html", status_code=429, next=auth.safe_next(next),
            error=refused.message,
        )  # fmt: skip
        refusal.headers["Retry-After"] = str(refused.retry_after)
        return refusal
    if user is None:
        message = "Wrong user name or password, or an invalid token."
        return page(
            request, "login.html", status_code=401, next=auth.safe_next(next), error=message
        )
    plain = await run_in_threadpool(auth.start_session, db, user)
    return _with_session(request, RedirectResponse(auth.safe_next(next), status_code=303), plain)


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, db: DbDep, state: StateDep) -> Response:
    auth.end_session(db, request)
    response = RedirectResponse(auth.COOKIE_PATH + "/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path=auth.COOKIE_PATH)
    return response
