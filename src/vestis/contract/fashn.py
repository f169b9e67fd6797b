"""FASHN's universal prediction API (`/v1/run`, `/v1/status/{id}`, `/v1/credits`): wire models.

This server offers `model-swap` and `product-to-model`; their inputs are validated here with
every field and range of the FASHN documentation (spec fashn-v1-api.md §2.1, §2.5 and §11).
Responses are parsed leniently (unknown fields kept, `output` as an array or FASHN's occasional
`{images: [...]}`), because the hosted API changes its schema without notice.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vestis.contract.common import WireModel

#: The models this server runs on `/v1/run`.
MODEL_SWAP = "model-swap"
PRODUCT_TO_MODEL = "product-to-model"
OFFERED_MODELS: tuple[str, ...] = (MODEL_SWAP, PRODUCT_TO_MODEL)

FaceReferenceMode = Literal["match_base", "match_reference"]
FashnOutputFormat = Literal["png", "jpeg"]
Resolution = Literal["1k", "2k", "4k"]
GenerationMode = Literal["fast", "balanced", "quality"]
FashnAspectRatio = Literal["21:9", "1:1", "4:3", "3:2", "2:3", "5:4", "4:5", "3:4", "16:9", "9:16"]

PredictionStatus = Literal[
    "starting", "in_queue", "processing", "completed", "failed", "canceled", "time_out"
]
#: States in which a prediction is still running; every other state is final (spec §8.2).
IN_PROGRESS_STATUSES: frozenset[str] = frozenset({"starting", "in_queue", "processing"})
FASHN_TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "canceled", "time_out"})

#: Response header of the final status: credits that prediction consumed.
CREDITS_USED_HEADER = "x-fashn-credits-used"
#: What a base64 output becomes once it is no longer held (60 minutes after completion).
BASE64_EXPIRED = "<base64>_expired"
BASE64_TTL_SECONDS = 60 * 60

SEED_MAX = 2**32 - 1
NUM_IMAGES_MAX = 4

#: Error names of rejected requests (HTTP level, body `{error, message}`).
FashnErrorName = Literal[
    "BadRequest",
    "UnauthorizedAccess",
    "NotFound",
    "RateLimitExceeded",
    "ConcurrencyLimitExceeded",
    "OutOfCredits",
    "InternalServerError",
]
ERROR_STATUS_CODES: dict[str, int] = {
    "BadRequest": 400,
    "UnauthorizedAccess": 401,
    "NotFound": 404,
    #: vestis: a FASHN path asked with a method it does not answer (with `Allow`).
    "MethodNotAllowed": 405,
    "RateLimitExceeded": 429,
    "ConcurrencyLimitExceeded": 429,
    "OutOfCredits": 429,
    "InternalServerError": 500,
}

#: Runtime error names (HTTP 200, `status: failed`, `error: {name, message}`).
RuntimeErrorName = Literal[
    "ImageLoadError",
    "ContentModerationError",
    "PoseError",
    "InputValidationError",
    "PipelineError",
    "ThirdPartyError",
    "UnavailableError",
    "InternalServerError",
    "PollingTimeout",
]


class ModelSwapInputs(BaseModel):
    """`inputs` of `model-swap`. Unknown keys are ignored, as FASHN's SDKs pass them through.

    `model_image` and `face_reference` are image strings: an http(s) URL or a data URI with its
    prefix (`data:image/jpeg;base64,...`). Whether one actually loads is decided when the
    prediction runs (a failure there is a runtime `ImageLoadError`, as on FASHN).
    """

    model_config = ConfigDict(extra="ignore")

    model_image: str = Field(min_length=1)
    prompt: str = ""
    face_reference: str | None = None
    face_reference_mode: FaceReferenceMode = "match_reference"
    # Strict: FASHN types these as JSON integers and booleans; "42" or true are mistakes.
    seed: int = Field(default=42, ge=0, le=SEED_MAX, strict=True)
    num_images: int = Field(default=1, ge=1, le=NUM_IMAGES_MAX, strict=True)
    output_format: FashnOutputFormat = "png"
    return_base64: bool = Field(default=False, strict=True)
    # Newer schema (2026 docs and SDK); accepted and validated. Model swap keeps the source
    # photo's framing, so this server renders at the source size whatever they say.
    resolution: Resolution | None = None
    generation_mode: GenerationMode | None = None
    aspect_ratio: FashnAspectRatio | None = None

    @field_validator("face_reference")
    @classmethod
    def _blank_reference_is_none(cls, value: str | None) -> str | None:
        return value or None


class ProductToModelInputs(BaseModel):
    """`inputs` of `product-to-model`: a packshot or flat-lay (`product_image`) worn by a person.

    `face_reference` is the person's face; the deprecated `model_image` ("try-on mode", a given
    person to dress) cannot be combined with `image_prompt`, `background_reference` or
    `face_reference`, as on FASHN. Images are URLs or data URIs, loaded when the run starts.
    """

    model_config = ConfigDict(extra="ignore")

    product_image: str = Field(min_length=1)
    prompt: str = ""
    image_prompt: str | None = None
    background_reference: str | None = None
    face_reference: str | None = None
    face_reference_mode: FaceReferenceMode = "match_reference"
    model_image: str | None = None
    aspect_ratio: FashnAspectRatio | None = None
    resolution: Resolution | None = None
    generation_mode: GenerationMode | None = None
    seed: int = Field(default=42, ge=0, le=SEED_MAX, strict=True)
    num_images: int = Field(default=1, ge=1, le=NUM_IMAGES_MAX, strict=True)
    output_format: FashnOutputFormat = "png"
    return_base64: bool = Field(default=False, strict=True)

    @field_validator("face_reference", "model_image", "image_prompt", "background_reference")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _try_on_mode_alone(self) -> ProductToModelInputs:
        if self.model_image and (
            self.image_prompt or self.background_reference or self.face_reference
        ):
            raise ValueError(
                "model_image (try-on mode, deprecated) cannot be combined with image_prompt, "
                "background_reference or face_reference"
            )
        return self

    def dimensions(self, fallback: tuple[int, int]) -> tuple[int, int]:
        """Output width x height: `resolution`'s long edge (1k: 1024) on `aspect_ratio`, or on
        the shape of `fallback` (the product image) when no ratio is given; multiples of 8."""
        edge = {"1k": 1024, "2k": 2048, "4k": 4096}[self.resolution or "1k"]
        if self.aspect_ratio:
            aw, ah = (int(part) for part in self.aspect_ratio.split(":"))
        else:
            aw, ah = fallback
        scale = edge / max(aw, ah)
        return max(8, int(aw * scale) // 8 * 8), max(8, int(ah * scale) // 8 * 8)


#: Inputs of each offered model.
RunInputs = ModelSwapInputs | ProductToModelInputs
INPUT_MODELS: dict[str, type[ModelSwapInputs] | type[ProductToModelInputs]] = {
    MODEL_SWAP: ModelSwapInputs,
    PRODUCT_TO_MODEL: ProductToModelInputs,
}


class RunRequest(BaseModel):
    """Body of `POST /v1/run`. `inputs` is validated per model (see `ModelSwapInputs`)."""

    model_config = ConfigDict(extra="ignore")

    model_name: str = Field(min_length=1)
    inputs: dict[str, Any]


class RunResponse(WireModel):
    """`{id, error: null}` of an accepted `POST /v1/run`. `id` is opaque: never parse it."""

    id: str
    error: str | None = None


class PredictionError(WireModel):
    """A runtime failure: `{name, message}`."""

    name: str
    message: str


class StatusResponse(WireModel):
    """`GET /v1/status/{id}`, and the webhook payload."""

    id: str
    status: str
    output: list[str] | None = None
    error: PredictionError | None = None

    @field_validator("output", mode="before")
    @classmethod
    def _images_object(cls, value: Any) -> Any:
        # One FASHN docs page shows `output: {images: [...]}`; every SDK says array.
        if isinstance(value, dict) and isinstance(value.get("images"), list):
            return value["images"]
        return value

    @property
    def is_terminal(self) -> bool:
        return self.status not in IN_PROGRESS_STATUSES


class CreditsBalance(WireModel):
    total: int
    subscription: int
    on_demand: int


class CreditsResponse(WireModel):
    """`GET /v1/credits`: `{credits: {total, subscription, on_demand}}`."""

    credits: CreditsBalance


class ErrorResponse(WireModel):
    """Body of a rejected request: `{error: <Name>, message}` (no id exists)."""

    error: str
    message: str


def polling_timeout(prediction_id: str) -> StatusResponse:
    """The synthetic result the official SDKs return when polling runs out of time."""
    return StatusResponse(
        id=prediction_id,
        status="time_out",
        output=None,
        error=PredictionError(name="PollingTimeout", message="Prediction polling timed out."),
    )
