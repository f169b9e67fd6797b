"""`FashnClient`: a client of FASHN's prediction API (`/v1/run`, `/v1/status/{id}`,
`/v1/credits`), for the hosted service or a vestis server.

It behaves like FASHN's official SDKs where they are sound (webhook_url as a query parameter,
`x-fashn-credits-used` read from the final status, a synthetic `PollingTimeout` result instead of
an exception when waiting runs out) and differs where they are not (spec fashn-v1-api.md §4, §8):

- `POST /v1/run` has no idempotency key, so it is retried only when the request surely created
  nothing: the connection could not be opened, or the server answered 429 (rate or concurrency
  limit) or 5xx. A dropped connection after sending raises instead of risking a duplicate charge.
- 429 `OutOfCredits` is never retried (check `credits()` instead).
- Runtime failures are results (`status == "failed"`, `error.name/message`), never exceptions.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

import httpx
import tenacity
from pydantic import BaseModel

from vestis.client._base import (
    OnRetry,
    RetryPolicy,
    connection_error,
    error_class,
    format_retry_message,
    host_of,
    parse_body,
    parse_retry_after,
    retry_reason,
)
from vestis.client._base import should_retry as base_should_retry
from vestis.client.errors import APIConnectionError, APIError, VestisError
from vestis.contract.fashn import (
    CREDITS_USED_HEADER,
    MODEL_SWAP,
    CreditsResponse,
    ModelSwapInputs,
    RunResponse,
    StatusResponse,
    polling_timeout,
)

logger = logging.getLogger("vestis.client.fashn")

DEFAULT_BASE_URL = "https://api.fashn.ai"
API_KEY_ENV = "FASHN_API_KEY"
BASE_URL_ENV = "FASHN_BASE_URL"
#: FASHN's SDKs: 3 retries starting at 2 s. The cap is higher than their 6 s so that a server's
#: Retry-After (up to a minute on a vestis server's rate limit) is honoured.
DEFAULT_RETRY_POLICY = RetryPolicy(max_retries=3, initial_delay=2.0, max_delay=60.0)


class Prediction(StatusResponse):
    """A status object plus the credits it used (from `x-fashn-credits-used`, when sent)."""

    credits_used: int | None = None


def fashn_error_name(error: BaseException | None) -> str | None:
    """FASHN's error name (`BadRequest`, `OutOfCredits`, ...) of a rejected request."""
    return _error_name(getattr(error, "body", None))


def _error_name(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return None


def error_from_response(response: httpx.Response) -> APIError:
    """The typed error of a non-2xx answer, its message built from FASHN's `{error, message}`."""
    body = parse_body(response)
    status = response.status_code
    text = f"{status} {_error_name(body) or response.reason_phrase}"
    reason = text
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        text += f": {body['message']}"
        reason = body["message"]
    elif isinstance(body, str) and body.strip():
        text += f": {body.strip()[:300]}"
    request = response.request
    return error_class(status)(
        text,
        status_code=status,
        request_id=response.headers.get("x-request-id"),
        body=body,
        method=request.method,
        url=str(request.url.copy_with(query=None)),
        retry_after=parse_retry_after(response.headers.get("retry-after")),
        reason=reason,
    )


def should_retry(error: BaseException, answered_hosts: Collection[str] = ()) -> bool:
    """FASHN's retry rule: connection errors and timeouts (except an unsure `/run`, raised as
    `UnsureRunError`, and an unresolvable or refusing host that never answered), 408, 409, 429
    and 5xx; never 429 `OutOfCredits`."""
    if isinstance(error, UnsureRunError):
        return False
    if isinstance(error, APIConnectionError):
        return base_should_retry(error, answered_hosts)
    if isinstance(error, APIError):
        if fashn_error_name(error) == "OutOfCredits":
            return False
        return error.status_code in (408, 409, 429) or error.status_code >= 500
    return False


class UnsureRunError(APIConnectionError):
    """`POST /v1/run` was sent but no answer came: the prediction may exist (and be charged).
    Not retried, since `/v1/run` has no idempotency key."""


class FashnClient:
    """Sync client of FASHN's `/v1` prediction API.

    `api_key` defaults to `$FASHN_API_KEY`, `base_url` to `$FASHN_BASE_URL` or the hosted API.
    Retries follow `retry_policy` (the SDK's `RetryPolicy`: backoff with jitter, Retry-After
    honoured); `on_retry(retry, wait, reason)` is called before each one.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 60.0,
        retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY,
        on_retry: OnRetry | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        key = api_key or os.environ.get(API_KEY_ENV)
        if not key:
            raise VestisError(f"No FASHN API key: pass api_key or set {API_KEY_ENV}.")
        self.base_url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        self.retry_policy = retry_policy
        self.on_retry = on_retry
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=httpx.Timeout(timeout, connect=5.0))
        self._headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
        #: Hosts that answered: only they get an unresolvable name or refusal retried.
        self.answered_hosts: set[str] = set()

    # --- transport --------------------------------------------------------------------------

    def _attempt(self, request: httpx.Request, creates: bool) -> httpx.Response:
        try:
            response = self._http.send(request)
            self.answered_hosts.add(host_of(request.url))
        except httpx.TransportError as exc:
            error = connection_error(exc, request)
            sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            if creates and sent:
                unsure = (
                    ". The request to start a prediction was sent but no answer came: it may "
                    "have been created (and charged), so it was not resent."
                )
                raise UnsureRunError(
                    f"{error.message}{unsure}",
                    method=request.method,
                    url=str(request.url),
                    host=error.host,
                    reason=f"{error.reason}{unsure}",
                ) from exc
            raise error from exc
        if response.is_success:
            return response
        raise error_from_response(response)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return self.retry_policy.wait_seconds(state.attempt_number, error) if error else 0.0

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        reason = retry_reason(error) if error else "retry"
        name = fashn_error_name(error)
        if name in ("RateLimitExceeded", "ConcurrencyLimitExceeded"):
            reason = f"{reason}: {name}"
        retry, limit = state.attempt_number, self.retry_policy.max_retries
        logger.info(format_retry_message(reason, wait, retry, limit))
        if self.on_retry is not None:
            self.on_retry(retry, wait, reason)

    def _request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        authenticated: bool = True,
        creates: bool = False,
    ) -> httpx.Response:
        headers = self._headers if authenticated else {}
        request = self._http.build_request(method, url, json=json, params=params, headers=headers)
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.retry_policy.max_retries + 1),
            retry=tenacity.retry_if_exception(
                lambda error: should_retry(error, self.answered_hosts)
            ),
            wait=self._wait,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        response: httpx.Response = retrying(self._attempt, request, creates)
        return response

    # --- API ----------------------------------------------------------------------------------

    def run(
        self,
        model_name: str,
        inputs: Mapping[str, Any] | BaseModel,
        *,
        webhook_url: str | None = None,
    ) -> RunResponse:
        """Start a prediction: `POST /v1/run`. Raises the typed `APIError` on rejection."""
        body_inputs = (
            inputs.model_dump(exclude_none=True) if isinstance(inputs, BaseModel) else dict(inputs)
        )
        params = {"webhook_url": webhook_url} if webhook_url else None
        response = self._request(
            "POST",
            f"{self.base_url}/v1/run",
            json={"model_name": model_name, "inputs": body_inputs},
            params=params,
            creates=True,
        )
        return RunResponse.model_validate(response.json())

    def model_swap(
        self, inputs: ModelSwapInputs | Mapping[str, Any], *, webhook_url: str | None = None
    ) -> RunResponse:
        """`run("model-swap", inputs)`, with the inputs checked locally first."""
        checked = inputs if isinstance(inputs, ModelSwapInputs) else ModelSwapInputs(**inputs)
        return self.run(MODEL_SWAP, checked, webhook_url=webhook_url)

    def status(self, prediction_id: str) -> Prediction:
        """`GET /v1/status/{id}`, with `credits_used` from the response header when present."""
        response = self._request("GET", f"{self.base_url}/v1/status/{prediction_id}")
        prediction = Prediction.model_validate(response.json())
        used = response.headers.get(CREDITS_USED_HEADER)
        if used is not None and used.strip().lstrip("-").isdigit():
            prediction.credits_used = int(used)
        return prediction

    def wait(
        self,
        prediction_id: str,
        *,
        poll_interval: float = 1.0,
        timeout: float = 300.0,
        on_update: Callable[[Prediction], None] | None = None,
    ) -> Prediction:
        """Poll until the prediction is final. Past `timeout` seconds, return the synthetic
        `time_out`/`PollingTimeout` result (the server-side prediction goes on)."""
        deadline = time.monotonic() + timeout
        while True:
            prediction = self.status(prediction_id)
            if on_update:
                on_update(prediction)
            if prediction.is_terminal:
                return prediction
            if time.monotonic() >= deadline:
                timed_out = Prediction.model_validate(polling_timeout(prediction_id).model_dump())
                if on_update:
                    on_update(timed_out)
                return timed_out
            time.sleep(max(0.0, min(poll_interval, deadline - time.monotonic())))

    def subscribe(
        self,
        model_name: str,
        inputs: Mapping[str, Any] | BaseModel,
        *,
        webhook_url: str | None = None,
        poll_interval: float = 1.0,
        timeout: float = 300.0,
        on_enqueued: Callable[[str], None] | None = None,
        on_update: Callable[[Prediction], None] | None = None,
    ) -> Prediction:
        """`run`, then `wait`: the final status (never raises for runtime failures)."""
        started = self.run(model_name, inputs, webhook_url=webhook_url)
        if on_enqueued:
            on_enqueued(started.id)
        return self.wait(
            started.id, poll_interval=poll_interval, timeout=timeout, on_update=on_update
        )

    def credits(self) -> CreditsResponse:
        """`GET /v1/credits`: `{credits: {total, subscription, on_demand}}`."""
        return CreditsResponse.model_validate(
            self._request("GET", f"{self.base_url}/v1/credits").json()
        )

    def download(self, output: str) -> bytes:
        """The bytes of one output: a data URI is decoded, a URL fetched without credentials."""
        if output.startswith("data:"):
            _, _, payload = output.partition(",")
            try:
                return base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise VestisError(f"The output is not valid base64 data: {exc}") from exc
        if output.endswith("_expired") and not output.startswith("http"):
            raise VestisError(
                "The base64 output has expired (it is kept 60 minutes); run the prediction again."
            )
        response = self._request("GET", output, authenticated=False)
        return response.content

    # --- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> FashnClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
