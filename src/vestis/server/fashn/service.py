"""FASHN `/v1/run` on the vestis server (`model-swap`, and `product-to-model` served by the
engine's flat-to-model): accepting predictions, running them on the server's engine, reporting
status, charging credits.

One `FashnService` per app (`service_for(state)`). A prediction is accepted only when the user is
within the rate and concurrency limits and can pay for it; its price is reserved at once and
refunded if it fails (FASHN does not charge failures). The work (image loading, engine calls,
encoding) is a PREDICTION task of the job queue, deferred in the transaction that creates the
prediction, so any worker process runs it, and a prediction cut short by a crash is run again
by the next worker (charged once). Every image problem or engine refusal becomes a runtime
failure (`status: failed`, `error: {name, message}`), never an HTTP error, as on FASHN.

Base64 images are never written to the table (stored as `<base64>`). A worker in another
process needs them, so a data-URI input is kept as a blob while its prediction runs and deleted
when it ends; base64 outputs are kept as blobs for `BASE64_TTL_SECONDS` after completion (then
answered as `<base64>_expired`), so any API process can answer the status.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vestis.contract.fashn import (
    BASE64_EXPIRED,
    BASE64_TTL_SECONDS,
    IN_PROGRESS_STATUSES,
    INPUT_MODELS,
    PredictionError,
    ProductToModelInputs,
    RunInputs,
    StatusResponse,
)
from vestis.contract.pricing import fashn_cost
from vestis.engines.base import EngineError, EngineOutput, FlatGarment, FlatSpec, SwapSpec
from vestis.server.fashn.errors import FashnError
from vestis.server.fashn.webhooks import WebhookSender
from vestis.server.guard.security import new_public_id
from vestis.server.guard.url_fetch import FetchPolicy, ImageFetchError, load_image
from vestis.server.jobqueue import PREDICTION, JobQueue
from vestis.server.media.images import encode
from vestis.server.services import credits
from vestis.server.store.blobs import store_retrying
from vestis.server.store.core import ServerCore
from vestis.server.store.fashn_models import FashnPrediction
from vestis.server.store.models import utcnow

logger = logging.getLogger("vestis.server.fashn")

#: Predictions one user may have in flight at once (FASHN's default account limit).
CONCURRENCY_LIMIT = 6
#: FASHN's CDN keeps outputs 72 hours; the signed output links live as long.
OUTPUT_URL_TTL_SECONDS = 72 * 3600
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}
BLOB_EXT = {"png": "png", "jpeg": "jpg"}


class PredictionFailed(Exception):
    """A runtime failure: becomes `status: failed`, `error: {name, message}`."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


IMAGE_INPUTS = (
    "model_image",
    "face_reference",
    "product_image",
    "image_prompt",
    "background_reference",
)


def redact_images(inputs: RunInputs) -> dict[str, Any]:
    """The inputs as stored: data URIs replaced by `<base64>` (FASHN keeps no base64 input)."""
    stored = inputs.model_dump(exclude_none=True)
    for key in IMAGE_INPUTS:
        value = stored.get(key)
        if isinstance(value, str) and value[:5].lower() == "data:":
            stored[key] = "<base64>"
    return stored


@dataclass
class RunRequestFacts:
    """What `accept` needs beyond the validated inputs."""

    user_id: int
    model_name: str
    webhook_url: str | None


class FashnService:
    """Predictions: accepted by any API process, run by any worker (the PREDICTION task)."""

    def __init__(self, state: ServerCore, queue: JobQueue) -> None:
        self.state = state
        self.queue = queue
        settings = state.settings
        self.fetch_policy = FetchPolicy(allow_private=settings.allow_private_urls)
        self.webhooks = WebhookSender(self.fetch_policy)
        # SQLite has no row locks (`FOR UPDATE` is a no-op there) and one process holds its
        # data dir: admissions of that process go one at a time instead.
        self._admission = threading.Lock() if not state.db.is_postgres else None

    # --- admission ------------------------------------------------------------------------

    def accept(self, facts: RunRequestFacts, inputs: RunInputs) -> str:
        """Create a prediction (reserving its price) and defer its task; its id.

        Raises `FashnError` (429 ConcurrencyLimitExceeded / OutOfCredits) when it cannot start.
        """
        price = fashn_cost(inputs.num_images, inputs.face_reference is not None)
        kept = self._keep_base64_inputs(inputs)
        try:
            with self._admission or contextlib.nullcontext(), self.state.db.session() as db:
                # The user's row first: the in-flight count and the credit reservation of two
                # requests of one user (in any processes) go one after the other.
                credits.lock_user(db, facts.user_id)
                self._check_concurrency(db, facts.user_id)
                self._reserve(db, facts.user_id, price)
                prediction = FashnPrediction(
                    public_id=new_public_id("pred"),
                    user_id=facts.user_id,
                    model_name=facts.model_name,
                    status="in_queue",
                    inputs=redact_images(inputs),
                    input_keys=kept,
                    num_images=inputs.num_images,
                    output_format=inputs.output_format,
                    return_base64=inputs.return_base64,
                    webhook_url=facts.webhook_url,
                    credits_reserved=price,
                )
                db.add(prediction)
                db.flush()
                prediction_id = prediction.public_id
                self.queue.defer(db, PREDICTION, prediction_id)
        except BaseException:
            self._forget(kept)
            raise
        return prediction_id

    def _check_concurrency(self, db: Session, user_id: int) -> None:
        in_flight = db.scalar(
            select(func.count(FashnPrediction.id)).where(
                FashnPrediction.user_id == user_id,
                FashnPrediction.status.in_(IN_PROGRESS_STATUSES),
            )
        )
        if (in_flight or 0) >= CONCURRENCY_LIMIT:
            raise FashnError(
                "ConcurrencyLimitExceeded",
                f"You have {in_flight} predictions in progress, the limit is "
                f"{CONCURRENCY_LIMIT}; wait for one to finish and try again.",
            )

    def _keep_base64_inputs(self, inputs: RunInputs) -> dict[str, str]:
        """Blob keys of the data-URI inputs, kept for the worker while the prediction runs."""
        kept: dict[str, str] = {}
        for field in IMAGE_INPUTS:
            value = getattr(inputs, field, None)
            if isinstance(value, str) and value[:5].lower() == "data:":
                key = self.state.blobs.new_key("fashnin", "bin")
                self.state.blobs.write(key, value.encode("utf-8"))
                kept[field] = key
        return kept

    def _forget(self, kept: dict[str, str]) -> None:
        for key in kept.values():
            try:
                self.state.blobs.delete(key)
            except Exception:  # the prediction's end matters more than a stray blob
                logger.exception("could not delete the kept input %s", key)

    @staticmethod
    def _reserve(db: Session, user_id: int, price: float) -> None:
        if not credits.charge(db, user_id, price):
            raise FashnError(
                "OutOfCredits",
                f"This prediction costs {price:g} credits and your balance is "
                f"{credits.balance(db, user_id):g}; add credits or request fewer images.",
            )

    # --- the work ---------------------------------------------------------------------------

    def run(self, prediction_id: str) -> None:
        """PREDICTION task: make the prediction's images (again, if a worker died on it)."""
        with self.queue.exclusive(f"prediction:{prediction_id}") as mine:
            if not mine:
                return  # another worker is on it
            with self.state.db.session() as db:
                prediction = self._get(db, prediction_id)
                if prediction.status not in IN_PROGRESS_STATUSES:
                    return
                prediction.attempts += 1
                attempts = prediction.attempts
                prediction.status = "processing"
                prediction.updated_at = utcnow()
                kept = dict(prediction.input_keys or {})
                stored = dict(prediction.inputs)
                model_name = prediction.model_name
            try:
                self._check_attempts(attempts)
                inputs = self._inputs_again(model_name, stored, kept)
                outputs = self._generate(inputs)
                self._complete(prediction_id, inputs, outputs)
            except PredictionFailed as failure:
                self._fail(prediction_id, failure.name, failure.message)
            except Exception:  # the worker must always leave a final status behind
                logger.exception("FASHN prediction %s crashed", prediction_id)
                self._fail(
                    prediction_id,
                    "PipelineError",
                    "The prediction failed unexpectedly on the server; try again.",
                )
            self._forget(kept)
            self._notify(prediction_id)

    def _check_attempts(self, attempts: int) -> None:
        """A prediction that took its server or worker down every time is not run once more."""
        limit = self.state.settings.max_job_attempts
        if attempts > limit:
            raise PredictionFailed(
                "PipelineError",
                f"The prediction was cut short {limit} times (the server or worker making it "
                "stopped); it was not charged. Run it again.",
            )

    def _inputs_again(
        self, model_name: str, stored: dict[str, Any], kept: dict[str, str]
    ) -> RunInputs:
        """The inputs as given, the kept data URIs put back."""
        for field, key in kept.items():
            stored[field] = self.state.blobs.read(key).decode("utf-8")
        if any(stored.get(field) == "<base64>" for field in IMAGE_INPUTS):
            raise PredictionFailed(
                "PipelineError",
                "The server restarted while this prediction was running and its base64 inputs "
                "were not kept (a vestis from before predictions ran on the job queue); run it "
                "again (it was not charged).",
            )
        return INPUT_MODELS[model_name].model_validate(stored)

    @staticmethod
    def unattended(db: Session, live: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """`("fashn_prediction", id)` for each prediction in flight that no task of the queue
        (`live`) attends: its task failed for good (the database or the store away for longer
        than its runs) or was lost. For the sweep (`OutputPipeline.sweep`), which defers it
        again: it is made, or, its attempts spent, failed and refunded."""
        ids = db.scalars(
            select(FashnPrediction.public_id).where(
                FashnPrediction.status.in_(IN_PROGRESS_STATUSES)
            )
        ).all()
        return {(PREDICTION, i) for i in ids if (PREDICTION, i) not in live}

    def requeue_unfinished(self) -> None:
        """Defer again the predictions in flight (the queue's tasks were lost with the process
        that held them)."""
        with self.state.db.session() as db:
            ids = db.scalars(
                select(FashnPrediction.public_id).where(
                    FashnPrediction.status.in_(IN_PROGRESS_STATUSES)
                )
            ).all()
            for prediction_id in ids:
                self.queue.defer(db, PREDICTION, prediction_id)

    def _load(self, source: str, what: str) -> Image.Image:
        try:
            return load_image(source, self.fetch_policy)
        except ImageFetchError as exc:
            raise PredictionFailed("ImageLoadError", f"Error loading {what}: {exc}") from exc

    def _generate(self, inputs: RunInputs) -> list[EngineOutput]:
        if self.state.engine is None:
            raise PredictionFailed("UnavailableError", "The engine is not loaded yet; try again.")
        if isinstance(inputs, ProductToModelInputs):
            return self._generate_product(inputs)
        target = self._load(inputs.model_image, "model image")
        reference = (
            self._load(inputs.face_reference, "face reference") if inputs.face_reference else None
        )
        images: list[EngineOutput] = []
        for variation in range(inputs.num_images):
            spec = SwapSpec(
                target=target,
                # Without a reference there is no identity to give; a generative engine
                # invents one from the prompt and ignores this field.
                identity=reference if reference is not None else target,
                seed=inputs.seed,
                variation=variation,
                face_reference_mode=inputs.face_reference_mode,
                prompt=inputs.prompt or None,
            )
            images.append(self._call_engine(spec, generate=reference is None))
        return images

    def _generate_product(self, inputs: ProductToModelInputs) -> list[EngineOutput]:
        """`product-to-model` as the engine's flat-to-model of one garment: the face reference
        (or, in try-on mode, the person of `model_image`) wears the product."""
        product = self._load(inputs.product_image, "product image")
        person = inputs.face_reference or inputs.model_image
        if person is None:
            raise PredictionFailed(
                "InputValidationError",
                "product-to-model on this server needs face_reference (the face of the person "
                "who wears the product) or model_image (a person to dress): its engine "
                f"({self.state.engine_name}) does not invent people.",
            )
        identity = self._load(person, "face reference" if inputs.face_reference else "model image")
        width, height = inputs.dimensions(product.size)
        instruction: dict[str, Any] = {"prompt": inputs.prompt} if inputs.prompt else {}
        if inputs.aspect_ratio in ("1:1", "3:4", "4:3", "9:16", "16:9"):
            instruction["options"] = {"ar": inputs.aspect_ratio}
        engine = self.state.engine
        assert engine is not None
        images = []
        for variation in range(inputs.num_images):
            spec = FlatSpec(
                garments=[FlatGarment(image=product, filename="product")],
                identity=identity,
                width=width,
                height=height,
                seed=inputs.seed,
                variation=variation,
                instruction=instruction,
            )
            images.append(self._engine_output(lambda spec=spec: engine.flat_to_model(spec)))
        return images

    def _call_engine(self, spec: SwapSpec, *, generate: bool) -> EngineOutput:
        engine = self.state.engine
        assert engine is not None
        try:
            output = engine.generate_identity(spec) if generate else engine.model_swap(spec)
        except EngineError as exc:
            if generate:
                raise PredictionFailed(
                    "InputValidationError",
                    "model-swap without face_reference invents a new identity from the prompt, "
                    f"which needs a generative engine; this server's engine "
                    f"({self.state.engine_name}) cannot do that ({exc}). Send face_reference "
                    "(an image of the identity to swap in), or run the server with a generative "
                    "engine (vestis serve --engine module:attr).",
                ) from exc
            raise PredictionFailed("PipelineError", str(exc)) from exc
        return output

    def _engine_output(self, make: Callable[[], EngineOutput]) -> EngineOutput:
        try:
            return make()
        except EngineError as exc:
            raise PredictionFailed("PipelineError", str(exc)) from exc

    def _complete(self, prediction_id: str, inputs: RunInputs, made: list[EngineOutput]) -> None:
        fmt = inputs.output_format
        upstream = [o.upstream_credits for o in made if o.upstream_credits is not None]
        blobs = self.state.blobs
        encoded = [encode(output.image, BLOB_EXT[fmt]) for output in made]
        keys = [blobs.new_key("fashn", BLOB_EXT[fmt]) for _ in made]

        def write() -> None:
            for key, data in zip(keys, encoded, strict=True):
                blobs.write(key, data)

        # the store away for a moment is waited for: the images are not made again
        store_retrying(blobs, write, f"prediction {prediction_id}")
        with self.state.db.session() as db:
            prediction = self._get(db, prediction_id)
            prediction.status = "completed"
            prediction.output_keys = keys
            prediction.credits_used = prediction.credits_reserved
            # a gateway's engines: who made it and what it cost upstream (`vestis usage`)
            prediction.engine = made[0].engine if made else None
            prediction.upstream_credits = sum(upstream) if upstream else None
            prediction.updated_at = prediction.completed_at = utcnow()

    def _fail(self, prediction_id: str, name: str, message: str) -> None:
        with self.state.db.session() as db:
            prediction = self._get(db, prediction_id)
            if prediction.status not in IN_PROGRESS_STATUSES:
                return
            credits.refund(db, prediction.user_id, prediction.credits_reserved)
            prediction.status = "failed"
            prediction.error_name, prediction.error_message = name, message
            prediction.credits_used = 0
            prediction.updated_at = prediction.completed_at = utcnow()

    def _notify(self, prediction_id: str) -> None:
        with self.state.db.session() as db:
            prediction = self._get(db, prediction_id)
            url = prediction.webhook_url
            payload = self.status_of(prediction).model_dump(mode="json")
        if url:
            self.webhooks.send(url, payload)

    # --- reading ------------------------------------------------------------------------------

    @staticmethod
    def _get(db: Session, prediction_id: str) -> FashnPrediction:
        prediction = db.scalar(
            select(FashnPrediction).where(FashnPrediction.public_id == prediction_id)
        )
        if prediction is None:
            raise LookupError(prediction_id)
        return prediction

    def find(self, db: Session, user_id: int, prediction_id: str) -> FashnPrediction:
        """The user's prediction, or a 404 NotFound (also for other users' ids)."""
        prediction = db.scalar(
            select(FashnPrediction).where(
                FashnPrediction.public_id == prediction_id, FashnPrediction.user_id == user_id
            )
        )
        if prediction is None:
            raise FashnError("NotFound", f"Prediction not found: {prediction_id}")
        return prediction

    def status_of(self, prediction: FashnPrediction) -> StatusResponse:
        """The status object (also the webhook payload)."""
        error = None
        if prediction.error_name:
            error = PredictionError(
                name=prediction.error_name, message=prediction.error_message or ""
            )
        return StatusResponse(
            id=prediction.public_id,
            status=prediction.status,
            output=self._outputs(prediction) if prediction.status == "completed" else None,
            error=error,
        )

    def _outputs(self, prediction: FashnPrediction) -> list[str]:
        if prediction.return_base64:
            return self._base64_outputs(prediction)
        ext = BLOB_EXT[prediction.output_format]
        content_type = CONTENT_TYPES[prediction.output_format]
        return [
            self.state.signer.blob_url(
                output_path(prediction.public_id, index, ext),
                key,
                OUTPUT_URL_TTL_SECONDS,
                content_type,
                f"output_{index}.{ext}",
            )
            for index, key in enumerate(prediction.output_keys)
        ]

    def _base64_outputs(self, prediction: FashnPrediction) -> list[str]:
        """Data URIs of the outputs, for BASE64_TTL_SECONDS after completion; then placeholders
        (and the blobs are removed)."""
        done = prediction.completed_at
        age = (utcnow() - done).total_seconds() if done else 0.0
        if age > BASE64_TTL_SECONDS or not prediction.output_keys:
            self._forget({str(n): key for n, key in enumerate(prediction.output_keys)})
            return [BASE64_EXPIRED] * prediction.num_images
        mime = CONTENT_TYPES[prediction.output_format]
        try:
            datas = [self.state.blobs.read(key) for key in prediction.output_keys]
        except Exception:  # removed on expiry by another process meanwhile
            return [BASE64_EXPIRED] * prediction.num_images
        return [f"data:{mime};base64,{base64.b64encode(d).decode('ascii')}" for d in datas]

    def output_blob(self, prediction_id: str, index: int) -> tuple[str, str] | None:
        """(blob key, content type) of one URL-mode output, if it exists."""
        with self.state.db.session() as db:
            prediction = db.scalar(
                select(FashnPrediction).where(FashnPrediction.public_id == prediction_id)
            )
            if prediction is None or not 0 <= index < len(prediction.output_keys):
                return None
            return prediction.output_keys[index], CONTENT_TYPES[prediction.output_format]


def output_path(prediction_id: str, index: int, ext: str) -> str:
    """Path of one output's signed link (no auth, like FASHN's CDN links)."""
    return f"/files/fashn/{prediction_id}/output_{index}.{ext}"
