"""Users and their tokens: login tokens (short), refresh tokens, long-lived API tokens."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vestis.contract.auth import MAX_ACTIVE_TOKENS
from vestis.server.errors import ApiError
from vestis.server.guard.security import (
    hash_password,
    new_public_id,
    new_token,
    token_hash,
    verify_password,
)
from vestis.server.store.models import Token, User, utcnow
from vestis.server.store.server_secrets import put_once

ADMIN_USERNAME = "admin"
#: Token kinds and the prefix that tells them apart in logs. `session` and `ticket` (a
#: one-time sign-in link) are the studio's; the API accepts only `access` and `api`.
TOKEN_PREFIXES = {
    "access": "vsa",
    "refresh": "vsr",
    "api": "vst",
    "session": "vss",
    "ticket": "vsl",
}


class AccountError(ValueError):
    """A user-management command that cannot be done (the CLI prints the message)."""


def find_user(db: Session, username: str) -> User | None:
    return db.scalar(select(User).where(User.username == username))


def create_user(db: Session, username: str, password: str | None, credits: float) -> User:
    """`password` None: a user who signs in with API tokens only (the embedded server's
    `local` user); no password logs in as it, and making it costs no Argon2 hash."""
    if not username or len(username) > 128:
        raise AccountError("A user name must have 1 to 128 characters.")
    if find_user(db, username) is not None:
        raise AccountError(f"User {username!r} already exists.")
    password_hash = "" if password is None else hash_password(password)
    user = User(username=username, password_hash=password_hash, credits=credits)
    db.add(user)
    db.flush()
    return user


def set_password(db: Session, user: User, password: str) -> None:
    user.password_hash = hash_password(password)


def issue_token(
    db: Session, user: User, kind: str, ttl: timedelta, parent: Token | None = None
) -> tuple[str, Token]:
    """A new random token of `kind`; returns the plain token (shown once) and its row."""
    plain = new_token(TOKEN_PREFIXES[kind])
    row = Token(
        public_id=new_public_id("tok"),
        user_id=user.id,
        kind=kind,
        token_hash=token_hash(plain),
        expires_at=utcnow() + ttl,
        parent_id=parent.id if parent is not None else None,
    )
    db.add(row)
    db.flush()
    return plain, row


def create_api_token(
    db: Session, user: User, ttl: timedelta, parent: Token | None = None, outlive: bool = False
) -> tuple[str, Token]:
    """An API token for `user`, made with the token `parent`: it expires with its parent at
    the latest unless `outlive` (the operator allowed long-lived tokens), so a stolen 1-hour
    login token cannot be turned into years of access."""
    active = db.scalar(
        select(func.count(Token.id)).where(
            Token.user_id == user.id,
            Token.kind == "api",
            Token.revoked.is_(False),
            Token.expires_at > utcnow(),
        )
    )
    if (active or 0) >= MAX_ACTIVE_TOKENS:
        raise ApiError(
            409,
            "Too many tokens",
            f"You already have {MAX_ACTIVE_TOKENS} active API tokens; revoke one "
            "(DELETE /auth/token/{token_id}) or let one expire first.",
        )
    plain, row = issue_token(db, user, "api", ttl, parent)
    if parent is not None and not outlive and row.expires_at > parent.expires_at:
        row.expires_at = parent.expires_at
    return plain, row


def valid_token(db: Session, plain: str, kinds: tuple[str, ...]) -> Token | None:
    """The row of a valid, unexpired, unrevoked token of one of `kinds`."""
    row = db.scalar(select(Token).where(Token.token_hash == token_hash(plain)))
    if row is None or row.revoked or row.kind not in kinds or row.expires_at <= utcnow():
        return None
    return row


def revoke(db: Session, root: Token) -> list[Token]:
    """Revoke `root` and every token made from it, directly or not; the tokens revoked."""
    revoked, frontier = [], [root]
    while frontier:
        for row in frontier:
            row.revoked = True
        revoked.extend(frontier)
        ids = [row.id for row in frontier]
        frontier = list(
            db.scalars(select(Token).where(Token.parent_id.in_(ids), Token.revoked.is_(False)))
        )
    return revoked


def token_row(db: Session, plain: str) -> Token | None:
    return db.scalar(select(Token).where(Token.token_hash == token_hash(plain)))


def user_for_token(db: Session, plain: str, kinds: tuple[str, ...]) -> User | None:
    """The user a valid, unexpired token of one of `kinds` belongs to."""
    row = valid_token(db, plain, kinds)
    return None if row is None else row.user


def login(db: Session, username: str, password: str) -> User | None:
    user = find_user(db, username)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        return None
    user.last_active = utcnow()
    return user


def rotate_refresh(db: Session, plain: str) -> User | None:
    """Spend a refresh token (one use): the user it belonged to, or None if invalid."""
    row = db.scalar(select(Token).where(Token.token_hash == token_hash(plain)))
    if row is None or row.revoked or row.kind != "refresh" or row.expires_at <= utcnow():
        return None
    row.revoked = True
    return row.user


@dataclass
class TokenRow:
    """One line of `vestis tokens list`."""

    token_id: str
    username: str
    kind: str
    expires: str
    state: str
    parent: str | None


def token_rows(db: Session, username: str | None, include_inactive: bool) -> list[TokenRow]:
    query = select(Token).join(User).order_by(Token.id)
    if username is not None:
        query = query.where(User.username == username)
    now = utcnow()
    rows = db.scalars(query).all()
    parents = {row.id: row.public_id for row in rows}
    listed = []
    for row in rows:
        state = "revoked" if row.revoked else "expired" if row.expires_at <= now else "active"
        if state != "active" and not include_inactive:
            continue
        parent = parents.get(row.parent_id) if row.parent_id is not None else None
        expires = row.expires_at.replace(microsecond=0).isoformat(sep=" ")
        listed.append(TokenRow(row.public_id, row.user.username, row.kind, expires, state, parent))
    return listed


def revoke_by_id(db: Session, token_id: str) -> list[str] | None:
    """Revoke a token (and those made from it) by its id; None if there is no such token."""
    row = db.scalar(select(Token).where(Token.public_id == token_id, Token.revoked.is_(False)))
    if row is None:
        return None
    return [revoked.public_id for revoked in revoke(db, row)]


def random_password() -> str:
    return secrets.token_urlsafe(12)


@dataclass
class AdminCredentials:
    username: str
    password: str
    token: str


def ensure_admin(db: Session, credits: float) -> AdminCredentials | None:
    """On the very first start of a data dir: the `admin` user with a random password and an
    API token (None on later starts, or when an `admin` was made beforehand with the CLI)."""
    _, first = put_once(db, "bootstrapped", utcnow().isoformat())
    if not first:  # a start before this one (or beside it) did it
        return None
    if find_user(db, ADMIN_USERNAME) is not None:
        return None
    password = random_password()
    user = create_user(db, ADMIN_USERNAME, password, credits)
    token, _ = issue_token(db, user, "api", timedelta(days=365))
    return AdminCredentials(ADMIN_USERNAME, password, token)


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat() + "Z"
