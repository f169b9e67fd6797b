"""WorkerProcess: a real `python -m vestis worker` as a child process (PostgreSQL only).

with WorkerProcess(tmp_path, database_url, data_dir) as worker:
    ...                      # it takes outputs from the database's queue
worker.kill()                # SIGKILL: no clean-up, its heartbeat just stops
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from tests.support.server_process import REPO_ROOT, SLOW_FAKE_ENGINE


class WorkerProcess:
    def __init__(
        self,
        tmp_path: Path,
        database_url: str,
        data_dir: Path,
        *,
        engine: str = SLOW_FAKE_ENGINE,
        concurrency: int = 1,
        name: str = "worker",
        extra_args: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.database_url = database_url
        self.data_dir = data_dir
        self.engine = engine
        self.concurrency = concurrency
        self.extra_args = list(extra_args)
        self.log_path = Path(tmp_path) / f"{name}.log"
        self._env = {**os.environ, **(env or {})}
        self._env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(REPO_ROOT), str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH")])
        )
        self._process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "vestis", "worker",
            "--database-url", self.database_url,
            "--data-dir", str(self.data_dir),
            "--engine", self.engine,
            "--concurrency", str(self.concurrency),
            "--stalled-after", "4",
            *self.extra_args,
        ]  # fmt: skip

    def start(self) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115  (closed with the process)
        self._process = subprocess.Popen(
            self.command(), env=self._env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
