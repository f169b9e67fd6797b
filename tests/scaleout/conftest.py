"""The scale-out cluster: PostgreSQL (VESTIS_TEST_POSTGRES_URL; `make test` starts one), moto's
standalone S3 server for the images, 2 API processes (`vestis serve --workers 0`) and 3 worker
processes (`vestis worker`), each with a data dir of its own (nothing is shared but the database
and the bucket), the engine held at a gate (`tests/support/gate.py`) so a test decides when
outputs finish. Skipped without PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
import pytest
from tests.support.gate import Gate, wait_until
from tests.support.server_process import (
    FAKE_ENGINE,
    POSTGRES_ENV,
    ServerProcess,
    free_port,
    fresh_database_url,
)
from tests.support.worker_process import WorkerProcess

PID_GATED_ENGINE = "tests.support.fake_engine:PidGatedFakeEngine"
BUCKET = "vestis-test"
PREFIX = "cluster"

if not os.environ.get(POSTGRES_ENV):
    pytest.skip(f"{POSTGRES_ENV} is not set", allow_module_level=True)


@dataclass
class S3:
    endpoint: str
    env: dict[str, str]

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
        )

    def stored_keys(self) -> list[str]:
        listed = self.client().list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + "/")
        return [item["Key"] for item in listed.get("Contents", [])]


@dataclass
class Cluster:
    database_url: str
    s3: S3
    gate: Gate
    apis: list[ServerProcess]
    workers: list[WorkerProcess]


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3]:
    """moto's standalone S3 server on a loopback port, with an empty bucket."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if process.poll() is not None:
            return True  # it ended: the assert below says so
        try:
            return httpx.get(endpoint + "/", timeout=2).status_code < 500
        except httpx.HTTPError:
            return False

    wait_until(answers, timeout=60, what="moto's S3 server")
    assert process.poll() is None, "moto's S3 server did not start"
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    store = S3(endpoint, env)
    store.client().create_bucket(Bucket=BUCKET)
    yield store
    process.terminate()
    process.wait(timeout=10)
    log.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, s3: S3) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    url = fresh_database_url()
    assert url is not None
    gate = Gate(root / "gate")
    store = ["--blob-store", f"s3://{BUCKET}/{PREFIX}"]
    common: dict[str, Any] = {
        "engine": FAKE_ENGINE,
        "rate_limit": 5,
        "workers": 0,
        "database_url": url,
        "extra_args": store,
        "env": s3.env,
    }
    first = ServerProcess(root / "api-0", credits=1000, **common)
    first.start()
    second = ServerProcess(root / "api-1", token=first.token, **common)
    workers = [
        WorkerProcess(
            root,
            url,
            root / f"worker-{n}-data",
            engine=PID_GATED_ENGINE,
            name=f"worker-{n}",
            env={**gate.env, **s3.env},
            extra_args=store,
        )
        for n in range(3)
    ]
    try:
        second.start()
        for worker in workers:
            worker.start()
        yield Cluster(url, s3, gate, [first, second], workers)
    finally:
        gate.open()
        for worker in workers:
            worker.stop()
        second.stop()
        first.stop()
