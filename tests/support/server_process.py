"""ServerProcess: the real `python -m vestis serve` as a child process, for end-to-end tests.

    with ServerProcess(tmp_path) as server:          # FakeEngine, no rate limit
        httpx.get(server.base_url + "/health")
        headers = {"Authorization": f"Bearer {server.token}"}

The user `tester` (password `tester-password`) and an API token are made with the CLI
(`vestis users add`, `vestis tokens create`) before the first start. `kill()` sends SIGKILL and
`start()` starts again on the same data dir and port, for restart tests.

State is in SQLite in the data dir, unless `VESTIS_TEST_POSTGRES_URL` is set (e.g.
`postgresql+psycopg://vestis@127.0.0.1:5432/vestis`): then every ServerProcess gets a fresh
PostgreSQL database of its own on that server, so the same tests run against PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx

from vestis.server.embedded import wait_for_health

REPO_ROOT = Path(__file__).resolve().parents[2]
FAKE_ENGINE = "tests.support.fake_engine:FakeEngine"
SLOW_FAKE_ENGINE = "tests.support.fake_engine:SlowFakeEngine"
GATED_FAKE_ENGINE = "tests.support.fake_engine:GatedFakeEngine"
START_TIMEOUT_SECONDS = 60


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


POSTGRES_ENV = "VESTIS_TEST_POSTGRES_URL"


def fresh_database_url() -> str | None:
    """A new, empty PostgreSQL database on the server of `VESTIS_TEST_POSTGRES_URL`; None (use
    SQLite) when the variable is not set."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        return None
    from sqlalchemy import create_engine, make_url, text

    name = "vestis_test_" + secrets.token_hex(6)
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(base).set(database=name).render_as_string(hide_password=False)


class ServerStartError(RuntimeError):
    """The server process exited or never answered /health; the message holds its log."""


class ServerProcess:
    #: Every ServerProcess of this test session, for `exited_on_their_own()`.
    _all: weakref.WeakSet[ServerProcess] = weakref.WeakSet()

    def __init__(
        self,
        tmp_path: Path,
        *,
        engine: str = FAKE_ENGINE,
        rate_limit: int = 0,
        faults: str | None = None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        username: str = "tester",
        password: str = "tester-password",
        credits: float = 100_000,
        workers: int = 2,
        database_url: str | None = None,
        data_dir: Path | None = None,
        token: str | None = None,
    ) -> None:
        """`data_dir` and `token` let several processes share one data dir and database: the
        first makes the user, the others are given its token."""
        self.data_dir = data_dir or Path(tmp_path) / "server-data"
        self.database_url = database_url or fresh_database_url()
        self.engine = engine
        self.rate_limit = rate_limit
        self.faults = faults
        self.extra_args = list(extra_args)
        self.username = username
        self.password = password
        self.credits = credits
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.token = token or ""
        self.log_path = Path(tmp_path) / "server.log"
        self._env = {**os.environ, **(env or {})}
        self._env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(REPO_ROOT), str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH")])
        )
        self._env.pop("VESTIS_DATA_DIR", None)
        self._process: subprocess.Popen[bytes] | None = None
        self._prepared = token is not None
        ServerProcess._all.add(self)

    # --- CLI ---------------------------------------------------------------------------------

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `python -m vestis <args>` with this server's environment."""
        result = subprocess.run(
            [sys.executable, "-m", "vestis", *args],
            env=self._env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"vestis {' '.join(args)} failed: {result.stderr}{result.stdout}")
        return result

    @property
    def db_url(self) -> str:
        """The SQLAlchemy URL of this server's database."""
        return self.database_url or f"sqlite:///{self.data_dir / 'vestis.db'}"

    def db_args(self) -> list[str]:
        return ["--database-url", self.database_url] if self.database_url else []

    def add_user(self, username: str, password: str, credits: float = 100_000) -> str:
        """Create another user and return an API token for it."""
        data = ["--data-dir", str(self.data_dir), *self.db_args()]
        self.cli("users", "add", username, "--password", password, "--credits", str(credits), *data)
        return self.cli("tokens", "create", "--user", username, *data).stdout.strip()

    def _prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.token = self.add_user(self.username, self.password, self.credits)
        self._prepared = True

    # --- process -----------------------------------------------------------------------------

    def command(self) -> list[str]:
        cmd = [
            sys.executable, "-m", "vestis", "serve",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--data-dir", str(self.data_dir),
            "--engine", self.engine,
            "--rate-limit", str(self.rate_limit),
            "--workers", str(self.workers),
        ]  # fmt: skip
        if self.faults:
            cmd += ["--faults", self.faults]
        if self.database_url:  # a killed server's tasks go back to the queue in seconds
            cmd += ["--stalled-after", "4"]
        return cmd + self.db_args() + self.extra_args

    def start(self) -> ServerProcess:
        if self._process is not None and self._process.poll() is None:
            return self
        if not self._prepared:
            self._prepare()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115  (closed with the process)
        self._process = subprocess.Popen(
            self.command(), env=self._env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        process = self._process
        assert process is not None
        outcome = wait_for_health(
            self.base_url, lambda: process.poll() is None, START_TIMEOUT_SECONDS, interval=0.1
        )
        if outcome == "stopped":
            raise ServerStartError(f"server exited early:\n{self.log()}")
        if outcome == "timeout":
            self.kill()
            raise ServerStartError(f"server did not answer /health in time:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """Graceful stop (SIGTERM), SIGKILL if it takes more than 15 s."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up (restart tests)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    def exit_code_on_its_own(self) -> int | None:
        """The exit code when the process ended without stop() or kill() (a crash), else None."""
        process = self._process
        return None if process is None else process.poll()

    @classmethod
    def exited_on_their_own(cls) -> list[ServerProcess]:
        """The servers that crashed: a failing test's report shows their logs (tests/conftest.py),
        where a bare "connection refused" would say nothing of why."""
        return [server for server in list(cls._all) if server.exit_code_on_its_own() is not None]

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def client(self, token: str | None = None, **kwargs: object) -> httpx.Client:
        """An httpx client on this server with a bearer token (default: the tester's)."""
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
