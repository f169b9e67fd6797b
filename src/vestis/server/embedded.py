"""EmbeddedServer: the real server in a background thread on a loopback port, so the CLI can
talk real HTTP to it with no account and no network.

    with EmbeddedServer(platformdirs.user_data_dir("vestis")) as server:
        client = Client(base_url=server.base_url, token=server.token)
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Literal

import httpx
import uvicorn

from vestis.server.http.app import create_app
from vestis.server.process.state import ServerState
from vestis.server.services.accounts import create_user, find_user, issue_token, user_for_token
from vestis.server.settings import ServerSettings
from vestis.server.store.datadir import DataDirLock

LOCAL_USER = "local"
TOKEN_FILE = "embedded-token"
START_TIMEOUT_SECONDS = 60


def wait_for_health(
    base_url: str,
    alive: Callable[[], bool],
    timeout: float = START_TIMEOUT_SECONDS,
    interval: float = 0.05,
) -> Literal["healthy", "stopped", "timeout"]:
    """Poll `GET /health` until it answers 200 ("healthy"), `alive()` turns false ("stopped"),
    or `timeout` seconds pass ("timeout"). Shared by the embedded server and the test harness
    that starts `vestis serve` as a process."""
    deadline = time.monotonic() + timeout
    # one client for every poll: a new one per poll builds a TLS context each time (and none
    # at all for plain HTTP, the embedded server's: building one costs more than a poll)
    with httpx.Client(timeout=2, verify=base_url.startswith("https:")) as client:
        while time.monotonic() < deadline:
            if not alive():
                return "stopped"
            try:
                if client.get(base_url + "/health").status_code == 200:
                    return "healthy"
            except httpx.HTTPError:
                pass
            time.sleep(interval)
    return "timeout"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _PromptServer(uvicorn.Server):
    """uvicorn looks at `should_exit` every 0.1 s, and then gives open connections 0.1 s more
    before it stops: a command of the CLI, which closes its client first, waits for neither
    (each command starts and stops a server). Otherwise uvicorn's own loop and shutdown."""

    async def main_loop(self) -> None:
        counter = 0
        if await self.on_tick(counter):
            return
        while True:
            for _ in range(10):  # uvicorn's tick (date header, request limit) stays at 0.1 s
                await asyncio.sleep(0.01)
                if self.should_exit:
                    return
            counter = (counter + 1) % 864_000
            if await self.on_tick(counter):
                return

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.server_state.connections or self.server_state.tasks or self.force_exit:
            await super().shutdown(sockets)
            return
        for server in self.servers:
            server.close()
        for server in self.servers:
            await server.wait_closed()
        await self.lifespan.shutdown()


class EmbeddedServer:
    def __init__(
        self,
        data_dir: str | Path,
        *,
        engine: str = "local",
        rate_limit_per_minute: int = 0,
        workers: int = 2,
        initial_credits: float = 1_000_000,
        port: int | None = None,
        studio: bool = True,
        outputs: bool = True,
    ) -> None:
        """`outputs=False`: a server for requests that make no outputs and check no faces
        (list, show, status, delete): no workers and no engine, so it starts without the
        engine's image libraries."""
        self.port = port or _free_port()
        self.settings = ServerSettings(
            data_dir=Path(data_dir),
            host="127.0.0.1",
            port=self.port,
            engine=engine,
            rate_limit_per_minute=rate_limit_per_minute,
            workers=workers if outputs else 0,
            load_engine=outputs,
            initial_credits=initial_credits,
            # One user's own machine: their webhooks and image URLs may be on their network.
            allow_private_urls=True,
            # a command that only calls the API starts faster without the studio's pages
            studio=studio,
        )
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.token = ""
        #: The server's state once started (the studio command signs its browser in with it).
        self.state: ServerState | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._lock: DataDirLock | None = None

    def _local_token(self, state: ServerState) -> str:
        """The local user's API token, kept in the data dir and reused while valid."""
        path = self.settings.data_dir / TOKEN_FILE
        with state.db.session() as db:
            if path.exists():
                saved = path.read_text().strip()
                if saved and user_for_token(db, saved, ("api",)) is not None:
                    return saved
            # no password: the token is its way in (and its first start hashes nothing)
            user = find_user(db, LOCAL_USER) or create_user(
                db, LOCAL_USER, None, self.settings.initial_credits
            )
            token, _ = issue_token(db, user, "api", timedelta(days=3650))
        path.write_text(token)
        path.chmod(0o600)
        return token

    def start(self) -> EmbeddedServer:
        state = ServerState.open(self.settings)
        self._lock = DataDirLock(self.settings.data_dir).hold()  # `vestis data clear` waits
        self.state = state
        self.token = self._local_token(state)
        config = uvicorn.Config(
            create_app(self.settings, state),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=3,
        )
        self._server = _PromptServer(config)
        # uvicorn installs signal handlers only in the main thread; the CLI keeps Ctrl-C.
        self._thread = threading.Thread(
            target=self._server.run, name="vestis-embedded", daemon=True
        )
        self._thread.start()
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        thread = self._thread
        # polled often: the server is up within a few tens of milliseconds, and each command of
        # the CLI waits for it
        outcome = wait_for_health(
            self.base_url, lambda: thread is not None and thread.is_alive(), interval=0.01
        )
        if outcome == "stopped":
            raise RuntimeError("The embedded server stopped during start-up.")
        if outcome == "timeout":
            self.stop()
            raise RuntimeError(
                f"The embedded server did not answer within {START_TIMEOUT_SECONDS} s."
            )

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._server = self._thread = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
