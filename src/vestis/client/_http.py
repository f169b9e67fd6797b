"""The two transports: `SyncHTTP` (httpx.Client) and `AsyncHTTP` (httpx.AsyncClient). Each sends
one API call with retries (tenacity), Bearer auth, and login/refresh on 401 for password
credentials. All decisions come from `_base`; this module only does the I/O."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import httpx
import tenacity

from vestis.client._auth import Credentials
from vestis.client._base import (
    DEFAULT_TIMEOUT,
    USER_AGENT,
    OnRetry,
    RequestOptions,
    RetryPolicy,
    build_request_kwargs,
    connection_error,
    format_retry_message,
    host_of,
    make_status_error,
    normalize_base_url,
    retry_reason,
    should_retry,
)
from vestis.client.errors import APIError
from vestis.contract import LoginResponse, RefreshResponse

logger = logging.getLogger("vestis.client")


#: Renewals of an expired login token for one request before its 401 stands: a wrong password
#: fails at the login itself, so more than one renewal only happens when tokens live seconds.
RENEWALS = 3


class _Transport:
    """What both transports hold: settings, credentials and the tenacity policy."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        retry_policy: RetryPolicy,
        on_retry: OnRetry | None,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self.credentials = credentials
        self.retry_policy = retry_policy
        self.on_retry = on_retry
        #: Hosts (`host:port`) that answered this client at least once: an unresolvable name or
        #: a refused connection is retried only for them (a server restarting).
        self.answered_hosts: set[str] = set()

    def _answered(self, response: httpx.Response) -> httpx.Response:
        self.answered_hosts.add(host_of(response.request.url))
        return response

    def _should_retry(self, error: BaseException) -> bool:
        return should_retry(error, self.answered_hosts)

    def _renews(self, response: httpx.Response, options: RequestOptions, renewals: int) -> bool:
        """Whether a request's answer asks for a new login token and a replay: a 401 to an
        authenticated request of a client that signs in by password, fewer than `RENEWALS`
        times for this request."""
        return (
            response.status_code == 401
            and options.authenticated
            and self.credentials.uses_password
            and renewals < RENEWALS
        )

    def _retry_kwargs(self) -> dict[str, Any]:
        policy = self.retry_policy
        return {
            "stop": tenacity.stop_after_attempt(policy.max_retries + 1),
            "retry": tenacity.retry_if_exception(self._should_retry),
            "wait": self._wait,
            "before_sleep": self._before_sleep,
            "reraise": True,
        }

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if error is None:
            return 0.0
        return self.retry_policy.wait_seconds(state.attempt_number, error)

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        reason = retry_reason(error) if error else "retry"
        retry = state.attempt_number
        logger.info(format_retry_message(reason, wait, retry, self.retry_policy.max_retries))
        if self.on_retry is not None:
            self.on_retry(retry, wait, reason)

    def _login_options(self) -> RequestOptions:
        return RequestOptions(
            "POST",
            "/auth/login",
            headers={"Authorization": self.credentials.basic_header()},
            authenticated=False,
        )

    def _refresh_options(self, refresh_token: str) -> RequestOptions:
        return RequestOptions(
            "POST", "/auth/refresh", json={"refresh_token": refresh_token}, authenticated=False
        )


class SyncHTTP(_Transport):
    """Blocking transport over `httpx.Client`."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        retry_policy: RetryPolicy,
        on_retry: OnRetry | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(base_url, credentials, retry_policy, on_retry)
        self.http = http_client or httpx.Client(timeout=timeout)
        self.http.base_url = httpx.URL(self.base_url + "/")
        self.http.headers["User-Agent"] = USER_AGENT
        self._auth_lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def request(self, options: RequestOptions) -> httpx.Response:
        """Send `options` with retries; return the success response or raise a typed error."""
        retrying = tenacity.Retrying(**self._retry_kwargs())
        response: httpx.Response = retrying(self._attempt, options)
        return response

    def _attempt(self, options: RequestOptions) -> httpx.Response:
        token = self.current_token() if options.authenticated else None
        response = self._send(options, token)
        renewals = 0
        while self._renews(response, options, renewals):
            # The login token expired: renew it (one renewal at a time) and replay. A token
            # may lapse again on its way when its lifetime is short and the request slow.
            self.reauthenticate(stale=token)
            token = self.credentials.token
            response = self._send(options, token)
            renewals += 1
        if response.is_success:
            return response
        raise make_status_error(response)

    def _send(self, options: RequestOptions, token: str | None) -> httpx.Response:
        request = self.http.build_request(**build_request_kwargs(options, token))
        try:
            return self._answered(self.http.send(request))
        except httpx.TransportError as exc:
            raise connection_error(exc, request) from exc

    def current_token(self) -> str | None:
        """The token to send, logging in first when password credentials have none yet."""
        if self.credentials.needs_login():
            with self._auth_lock:
                if self.credentials.needs_login():
                    self.login()
        return self.credentials.token

    def login(self) -> LoginResponse:
        response = self.request(self._login_options())
        login = LoginResponse.model_validate(response.json())
        self.credentials.store(login.token, login.refresh_token)
        return login

    def refresh(self) -> RefreshResponse:
        if not self.credentials.refresh_token:
            raise ValueError("No refresh token: log in with a username and password first.")
        response = self.request(self._refresh_options(self.credentials.refresh_token))
        refreshed = RefreshResponse.model_validate(response.json())
        self.credentials.store(refreshed.token, refreshed.refresh_token)
        return refreshed

    def reauthenticate(self, stale: str | None) -> None:
        """Renew the login token unless another thread already did: refresh, else log in."""
        with self._auth_lock:
            if self.credentials.token is not None and self.credentials.token != stale:
                return
            if self.credentials.refresh_token:
                try:
                    self.refresh()
                    return
                except APIError as exc:
                    logger.info("Token refresh failed (%s); logging in again.", exc.status_code)
            self.login()


class AsyncHTTP(_Transport):
    """Asynchronous transport over `httpx.AsyncClient`."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        retry_policy: RetryPolicy,
        on_retry: OnRetry | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url, credentials, retry_policy, on_retry)
        self.http = http_client or httpx.AsyncClient(timeout=timeout)
        self.http.base_url = httpx.URL(self.base_url + "/")
        self.http.headers["User-Agent"] = USER_AGENT
        self._auth_lock = asyncio.Lock()

    async def close(self) -> None:
        await self.http.aclose()

    async def request(self, options: RequestOptions) -> httpx.Response:
        """Send `options` with retries; return the success response or raise a typed error."""
        retrying = tenacity.AsyncRetrying(**self._retry_kwargs())
        response: httpx.Response = await retrying(self._attempt, options)
        return response

    async def _attempt(self, options: RequestOptions) -> httpx.Response:
        token = await self.current_token() if options.authenticated else None
        response = await self._send(options, token)
        renewals = 0
        while self._renews(response, options, renewals):
            await self.reauthenticate(stale=token)
            token = self.credentials.token
            response = await self._send(options, token)
            renewals += 1
        if response.is_success:
            return response
        raise make_status_error(response)

    async def _send(self, options: RequestOptions, token: str | None) -> httpx.Response:
        request = self.http.build_request(**build_request_kwargs(options, token))
        try:
            return self._answered(await self.http.send(request))
        except httpx.TransportError as exc:
            raise connection_error(exc, request) from exc

    async def current_token(self) -> str | None:
        if self.credentials.needs_login():
            async with self._auth_lock:
                if self.credentials.needs_login():
                    await self.login()
        return self.credentials.token

    async def login(self) -> LoginResponse:
        response = await self.request(self._login_options())
        login = LoginResponse.model_validate(response.json())
        self.credentials.store(login.token, login.refresh_token)
        return login

    async def refresh(self) -> RefreshResponse:
        if not self.credentials.refresh_token:
            raise ValueError("No refresh token: log in with a username and password first.")
        response = await self.request(self._refresh_options(self.credentials.refresh_token))
        refreshed = RefreshResponse.model_validate(response.json())
        self.credentials.store(refreshed.token, refreshed.refresh_token)
        return refreshed

    async def reauthenticate(self, stale: str | None) -> None:
        async with self._auth_lock:
            if self.credentials.token is not None and self.credentials.token != stale:
                return
            if self.credentials.refresh_token:
                try:
                    await self.refresh()
                    return
                except APIError as exc:
                    logger.info("Token refresh failed (%s); logging in again.", exc.status_code)
            await self.login()
