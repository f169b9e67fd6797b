"""How quickly `jobs.wait` notices a finished job: SSE vs polling vs the reference scripts' loop.

Starts a real server process (FakeEngine, so a job takes well under a second), then for each mode
submits JOBS model-swap jobs one after another and measures the seconds from submission until the
client knows the job is done:

* sse: `jobs.wait(job_id)` (event stream, confirmed with one status call);
* poll-5s: `jobs.wait(job_id, use_sse=False, poll_interval=5)`;
* reference: the reference scripts' loop (sleep 5 s, then poll every 5 s).

Also counts the HTTP requests each mode made per job.

    python benchmarks/sdk_wait.py [--jobs 5]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.server_process import ServerProcess  # noqa: E402

from vestis.client import Client  # noqa: E402
from vestis.contract import TERMINAL_STATUSES  # noqa: E402


def _person(seed: int) -> bytes:
    image = Image.new("RGB", (96, 128), (200, 180, 160 - seed))
    draw = ImageDraw.Draw(image)
    draw.ellipse((32, 16, 64, 48), fill=(220, 170, 140))
    draw.rectangle((24, 48, 72, 124), fill=(30, 60 + seed, 120))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


def _reference_wait(client: Client, job_id: str) -> None:
    """spec §3.3: sleep 5 s, then poll every 5 s until a terminal status."""
    time.sleep(5)
    while client.jobs.status(job_id).status not in TERMINAL_STATUSES:
        time.sleep(5)


def _measure(
    client: Client, body: dict[str, object], jobs: int, wait: Callable[[str], None]
) -> list[float]:
    seconds = []
    for _ in range(jobs):
        start = time.perf_counter()
        job_id = client.jobs.model_swap(body).job_id
        wait(job_id)
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ServerProcess(Path(tmp)) as server:
        requests = 0

        def count(_: httpx.Request) -> None:
            nonlocal requests
            requests += 1

        http = httpx.Client(event_hooks={"request": [count]})
        with Client(server.base_url, token=server.token, http_client=http) as client:
            identity = Path(tmp) / "identity.jpg"
            identity.write_bytes(_person(9))
            photo = Path(tmp) / "photo.jpg"
            photo.write_bytes(_person(1))
            body: dict[str, object] = {
                "identity_code": client.identities.ensure(identity),
                "project_id": client.projects.ensure("BENCH"),
                "images": [client.uploads.upload_file(photo)],
            }
            modes: dict[str, Callable[[str], None]] = {
                "sse": lambda job: None if client.jobs.wait(job) else None,
                "poll-5s": lambda job: (
                    None if client.jobs.wait(job, use_sse=False, poll_interval=5) else None
                ),
                "reference": lambda job: _reference_wait(client, job),
            }
            print(f"{'mode':<10} {'jobs':>4} {'median s':>9} {'max s':>7} {'requests/job':>13}")
            for name, wait in modes.items():
                requests = 0
                seconds = _measure(client, body, args.jobs, wait)
                per_job = requests / args.jobs
                print(
                    f"{name:<10} {args.jobs:>4} {statistics.median(seconds):>9.2f} "
                    f"{max(seconds):>7.2f} {per_job:>13.1f}"
                )


if __name__ == "__main__":
    main()
