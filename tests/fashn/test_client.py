"""FashnClient against scripted answers (httpx.MockTransport): FASHN's retry rules, typed
errors, credits header, waiting and its synthetic PollingTimeout, downloads."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import httpx
import pytest

from vestis.client._base import RetryPolicy
from vestis.client.errors import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RateLimitError,
    VestisError,
)
from vestis.client.fashn import FashnClient, UnsureRunError, fashn_error_name
from vestis.contract.fashn import ModelSwapInputs

FAST = RetryPolicy(max_retries=3, initial_delay=0.0, max_delay=0.0)
Handler = Callable[[httpx.Request], httpx.Response]


def make_client(handler: Handler, **kwargs: object) -> FashnClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return FashnClient("fa-test-key", base_url="http://fashn.test", http_client=http,
                       retry_policy=FAST, **kwargs)  # type: ignore[arg-type]  # fmt: skip


def error(status: int, name: str, message: str = "nope", **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"error": name, "message": message}, headers=headers)


class Script:
    """Answers requests in order, recording them."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_run_sends_model_name_inputs_key_and_webhook_query() -> None:
    script = Script(httpx.Response(200, json={"id": "abc-u1", "error": None}))
    with make_client(script) as client:
        started = client.model_swap(
            {"model_image": "https://x/a.jpg", "num_images": 2}, webhook_url="https://hook/x"
        )
    assert started.id == "abc-u1"
    sent = script.requests[0]
    assert sent.url.path == "/v1/run"
    assert sent.url.params["webhook_url"] == "https://hook/x"
    assert sent.headers["authorization"] == "Bearer fa-test-key"
    body = json.loads(sent.content)
    assert body["model_name"] == "model-swap"
    assert body["inputs"]["num_images"] == 2 and body["inputs"]["seed"] == 42


def test_model_swap_checks_inputs_locally() -> None:
    with make_client(Script()) as client, pytest.raises(ValueError, match="num_images"):
        client.model_swap({"model_image": "https://x/a.jpg", "num_images": 9})


def test_rate_limits_are_retried_with_retry_after_but_out_of_credits_is_not() -> None:
    waits: list[float] = []
    script = Script(
        error(429, "RateLimitExceeded", **{"Retry-After": "0"}),
        error(429, "ConcurrencyLimitExceeded"),
        httpx.Response(200, json={"id": "p1", "error": None}),
    )
    client = make_client(script, on_retry=lambda n, wait, reason: waits.append(wait))
    assert client.run("model-swap", {"model_image": "x"}).id == "p1"
    assert len(script.requests) == 3 and len(waits) == 2

    broke = Script(error(429, "OutOfCredits", "No credits"))
    with pytest.raises(RateLimitError) as caught:
        make_client(broke).run("model-swap", {"model_image": "x"})
    assert fashn_error_name(caught.value) == "OutOfCredits"
    assert len(broke.requests) == 1


def test_4xx_errors_are_typed_and_not_retried() -> None:
    cases = [
        (error(400, "BadRequest"), BadRequestError),
        (error(401, "UnauthorizedAccess"), AuthenticationError),
        (error(404, "NotFound", "Prediction not found"), NotFoundError),
    ]
    for response, cls in cases:
        script = Script(response)
        with pytest.raises(cls) as caught:
            make_client(script).status("p1")
        assert len(script.requests) == 1
        assert fashn_error_name(caught.value) == response.json()["error"]
        assert response.json()["message"] in str(caught.value)


def test_a_run_whose_answer_was_lost_is_not_resent() -> None:
    script = Script(httpx.ReadError("connection reset"))
    with pytest.raises(UnsureRunError, match="may have been created"):
        make_client(script).run("model-swap", {"model_image": "x"})
    assert len(script.requests) == 1
    # ...but a connection that never opened is safe to retry, as is any status poll.
    refused = Script(
        httpx.ConnectError("refused"), httpx.Response(200, json={"id": "p2", "error": None})
    )
    assert make_client(refused).run("model-swap", {"model_image": "x"}).id == "p2"
    polls = Script(
        httpx.ReadError("reset"),
        error(500, "InternalServerError"),
        httpx.Response(200, json={"id": "p2", "status": "processing"}),
    )
    assert make_client(polls).status("p2").status == "processing"
    down = Script(*[httpx.ConnectError("refused")] * 4)
    with pytest.raises(APIConnectionError):
        make_client(down).credits()
    assert len(down.requests) == 4


def test_status_reads_credits_used_and_wait_stops_at_a_final_status() -> None:
    script = Script(
        httpx.Response(200, json={"id": "p", "status": "in_queue"}),
        httpx.Response(200, json={"id": "p", "status": "processing", "output": None}),
        httpx.Response(
            200,
            json={"id": "p", "status": "completed", "output": {"images": ["https://cdn/o.png"]}},
            headers={"x-fashn-credits-used": "4"},
        ),
    )
    seen: list[str] = []
    final = make_client(script).wait(
        "p", poll_interval=0, on_update=lambda s: seen.append(s.status)
    )
    assert seen == ["in_queue", "processing", "completed"]
    assert final.output == ["https://cdn/o.png"] and final.credits_used == 4


def test_wait_returns_polling_timeout_instead_of_raising() -> None:
    def always_processing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "p", "status": "processing"})

    final = make_client(always_processing).wait("p", poll_interval=0, timeout=0)
    assert final.status == "time_out"
    assert final.error is not None and final.error.name == "PollingTimeout"


def test_failed_predictions_are_results_not_exceptions() -> None:
    failed = {"id": "p", "status": "failed", "error": {"name": "ImageLoadError", "message": "m"}}
    final = make_client(Script(httpx.Response(200, json=failed))).wait("p")
    assert final.status == "failed" and final.error is not None
    assert final.error.name == "ImageLoadError"


def test_credits_and_downloads() -> None:
    png = b"\x89PNG\r\n\x1a\nrest"
    script = Script(
        httpx.Response(200, json={"credits": {"total": 7, "subscription": 2, "on_demand": 5}}),
        httpx.Response(200, content=png),
    )
    client = make_client(script)
    assert client.credits().credits.total == 7
    assert client.download("https://cdn.test/o.png") == png
    assert "authorization" not in script.requests[1].headers  # output links carry no key
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    assert client.download(uri) == png
    with pytest.raises(VestisError, match="expired"):
        client.download("<base64>_expired")


def test_api_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FASHN_API_KEY", raising=False)
    with pytest.raises(VestisError, match="FASHN_API_KEY"):
        FashnClient()
    monkeypatch.setenv("FASHN_API_KEY", "fa-env")
    monkeypatch.setenv("FASHN_BASE_URL", "http://env.test/")
    client = FashnClient()
    assert client.base_url == "http://env.test"
    client.close()


def test_inputs_model_defaults_and_ranges() -> None:
    inputs = ModelSwapInputs(model_image="https://x/a.jpg", face_reference="")
    assert (inputs.seed, inputs.num_images, inputs.output_format) == (42, 1, "png")
    assert inputs.face_reference is None and inputs.face_reference_mode == "match_reference"
    for bad in ({"seed": 2**32}, {"seed": -1}, {"num_images": 0}, {"output_format": "jpg"}):
        with pytest.raises(ValueError):
            ModelSwapInputs(model_image="https://x/a.jpg", **bad)  # type: ignore[arg-type]
