"""A full disk is an answer, not a crash: writes that fail for lack of space answer 507 in the
API's error body, `/health` reports the data dir's free space (503 when it is too low to take
an upload), and temp files of writes that never finished are removed.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import time
from pathlib import Path

log = logging.getLogger("vestis.server.store.disk")

#: Below this much free space `/health` answers 503: an upload of the largest size may fail.
MIN_FREE_BYTES = 8 * 1024 * 1024
#: A `.part` file untouched for this long belongs to a write that will never finish.
STALE_PART_SECONDS = 60.0

_NO_SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_NO_SPACE_WORDS = ("database or disk is full", "no space left on device", "disk quota exceeded")


def is_out_of_space(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says the disk is full: an `OSError` with ENOSPC,
    EDQUOT or EFBIG, or a database error saying so (SQLite: 'database or disk is full')."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _NO_SPACE_ERRNOS:
            return True
        if any(words in str(current).lower() for words in _NO_SPACE_WORDS):
            return True
        current = current.__cause__ or current.__context__
    return False


def free_bytes(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def sweep_stale_parts(root: Path, older_than: float = STALE_PART_SECONDS) -> int:
    """Remove `*.part` files under `root` not written to for `older_than` seconds (left by a
    write cut short: a killed process, a full disk); how many. A write still going on keeps
    its file fresh and is left alone, also one of another process on the same data dir."""
    cutoff = time.time() - older_than
    removed = 0
    for path in root.rglob("*.part"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    if removed:
        log.warning("removed %d unfinished temp file(s) under %s", removed, root)
    return removed


def remove_quietly(path: Path) -> None:
    """Unlink a temp file after a failed write (never raising: the first error is the one to
    report)."""
    with contextlib.suppress(OSError):
        os.unlink(path)
