"""Credential state shared by the sync and async clients (no I/O): a static API token, or a
username and password whose login token is refreshed or re-obtained on 401."""

from __future__ import annotations

from dataclasses import dataclass

from vestis.client._base import basic


@dataclass
class Credentials:
    """What the client authenticates with, and the current login tokens."""

    token: str | None = None
    username: str | None = None
    password: str | None = None
    refresh_token: str | None = None

    def __post_init__(self) -> None:
        if self.token and (self.username or self.password):
            raise ValueError("Give either token or username and password, not both.")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password must be given together.")

    @property
    def uses_password(self) -> bool:
        """Username/password mode: tokens come from /auth/login and can be renewed on 401."""
        return self.username is not None and self.password is not None

    def basic_header(self) -> str:
        if self.username is None or self.password is None:
            raise ValueError("Login needs a username and a password.")
        return basic(self.username, self.password)

    def needs_login(self) -> bool:
        return self.uses_password and self.token is None

    def store(self, token: str, refresh_token: str | None) -> None:
        self.token = token
        if refresh_token:
            self.refresh_token = refresh_token
