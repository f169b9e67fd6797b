"""FASHN `/v1/run` on the vestis server (`model-swap`, and `product-to-model` served by the
engine's flat-to-model): accepting predictions, running them on the server's engine, reporting
status, charging credits.

One `FashnService` per app (`service_for(state)`). A prediction is accepted only when the user is
within the rate and concurrency limits and can pay for it; its price is reserved at once and
refunded if it fails (FASHN does not charge failures). The work (image loading, engine calls,
encoding) runs on a thread pool as large as the server's `workers`, and every image problem or
engine refusal becomes a runtime failure (`status: failed`, `error: {name, message}`), never an
HTTP error, as on FASHN.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
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
    PredictionError,
    ProductToModelInputs,
    RunInputs,
    StatusResponse,
)
from vestis.contract.pricing import fashn_cost
from vestis.engines.base import EngineError, EngineOutput, FlatGarment, FlatSpec, SwapSpec
from vestis.server.fashn.errors import FashnError
from vestis.server.fashn.models import FashnPrediction
from vestis.server.fashn.pool import DaemonPool
from vestis.server.fashn.webhooks import WebhookSender
from vestis.server.images import encode
from vestis.server.models import utcnow
from vestis.server.security import new_public_id
from vestis.server.services import credits
from vestis.server.state import ServerState
from vestis.server.url_fetch import FetchPolicy, ImageFetchError, load_image

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


class Base64Outputs:
    """Base64 outputs, in memory only, for `BASE64_TTL_SECONDS` after completion."""

    def __init__(self, ttl_seconds: float = BASE64_TTL_SECONDS) -> None:
        self.ttl_seconds = ttl_seconds
        self._items: dict[str, tuple[float, list[str]]] = {}
        self._lock = threading.Lock()

    def put(self, prediction_id: str, outputs: list[str]) -> None:
        with self._lock:
            self._purge()
            self._items[prediction_id] = (time.monotonic() + self.ttl_seconds, outputs)

    def get(self, prediction_id: str) -> list[str] | None:
        """The outputs, or None once expired (or lost with a restart)."""
        with self._lock:
            self._purge()
            item = self._items.get(prediction_id)
            return list(item[1]) if item else None

    def _purge(self) -> None:
        now = time.monotonic()
        for key in [k for k, (expires, _) in self._items.items() if expires <= now]:
            del self._items[key]


@dataclass
class RunRequestFacts:
    """What `accept` needs beyond the validated inputs."""

    user_id: int
    model_name: str
    webhook_url: str | None


class FashnService:
    """Predictions of one server process."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        settings = state.settings
        self.fetch_policy = FetchPolicy(allow_private=settings.allow_private_urls)
        self.base64_outputs = Base64Outputs()
        self.webhooks = WebhookSender(self.fetch_policy)
        self._pool = DaemonPool(settings.workers, "fashn-worker")
        self._admission = threading.Lock()
        self._fail_interrupted()

    # --- admission ------------------------------------------------------------------------

    def accept(self, facts: RunRequestFacts, inputs: RunInputs) -> str:
        """Create a prediction (reserving its price) and queue it; its id.

        Raises `FashnError` (429 ConcurrencyLimitExceeded / OutOfCredits) when it cannot start.
        """
        price = fashn_cost(inputs.num_images, inputs.face_reference is not None)
        # One admission at a time per process: the in-flight count and the credit reservation
        # must not race between two requests of the same user.
        with self._admission, self.state.db.session() as db:
            in_flight = db.scalar(
                select(func.count(FashnPrediction.id)).where(
                    FashnPrediction.user_id == facts.user_id,
                    FashnPrediction.status.in_(IN_PROGRESS_STATUSES),
                )
            )
            if (in_flight or 0) >= CONCURRENCY_LIMIT:
                raise FashnError(
                    "ConcurrencyLimitExceeded",
                    f"You have {in_flight} predictions in progress, the limit is "
                    f"{CONCURRENCY_LIMIT}; wait for one to finish and try again.",
                )
            self._reserve(db, facts.user_id, price)
            prediction = FashnPrediction(
                public_id=new_public_id("pred"),
                user_id=facts.user_id,
                model_name=facts.model_name,
                status="starting",
                inputs=redact_images(inputs),
                num_images=inputs.num_images,
                output_format=inputs.output_format,
                return_base64=inputs.return_base64,
                webhook_url=facts.webhook_url,
                credits_reserved=price,
            )
            db.add(prediction)
            db.flush()
            prediction_id = prediction.public_id
        self._set_status(prediction_id, "in_queue")
        self._pool.submit(self._run, prediction_id, inputs)
        return prediction_id

    @staticmethod
    def _reserve(db: Session, user_id: int, price: float) -> None:
        if not credits.charge(db, user_id, price):
            raise FashnError(
                "OutOfCredits",
                f"This prediction costs {price:g} credits and your balance is "
                f"{credits.balance(db, user_id):g}; add credits or request fewer images.",
            )

    # --- the work ---------------------------------------------------------------------------

    def _run(self, prediction_id: str, inputs: RunInputs) -> None:
        try:
            self._set_status(prediction_id, "processing")
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
        self._notify(prediction_id)

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
        encoded = [encode(output.image, BLOB_EXT[fmt]) for output in made]
        upstream = [o.upstream_credits for o in made if o.upstream_credits is not None]
        keys: list[str] = []
        if inputs.return_base64:
            self.base64_outputs.put(
                prediction_id,
                [
                    f"data:{CONTENT_TYPES[fmt]};base64,{base64.b64encode(data).decode('ascii')}"
                    for data in encoded
                ],
            )
        else:
            for data in encoded:
                key = self.state.blobs.new_key("fashn", BLOB_EXT[fmt])
                self.state.blobs.write(key, data)
                keys.append(key)
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

    def _fail_interrupted(self) -> None:
        """Predictions left in flight by a previous process cannot resume (their base64 inputs
        were never stored): fail and refund them."""
        with self.state.db.session() as db:
            stale = db.scalars(
                select(FashnPrediction.public_id).where(
                    FashnPrediction.status.in_(IN_PROGRESS_STATUSES)
                )
            ).all()
        for prediction_id in stale:
            self._fail(
                prediction_id,
                "PipelineError",
                "The server restarted while this prediction was running; run it again "
                "(it was not charged).",
            )

    def _set_status(self, prediction_id: str, status: str) -> None:
        with self.state.db.session() as db:
            prediction = self._get(db, prediction_id)
            if prediction.status in IN_PROGRESS_STATUSES:
                prediction.status = status
                prediction.updated_at = utcnow()

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
            held = self.base64_outputs.get(prediction.public_id)
            return held if held is not None else [BASE64_EXPIRED] * prediction.num_images
        ext = BLOB_EXT[prediction.output_format]
        return [
            self.state.signer.url(
                "GET", output_path(prediction.public_id, index, ext), OUTPUT_URL_TTL_SECONDS
            )
            for index in range(len(prediction.output_keys))
        ]

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
