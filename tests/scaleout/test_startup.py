"""Any number of `vestis serve` and `vestis worker` processes may start at once on an empty
database (docs/deploy.md, step 3): the schema, the queue's schema and the first start's
bootstrap (the `admin` user, the server's secrets) are made once, and every process comes up."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from tests.support.gate import wait_until
from tests.support.server_process import FAKE_ENGINE, ServerProcess, fresh_database_url
from tests.support.worker_process import WorkerProcess

READY = "vestis worker:"


def test_three_api_processes_and_two_workers_start_at_once_on_an_empty_database(
    tmp_path: Path,
) -> None:
    url = fresh_database_url()
    assert url is not None
    # `token`: no user made with the CLI first, which would make the schema before them
    apis = [
        ServerProcess(tmp_path / f"api-{n}", workers=0, database_url=url, token="none")
        for n in range(3)
    ]
    workers = [
        WorkerProcess(tmp_path, url, tmp_path / f"worker-{n}", engine=FAKE_ENGINE, name=f"w{n}")
        for n in range(2)
    ]
    try:
        with ThreadPoolExecutor(5) as pool:
            started = [pool.submit(process.start) for process in [*apis, *workers]]
            for future in started:
                future.result()
        for worker in workers:
            wait_until(
                lambda w=worker: READY in w.log() or w._process.poll() is not None,  # type: ignore[union-attr]
                what="the worker ready or ended",
            )
            assert READY in worker.log(), worker.log()
        for api in apis:
            health = httpx.get(api.base_url + "/health")
            assert health.status_code == 200
            # `--workers 0`: the workers make the outputs, this process names no engine
            assert health.json()["engine"] is None and health.json()["workers"] == 0
        logs = [api.log() for api in apis]
        assert sum("created user 'admin'" in log for log in logs) == 1, logs
        assert not any("Traceback" in log for log in logs + [w.log() for w in workers])
    finally:
        for process in [*workers, *apis]:
            process.stop()
