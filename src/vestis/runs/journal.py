"""The run journal: what one output folder's run has done, so a re-run finishes the rest.

`<output folder>/.vestis-journal.json`, rewritten atomically (temp file + rename) after every
step. It never holds a secret. Keys:

- `uploads`: input name -> {sha256, file_id} (an input is re-uploaded only if its bytes change)
- `project`: {name, id}; `identity`: {code, image, image_sha256}
- `job`: {fingerprint, idempotency_key, job_id, status, submitted_at, finished_at, inputs,
  error}: written with the Idempotency-Key BEFORE the submission and with the job id right after
  acceptance, so a crash anywhere never makes a second job for the same request
- `downloads`: result key (image/group/version) -> {file, sha256, model_used, ...}
- `warnings`, `failures`, `timings`, `completed`
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

JOURNAL_NAME = ".vestis-journal.json"
JOURNAL_VERSION = 1


class Journal:
    """A JSON document kept on disk; every mutation goes through `update()` and is saved."""

    def __init__(self, folder: Path, data: dict[str, Any] | None = None) -> None:
        self.folder = folder
        self.path = folder / JOURNAL_NAME
        self.data: dict[str, Any] = data if data is not None else {"version": JOURNAL_VERSION}
        self._lock = threading.RLock()

    @classmethod
    def open(cls, folder: Path) -> Journal:
        """The folder's journal, or an empty one (not written until the first update)."""
        path = folder / JOURNAL_NAME
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                # A journal is only ever replaced whole, so this is a foreign or damaged file:
                # keep it aside and start afresh rather than refuse to run.
                path.replace(path.with_suffix(f".damaged-{int(time.time())}"))
                data = None
            if isinstance(data, dict):
                return cls(folder, data)
        return cls(folder)

    @classmethod
    def read(cls, folder: Path) -> dict[str, Any] | None:
        """The journal's data, or None when the folder has none (for reports)."""
        path = folder / JOURNAL_NAME
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None

    # -- access ----------------------------------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self.data.get(key, default)

    def section(self, key: str) -> dict[str, Any]:
        """A dict section (created empty when missing); mutate it only inside `update()`."""
        with self._lock:
            value = self.data.setdefault(key, {})
            assert isinstance(value, dict)
            return value

    def set(self, key: str, value: Any) -> None:
        with self._lock:
            self.data[key] = value
            self.save()

    def set_in(self, section: str, key: str, value: Any) -> None:
        with self._lock:
            self.section(section)[key] = value
            self.save()

    def append(self, key: str, value: Any) -> None:
        with self._lock:
            items = self.data.setdefault(key, [])
            if value not in items:
                items.append(value)
            self.save()

    # -- job -------------------------------------------------------------------------------------

    def prepare_job(self, fingerprint: str, inputs: list[str]) -> dict[str, Any]:
        """The job entry for this request: the journal's own if the request is the same and that
        job did not fail, else a new entry with a fresh Idempotency-Key (saved before return)."""
        with self._lock:
            job = self.data.get("job")
            if (
                isinstance(job, dict)
                and job.get("fingerprint") == fingerprint
                and job.get("status") not in ("failed", "aborted")
            ):
                return job
            if isinstance(job, dict) and job.get("job_id"):
                self.data.setdefault("previous_jobs", []).append(job)
                # A new job means new outputs: what the old one downloaded stays on disk but no
                # longer counts as this run's.
                self.data["downloads"] = {}
            job = {
                "fingerprint": fingerprint,
                "idempotency_key": str(uuid.uuid4()),
                "job_id": None,
                "status": None,
                "inputs": inputs,
            }
            self.data["job"] = job
            self.data["completed"] = False
            self.save()
            return job

    def forget_server_state(self) -> None:
        """Forget what lives on the server (project, uploads, identity, job) once the server no
        longer has it; the job is kept in `previous_jobs`, the files on disk stay."""
        with self._lock:
            job = self.data.get("job")
            if isinstance(job, dict) and job.get("job_id"):
                self.data.setdefault("previous_jobs", []).append(job)
            for key in ("project", "uploads", "identity", "job"):
                self.data.pop(key, None)
            self.data["completed"] = False
            self.save()

    def update_job(self, **fields: Any) -> None:
        with self._lock:
            job = self.data.setdefault("job", {})
            job.update(fields)
            self.save()

    # -- persistence -----------------------------------------------------------------------------

    def save(self) -> None:
        """Write atomically: a crash leaves the old or the new journal, never half of one."""
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            text = json.dumps(self.data, indent=2, sort_keys=False)
            tmp = self.folder / f".vestis-journal.{uuid.uuid4().hex}.part"
            try:
                with open(tmp, "w", encoding="utf-8") as handle:
                    handle.write(text)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
