"""`/auth/login`, `/auth/refresh`, `/auth/token` (spec §1.1, §1.2)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vestis.contract.auth import (
    TOKEN_MAX_SECONDS,
    TOKEN_MIN_SECONDS,
    ApiTokenInfo,
    LoginResponse,
    RefreshRequest,
    RefreshResponse,
    TokenCreateRequest,
    TokenCreateResponse,
    TokenListResponse,
    TokenRevokeResponse,
    UserInfo,
)
from vestis.contract.common import MAX_PAGE, ErrorBody
from vestis.server.errors import ApiError, invalid, not_found
from vestis.server.guard.login_guard import LoginRefused
from vestis.server.http.deps import (
    TOKEN_KINDS,
    DbDep,
    SessionRoute,
    StateDep,
    UserDep,
    basic_credentials,
    bearer,
)
from vestis.server.process.state import ServerState
from vestis.server.services import accounts
from vestis.server.services.accounts import iso
from vestis.server.services.projects import pagination
from vestis.server.store.models import Token, User, utcnow

router = APIRouter(route_class=SessionRoute, prefix="/auth", tags=["auth"])

_duration = TypeAdapter(timedelta)


def _user_info(user: User) -> UserInfo:
    return UserInfo(
        username=user.username,
        email=user.email,
        credits=user.credits,
        groups=[],
        last_active=iso(user.last_active),
    )


def _session_tokens(state: ServerState, db: Session, user: User) -> RefreshResponse:
    ttl = timedelta(seconds=state.settings.access_token_ttl_seconds)
    access, access_row = accounts.issue_token(db, user, "access", ttl)
    refresh_ttl = timedelta(seconds=state.settings.refresh_token_ttl_seconds)
    refresh, refresh_row = accounts.issue_token(db, user, "refresh", refresh_ttl)
    return RefreshResponse(
        token=access,
        expiration_date=iso(access_row.expires_at) or "",
        refresh_token=refresh,
        refresh_expiration=iso(refresh_row.expires_at) or "",
    )


def _login(state: ServerState, username: str, password: str) -> LoginResponse | None:
    with state.db.session() as db:
        user = accounts.login(db, username, password)
        if user is None:
            return None
        tokens = _session_tokens(state, db, user)
        return LoginResponse(**tokens.model_dump(), user=_user_info(user))


@router.post(
    "/login",
    response_model=LoginResponse,
    responses={401: {"model": ErrorBody}, 429: {"model": ErrorBody}},
)
async def login(
    request: Request,
    state: StateDep,
    credentials: Annotated[tuple[str, str], Depends(basic_credentials)],
) -> LoginResponse:
    """Basic auth. Failed attempts are throttled per user name and per client address
    (429 with Retry-After), and password checks run one at a time."""
    assert state.runtime is not None
    address = request.client.host if request.client else "unknown"
    try:
        answer = await state.runtime.login_guard.attempt(
            credentials[0],
            address,
            lambda: run_in_threadpool(_login, state, *credentials),
        )
    except LoginRefused as refused:
        raise ApiError(
            429,
            "Too many requests",
            refused.message,
            headers={"Retry-After": str(refused.retry_after)},
        ) from None
    if answer is None:
        raise ApiError(401, "Unauthorized", "Wrong username or password.")
    return answer


@router.post("/refresh", response_model=RefreshResponse, responses={401: {"model": ErrorBody}})
def refresh(state: StateDep, db: DbDep, body: RefreshRequest) -> RefreshResponse:
    user = accounts.rotate_refresh(db, body.refresh_token)
    if user is None:
        raise ApiError(401, "Unauthorized", "The refresh token is invalid, used or expired.")
    return _session_tokens(state, db, user)


def _parse_expiration(value: str | int | float) -> timedelta:
    if isinstance(value, str) and value.replace(".", "", 1).isdigit():
        value = float(value)
    try:
        ttl = _duration.validate_python(value)
    except ValidationError as exc:
        raise invalid(
            "expiration must be an ISO-8601 duration, [DD]D[,][HH:MM:]SS[.ffffff] or seconds",
            "expiration",
        ) from exc
    if not TOKEN_MIN_SECONDS <= ttl.total_seconds() <= TOKEN_MAX_SECONDS:
        raise invalid("expiration must be between 1 hour and 4 years", "expiration")
    return ttl


@router.post(
    "/token",
    response_model=TokenCreateResponse,
    responses={401: {"model": ErrorBody}, 409: {"model": ErrorBody}},
)
def create_token(
    request: Request, state: StateDep, db: DbDep, user: UserDep, body: TokenCreateRequest
) -> TokenCreateResponse:
    """A new API token. It expires with the token that made it at the latest, unless the
    server was started with `--allow-long-tokens`."""
    parent = accounts.valid_token(db, bearer(request) or "", TOKEN_KINDS)
    plain, row = accounts.create_api_token(
        db, user, _parse_expiration(body.expiration), parent, state.settings.allow_long_tokens
    )
    return TokenCreateResponse(token=plain, expiration_date=iso(row.expires_at) or "")


@router.delete(
    "/token/{token_id}",
    response_model=TokenRevokeResponse,
    responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody}},
)
def revoke_token(
    state: StateDep, db: DbDep, user: UserDep, token_id: Annotated[str, Path(max_length=64)]
) -> TokenRevokeResponse:
    """Extension: revoke one of the caller's API tokens and every token made from it; open
    event streams of those tokens end."""
    row = db.scalar(
        select(Token).where(
            Token.public_id == token_id, Token.user_id == user.id, Token.kind == "api"
        )
    )
    if row is None or row.revoked:
        raise not_found("Token", token_id)
    revoked = accounts.revoke(db, row)
    db.commit()
    if state.runtime is not None:
        state.runtime.bus.credentials_changed(user.id)
    return TokenRevokeResponse(token_id=token_id, revoked=[t.public_id for t in revoked])


@router.get("/token", response_model=TokenListResponse)
def list_tokens(
    db: DbDep,
    user: UserDep,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
    include_expired: bool = False,
) -> TokenListResponse:
    where = [Token.user_id == user.id, Token.kind == "api", Token.revoked.is_(False)]
    if not include_expired:
        where.append(Token.expires_at > utcnow())
    total = db.scalar(select(func.count(Token.id)).where(*where)) or 0
    ordering = Token.id.asc() if order == "asc" else Token.id.desc()
    rows = db.scalars(
        select(Token).where(*where).order_by(ordering).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return TokenListResponse(
        pagination=pagination(page, per_page, total),
        tokens=[
            ApiTokenInfo(token_id=row.public_id, expiration_date=iso(row.expires_at) or "")
            for row in rows
        ],
    )
