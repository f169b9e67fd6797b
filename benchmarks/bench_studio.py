"""How fast the studio opens a job of 40 outputs on loopback, against a real server process
(FakeEngine; 10 catalogue-size photos, 1200 x 1600, x 4 variations = 40 outputs):

* the job page's HTML (`GET /studio/jobs/{id}`), median of N requests, beside the API's own
  `GET /jobs/{id}/results` of the same job (the ratio says what the page adds to the data);
* the faces view's HTML;
* in headless Chromium (Debian's /usr/bin/chromium): from navigation to the `load` event (every
  image in view decoded; images further down load lazily as one scrolls), median of M loads,
  and the first face crops (made once, then read from the blob store).

Goal from the issue: a job of 40 outputs opens in under a second.

    python benchmarks/bench_studio.py [--requests 20] [--loads 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.server.conftest import api_for  # noqa: E402
from tests.studio.conftest import CHROMIUM, CHROMIUM_FLAGS, sign_in  # noqa: E402
from tests.support.server_process import ServerProcess  # noqa: E402

INPUTS, VARIATIONS = 10, 4


def photo(seed: int) -> bytes:
    import io

    from vestis.runs.samples import make_pdp_photo

    image = make_pdp_photo(seed).resize((1200, 1600))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def make_job(server: ServerProcess) -> str:
    from vestis.runs.samples import make_identity_image

    api = api_for(server)
    identity = make_identity_image()
    import io

    buffer = io.BytesIO()
    identity.save(buffer, "JPEG", quality=90)
    body = {
        "identity_code": api.identity(buffer.getvalue(), "bench"),
        "project_id": api.project("bench-studio"),
        "images": [api.upload(f"look{n + 1}.jpg", photo(n)) for n in range(INPUTS)],
        "swap_options": {"num_variations": VARIATIONS},
    }
    created = api.http.post("/model-swap", json=body)
    assert created.status_code == 202, created.text
    job_id = str(created.json()["job_id"])
    assert api.wait(job_id, timeout=600)["status"] == "completed"
    api.http.close()
    return job_id


def timed_gets(client: httpx.Client, path: str, count: int) -> float:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        answer = client.get(path)
        times.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.text[:300]
    return statistics.median(times)


def browser_loads(server: ServerProcess, job_id: str, loads: int) -> tuple[float, float]:
    """(median seconds to `load` of the job page, seconds to `load` of the faces view the
    first time, when its crops are made)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )  # fmt: skip
        page = context.new_page()
        page.goto(server.base_url + "/studio/login")
        page.fill("input[name=username]", server.username)
        page.fill("input[name=password]", server.password)
        page.click("button[type=submit]")
        page.wait_for_url(server.base_url + "/studio/")
        url = f"{server.base_url}/studio/jobs/{job_id}"
        times = []
        for _ in range(loads):
            started = time.perf_counter()
            page.goto(url, wait_until="load")
            times.append(time.perf_counter() - started)
            assert page.locator(".card").count() == INPUTS * VARIATIONS
        started = time.perf_counter()
        page.goto(url + "?view=faces", wait_until="load")
        faces = time.perf_counter() - started
        context.close()
    return statistics.median(times), faces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ServerProcess(Path(tmp), workers=2) as server:
        job_id = make_job(server)
        studio = sign_in(server, server.username, server.password)
        api = server.client()
        page = timed_gets(studio, f"/studio/jobs/{job_id}", args.requests)
        faces_html = timed_gets(studio, f"/studio/jobs/{job_id}?view=faces", args.requests)
        results = timed_gets(api, f"/jobs/{job_id}/results", args.requests)
        load, faces_first = browser_loads(server, job_id, args.loads)
        studio.close()
        api.close()
    outputs = INPUTS * VARIATIONS
    print(f"job of {outputs} outputs ({INPUTS} photos of 1200x1600 x {VARIATIONS} variations)")
    print(f"  job page HTML            {page * 1000:7.1f} ms  (median of {args.requests})")
    print(f"  faces view HTML          {faces_html * 1000:7.1f} ms")
    print(f"  API results of the job   {results * 1000:7.1f} ms  -> page / results = "
          f"{page / results:.2f}")  # fmt: skip
    print(f"  Chromium: page to load   {load * 1000:7.1f} ms  (median of {args.loads})")
    print(f"  Chromium: faces view, first time (crops made) {faces_first * 1000:.1f} ms")
    print(f"  goal: under 1000 ms -> {'met' if load < 1.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
