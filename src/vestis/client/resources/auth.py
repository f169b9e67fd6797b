"""`/auth/login`, `/auth/refresh` and `/auth/token` (spec §1)."""

from __future__ import annotations

from vestis.client.resources._resource import AsyncAPIResource, SyncAPIResource
from vestis.contract import LoginResponse, RefreshResponse, TokenCreateResponse, TokenListResponse


def _token_params(page: int, per_page: int, order: str, include_expired: bool) -> dict[str, object]:
    return {"page": page, "per_page": per_page, "order": order, "include_expired": include_expired}


class Auth(SyncAPIResource):
    def login(self) -> LoginResponse:
        """Log in with the client's username and password (Basic); later calls use the token."""
        return self._http.login()

    def refresh(self) -> RefreshResponse:
        """Exchange the refresh token of the last login for a new token pair."""
        return self._http.refresh()

    def create_token(self, expiration: str | int | float = "P30D") -> TokenCreateResponse:
        """A long-lived API token (1 hour to 4 years: ISO-8601 duration or seconds)."""
        response = self._call("POST", "/auth/token", json={"expiration": expiration})
        return TokenCreateResponse.model_validate(response.json())

    def list_tokens(
        self, page: int = 1, per_page: int = 20, order: str = "desc", include_expired: bool = False
    ) -> TokenListResponse:
        params = _token_params(page, per_page, order, include_expired)
        response = self._call("GET", "/auth/token", params=params)
        return TokenListResponse.model_validate(response.json())


class AsyncAuth(AsyncAPIResource):
    async def login(self) -> LoginResponse:
        """Log in with the client's username and password (Basic); later calls use the token."""
        return await self._http.login()

    async def refresh(self) -> RefreshResponse:
        """Exchange the refresh token of the last login for a new token pair."""
        return await self._http.refresh()

    async def create_token(self, expiration: str | int | float = "P30D") -> TokenCreateResponse:
        """A long-lived API token (1 hour to 4 years: ISO-8601 duration or seconds)."""
        response = await self._call("POST", "/auth/token", json={"expiration": expiration})
        return TokenCreateResponse.model_validate(response.json())

    async def list_tokens(
        self, page: int = 1, per_page: int = 20, order: str = "desc", include_expired: bool = False
    ) -> TokenListResponse:
        params = _token_params(page, per_page, order, include_expired)
        response = await self._call("GET", "/auth/token", params=params)
        return TokenListResponse.model_validate(response.json())
