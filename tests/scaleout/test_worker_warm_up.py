"""A `vestis worker` loads the models of the measures before it takes its first task (issue 17):
by the time it is registered with the queue, mediapipe and dlib are in the process, so its
first output does not wait seconds for them while its tasks queue up."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text
from tests.support.gate import wait_until
from tests.support.server_process import FAKE_ENGINE, fresh_database_url
from tests.support.worker_process import WorkerProcess


def test_a_worker_takes_tasks_only_once_its_models_are_loaded(tmp_path: Path) -> None:
    url = fresh_database_url()
    assert url is not None
    engine = create_engine(url)

    def registered() -> bool:
        with engine.connect() as connection:
            tables = connection.execute(
                text("SELECT to_regclass('procrastinate_workers') IS NOT NULL")
            ).scalar_one()
            if not tables:
                return False
            return bool(
                connection.execute(text("SELECT count(*) FROM procrastinate_workers")).scalar_one()
            )

    with WorkerProcess(tmp_path, url, tmp_path / "data", engine=FAKE_ENGINE) as worker:
        wait_until(registered, what=f"the worker registered with the queue:\n{worker.log()}")
        loaded = Path(f"/proc/{worker.pid}/maps").read_text()
    engine.dispose()
    assert "mediapipe" in loaded and "dlib" in loaded
