"""`/auth/login`, `/auth/refresh` and `/auth/token` (spec §1.1, §1.2)."""

from __future__ import annotations

from pydantic import Field

from vestis.contract.common import Pagination, RequestModel, WireModel

#: Long-lived API tokens: between one hour and four years, at most 20 active per user.
TOKEN_MIN_SECONDS = 3600
TOKEN_MAX_SECONDS = 4 * 366 * 24 * 3600
MAX_ACTIVE_TOKENS = 20


class UserInfo(WireModel):
    username: str
    email: str | None = None
    name: str | None = None
    surname: str | None = None
    verified: bool = True
    credits: float = 0
    contract: str | None = None
    affiliation: str | None = None
    address: str | None = None
    country: str | None = None
    vat_num: str | None = None
    groups: list[str] = []
    last_active: str | None = None


class LoginResponse(WireModel):
    token: str
    expiration_date: str
    refresh_token: str
    refresh_expiration: str
    user: UserInfo


class RefreshRequest(RequestModel):
    refresh_token: str


class RefreshResponse(WireModel):
    token: str
    expiration_date: str
    refresh_token: str
    refresh_expiration: str


class TokenCreateRequest(RequestModel):
    """`expiration`: ISO-8601 duration, `[DD]D[,][HH:MM:]SS[.ffffff]`, or seconds."""

    expiration: str | int | float = Field(default="P30D")


class TokenCreateResponse(WireModel):
    token: str
    expiration_date: str


class ApiTokenInfo(WireModel):
    token_id: str
    expiration_date: str


class TokenListResponse(WireModel):
    pagination: Pagination
    tokens: list[ApiTokenInfo]


class TokenRevokeResponse(WireModel):
    """`DELETE /auth/token/{token_id}` (a vestis extension): the token and every token made
    from it are revoked."""

    success: bool = True
    token_id: str
    revoked: list[str]
