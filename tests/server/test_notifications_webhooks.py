"""Notifications (SSE with backfill, polling, delete) and signed webhooks against a real server
process; a local receiver on 127.0.0.1 verifies every signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from tests.server.conftest import Api, person_image, plain_image
from tests.support.server_process import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Keepalive comments every half second, so a test can see them; private URLs allowed, as
    the webhook receiver listens on 127.0.0.1."""
    path = tmp_path_factory.mktemp("events")
    args = ["--sse-keepalive", "0.5", "--allow-private-urls"]
    with ServerProcess(path, extra_args=args) as process:
        yield process


@pytest.fixture(scope="module")
def job_setup(api: Api) -> dict[str, str]:
    return {
        "project_id": api.project("events"),
        "identity_code": api.identity(person_image(50), "Ev"),
        "image": api.upload("ev.jpg", person_image(51)),
        "plain": api.upload("flat.jpg", plain_image()),
    }


def _swap(api: Api, setup: dict[str, str], images: list[str]) -> str:
    body = {
        "identity_code": setup["identity_code"],
        "project_id": setup["project_id"],
        "images": images,
    }
    response = api.http.post("/model-swap", json=body)
    assert response.status_code == 202
    return str(response.json()["job_id"])


def _read_sse(response: httpx.Response, stop: callable) -> list[tuple[str | None, str]]:  # type: ignore[valid-type]
    """(event type, data) pairs until `stop(pairs)` is true; comments are skipped."""
    pairs: list[tuple[str | None, str]] = []
    event: str | None = None
    for line in response.iter_lines():
        if line.startswith(":"):
            continue
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            pairs.append((event, line[6:]))
            event = None
            if stop(pairs):
                break
    return pairs


def test_poll_shows_the_job_story_and_delete_consumes(api: Api, job_setup: dict) -> None:
    job_id = _swap(api, job_setup, [job_setup["image"]])
    api.wait(job_id)
    events = api.http.post("/notifications", json={"id_task": job_id}).json()
    names = [(e["name"], e["data"].get("status")) for e in events]
    assert names == [
        ("batch_edit", "pending"),
        ("batch_edit", "processing"),
        ("image_result", "completed"),
        ("batch_edit", "completed"),
        ("completed", "completed"),
    ]
    assert all(e["data"]["id_task"] == job_id for e in events)
    last = events[3]["data"]
    assert last["total_images"] == 1 and last["processed_images"] == 1
    only = api.http.post("/notifications", json={"id_task": [job_id], "name_list": "completed"})
    assert [e["name"] for e in only.json()] == ["completed"]
    assert api.http.delete(f"/notifications/{events[0]['id']}").status_code == 200
    remaining = api.http.post("/notifications", json={"id_task": [job_id]}).json()
    assert events[0]["id"] not in [e["id"] for e in remaining]
    assert api.http.delete(f"/notifications/{events[0]['id'] + 10_000}").status_code == 404


def test_failed_model_swap_sends_error(api: Api, job_setup: dict) -> None:
    job_id = _swap(api, job_setup, [job_setup["plain"]])
    api.wait(job_id)
    events = api.http.post("/notifications", json={"id_task": [job_id]}).json()
    assert events[-2]["name"] == "batch_edit" and events[-2]["data"]["status"] == "failed"
    assert events[-2]["data"]["error_message"]
    assert events[-1]["name"] == "error"


def test_sse_backfill_then_live(server: ServerProcess, api: Api, job_setup: dict) -> None:
    done = _swap(api, job_setup, [job_setup["image"]])
    api.wait(done)
    url = server.base_url + "/notifications/events"
    # `?token=` instead of the header; backfill of the finished job, then the live one
    with httpx.stream("GET", url, params={"token": server.token}, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        pairs: list[tuple[str | None, str]] = []
        event: str | None = None
        live_job: str | None = None
        for line in lines:
            if line.startswith(":"):
                continue
            if line.startswith("event: "):
                event = line[7:]
                continue
            if not line.startswith("data: "):
                continue
            pairs.append((event, line[6:]))
            if event == "backfill_complete":
                live_job = _swap(api, job_setup, [job_setup["image"]])
            event = None
            parsed = json.loads(line[6:])
            if (
                live_job
                and parsed.get("name") == "completed"
                and parsed["data"]["job_id"] == live_job
            ):
                break
    kinds = [kind for kind, _ in pairs]
    cut = kinds.index("backfill_complete")
    assert set(kinds[:cut]) == {"backfill"} and pairs[cut][1] == "{}"
    assert set(kinds[cut + 1 :]) == {None}
    backfilled = {json.loads(data)["data"].get("job_id") for _, data in pairs[:cut]}
    assert done in backfilled
    live = [json.loads(data) for _, data in pairs[cut + 1 :]]
    assert [e["name"] for e in live if e["data"]["job_id"] == live_job][-1] == "completed"
    assert all(e["id"] > 0 and e["timestamp"] > 0 for e in live)


def test_sse_keepalive_comments(server: ServerProcess) -> None:
    url = server.base_url + "/notifications/events"
    with httpx.stream("GET", url, headers=server.headers, timeout=30) as response:
        lines = response.iter_lines()
        seen = [next(lines) for _ in range(12)]
        while not any(line.startswith(": keepalive") for line in seen):
            seen.append(next(lines))
    assert "event: backfill_complete" in seen


def test_sse_streams_end_after_their_lifetime(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`--sse-max-seconds`: the stream ends by itself (the server closes it) with a comment that
    says why; without the option a stream stays open (the keepalive test above)."""
    with ServerProcess(tmp_path, extra_args=["--sse-max-seconds", "1"]) as server:
        url = server.base_url + "/notifications/events"
        with httpx.stream("GET", url, headers=server.headers, timeout=60) as response:
            assert response.status_code == 200
            lines = [line for line in response.iter_lines() if line]
    assert "event: backfill_complete" in lines
    assert lines[-1] == ": stream lifetime reached: reconnect"


def test_sse_filters_and_auth(server: ServerProcess, api: Api, job_setup: dict) -> None:
    url = server.base_url + "/notifications/events"
    assert httpx.get(url, params={"token": "bad"}).status_code == 401
    job_id = _swap(api, job_setup, [job_setup["image"]])
    api.wait(job_id)
    params = {"id_task": job_id, "name_list": "batch_edit"}
    with httpx.stream("GET", url, params=params, headers=server.headers, timeout=30) as response:
        pairs = _read_sse(response, lambda p: p[-1][0] == "backfill_complete")
    events = [json.loads(data) for kind, data in pairs if kind == "backfill"]
    assert [e["data"]["status"] for e in events] == ["pending", "processing", "completed"]


# --- webhooks -------------------------------------------------------------------------------------


class Receiver:
    """A webhook receiver on 127.0.0.1. It keeps every delivery (raw body and signature header)
    and `next()` verifies X-Webhook-Signature with the secret the test holds at that moment, like
    the seed's receiver (which would answer 401 on a mismatch). `fail_first` answers 503 to the
    first N requests."""

    def __init__(self) -> None:
        self.secret = ""
        self.deliveries: queue.Queue[tuple[bytes, str]] = queue.Queue()
        self.rejected = 0
        self.fail_first = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.fail_first > 0:
                    receiver.fail_first -= 1
                    self.send_response(503)
                else:
                    receiver.deliveries.put((body, self.headers.get("X-Webhook-Signature", "")))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/vestis"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def verified(self, body: bytes, header: str) -> bool:
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, header)

    def next(self, name: str, timeout: float = 30) -> dict:
        """The next delivery named `name`; every delivery on the way must verify."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                body, header = self.deliveries.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if not self.verified(body, header):
                self.rejected += 1
                continue
            event = json.loads(body)
            if event["name"] == name:
                return event
        raise AssertionError(f"no verified {name!r} webhook arrived")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()  # queued deliveries to it are refused at once, not left to time out


def test_webhook_signed_deliveries_ping_rotation_and_retries(
    api: Api, job_setup: dict, receiver: Receiver
) -> None:
    first = api.http.put("/webhooks", json={"url": receiver.url})
    assert first.status_code == 200
    receiver.secret = first.json()["secret"]
    assert receiver.secret and first.json()["is_active"] is True
    assert receiver.next("ping")["name"] == "ping"

    job_id = _swap(api, job_setup, [job_setup["image"]])
    done = receiver.next("completed")
    assert done["data"]["job_id"] == job_id

    # an update rotates the secret; deliveries signed with the old one would be rejected
    second = api.http.put("/webhooks", json={"url": receiver.url})
    assert second.json()["secret"] != receiver.secret and second.json()["id"] == first.json()["id"]
    receiver.secret = second.json()["secret"]
    receiver.next("ping")

    # a receiver that answers 503 twice still gets the event (retried with backoff)
    receiver.fail_first = 2
    job_id = _swap(api, job_setup, [job_setup["image"]])
    seen = receiver.next("batch_edit")
    assert seen["data"]["job_id"] == job_id
    receiver.next("completed")
    assert receiver.rejected == 0
    hook = api.http.get("/webhooks").json()
    assert hook["secret"] is None and hook["last_response_status"] == 204
    assert hook["last_response_at"]


def test_webhook_url_must_be_http_even_with_private_urls_allowed(api: Api) -> None:
    response = api.http.put("/webhooks", json={"url": "ftp://example.com/x"})
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "url"


def test_webhook_can_be_switched_off(api: Api, job_setup: dict, receiver: Receiver) -> None:
    receiver.secret = api.http.put("/webhooks", json={"url": receiver.url}).json()["secret"]
    receiver.next("ping")
    assert api.http.delete("/webhooks").status_code == 200
    assert api.http.get("/webhooks").json()["is_active"] is False
    job_id = _swap(api, job_setup, [job_setup["image"]])
    api.wait(job_id)
    time.sleep(0.5)
    assert receiver.deliveries.empty()  # nothing is sent to a switched-off webhook
