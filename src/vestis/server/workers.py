"""The job workers: threads that take job ids from a queue and run each output through the
engine. State lives in the database, so a restarted server resumes where it stopped."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from PIL import Image
from sqlalchemy import select, update

from vestis.contract.jobs import Flat2ModelRequest, Instruction, ModelSwapRequest
from vestis.engines.base import EngineError, EngineOutput, FlatGarment, FlatSpec, SwapSpec
from vestis.server import images
from vestis.server.models import File, Job, JobOutput, utcnow
from vestis.server.services import credits
from vestis.server.services.jobs import MODEL_SWAP, count_outputs
from vestis.server.services.notify import NotificationBus
from vestis.server.state import ServerState

log = logging.getLogger("vestis.server.workers")

_STOP = "__stop__"


@dataclass
class _Inputs:
    identity: Image.Image
    uploads: dict[str, Image.Image]
    garments: list[FlatGarment]


class JobWorkers:
    def __init__(self, state: ServerState, bus: NotificationBus) -> None:
        self.state = state
        self.bus = bus
        self._queue: queue.Queue[str] = queue.Queue()
        self._threads: list[threading.Thread] = []

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._recover()
        for number in range(max(1, self.state.settings.workers)):
            thread = threading.Thread(target=self._loop, name=f"job-worker-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Ask the threads to stop after their current output; a job cut short stays
        `processing` in the database and is resumed by the next start."""
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join(timeout=2)

    def submit(self, job_id: str) -> None:
        self._queue.put(job_id)

    def _recover(self) -> None:
        """Re-queue unfinished jobs, oldest first; outputs caught mid-way start over."""
        with self.state.db.session() as db:
            jobs = db.scalars(
                select(Job).where(Job.status.in_(("pending", "processing"))).order_by(Job.id)
            ).all()
            for job in jobs:
                for output in job.outputs:
                    if output.status == "processing":
                        output.status = "pending"
                self._queue.put(job.public_id)
            if jobs:
                log.warning("resuming %d unfinished job(s)", len(jobs))

    def _loop(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id == _STOP:
                return
            try:
                self.run(job_id)
            except Exception:
                log.exception("job %s crashed", job_id)
                self._fail_rest(job_id, "Internal error while processing the job.")

    # --- one job ------------------------------------------------------------------------------

    def run(self, job_id: str) -> None:
        started = self._begin(job_id)
        if started is None:
            return
        user_id, pending = started
        inputs = self._load_inputs(job_id)
        anchor: Image.Image | None = None
        for output_id in pending:
            image = self._make_output(job_id, output_id, inputs, anchor)
            if image is not None and anchor is None:
                anchor = image
        self._finish(job_id, user_id)

    def _begin(self, job_id: str) -> tuple[int, list[int]] | None:
        """Mark the job processing; the ids of outputs still to make, anchor first."""
        max_attempts = self.state.settings.max_job_attempts
        with self.state.db.session() as db:
            job = db.scalar(select(Job).where(Job.public_id == job_id))
            if job is None or job.status not in ("pending", "processing"):
                return None
            job.attempts += 1
            if job.attempts > max_attempts:
                reason = (
                    f"The server stopped while making this output {max_attempts} times; "
                    "giving up on it."
                )
                todo = [o for o in job.outputs if o.status in ("pending", "processing")]
                for output in todo:
                    self._mark_failed(db, job, output, reason)
                user_id = job.user_id
                changed = False
            else:
                changed = job.status != "processing"
                job.status = "processing"
                job.updated_at = utcnow()
                user_id = job.user_id
            pending = [o.id for o in job.outputs if o.status == "pending"]
            anchor = self._anchor_position(job)
            pending.sort(key=lambda oid: 0 if oid == anchor else 1)
            event = self._batch_event(job)
        if changed:
            self.bus.emit(user_id, "batch_edit", event)
        if job.attempts > max_attempts:
            self._finish(job_id, user_id)
            return None
        return user_id, pending

    @staticmethod
    def _anchor_position(job: Job) -> int | None:
        options = job.request.get("options") or {}
        if job.job_type == MODEL_SWAP or not options.get("use_anchor", True):
            return None
        wanted = options.get("anchor_index", 0)
        for output in job.outputs:
            if output.group_index == wanted and output.variation == 0:
                return output.id
        return None

    def _load_inputs(self, job_id: str) -> _Inputs:
        blobs = self.state.blobs
        with self.state.db.session() as db:
            job = db.scalar(select(Job).where(Job.public_id == job_id))
            assert job is not None
            identity = images.open_image(blobs.read(job.identity.blob_key))
            uploads: dict[str, Image.Image] = {}
            garments: list[FlatGarment] = []
            if job.job_type == MODEL_SWAP:
                for file_id in ModelSwapRequest.model_validate(job.request).images:
                    uploads[file_id] = self._open_upload(db, file_id)
            else:
                request = Flat2ModelRequest.model_validate(job.request)
                for item in request.annotated_images():
                    row = db.scalar(select(File).where(File.public_id == item.file_id))
                    assert row is not None and row.blob_key is not None
                    garments.append(
                        FlatGarment(
                            image=images.open_image(blobs.read(row.blob_key)),
                            filename=row.filename,
                            note=item.note,
                        )
                    )
        return _Inputs(identity, uploads, garments)

    def _open_upload(self, db: Any, file_id: str) -> Image.Image:
        row = db.scalar(select(File).where(File.public_id == file_id))
        assert row is not None and row.blob_key is not None
        return images.open_image(self.state.blobs.read(row.blob_key))

    def _make_output(
        self, job_id: str, output_id: int, inputs: _Inputs, anchor: Image.Image | None
    ) -> Image.Image | None:
        with self.state.db.session() as db:
            # claim the output atomically: an abort may have failed it meanwhile
            claimed = db.execute(
                update(JobOutput)
                .where(JobOutput.id == output_id, JobOutput.status == "pending")
                .values(status="processing")
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
            output = db.get(JobOutput, output_id)
            assert output is not None
            job = output.job
            job_type, request, spec = job.job_type, dict(job.request), dict(output.spec)
            variation, fmt = output.variation, output.output_format
        started = time.perf_counter()
        try:
            made = self._call_engine(job_type, request, spec, variation, inputs, anchor)
            error = None
        except EngineError as exc:
            made, error = None, str(exc) or "The engine could not make this output."
        except Exception as exc:  # an engine bug fails one output, not the server
            log.exception("engine crashed on job %s", job_id)
            made, error = None, f"Internal engine error: {type(exc).__name__}"
        elapsed = round(time.perf_counter() - started, 3)
        if made is not None:
            self._store_output(output_id, made, fmt, elapsed)
        user_id, events = self._record(job_id, output_id, error, elapsed)
        for name, data in events:
            self.bus.emit(user_id, name, data)
        return made.image if made is not None else None

    def _call_engine(
        self,
        job_type: str,
        request: dict[str, Any],
        spec: dict[str, Any],
        variation: int,
        inputs: _Inputs,
        anchor: Image.Image | None,
    ) -> EngineOutput:
        engine = self.state.engine
        assert engine is not None
        if job_type == MODEL_SWAP:
            swap = ModelSwapRequest.model_validate(request)
            return engine.model_swap(
                SwapSpec(
                    target=inputs.uploads[spec["file_id"]],
                    identity=inputs.identity,
                    seed=spec["seed"],
                    variation=variation,
                    post_process=swap.post_process,
                    add_ai_watermark=swap.swap_options.add_ai_watermark,
                    model=swap.swap_options.model,
                )
            )
        flat = Flat2ModelRequest.model_validate(request)
        instruction: Instruction = flat.instructions[spec["instruction_index"]]
        return engine.flat_to_model(
            FlatSpec(
                garments=inputs.garments,
                identity=inputs.identity,
                width=spec["width"],
                height=spec["height"],
                seed=spec["seed"],
                variation=variation,
                instruction=instruction.model_dump(mode="json", exclude_none=True),
                add_ai_watermark=flat.options.add_ai_watermark,
                barefoot=flat.options.barefoot,
                model=flat.options.model,
                anchor=anchor if flat.options.use_anchor else None,
            )
        )

    def _store_output(self, output_id: int, made: EngineOutput, fmt: str, elapsed: float) -> None:
        blobs = self.state.blobs
        key = blobs.new_key("outputs", fmt)
        thumb_key = blobs.new_key("thumbnails", "jpg")
        blobs.write(key, images.encode(made.image, fmt))
        blobs.write(thumb_key, images.thumbnail(made.image))
        with self.state.db.session() as db:
            output = db.get(JobOutput, output_id)
            assert output is not None
            output.blob_key, output.thumb_key = key, thumb_key
            output.model_used = made.model_used
            output.quality_score = made.quality_score
            output.warnings = list(made.warnings)
            output.processing_time = elapsed

    def _record(
        self, job_id: str, output_id: int, error: str | None, elapsed: float
    ) -> tuple[int, list[tuple[str, dict[str, Any]]]]:
        with self.state.db.session() as db:
            output = db.get(JobOutput, output_id)
            assert output is not None
            job = output.job
            if error is None:
                output.status = "completed"
                count_outputs(db, job, 1)
            else:
                self._mark_failed(db, job, output, error)
                output.processing_time = elapsed
            image_event = {
                "id_task": job.public_id,
                "job_id": job.public_id,
                "image_id": output.public_id,
                "image_index": output.image_index,
                "group_index": output.group_index,
                "status": output.status,
                "error_message": output.error_message,
                "processed_images": job.processed,
                "total_images": job.total_outputs,
            }
            return job.user_id, [("image_result", image_event)]

    @staticmethod
    def _mark_failed(db: Any, job: Job, output: JobOutput, reason: str) -> None:
        """Fail one output and refund its price."""
        output.status = "failed"
        output.error_message = reason
        count_outputs(db, job, 1, output.price)
        credits.refund(db, job.user_id, output.price)

    def _finish(self, job_id: str, user_id: int) -> None:
        with self.state.db.session() as db:
            job = db.scalar(select(Job).where(Job.public_id == job_id))
            assert job is not None
            if job.status == "aborted":
                return  # the abort already told everyone
            if any(o.status in ("pending", "processing") for o in job.outputs):
                return  # stopped mid-way (shutdown); resumed at the next start
            failed = [o for o in job.outputs if o.status == "failed"]
            if failed and len(failed) == len(job.outputs):
                job.status = "failed"
                job.error_message = f"All {len(failed)} output(s) failed: {failed[0].error_message}"
            else:
                job.status = "completed"
                if failed:
                    job.error_message = (
                        f"{len(failed)} of {len(job.outputs)} output(s) failed; see each "
                        "result's error_message."
                    )
            job.updated_at = utcnow()
            event = self._batch_event(job)
            job_type, status, message = job.job_type, job.status, job.error_message
        self.bus.emit(user_id, "batch_edit", event)
        if job_type == MODEL_SWAP:
            name = "completed" if status == "completed" else "error"
            data = {"job_id": job_id, "id_task": job_id, "status": status}
            if message:
                data["error_message"] = message
            self.bus.emit(user_id, name, data)

    def _fail_rest(self, job_id: str, reason: str) -> None:
        with self.state.db.session() as db:
            job = db.scalar(select(Job).where(Job.public_id == job_id))
            if job is None or job.status not in ("pending", "processing"):
                return
            for output in job.outputs:
                if output.status in ("pending", "processing"):
                    self._mark_failed(db, job, output, reason)
            user_id = job.user_id
        self._finish(job_id, user_id)

    @staticmethod
    def _batch_event(job: Job) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id_task": job.public_id,
            "job_id": job.public_id,
            "job_type": job.job_type,
            "status": job.status,
            "total_images": job.total_outputs,
            "processed_images": job.processed,
        }
        if job.error_message:
            data["error_message"] = job.error_message
        return data
