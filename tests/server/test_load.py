"""Bounded load on a real server process over loopback: what must hold however the requests
interleave (every credit charged once, no request lost). Speed is measured in
`benchmarks/bench_server.py`, not asserted here."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from tests.server.conftest import Api, api_for, person_image, plain_image
from tests.support.server_process import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("load"), workers=2) as process:
        yield process


def together(count: int, call: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    """`count` calls released at the same moment from their own threads."""
    gate = threading.Barrier(count)

    def one(number: int) -> httpx.Response:
        gate.wait()
        return call(number)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def _balance(server: ServerProcess, username: str, password: str) -> float:
    login = httpx.post(server.base_url + "/auth/login", auth=(username, password))
    assert login.status_code == 200, login.text
    return float(login.json()["user"]["credits"])


def _job_body(api: Api, tag: str, images: list[bytes]) -> dict[str, object]:
    return {
        "identity_code": api.identity(person_image(7), f"who-{tag}"),
        "project_id": api.project(f"load-{tag}"),
        "images": [api.upload(f"{tag}-{n}.jpg", data) for n, data in enumerate(images)],
    }


def test_twenty_concurrent_creations_with_credits_for_two_accept_two(
    server: ServerProcess,
) -> None:
    token = server.add_user("poor", "poor-password", credits=2)
    api = api_for(server, token)
    body = _job_body(api, "poor", [person_image(8)])  # one output: 1 credit

    answers = together(20, lambda _n: api.http.post("/model-swap", json=body))

    codes = sorted(a.status_code for a in answers)
    assert codes == [202] * 2 + [402] * 18, codes
    refused = next(a for a in answers if a.status_code == 402).json()
    assert refused["credits_required"] == 1
    for answer in answers:
        if answer.status_code == 202:
            api.wait(answer.json()["job_id"])
    assert _balance(server, "poor", "poor-password") == 0


def test_concurrent_charges_and_refunds_add_up(server: ServerProcess) -> None:
    """Jobs with one output that fails (refunded) and one that succeeds, created while the
    workers refund earlier ones: the balance ends at exactly start - what the jobs cost."""
    start = 30.0
    token = server.add_user("busy", "busy-password", credits=start)
    api = api_for(server, token)
    body = _job_body(api, "busy", [person_image(9), plain_image()])  # 2 credits, 1 refunded

    answers = together(20, lambda _n: api.http.post("/model-swap", json=body))

    assert {a.status_code for a in answers} <= {202, 402}
    jobs = [a.json()["job_id"] for a in answers if a.status_code == 202]
    assert len(jobs) >= 15  # 30 credits pay 15 jobs even before any refund
    used = 0.0
    for job_id in jobs:
        assert api.wait(job_id)["status"] == "completed"
        results = api.http.get(f"/jobs/{job_id}/results").json()
        assert results["summary"]["failed"] == 1
        used += results["credits_used"]
    assert used == len(jobs)
    assert _balance(server, "busy", "busy-password") == start - used


def _small_jpeg() -> bytes:
    return person_image(11)


def run_for(seconds: float, count: int, work: Callable[[float], None]) -> None:
    """`count` threads running `work(deadline)` until `seconds` have passed."""
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=work, args=(deadline,)) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_fifty_concurrent_uploaders_for_twenty_seconds_get_no_error(
    server: ServerProcess,
) -> None:
    """Was: 0 completed and 50 timeouts, or 40 x 500 ('QueuePool limit', 'database is
    locked'): a route holding SQLite's write lock waited for a request thread that every
    other request held while waiting for that lock."""
    data = _small_jpeg()
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def upload(deadline: float) -> None:
        with server.client() as api, httpx.Client(timeout=60) as raw:
            while time.monotonic() < deadline:
                try:
                    reserved = api.post("/upload", json={"filename": "load.jpg"})
                    outcome = f"POST {reserved.status_code}"
                    if reserved.status_code == 200:
                        put = raw.put(reserved.json()["upload_url"], content=data)
                        outcome = f"PUT {put.status_code}"
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                with lock:
                    outcomes[outcome] += 1

    run_for(20, 50, upload)
    assert set(outcomes) == {"PUT 200"}, outcomes
    assert outcomes["PUT 200"] >= 50  # every client finished at least one upload


def test_status_polling_gets_no_error_under_fifty_pollers_and_a_login_flood(
    server: ServerProcess, api: Api
) -> None:
    """The deterministic half of the polling load test: every poll is answered 200 while 50
    clients poll and 40 threads flood `/auth/login` with wrong passwords. Latencies are
    measured by benchmarks/bench_server.py."""
    body = _job_body(api, "polled", [person_image(12)])
    job_id = api.http.post("/model-swap", json=body).json()["job_id"]
    api.wait(job_id)
    polls: Counter[int | str] = Counter()
    logins: Counter[int | str] = Counter()
    lock = threading.Lock()

    def poll(deadline: float) -> None:
        with server.client() as client:
            while time.monotonic() < deadline:
                try:
                    code: int | str = client.get(f"/jobs/{job_id}/status").status_code
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                with lock:
                    polls[code] += 1

    def flood(deadline: float) -> None:
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            while time.monotonic() < deadline:
                try:
                    code: int | str = client.post(
                        "/auth/login", auth=(server.username, "wrong")
                    ).status_code
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                with lock:
                    logins[code] += 1

    flooding = threading.Thread(target=run_for, args=(8, 40, flood))
    flooding.start()
    run_for(8, 50, poll)
    flooding.join()
    assert set(polls) == {200}, polls
    assert set(logins) <= {401, 429}, logins
