"""A full disk is an answer, not a crash: writes that fail for lack of space answer 507 in the
API's error body (`vestis.server.errors.is_out_of_space` tells them), `/health` reports the data
dir's free space (503 when it is too low to take an upload), and temp files of writes that never
finished are removed.
"""

from __future__ import annotations

import contextlib
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
