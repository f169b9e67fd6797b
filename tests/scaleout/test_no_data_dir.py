"""A process on PostgreSQL and S3 needs no data dir: without `--data-dir` it says which
temporary folder it works in, and removes it when it ends."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import create_engine, text
from tests.scaleout.conftest import BUCKET, S3
from tests.support.gate import wait_until
from tests.support.server_process import FAKE_ENGINE, fresh_database_url
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
        named = re.search(r"No --data-dir: files still arriving are kept in (\S+) ", worker.log())
        assert named, worker.log()
        folder = Path(named[1])
        assert folder.is_dir()
    finally:
        worker.stop()
    assert not folder.exists()


def _workers_registered(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as db:
        count = int(db.execute(text("SELECT count(*) FROM procrastinate_workers")).scalar_one())
    engine.dispose()
    return count
