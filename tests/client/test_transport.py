"""The clients against scripted HTTP answers (httpx.MockTransport): retries, idempotency keys,
re-authentication, signed uploads and `jobs.wait`. No sockets, no sleeps of note."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from vestis.client import (
    AsyncClient,
    AuthenticationError,
    Client,
    ConflictError,
    InternalServerError,
    JobFailedError,
    JobTimeoutError,
    NotFoundError,
    RetryPolicy,
)
from vestis.contract import UploadResponse

#: A wait that fell back to polling would hang on this interval; the tests must not reach it.
NO_POLLING = 3600.0
FAST = RetryPolicy(max_retries=5, initial_delay=0.001, max_delay=0.01)
SWAP = {"identity_code": "id1", "project_id": "p1", "images": ["f1"]}
LOGIN_BODY = {
    "expiration_date": "x",
    "refresh_expiration": "x",
    "user": {"username": "u"},
}

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """Records every request and answers from a handler."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
        return self.handler(request)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def _client(recorder: Recorder, **kwargs: object) -> Client:
    http = httpx.Client(transport=httpx.MockTransport(recorder))
    kwargs.setdefault("token", "tok")
    kwargs.setdefault("retry_policy", FAST)
    return Client("http://api.test/", http_client=http, **kwargs)  # type: ignore[arg-type]


def _async_client(recorder: Recorder, **kwargs: object) -> AsyncClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    kwargs.setdefault("token", "tok")
    kwargs.setdefault("retry_policy", FAST)
    return AsyncClient("http://api.test/", http_client=http, **kwargs)  # type: ignore[arg-type]


def _sequence(*answers: httpx.Response | Exception) -> Handler:
    remaining = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        answer = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        if isinstance(answer, Exception):
            raise answer
        # A fresh copy: a response object can only be sent once.
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    return handler


CREATED = httpx.Response(202, json={"job_id": "j1", "status": "pending", "message": "ok"})


# --- retries and idempotency ---------------------------------------------------------------------


def test_job_creation_retries_429_and_500_with_one_idempotency_key() -> None:
    recorder = Recorder(
        _sequence(
            httpx.Response(429, headers={"Retry-After": "0.002"}, json={"error": "slow"}),
            httpx.Response(500, json={"error": "boom"}),
            httpx.ConnectError("dropped"),
            CREATED,
        )
    )
    retries: list[tuple[int, float, str]] = []
    with _client(recorder, on_retry=lambda n, wait, why: retries.append((n, wait, why))) as client:
        created = client.jobs.model_swap(SWAP)
    assert created.job_id == "j1"
    keys = {r.headers["Idempotency-Key"] for r in recorder.requests}
    assert len(recorder.requests) == 4 and len(keys) == 1
    assert [(n, why) for n, _, why in retries] == [
        (1, "Rate limited (429)"),
        (2, "Server error (500)"),
        (3, "Connection error"),
    ]
    assert retries[0][1] == pytest.approx(0.002)  # Retry-After honoured
    body = json.loads(recorder.requests[0].content)
    assert body["images"] == ["f1"] and body["swap_options"]["model"] == "auto"


def test_given_idempotency_key_is_sent_and_each_call_gets_its_own_otherwise() -> None:
    recorder = Recorder(_sequence(CREATED))
    with _client(recorder) as client:
        client.jobs.model_swap(SWAP, idempotency_key="k-1")
        client.jobs.model_swap(SWAP)
        client.jobs.model_swap(SWAP)
    keys = [r.headers["Idempotency-Key"] for r in recorder.requests]
    assert keys[0] == "k-1" and len(set(keys)) == 3


def test_retries_stop_after_max_retries_and_raise_the_last_error() -> None:
    recorder = Recorder(_sequence(httpx.Response(503, json={"error": "down"})))
    client = _client(recorder, retry_policy=RetryPolicy(max_retries=2, initial_delay=0.001))
    with pytest.raises(InternalServerError, match="down"):
        client.jobs.status("j1")
    assert len(recorder.requests) == 3


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
def test_other_4xx_are_not_retried(status: int) -> None:
    recorder = Recorder(_sequence(httpx.Response(status, json={"error": "no"})))
    with _client(recorder) as client, pytest.raises(Exception) as info:
        client.jobs.status("j1")
    assert getattr(info.value, "status_code", None) == status
    assert len(recorder.requests) == 1


def test_project_ensure_uses_conflict_body_then_list() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            name = json.loads(request.content)["project_name"]
            if name == "A":
                return httpx.Response(
                    409, json={"error": "exists", "project_id": "pa", "project_name": "A"}
                )
            return httpx.Response(409, json={"error": "exists"})
        project = {"project_id": "9", "project_key": "pb", "project_text": "B",
                   "project_name": "B", "created_at": "t"}  # fmt: skip
        page = {
            "page": 1,
            "per_page": 100,
            "total": 1,
            "pages": 1,
            "has_next": False,
            "has_prev": False,
        }
        return httpx.Response(200, json={"projects": [project], "pagination": page})

    with _client(Recorder(handler)) as client:
        assert client.projects.ensure("A") == "pa"
        assert client.projects.ensure("B") == "pb"
        with pytest.raises(ConflictError):
            client.projects.create("A")


# --- uploads -------------------------------------------------------------------------------------


def test_signed_put_has_content_type_and_no_authorization_and_https_rewrite() -> None:
    recorder = Recorder(_sequence(httpx.Response(200)))
    http = httpx.Client(transport=httpx.MockTransport(recorder))
    client = Client("https://api.test", token="tok", http_client=http, retry_policy=FAST)
    upload = UploadResponse(
        upload_url="http://api.test/upload/signed?sig=1",
        download_url="x",
        file_id="f1",
        filename="a.png",
        content_type="image/png",
    )
    client.uploads.put(upload, b"PNGDATA")
    put = recorder.requests[0]
    assert put.method == "PUT" and str(put.url) == "https://api.test/upload/signed?sig=1"
    assert "authorization" not in put.headers
    assert put.headers["content-type"] == "image/png" and put.content == b"PNGDATA"


def test_identity_upload_is_multipart_and_ensure_reuses_on_409(tmp_path: Path) -> None:
    image = tmp_path / "anna.png"
    image.write_bytes(b"\x89PNG fake")
    recorder = Recorder(_sequence(httpx.Response(409, json={"existing_identity_code": "id-old"})))
    with _client(recorder) as client:
        assert client.identities.ensure(image) == "id-old"
    request = recorder.requests[0]
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert b'name="image"; filename="anna.png"' in request.content
    assert b"image/png" in request.content and b'name="name"\r\n\r\nanna' in request.content


# --- authentication ------------------------------------------------------------------------------


class AuthServer:
    """Logins hand out t1, t2, ...; refresh works unless disabled; one token is valid."""

    def __init__(self, refresh_works: bool = True) -> None:
        self.refresh_works = refresh_works
        self.valid: str | None = None
        self.issued = 0
        self.logins = 0
        self.refreshes = 0
        self.lock = threading.Lock()

    def _issue(self) -> dict[str, object]:
        self.issued += 1
        self.valid = f"t{self.issued}"
        return {"token": self.valid, "refresh_token": f"r{self.issued}", **LOGIN_BODY}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            if request.url.path == "/auth/login":
                self.logins += 1
                expected = "Basic " + base64.b64encode(b"u:p").decode()
                if request.headers.get("authorization") != expected:
                    return httpx.Response(401, json={"error": "bad login"})
                return httpx.Response(200, json=self._issue())
            if request.url.path == "/auth/refresh":
                self.refreshes += 1
                if not self.refresh_works:
                    return httpx.Response(401, json={"error": "refresh expired"})
                return httpx.Response(200, json=self._issue())
            if request.headers.get("authorization") != f"Bearer {self.valid}":
                return httpx.Response(401, json={"error": "Token expired"})
            return httpx.Response(
                200, json={"job_id": "j1", "job_type": "x", "status": "processing"}
            )


def test_password_login_then_refresh_on_401_and_replay() -> None:
    server = AuthServer()
    recorder = Recorder(server)
    with _client(recorder, token=None, username="u", password="p") as client:
        assert client.jobs.status("j1").status == "processing"
        assert client.token == "t1" and server.logins == 1
        server.valid = "expired-everything"  # the server forgets t1
        server.valid = None
        assert client.jobs.status("j1").status == "processing"
    assert server.refreshes == 1 and server.logins == 1
    assert recorder.paths() == [
        "/auth/login", "/jobs/j1/status", "/jobs/j1/status", "/auth/refresh", "/jobs/j1/status",
    ]  # fmt: skip


class LapsingAuthServer(AuthServer):
    """Each new token has lapsed by the time the next `lapses` calls arrive (a token that lives
    seconds, a request that takes longer): those calls answer 401."""

    def __init__(self, lapses: int) -> None:
        super().__init__()
        self.lapses = lapses

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if not path.startswith("/auth/") and self.lapses > 0 and self.valid is not None:
            with self.lock:
                self.lapses -= 1
                self.valid = f"lapsed-{self.lapses}"
        return super().__call__(request)


def test_a_token_that_lapses_again_on_its_way_is_renewed_again() -> None:
    """A renewed token may expire before the replayed call arrives (a short lifetime, a slow
    upload): renewed up to RENEWALS times, then the call goes through."""
    from vestis.client._http import RENEWALS

    server = LapsingAuthServer(lapses=0)
    with _client(Recorder(server), token=None, username="u", password="p") as client:
        client.auth.login()
        server.lapses = RENEWALS  # the first call and every replay but the last find it lapsed
        assert client.jobs.status("j1").status == "processing"
    assert server.refreshes == RENEWALS


def test_a_401_that_renewing_does_not_cure_stands() -> None:
    from vestis.client._http import RENEWALS

    server = LapsingAuthServer(lapses=0)
    with (
        _client(Recorder(server), token=None, username="u", password="p") as client,
        pytest.raises(AuthenticationError),
    ):
        client.auth.login()
        server.lapses = 100
        client.jobs.status("j1")
    assert server.refreshes == RENEWALS


def test_failed_refresh_falls_back_to_login() -> None:
    server = AuthServer(refresh_works=False)
    with _client(Recorder(server), token=None, username="u", password="p") as client:
        client.auth.login()
        server.valid = None
        assert client.jobs.status("j1").status == "processing"
    assert server.refreshes == 1 and server.logins == 2


def test_token_401_is_not_retried_and_says_what_to_do() -> None:
    recorder = Recorder(_sequence(httpx.Response(401, json={"error": "Token expired"})))
    with (
        _client(recorder) as client,
        pytest.raises(AuthenticationError, match="vestis tokens create") as refused,
    ):
        client.jobs.status("j1")
    assert len(recorder.requests) == 1
    assert refused.value.reason.startswith("Token expired (api.test). For that server")


def test_concurrent_401s_renew_the_token_once() -> None:
    server = AuthServer()
    client = _client(Recorder(server), token=None, username="u", password="p")
    client.auth.login()
    server.valid = None
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def work() -> None:
        barrier.wait()
        try:
            client.jobs.status("j1")
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert server.refreshes + server.logins == 2  # the first login plus one renewal


def test_async_concurrent_401s_renew_the_token_once() -> None:
    server = AuthServer()

    async def main() -> None:
        async with _async_client(
            Recorder(server), token=None, username="u", password="p"
        ) as client:
            await client.auth.login()
            server.valid = None
            answers = await asyncio.gather(*(client.jobs.status("j1") for _ in range(6)))
            assert {a.status for a in answers} == {"processing"}

    asyncio.run(main())
    assert server.refreshes == 1 and server.logins == 1


def test_async_retries_with_one_idempotency_key() -> None:
    recorder = Recorder(_sequence(httpx.Response(500), httpx.ConnectError("x"), CREATED))

    async def main() -> str:
        async with _async_client(recorder) as client:
            return (await client.jobs.flat_to_model({**SWAP, "instructions": [{}]})).job_id

    assert asyncio.run(main()) == "j1"
    assert len({r.headers["Idempotency-Key"] for r in recorder.requests}) == 1
    assert len(recorder.requests) == 3


# --- jobs.wait -----------------------------------------------------------------------------------


def _status(status: str, progress: float = 0.0) -> httpx.Response:
    error = "engine refused" if status == "failed" else None
    body = {"job_id": "j1", "job_type": "model_swap", "status": status, "progress": progress}
    body["error_message"] = error
    return httpx.Response(200, json=body)


def test_wait_polls_through_early_404s_and_reports_progress() -> None:
    not_found = httpx.Response(404, json={"error": "Job not found"})
    recorder = Recorder(
        _sequence(not_found, not_found, _status("processing", 50), _status("completed", 100))
    )
    seen: list[float] = []
    with _client(recorder) as client:
        final = client.jobs.wait(
            "j1", use_sse=False, poll_interval=0.001, on_update=lambda s: seen.append(s.progress)
        )
    assert final.status == "completed" and seen == [50, 100]


def test_wait_gives_up_after_ten_consecutive_404s() -> None:
    recorder = Recorder(_sequence(httpx.Response(404, json={"error": "Job not found"})))
    with _client(recorder) as client, pytest.raises(NotFoundError):
        client.jobs.wait("j1", use_sse=False, poll_interval=0.0)
    assert len(recorder.requests) == 11


def test_wait_raises_job_failed_and_timeout_with_job_id() -> None:
    with _client(Recorder(_sequence(_status("failed")))) as client:
        with pytest.raises(JobFailedError) as failed:
            client.jobs.wait("j1", use_sse=False, poll_interval=0.001)
        assert failed.value.job_id == "j1" and failed.value.error_message == "engine refused"
        assert client.jobs.wait("j1", use_sse=False, raise_on_failure=False).status == "failed"
    with _client(Recorder(_sequence(_status("processing")))) as client:
        with pytest.raises(JobTimeoutError) as timed_out:
            client.jobs.wait("j1", use_sse=False, timeout=0.05, poll_interval=0.01)
        assert timed_out.value.job_id == "j1" and timed_out.value.last_status == "processing"


def _sse(*events: tuple[str | None, object]) -> httpx.Response:
    lines = [": keepalive\n\n"]
    for name, data in events:
        head = f"event: {name}\n" if name else ""
        lines.append(f"{head}data: {json.dumps(data)}\n\n")
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, text="".join(lines))


def _note(note_id: int, name: str, **data: object) -> dict[str, object]:
    return {"id": note_id, "name": name, "timestamp": 1.0, "data": data}


def test_wait_via_sse_confirms_the_terminal_event_with_status() -> None:
    statuses = iter([_status("processing", 10), _status("completed", 100)])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/notifications/events":
            assert request.headers["authorization"] == "Bearer tok"
            assert request.url.params["id_task"] == "j1"
            return _sse(
                ("backfill", _note(1, "batch_edit", id_task="other", status="completed")),
                ("backfill_complete", {}),
                (None, _note(2, "batch_edit", id_task="j1", status="completed")),
            )
        return next(statuses)

    recorder = Recorder(handler)
    with _client(recorder) as client:
        final = client.jobs.wait("j1", poll_interval=0.001)
    assert final.status == "completed"
    assert recorder.paths() == ["/notifications/events", "/jobs/j1/status", "/jobs/j1/status"]


def test_wait_falls_back_to_polling_when_sse_is_missing() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/notifications/events":
            return httpx.Response(404, json={"error": "Not Found"})
        return _status("completed", 100)

    recorder = Recorder(handler)

    async def main() -> str:
        async with _async_client(recorder) as client:
            return (await client.jobs.wait("j1", poll_interval=0.001)).status

    assert asyncio.run(main()) == "completed"
    assert recorder.paths() == ["/notifications/events", "/jobs/j1/status"]


def test_async_wait_via_sse_and_notifications_stream() -> None:
    events = _sse(
        ("backfill", _note(1, "image_result", id_task="j1")),
        ("backfill_complete", {}),
        (None, _note(2, "completed", job_id="j1", status="completed")),
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/notifications/events":
            return events
        return _status("processing") if len(recorder.requests) < 3 else _status("completed")

    recorder = Recorder(handler)

    async def main() -> tuple[str, list[int]]:
        async with _async_client(recorder) as client:
            final = await client.jobs.wait("j1", poll_interval=0.001)
            ids = [n.id async for n in client.notifications.stream(id_task="j1")]
            return final.status, ids

    assert asyncio.run(main()) == ("completed", [1, 2])


def test_wait_rechecks_the_status_while_the_stream_only_sends_keepalives(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A lost terminal event costs one recheck window, not the whole timeout."""
    from vestis.client import _tracking

    monkeypatch.setattr(_tracking, "SSE_RECHECK_SECONDS", 0.05)
    caplog.set_level("INFO", logger="vestis.client")
    statuses = iter([_status("processing", 10), _status("completed", 100)])

    def keepalives() -> Iterator[bytes]:
        yield b"event: backfill_complete\ndata: {}\n\n"
        for _ in range(1000):
            time.sleep(0.01)
            yield b": keepalive\n\n"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/notifications/events":
            return httpx.Response(
                200, headers={"content-type": "text/event-stream"}, content=keepalives()
            )
        return next(statuses)

    recorder = Recorder(handler)
    with _client(recorder) as client:
        assert client.jobs.wait("j1", poll_interval=NO_POLLING).status == "completed"
    assert recorder.paths() == ["/notifications/events", "/jobs/j1/status", "/jobs/j1/status"]
    assert "polling" not in caplog.text
