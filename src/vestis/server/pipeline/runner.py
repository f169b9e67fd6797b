"""`OutputPipeline`: the steps of the package docstring, as the tasks the queue runs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack

from sqlalchemy import select
from sqlalchemy.orm import Session

from vestis.engines.base import AnySpec, Engine, EngineError, EngineOutput, OutputSlot
from vestis.engines.chain import run_job_on_chain
from vestis.server import errors
from vestis.server.jobqueue import JOB, OUTPUT, JobQueue
from vestis.server.media import images
from vestis.server.pipeline import delivery, records
from vestis.server.pipeline import inputs as inputs_
from vestis.server.pipeline.delivery import Delivery
from vestis.server.pipeline.inputs import InputError, Inputs
from vestis.server.pipeline.records import Claim, Stored
from vestis.server.pipeline.whole_jobs import (
    ServerJobContext,
    engines_for,
    garment_lock,
    job_work,
    works_per_job,
)
from vestis.server.services.notify import NotificationBus
from vestis.server.store.blobs import store_retrying
from vestis.server.store.core import ServerCore
from vestis.server.store.models import Job, JobOutput

log = logging.getLogger("vestis.server.pipeline")

#: Finds the work no task attends: (the session, the queue's live tasks) -> (task, arg)s.
Unattended = Callable[[Session, set[tuple[str, str]]], set[tuple[str, str]]]

DISK_FULL_MESSAGE = (
    "The server's disk was full, so this output could not be stored; it was refunded. Run it "
    "again once the server has space."
)


class OutputPipeline:
    def __init__(self, state: ServerCore, bus: NotificationBus, queue: JobQueue) -> None:
        self.state = state
        self.bus = bus
        self.queue = queue
        #: Set when the process stops: an engine working on a whole job leaves the rest.
        self.stopping = threading.Event()
        #: Work the last sweep found unattended (see `sweep`).
        self._suspects: set[tuple[str, str]] = set()
        #: What else the sweep looks for, beside jobs and outputs (the runtime adds the FASHN
        #: predictions): each gives the (task, arg) of the work in flight no live task attends.
        self.unattended: list[Unattended] = [records.unattended]

    @property
    def engine(self) -> Engine:
        assert self.state.engine is not None, "the engine is loaded before workers start"
        return self.state.engine

    # --- tasks ----------------------------------------------------------------------------------

    def run_job(self, job_id: str) -> None:
        """JOB task: fan the job out into OUTPUT tasks, or run it whole (`works_per_job`).
        Run for a job already started (a restart, a database from before the queue), it
        defers again what is left; an OUTPUT task for an output made meanwhile does nothing."""
        if works_per_job(self.engine):
            self._run_whole_job(job_id)
            return
        with self.state.db.session() as db:
            job = db.scalar(select(Job).where(Job.public_id == job_id))
            if job is None or job.status not in records.UNFINISHED:
                return
            records.start_job(db, self.bus, job.id)
            db.refresh(job)
            left = records.next_outputs(job)
            for output in left:
                self.queue.defer(db, OUTPUT, output.public_id)
            if not left:  # its last output was recorded, the job's end was not (the sweep)
                db.execute(select(Job.id).where(Job.id == job.id).with_for_update())
                db.refresh(job)
                records.finish_if_done(db, self.bus, job)

    def sweep(self) -> None:
        """Defer again the work no task attends (its task failed for good: the database or
        the disk away for longer than the retries; or the task was lost): jobs, redos and
        whatever else `unattended` finds (FASHN predictions). Only what was found
        so on two sweeps in a row: work handed from one task to the next between the queue's
        answer and the database's is not taken for lost."""
        live = self.queue.live_tasks()
        with self.state.db.session() as db:
            found: set[tuple[str, str]] = set()
            for finder in self.unattended:
                found |= finder(db, live)
            lost = found & self._suspects
            for task, arg in sorted(lost):
                self.queue.defer(db, task, arg)
        self._suspects = found - lost
        if lost:
            log.warning("the sweep deferred again %d unattended task(s)", len(lost))

    def make_output(self, output_id: str) -> None:
        """OUTPUT task: make one output."""
        with self.queue.exclusive(f"output:{output_id}") as mine:
            if not mine:
                return  # another worker is making it
            with self.state.db.session() as db:
                claim = records.claim(db, self.bus, output_id)
            if claim is None:
                return
            refused = self._too_many_attempts(claim)
            if refused:
                self._finish(claim, None, refused, 0.0)
                return
            try:
                loaded = self._load([claim], follower=not claim.is_anchor)
            except InputError as exc:
                self._finish(claim, None, str(exc), 0.0)
                return
            started = time.perf_counter()
            spec = inputs_.engine_spec(
                claim.job_type, claim.request, claim.spec, claim.variation, loaded
            )
            made, error = self._call(lambda: self._make(spec, claim), claim)
            chosen = loaded.chosen.get(claim.spec.get("file_id", ""))
            if made is not None and chosen is not None:
                made.metrics["identity_photo"] = chosen
            self._finish(claim, made, error, round(time.perf_counter() - started, 3))

    def requeue_unfinished(self) -> None:
        """Defer a JOB task for every unfinished job (the queue's tasks were lost with the
        process that held them); outputs caught mid-way start over."""
        with self.state.db.session() as db:
            jobs = db.scalars(
                select(Job.public_id).where(Job.status.in_(records.UNFINISHED)).order_by(Job.id)
            ).all()
            for job_id in jobs:
                self.queue.defer(db, JOB, job_id)
            # redos run after their job ended, so no job task brings them back
            redos = db.scalars(
                select(JobOutput.public_id)
                .join(Job, JobOutput.job_id == Job.id)
                .where(Job.status.not_in(records.UNFINISHED))
                .where(JobOutput.status.in_(records.UNFINISHED), JobOutput.version > 0)
                .order_by(JobOutput.id)
            ).all()
            for output_id in redos:
                self.queue.defer(db, OUTPUT, output_id)
        if jobs:
            log.warning("resuming %d unfinished job(s)", len(jobs))

    # --- steps ----------------------------------------------------------------------------------

    def _too_many_attempts(self, claim: Claim) -> str | None:
        limit = self.state.settings.max_job_attempts
        if claim.attempt <= limit:
            return None
        return f"The server stopped while making this output {limit} times; giving up on it."

    def _load(self, claims: list[Claim], follower: bool) -> Inputs:
        file_ids = {c.spec["file_id"] for c in claims if "file_id" in c.spec}
        with self.state.db.session() as db:
            job = db.get(Job, claims[0].job_pk)
            assert job is not None
            return inputs_.load(db, self.state.blobs, job, file_ids, follower)

    def _call(self, make, claim: Claim) -> tuple[Delivery | None, str | None]:  # type: ignore[no-untyped-def]
        try:
            return make(), None
        except EngineError as exc:
            return None, str(exc) or "The engine could not make this output."
        except Exception as exc:  # an engine bug fails one output, not the worker
            log.exception("engine crashed on output %s of job %s", claim.output_id, claim.job_id)
            return None, f"Internal engine error: {type(exc).__name__}"

    def _make(self, spec: AnySpec, claim: Claim) -> Delivery:
        """The engine, then the measures (`server.delivery`): an output whose face is not the
        identity is made again with other seeds (`--identity-retries`)."""
        return delivery.make(
            lambda again: inputs_.call_engine(self.engine, again),
            spec,
            claim.fmt,
            self.state.settings.identity_retries,
        )

    def _deliver(self, claim: Claim, made: EngineOutput, spec: AnySpec) -> Delivery:
        """The measures of an output an engine made as part of a whole job (no retries: the
        engine made the job at once)."""
        return delivery.deliver(spec, made, claim.fmt)

    def _store(self, claim: Claim, made: Delivery) -> Stored:
        blobs = self.state.blobs
        key = blobs.new_key("outputs", claim.fmt)
        thumb_key = blobs.new_key("thumbnails", "jpg")
        thumbnail = images.thumbnail(made.image)
        what = f"output {claim.output_id}"
        try:
            store_retrying(blobs, lambda: blobs.write(key, made.data), what)
            store_retrying(blobs, lambda: blobs.write(thumb_key, thumbnail), what)
        except BaseException:
            try:  # no output file without its row (the thumbnail may not fit)
                blobs.delete(key)
            except Exception:  # the store still away: a stray blob, the failure matters more
                log.exception("could not delete %s of output %s", key, claim.output_id)
            raise
        return Stored(
            key,
            thumb_key,
            made.model_used,
            made.quality_score,
            list(made.warnings),
            engine=made.engine,
            upstream_id=made.upstream_id,
            upstream_credits=made.upstream_credits,
            garment_locked_share=made.garment_locked_share,
            metrics=made.metrics,
            face_embedding=made.face_embedding,
        )

    def _finish(
        self, claim: Claim, made: Delivery | None, error: str | None, elapsed: float
    ) -> None:
        """Steps 6 and 7 for one measured engine result (or error)."""
        stored = None
        if made is not None:
            try:
                stored = self._store(claim, made)
            except Exception as exc:  # a full disk, or the store away for all its tries
                log.exception("could not store output %s", claim.output_id)
                error = (
                    DISK_FULL_MESSAGE
                    if errors.is_out_of_space(exc)
                    else f"The output could not be stored: {exc}"
                )
        with self.state.db.session() as db:
            followers = records.record(db, self.bus, claim, stored, error, elapsed)
            for output in followers or ():
                self.queue.defer(db, OUTPUT, output.public_id)
        if followers is None and stored is not None:
            log.warning("output %s was taken over by another worker", claim.output_id)
            self.state.blobs.delete(stored.blob_key)
            self.state.blobs.delete(stored.thumb_key)

    # --- engines that work per job ----------------------------------------------------------

    def _run_whole_job(self, job_id: str) -> None:
        with ExitStack() as held:
            claims = self._claim_all(job_id, held)
            if not claims:
                return
            ready = []
            for claim in claims:
                refused = self._too_many_attempts(claim)
                if refused:
                    self._finish(claim, None, refused, 0.0)
                else:
                    ready.append(claim)
            if ready:
                self._run_job_engine(job_id, ready)

    def _claim_all(self, job_id: str, held: ExitStack) -> list[Claim]:
        with self.state.db.session() as db:
            job = db.scalar(select(Job).where(Job.public_id == job_id))
            if job is None or job.status not in records.UNFINISHED:
                return []
            ids = [o.public_id for o in job.outputs if o.status in records.UNFINISHED]
        claims = []
        for output_id in ids:
            if not held.enter_context(self.queue.exclusive(f"output:{output_id}")):
                continue
            with self.state.db.session() as db:
                claim = records.claim(db, self.bus, output_id)
            if claim is not None:
                claims.append(claim)
        return claims

    def _run_job_engine(self, job_id: str, claims: list[Claim]) -> None:
        try:
            work = job_work(self.state.db, self.state.blobs, job_id, claims)
        except InputError as exc:
            for claim in claims:
                self._finish(claim, None, str(exc), 0.0)
            return
        by_id = {c.output_id: c for c in claims}
        loaded: list[Inputs] = []

        def spec_for(slot: OutputSlot) -> AnySpec:
            if not loaded:  # only per-output engines of the chain need decoded images
                loaded.append(self._load(claims, follower=False))
            claim = by_id[slot.key]
            return inputs_.engine_spec(  # the job's engine was given the first photo
                claim.job_type, claim.request, claim.spec, claim.variation, loaded[0], False
            )

        def finish(claim: Claim, made: EngineOutput | None, error: str | None, took: float) -> None:
            delivered = None
            if made is not None:
                spec = spec_for(OutputSlot(claim.output_id, claim.image_index, claim.group_index,
                                           claim.variation, claim.fmt, claim.spec))  # fmt: skip
                delivered, error = self._call(lambda: self._deliver(claim, made, spec), claim)
            self._finish(claim, delivered, error, took)

        context = ServerJobContext(self.state.db, claims[0].job_pk, claims, finish, self.stopping)
        engines = engines_for(self.engine, work.job_type, work.request)
        run_job_on_chain(engines, work, context, spec_for, garment_lock(self.engine))
        if self.stopping.is_set() and context.claims:
            with self.state.db.session() as db:  # taken up again by the next worker
                self.queue.defer(db, JOB, job_id)
            return
        for claim in list(context.claims.values()):
            self._finish(claim, None, "The engine returned no result for this output.", 0.0)
