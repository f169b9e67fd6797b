"""An in-memory double of `vestis.client.Client` for the runs/ unit tests: the resources the
workflows call, with call counts and switches to make calls fail."""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from vestis.client import errors
from vestis.contract import JobCreatedResponse, JobStatusResponse


def image_bytes(fmt: str = "JPEG", color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 40), color).save(buffer, fmt)
    return buffer.getvalue()


@dataclass
class Ident:
    identity_code: str
    preprocessing_status: str = "completed"
    face_detected: bool | None = True


@dataclass
class IdentStatus:
    preprocessing_status: str
    error_message: str | None = None


@dataclass
class FakeState:
    projects: dict[str, str] = field(default_factory=dict)
    uploads: list[str] = field(default_factory=list)  # file names, one per upload call
    file_names: dict[str, str] = field(default_factory=dict)  # file_id -> name
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # job_id -> job
    keys: dict[str, str] = field(default_factory=dict)  # idempotency key -> job_id
    submissions: int = 0  # create calls, including idempotent replays
    fetches: list[str] = field(default_factory=list)
    fail_upload: dict[str, Exception] = field(default_factory=dict)  # name -> error (once)
    fail_wait: list[Exception] = field(default_factory=list)  # raised by wait(), in order
    fail_identity: list[Exception] = field(default_factory=list)  # raised by identities.get
    drop_after_create: int = 0  # times a create succeeds server-side but raises to the client
    output_format: str = "JPEG"
    results_override: list[dict[str, Any]] | None = None
    job_status: str = "completed"
    identities: set[str] = field(default_factory=lambda: {"KnownIdentity"})
    faceless: set[str] = field(default_factory=set)  # identity codes the server found no face in
    identity_uploads: int = 0
    project_prefix: str = "proj"  # another prefix: another server (or this one, cleared)
    deleted_identities: list[str] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


class _Projects:
    def __init__(self, s: FakeState) -> None:
        self.s = s

    def ensure(self, name: str) -> str:
        return self.find_or_create(name)[0]

    def find_or_create(self, name: str) -> tuple[str, bool]:
        existed = name in self.s.projects
        prefix = self.s.project_prefix
        return self.s.projects.setdefault(name, f"{prefix}_{len(self.s.projects) + 1}"), existed


class _Uploads:
    def __init__(self, s: FakeState) -> None:
        self.s = s

    def upload_file(self, path: Path) -> str:
        error = self.s.fail_upload.pop(Path(path).name, None)
        if error is not None:
            raise error
        self.s.uploads.append(Path(path).name)
        file_id = f"file_{next(self.s.counter)}"
        self.s.file_names[file_id] = Path(path).name
        return file_id


class _Identities:
    def __init__(self, s: FakeState) -> None:
        self.s = s

    def _status(self, code: str) -> str:
        return "failed" if code in self.s.faceless else "completed"

    def get(self, code: str) -> Ident:
        if self.s.fail_identity:
            raise self.s.fail_identity.pop(0)
        if code not in self.s.identities:
            raise errors.NotFoundError("Identity not found", status_code=404)
        return Ident(code, self._status(code), code not in self.s.faceless)

    def upload(self, path: Path, name: str | None = None) -> Ident:
        """Like the server: an image uploaded before answers 409 with its code."""
        self.s.identity_uploads += 1
        code = f"ident_{name or Path(path).stem}"
        if code in self.s.identities:
            body = {"existing_identity_code": code}
            raise errors.ConflictError("exists", status_code=409, body=body)
        self.s.identities.add(code)
        return Ident(code, self._status(code), code not in self.s.faceless)

    def status(self, code: str) -> IdentStatus:
        failed = code in self.s.faceless
        return IdentStatus(self._status(code), "No face was found." if failed else None)

    def delete(self, code: str) -> None:
        self.s.identities.discard(code)
        self.s.deleted_identities.append(code)


class _Jobs:
    def __init__(self, s: FakeState) -> None:
        self.s = s

    def _create(self, kind: str, body: dict[str, Any], key: str | None) -> JobCreatedResponse:
        self.s.submissions += 1
        if key and key in self.s.keys:
            job_id = self.s.keys[key]
        else:
            job_id = f"job_{len(self.s.jobs) + 1}"
            self.s.jobs[job_id] = {"kind": kind, "body": body}
            if key:
                self.s.keys[key] = job_id
        if self.s.drop_after_create > 0:
            self.s.drop_after_create -= 1
            raise errors.APIConnectionError("Connection dropped")
        total = None
        if kind == "flat":
            total = sum(i.get("num_variations", 1) for i in body["instructions"] or [{}])
        return JobCreatedResponse(job_id=job_id, total_outputs=total)

    def model_swap(self, body: dict[str, Any], *, idempotency_key: str | None = None) -> Any:
        return self._create("swap", body, idempotency_key)

    def flat_to_model(self, body: dict[str, Any], *, idempotency_key: str | None = None) -> Any:
        return self._create("flat", body, idempotency_key)

    def wait(self, job_id: str, **kwargs: Any) -> JobStatusResponse:
        if self.s.fail_wait:
            raise self.s.fail_wait.pop(0)
        on_update = kwargs.get("on_update")
        status = JobStatusResponse(job_id=job_id, job_type="x", status="processing", progress=50)
        if on_update:
            on_update(status)
        if self.s.job_status != "completed":
            raise errors.JobFailedError(job_id, self.s.job_status, "engine refused")
        return JobStatusResponse(job_id=job_id, job_type="x", status="completed", progress=100)

    def results_raw(self, job_id: str) -> dict[str, Any]:
        job = self.s.jobs[job_id]
        if self.s.results_override is not None:
            results = self.s.results_override
        elif job["kind"] == "swap":
            names = self.s.uploads_for(job["body"]["images"])
            results = [
                {
                    "image_index": i,
                    "group_index": 0,
                    "version": 0,
                    "original_filename": name,
                    "status": "completed",
                    "model_used": "onda",
                    "output": {"full_size": f"http://cdn/{job_id}/{i}", "thumbnail": None},
                }
                for i, name in enumerate(names)
            ]
        else:
            results = []
            for g, ins in enumerate(job["body"]["instructions"] or [{}]):
                for v in range(ins.get("num_variations", 1)):
                    results.append(
                        {
                            "image_index": v,
                            "group_index": g,
                            "version": 0,
                            "original_filename": f"output_{g}_{v}.jpg",
                            "status": "completed",
                            "model_used": "nano_banana_pro",
                            "output": {"full_size": f"http://cdn/{job_id}/{g}/{v}"},
                        }
                    )
        return {"job_id": job_id, "status": "completed", "results": results, "note": "é"}


class _Downloads:
    def __init__(self, s: FakeState) -> None:
        self.s = s

    def fetch(self, url: str) -> bytes:
        self.s.fetches.append(url)
        return image_bytes(self.s.output_format)


def _uploads_for(self: FakeState, file_ids: list[Any]) -> list[str]:
    names = []
    for item in file_ids:
        file_id = item["file_id"] if isinstance(item, dict) else item
        names.append(self.file_names[file_id])
    return names


FakeState.uploads_for = _uploads_for  # type: ignore[attr-defined]


class FakeClient:
    def __init__(self, state: FakeState | None = None) -> None:
        self.state = state or FakeState()
        self.projects = _Projects(self.state)
        self.uploads = _Uploads(self.state)
        self.identities = _Identities(self.state)
        self.jobs = _Jobs(self.state)
        self.downloads = _Downloads(self.state)

    def close(self) -> None:
        pass
