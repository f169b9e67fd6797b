"""Scale-out on PostgreSQL, this checkout beside an older one (`--baseline`), in one run (real
processes, loopback):

* outputs per minute with 1, 2 and 4 `vestis worker` processes (one output at a time each)
  behind one API process (`vestis serve --workers 0`), with SlowFakeEngine. Each run makes 12
  outputs per worker; the ratio to one worker is printed beside (goal, issue 17: 4 workers
  >= 3.6 x one). The clock starts once every worker has registered with the queue (a row in
  `procrastinate_workers` each, beside the API process's own for webhooks: it takes tasks from
  then on) and stops when the last job is completed.
* `GET /jobs/{id}/status` requests per second with 1 and 2 API processes (requests spread
  round-robin over them, CONCURRENCY keep-alive connections in threads).

Why 4 workers mean something on a 2-core machine: SlowFakeEngine's output *waits* a fixed 1 s
(a sleep, like a GPU or a remote service doing the work elsewhere) besides FakeEngine's small
drawing; it does not compute for that second. So the workers do not compete for the cores
over the engine's time, only over what each output costs besides it: the measures of the
delivered image, the database writes, the blob writes, the queue's hand-over. That per-output
cost, and a worker's time to be ready, are what keep N workers from N x one.

"Before" runs the code of `--baseline` (a `git worktree` under /tmp, removed afterwards): its
API process and workers, this checkout's harness. PostgreSQL: VESTIS_TEST_POSTGRES_URL, else a
throwaway cluster (.ci/postgres.sh). Expect noise on a shared machine: compare the columns of
one run.

    python -m benchmarks scale_out [--seconds 8] [--concurrency 16] [--baseline 83d5785]
    python -m benchmarks scale_out --only-after
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

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
#: The code before issue 17's per-output work was cut.
BASELINE_COMMIT = "83d5785"
READY_SECONDS = 120.0
#: Queue workers the API process registers itself (`--workers 0`: webhook deliveries only).
API_QUEUE_WORKERS = 1

#: Environment of the processes of one side: {} for this checkout, else the older one's paths.
Code = dict[str, str]


def code_of(root: Path) -> Code:
    """The environment that makes `python -m vestis` (and the engines under tests/) run the
    checkout at `root`: its paths, not the working directory's."""
    return {"PYTHONPATH": os.pathsep.join([str(root), str(root / "src")]), "PYTHONSAFEPATH": "1"}


def server(code: Code, tmp: Path, **kwargs: Any) -> ServerProcess:
    made = ServerProcess(tmp, **kwargs)
    made._env.update(code)
    return made


def worker(code: Code, *args: Any, **kwargs: Any) -> WorkerProcess:
    made = WorkerProcess(*args, **kwargs)
    made._env.update(code)
    return made


def cluster(code: Code, tmp: Path, engine: str, apis: int) -> tuple[list[ServerProcess], str, Path]:
    url = fresh_database_url()
    assert url is not None
    data = tmp / "data"
    first = server(code, tmp / "api-0", engine=engine, workers=0, database_url=url, data_dir=data)
    first.start()
    rest = [
        server(
            code, tmp / f"api-{n}", engine=engine, workers=0, database_url=url, data_dir=data,
            token=first.token,
        ).start()
        for n in range(1, apis)
    ]  # fmt: skip
    return [first, *rest], url, data


def wait_registered(url: str, workers: int) -> None:
    """Until `workers` queue workers have registered (each takes tasks from then on)."""
    engine = create_engine(url)
    deadline = time.monotonic() + READY_SECONDS
    try:
        while True:
            with engine.connect() as connection:
                found = connection.execute(
                    text("SELECT count(*) FROM procrastinate_workers")
                ).scalar_one()
            if found >= workers:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{found} of {workers} workers registered")
            time.sleep(0.05)
    finally:
        engine.dispose()


def outputs_per_minute(code: Code, workers: int) -> float:
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        tmp = Path(folder)
        (api_server,), url, data = cluster(code, tmp, FAKE_ENGINE, 1)
        stack.callback(api_server.stop)
        wait_registered(url, API_QUEUE_WORKERS)
        for n in range(workers):
            process = worker(code, tmp, url, data, engine=SLOW_FAKE_ENGINE, name=f"w{n}")
            stack.callback(process.stop)
            process.start()
        api = api_for(api_server)
        identity = api.identity(person_image(1), "bench")
        project = api.project("bench")
        uploads = [api.upload(f"b{i}.jpg", person_image(10 + i)) for i in range(OUTPUTS_PER_JOB)]
        body = {"identity_code": identity, "project_id": project, "images": uploads}
        jobs = OUTPUTS_PER_WORKER * workers // OUTPUTS_PER_JOB
        wait_registered(url, API_QUEUE_WORKERS + workers)
        started = time.perf_counter()
        ids = [api.http.post("/model-swap", json=body).json()["job_id"] for _ in range(jobs)]
        for job_id in ids:
            assert api.wait(job_id, timeout=600)["status"] == "completed"
        elapsed = time.perf_counter() - started
        api.http.close()
        return jobs * OUTPUTS_PER_JOB / elapsed * 60


def status_rps(code: Code, apis: int, seconds: float, threads: int) -> float:
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        tmp = Path(folder)
        servers, url, data = cluster(code, tmp, FAKE_ENGINE, apis)
        for api_server in servers:
            stack.callback(api_server.stop)
        process = worker(code, tmp, url, data, engine=FAKE_ENGINE)
        stack.callback(process.stop)
        process.start()
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


@contextlib.contextmanager
def baseline_checkout(commit: str) -> Iterator[Path]:
    """A `git worktree` of `commit` under /tmp, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="vestis-baseline."))
    root = folder / "code"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(root), commit],
        check=True,
        capture_output=True,
    )
    try:
        yield root
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(root)],
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--baseline", default=BASELINE_COMMIT, help="commit of 'before'")
    parser.add_argument("--only-after", action="store_true", help="skip the older code")
    parser.add_argument("--workers", default="1,2,4", help="worker counts to measure")
    parser.add_argument("--no-status", action="store_true", help="skip the status figures")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    with with_postgres(), ExitStack() as stack:
        sides: dict[str, Code] = {}
        if not args.only_after:
            sides[f"before ({args.baseline})"] = code_of(
                stack.enter_context(baseline_checkout(args.baseline))
            )
        sides["after"] = {}
        rates: dict[str, dict[int, float]] = {name: {} for name in sides}
        for workers in counts:  # the sides take turns: a noisy minute hits both alike
            for name, code in sides.items():
                rates[name][workers] = outputs_per_minute(code, workers)
        print(f"outputs per minute, SlowFakeEngine (1 s an output), {OUTPUTS_PER_WORKER}/worker "
              f"({os.cpu_count()} CPU(s)):")  # fmt: skip
        print(f"{'':14}" + "".join(f"{name:>30}" for name in sides))
        for workers in counts:
            cells = ""
            for name in sides:
                rate = rates[name][workers]
                cells += f"{rate:12.1f}/min {rate / rates[name][counts[0]]:8.2f} x {counts[0]:<3}"
            print(f"  {workers} worker(s) " + cells)
        if args.no_status:
            return
        print(f"GET /jobs/{{id}}/status, {args.concurrency} connections, {args.seconds:g} s:")
        print(f"{'':14}" + "".join(f"{name:>30}" for name in sides))
        for apis in (1, 2):
            cells = "".join(
                f"{status_rps(code, apis, args.seconds, args.concurrency):24.1f} req/s"
                for code in sides.values()
            )
            print(f"  {apis} API proc.  " + cells)


if __name__ == "__main__":
    main()
