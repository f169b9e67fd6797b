"""The job-level path: a whole job for an engine that works per job (`engines.base.JobEngine`;
e.g. a remote On-Model engine turns one gateway job into one remote job), through
`engines.chain.run_job_on_chain`, which also gives per-output engines of the chain their
outputs one at a time.

`ServerJobContext` is what the server offers such an engine: durable checkpoints
(`jobs.engine_state`), memos across jobs (`engine_memos`), and `deliver`/`fail`, which run the
rest of the output pipeline (refine, store, record) for one output at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from vestis.engines.base import (
    Engine,
    EngineError,
    EngineOutput,
    JobContext,
    JobFile,
    JobIdentity,
    JobWork,
    OutputSlot,
)
from vestis.engines.chain import EngineChain, is_job_engine
from vestis.server.pipeline.inputs import InputError
from vestis.server.pipeline.records import Claim
from vestis.server.store.blobs import BlobStore
from vestis.server.store.db import Database
from vestis.server.store.models import EngineMemo, File, Job

#: What the pipeline does with one engine result: (claim, output or None, error, seconds).
Finish = Callable[[Claim, EngineOutput | None, str | None, float], None]


def chain_of(engine: Engine) -> list[Engine]:
    return list(engine.engines) if isinstance(engine, EngineChain) else [engine]


def engines_for(engine: Engine, job_type: str, request: dict[str, Any]) -> list[Engine]:
    """The engines a job goes through, in order: the first that offers the requested `model`
    (`auto`: the chain's first), then the others (`EngineChain.route`)."""
    if not isinstance(engine, EngineChain):
        return [engine]
    options = request.get("swap_options") or request.get("options") or {}
    return engine.route(job_type, str(options.get("model") or "auto"))


def garment_lock(engine: Engine) -> bool:
    """Whether swaps of engines that repaint are locked (`vestis serve --no-garment-lock`)."""
    return bool(getattr(engine, "garment_lock", True))


def works_per_job(engine: Engine) -> bool:
    """True when an engine of the chain wants whole jobs: jobs then run in one task."""
    return any(is_job_engine(e) for e in chain_of(engine))


class ServerJobContext(JobContext):
    def __init__(
        self, db: Database, job_pk: int, claims: list[Claim], finish: Finish, stop: threading.Event
    ) -> None:
        self.db = db
        self.job_pk = job_pk
        self.claims = {c.output_id: c for c in claims}
        self.finish = finish
        self.stop = stop
        self.started = time.perf_counter()

    def save_state(self, state: dict[str, Any]) -> None:
        with self.db.session() as db:
            db.execute(update(Job).where(Job.id == self.job_pk).values(engine_state=state))

    def recall(self, key: str) -> str | None:
        with self.db.session() as db:
            return db.scalar(select(EngineMemo.value).where(EngineMemo.key == key))

    def remember(self, key: str, value: str) -> None:
        try:
            with self.db.session() as db:
                db.add(EngineMemo(key=key, value=value))
        except IntegrityError:  # remembered meanwhile by another worker: the newest wins
            with self.db.session() as db:
                db.execute(update(EngineMemo).where(EngineMemo.key == key).values(value=value))

    def deliver(self, key: str, output: EngineOutput) -> None:
        claim = self.claims.pop(key, None)
        if claim is not None:
            self.finish(claim, output, None, self._elapsed())

    def fail(self, key: str, error: EngineError) -> None:
        claim = self.claims.pop(key, None)
        if claim is not None:
            self.finish(claim, None, str(error) or "The engine failed.", self._elapsed())

    def stopping(self) -> bool:
        return self.stop.is_set()

    def _elapsed(self) -> float:
        return round(time.perf_counter() - self.started, 3)


def job_work(db: Database, blobs: BlobStore, job_id: str, claims: list[Claim]) -> JobWork:
    """The job as a job-level engine sees it: bytes of the identity and of every file the
    request names, the slots still to make, and the engine checkpoints of earlier attempts."""
    with db.session() as session:
        job = session.scalar(select(Job).where(Job.public_id == job_id))
        assert job is not None
        identity = job.identity
        files: dict[str, JobFile] = {}
        for row in session.scalars(select(File).where(File.public_id.in_(_file_ids(job.request)))):
            files[row.public_id] = JobFile(row.public_id, row.filename, _read(blobs, row.blob_key))
        return JobWork(
            job_id=job.public_id,
            job_type=job.job_type,
            request=dict(job.request),
            project_name=job.project.name,
            identity=None
            if identity is None
            else JobIdentity(
                code=identity.code,
                name=identity.name,
                filename=identity.original_filename or "identity.jpg",
                data=_read(blobs, identity.blob_key),
                sha256=identity.content_sha256,
            ),
            files=files,
            slots=[
                OutputSlot(c.output_id, c.image_index, c.group_index, c.variation, c.fmt, c.spec)
                for c in claims
            ],
            state=dict(job.engine_state or {}),
        )


def _file_ids(request: dict[str, Any]) -> set[str]:
    """Every file id a request names: its images and the reference images of instructions."""
    ids = {i if isinstance(i, str) else i["file_id"] for i in request.get("images") or []}
    if isinstance(request.get("reference_image"), str):
        ids.add(request["reference_image"])
    for instruction in request.get("instructions") or []:
        for value in instruction.values():
            if isinstance(value, dict) and isinstance(value.get("image"), str):
                ids.add(value["image"])
    return ids


def _read(blobs: BlobStore, key: str | None) -> bytes:
    if key is None:
        raise InputError("An input of this job was never uploaded.")
    try:
        return blobs.read(key)
    except Exception as exc:
        raise InputError(f"An input of this job cannot be read any more: {exc}") from exc
