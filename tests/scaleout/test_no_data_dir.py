"""A process on PostgreSQL and S3 needs no data dir: without `--data-dir` it says which
temporary folder it works in, and removes it when it ends."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from tests.scaleout.conftest import BUCKET, S3
from tests.support.gate import wait_until
from tests.support.server_process import FAKE_ENGINE, free_port, fresh_database_url
from tests.support.worker_process import WorkerProcess


def test_a_worker_without_a_data_dir_names_its_temporary_folder_and_removes_it(
    tmp_path: Path, s3: S3
) -> None:
    url = fresh_database_url()
    assert url is not None
    worker = WorkerProcess(
        tmp_path, url, tmp_path / "unused", engine=FAKE_ENGINE, env=s3.env,
        extra_args=["--blob-store", f"s3://{BUCKET}/scratch"],
    )  # fmt: skip
    worker.command = lambda: [  # type: ignore[method-assign]
        part
        for part in WorkerProcess.command(worker)
        if part not in ("--data-dir", str(tmp_path / "unused"))
    ]
    worker.start()
    try:
        wait_until(lambda: "vestis worker:" in worker.log(), what="the worker ready")
        # stopped once it works (its graceful stop in place): registered with the queue
        wait_until(lambda: _workers_registered(url), what="the worker registered")
        folder = _temporary_folder(worker.log())
        assert folder.is_dir()
    finally:
        worker.stop()
    assert not folder.exists()


def test_a_worker_stopped_while_it_loads_its_models_exits_cleanly(tmp_path: Path, s3: S3) -> None:
    """SIGTERM while the worker loads the measures' models (after it said it is ready, before it
    registered with the queue, where Procrastinate's graceful stop is not yet in place) ends it
    as a normal exit, its temporary folder removed; it used to be killed on the spot."""
    url = fresh_database_url()
    assert url is not None
    log_path = tmp_path / "worker.log"
    command = [
        sys.executable, "-m", "vestis", "worker", "--engine", FAKE_ENGINE, "--database-url", url,
        "--blob-store", f"s3://{BUCKET}/scratch",
    ]  # fmt: skip
    with _running(command, s3, log_path, "vestis worker:", "the worker ready") as process:
        # stopped as soon as it says it is ready: its models take seconds to load, and a stop
        # that lands after they did is a clean exit too
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log_path.read_text()
    assert not _temporary_folder(log_path.read_text()).exists()


def test_an_api_process_without_a_data_dir_removes_its_folder_when_stopped_by_sigterm(
    tmp_path: Path, s3: S3
) -> None:
    """SIGTERM is how a service is stopped (`kill`, systemd): uvicorn shuts down gracefully and
    then raises the signal again, which used to end the process (killed by SIGTERM) before its
    exit handlers ran, leaving one temporary folder behind per stop."""
    url = fresh_database_url()
    assert url is not None
    log_path = tmp_path / "serve.log"
    command = [
        sys.executable, "-m", "vestis", "serve", "--workers", "0", "--port", str(free_port()),
        "--database-url", url, "--blob-store", f"s3://{BUCKET}/scratch",
    ]  # fmt: skip
    with _running(command, s3, log_path, "vestis serving", "the API process serving") as process:
        base = "http://127.0.0.1:" + command[command.index("--port") + 1]
        wait_until(lambda: _answers(base + "/health"), what="the API process answering")
        folder = _temporary_folder(log_path.read_text())
        assert folder.is_dir()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0  # a graceful stop is a clean exit
    assert not folder.exists(), sorted(folder.iterdir())


def _temporary_folder(log: str) -> Path:
    """The temporary folder a process without --data-dir says, in its log, it works in."""
    named = re.search(r"No --data-dir: files still arriving are kept in (\S+) ", log)
    assert named, log
    return Path(named[1])


@contextmanager
def _running(
    command: list[str], s3: S3, log_path: Path, ready: str, what: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`command` on S3 without VESTIS_DATA_DIR, its output in `log_path`, once its log says
    `ready`; killed at the end if it is still running."""
    env = {**os.environ, **s3.env}
    env.pop("VESTIS_DATA_DIR", None)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: ready in log_path.read_text() or process.poll() is not None, what=what)
        assert process.poll() is None, log_path.read_text()
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def _workers_registered(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as db:
        count = int(db.execute(text("SELECT count(*) FROM procrastinate_workers")).scalar_one())
    engine.dispose()
    return count
