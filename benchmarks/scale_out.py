"""Scale-out on PostgreSQL, measured in one run (real processes, loopback):

* outputs per minute with 1, 2 and 4 `vestis worker` processes (one output at a time each)
  behind one API process (`vestis serve --workers 0`), with SlowFakeEngine: every output takes a
  fixed 1 s, like a GPU or a remote service. Each run makes 12 outputs per worker; the ratio to
  one worker is printed beside (goal: >= 0.9 x N);
* `GET /jobs/{id}/status` requests per second with 1 and 2 API processes (requests spread
  round-robin over them, CONCURRENCY keep-alive connections in threads).

PostgreSQL: VESTIS_TEST_POSTGRES_URL, else a throwaway cluster (.ci/postgres.sh).

    python -m benchmarks scale_out [--seconds 8] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server.conftest import api_for, person_image  # noqa: E402
from tests.support.server_process import (  # noqa: E402
    FAKE_ENGINE,
    POSTGRES_ENV,
    SLOW_FAKE_ENGINE,
    ServerProcess,
    fresh_database_url,
)
from tests.support.worker_process import WorkerProcess  # noqa: E402

OUTPUTS_PER_WORKER = 12
OUTPUTS_PER_JOB = 4


def cluster(tmp: Path, engine: str, apis: int) -> tuple[list[ServerProcess], str, Path]:
    url = fresh_database_url()
    assert url is not None
    data = tmp / "data"
    first = ServerProcess(tmp / "api-0", engine=engine, workers=0, database_url=url, data_dir=data)
    first.start()
    rest = [
        ServerProcess(
            tmp / f"api-{n}", engine=engine, workers=0, database_url=url, data_dir=data,
            token=first.token,
        ).start()
        for n in range(1, apis)
    ]  # fmt: skip
    return [first, *rest], url, data


def outputs_per_minute(workers: int) -> float:
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        tmp = Path(folder)
        (api_server,), url, data = cluster(tmp, FAKE_ENGINE, 1)
        stack.callback(api_server.stop)
        for n in range(workers):
            worker = WorkerProcess(tmp, url, data, engine=SLOW_FAKE_ENGINE, name=f"w{n}")
            stack.callback(worker.stop)
            worker.start()
        api = api_for(api_server)
        identity = api.identity(person_image(1), "bench")
        project = api.project("bench")
        uploads = [api.upload(f"b{i}.jpg", person_image(10 + i)) for i in range(OUTPUTS_PER_JOB)]
        body = {"identity_code": identity, "project_id": project, "images": uploads}
        jobs = OUTPUTS_PER_WORKER * workers // OUTPUTS_PER_JOB
        started = time.perf_counter()
        ids = [api.http.post("/model-swap", json=body).json()["job_id"] for _ in range(jobs)]
        for job_id in ids:
            assert api.wait(job_id, timeout=600)["status"] == "completed"
        elapsed = time.perf_counter() - started
        api.http.close()
        return jobs * OUTPUTS_PER_JOB / elapsed * 60


def status_rps(apis: int, seconds: float, threads: int) -> float:
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        tmp = Path(folder)
        servers, url, data = cluster(tmp, FAKE_ENGINE, apis)
        for server in servers:
            stack.callback(server.stop)
        worker = WorkerProcess(tmp, url, data, engine=FAKE_ENGINE)
        stack.callback(worker.stop)
        worker.start()
        api = api_for(servers[0])
        body = {
            "identity_code": api.identity(person_image(1), "bench"),
            "project_id": api.project("bench"),
            "images": [api.upload("b.jpg", person_image(2))],
        }
        job_id = api.http.post("/model-swap", json=body).json()["job_id"]
        api.wait(job_id)
        counts = [0] * threads
        deadline = time.perf_counter() + seconds

        def hammer(slot: int) -> None:
            with servers[slot % apis].client() as client:
                while time.perf_counter() < deadline:
                    client.get(f"/jobs/{job_id}/status").raise_for_status()
                    counts[slot] += 1

        started = time.perf_counter()
        pool = [threading.Thread(target=hammer, args=(n,)) for n in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        api.http.close()
        return sum(counts) / (time.perf_counter() - started)


def with_postgres() -> ExitStack:
    """Use VESTIS_TEST_POSTGRES_URL, or start a throwaway cluster for the run."""
    stack = ExitStack()
    if os.environ.get(POSTGRES_ENV):
        return stack
    folder = tempfile.mkdtemp(prefix="vestis-pg.")
    script = str(ROOT / ".ci" / "postgres.sh")
    url = subprocess.run([script, "start", folder], check=True, capture_output=True, text=True)
    os.environ[POSTGRES_ENV] = url.stdout.strip()
    stack.callback(subprocess.run, [script, "stop", folder], check=False)
    return stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with with_postgres():
        print(f"outputs per minute, SlowFakeEngine (1 s an output), {OUTPUTS_PER_WORKER}/worker:")
        one = None
        for workers in (1, 2, 4):
            rate = outputs_per_minute(workers)
            one = one or rate
            print(f"  {workers} worker(s): {rate:6.1f}/min   {rate / one:4.2f} x one worker")
        print(f"GET /jobs/{{id}}/status, {args.concurrency} connections, {args.seconds:g} s:")
        for apis in (1, 2):
            rps = status_rps(apis, args.seconds, args.concurrency)
            print(f"  {apis} API process(es): {rps:7.1f} req/s")


if __name__ == "__main__":
    main()
