"""Who is signed in to the studio, and the CSRF token of every form.

A session is a random token in an `HttpOnly`, `SameSite=Lax` cookie; the server keeps only its
SHA-256 (a `tokens` row of kind `session`, like API tokens), so signing out or expiry ends it.
Users, isolation and credits are the API's: a session belongs to one of the server's users.

Every form carries a CSRF token: an HMAC of the session (or, before sign-in, of a random cookie)
under a key kept in the database, checked on every POST. htmx sends it in `X-CSRF-Token`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from vestis.server.guard.security import token_hash
from vestis.server.http.deps import DbDep, StateDep
from vestis.server.process.state import ServerState
from vestis.server.services import accounts
from vestis.server.store.models import User
from vestis.server.store.server_secrets import put_once

SESSION_COOKIE = "vestis_studio"
PRE_COOKIE = "vestis_studio_pre"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_TTL = timedelta(hours=12)
#: A one-time sign-in link (made by `vestis studio` for the browser it opens) lives this long.
TICKET_TTL = timedelta(minutes=2)
COOKIE_PATH = "/studio"


class SignInRequired(Exception):
    """The request has no valid session; the studio answers with a redirect to sign in."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRejected(Exception):
    """A POST without the right CSRF token (403)."""


def _key(state: ServerState) -> bytes:
    """The studio's HMAC key, created once and kept in the database (survives restarts)."""
    cached: bytes | None = getattr(state, "_studio_key", None)
    if cached is not None:
        return cached
    with state.db.session() as db:
        value, _ = put_once(db, "studio_csrf", secrets.token_hex(32))
        key = bytes.fromhex(value)
    state._studio_key = key  # type: ignore[attr-defined]
    return key


def csrf_for(state: ServerState, secret: str, purpose: str) -> str:
    message = f"{purpose}:{token_hash(secret)}".encode()
    return hmac.new(_key(state), message, hashlib.sha256).hexdigest()


def session_user(db: Session, request: Request) -> User | None:
    plain = request.cookies.get(SESSION_COOKIE)
    if not plain:
        return None
    return accounts.user_for_token(db, plain, ("session",))


def has_session(state: ServerState, headers: dict[bytes, bytes]) -> bool:
    """Whether raw request headers carry a valid session cookie (checked before a large form
    body is read)."""
    cookies = SimpleCookie()
    cookies.load(headers.get(b"cookie", b"").decode("latin-1"))
    morsel = cookies.get(SESSION_COOKIE)
    if morsel is None or not morsel.value:
        return False
    with state.db.session() as db:
        return accounts.user_for_token(db, morsel.value, ("session",)) is not None


def require_user(request: Request, db: DbDep) -> User:
    user = session_user(db, request)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    return user


StudioUser = Annotated[User, Depends(require_user)]


def page_csrf(request: Request, state: ServerState) -> str:
    """The CSRF token for the forms of a page: bound to the session, else to the pre-sign-in
    cookie (set by the sign-in page)."""
    plain = request.cookies.get(SESSION_COOKIE)
    if plain:
        return csrf_for(state, plain, "session")
    nonce = request.cookies.get(PRE_COOKIE) or ""
    return csrf_for(state, nonce, "pre") if nonce else ""


async def check_csrf(request: Request, state: StateDep) -> None:
    """Refuse a POST whose form field or header does not carry this page's CSRF token."""
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    expected = [
        csrf_for(state, secret, purpose)
        for secret, purpose in (
            (request.cookies.get(SESSION_COOKIE), "session"),
            (request.cookies.get(PRE_COOKIE), "pre"),
        )
        if secret
    ]
    if not sent or not any(hmac.compare_digest(sent, token) for token in expected):
        raise CsrfRejected()


CsrfChecked = Depends(check_csrf)


def start_session(db: Session, user: User) -> str:
    plain, _ = accounts.issue_token(db, user, "session", SESSION_TTL)
    return plain


def end_session(db: Session, request: Request) -> None:
    plain = request.cookies.get(SESSION_COOKIE)
    if not plain:
        return
    row = accounts.token_row(db, plain)
    if row is not None and row.kind == "session":
        row.revoked = True


def issue_ticket(db: Session, user: User) -> str:
    """A one-time sign-in secret for `user` (see `redeem_ticket`)."""
    plain, _ = accounts.issue_token(db, user, "ticket", TICKET_TTL)
    return plain


def redeem_ticket(db: Session, plain: str) -> User | None:
    """The user of a valid ticket, spent by this use; None if unknown, used or expired."""
    user = accounts.user_for_token(db, plain, ("ticket",))
    if user is not None:
        row = accounts.token_row(db, plain)
        assert row is not None
        row.revoked = True
    return user


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a studio path only (never another site)."""
    if value and value.startswith(COOKIE_PATH + "/") and not value.startswith("//"):
        return value
    return COOKIE_PATH + "/"


def sign_in_url(next_path: str) -> str:
    return f"{COOKIE_PATH}/login?next={quote(next_path, safe='/')}"
