"""The live streams' catch-up: a page that was made before its job moved gets, as soon as its
stream opens, the current state of everything it shows (here with a `since` before the job)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from tests.server.conftest import Api
from tests.studio.conftest import make_job, sign_in
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.e2e

LONG_AGO = "2000-01-01T00:00:00"


@pytest.fixture(scope="module")
def studio(server: ServerProcess) -> Iterator[httpx.Client]:
    client = sign_in(server, server.username, server.password)
    yield client
    client.close()


def _first_swaps(client: httpx.Client, path: str, count: int) -> list[dict]:
    swaps: list[dict] = []
    with client.stream("GET", path, timeout=30) as stream:
        event = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: ") and event == "swap":
                swaps.append(json.loads(line[len("data: ") :]))
                if len(swaps) == count:
                    break
    return swaps


def test_job_stream_catches_up_with_every_card(studio: httpx.Client, api: Api) -> None:
    job = make_job(api, "live", 2)
    swaps = _first_swaps(studio, f"/studio/jobs/{job}/events?since={LONG_AGO}", 3)
    assert [s["id"] for s in swaps] == ["jobhead", "card-0-0", "card-1-0"]
    assert 'class="badge completed" id="job-status"' in swaps[0]["html"]
    assert all("/files/outputs/" in s["html"] for s in swaps[1:])


def test_runs_stream_catches_up_with_changed_rows(studio: httpx.Client, api: Api) -> None:
    job = make_job(api, "live-runs", 1)
    swaps = _first_swaps(studio, f"/studio/events?since={LONG_AGO}", 2)  # the two jobs
    rows = {s["id"]: s for s in swaps}
    assert f"row-{job}" in rows
    assert rows[f"row-{job}"]["into"] == "runs-body"
    assert 'data-status="completed"' in rows[f"row-{job}"]["html"]
