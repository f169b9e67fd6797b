"""Who is using a data dir. A running server (embedded or `vestis serve`) holds a shared lock
on `<data dir>/.lock` for as long as it runs, so `vestis data clear` can refuse to delete the
data from under it. The lock is advisory (fcntl) and released by the kernel when the process
ends, however it ends; where fcntl does not exist the check is skipped.

`vestis serve` on SQLite also holds `<data dir>/server.lock` exclusively (`lock_data_dir`):
SQLite and the in-process job queue hold one process's view, so two servers on one data dir
would each resume the other's running jobs and keep rate limits of their own. A second one
stops at once and says so. (With PostgreSQL any number of servers share one database.)"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # not POSIX
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"
SERVER_LOCK_NAME = "server.lock"


class DataDirInUse(RuntimeError):
    """Another `vestis serve` holds the SQLite data dir."""


class DataDirLock:
    """`hold()` while a server uses the data dir; `in_use()` asks without waiting."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self._fd: int | None = None

    def hold(self) -> DataDirLock:
        """A shared lock: any number of servers may use the data dir at once."""
        if fcntl is not None and self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_SH)
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None

    def in_use(self) -> bool:
        """True when a running server holds the lock (by this process or another)."""
        if fcntl is None or not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def __enter__(self) -> DataDirLock:
        return self.hold()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def lock_data_dir(data_dir: Path) -> int | None:
    """Hold the data dir for this SQLite server (the returned descriptor, open for as long as
    the server runs); `DataDirInUse` when another holds it."""
    if fcntl is None:
        return None
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(Path(data_dir) / SERVER_LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise DataDirInUse(
            f"Another vestis server (pid {holder}) is already running on the data dir "
            f"{data_dir}. Stop it first, or give this one another --data-dir. To run several "
            "server processes on one database, use PostgreSQL (--database-url); see "
            "docs/deploy.md."
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd
