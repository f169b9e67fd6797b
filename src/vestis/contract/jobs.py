"""Job creation, status and results: `/model-swap`, `/flat-2-model`, `/jobs/{id}/...`
(spec §2.6 to §2.9)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from vestis.contract.common import RequestModel, WireModel

JobStatus = Literal["pending", "processing", "completed", "failed", "aborted"]
JobType = Literal[
    "model_swap",
    "flat_2_model",
    "identity_preprocessing",
    "create_packshot",
    "garment_recolor",
    "identity_creation",
]
ResultStatus = Literal["pending", "processing", "completed", "failed"]

#: States after which a job never changes again. The reference scripts stop on all three.
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "aborted"})

MAX_JOB_IMAGES = 10
MAX_INSTRUCTIONS = 10
SWAP_MAX_VARIATIONS = 4
FLAT_MAX_VARIATIONS = 8

SwapModel = Literal["auto", "onda", "nano_banana_pro", "nano_banana_2"]
FlatModel = Literal["auto", "nano_banana_pro", "seedream"]
Size = Literal["1K", "2K", "4K"]
AspectRatio = Literal["1:1", "3:4", "4:3", "9:16", "16:9"]
OutputFormat = Literal["jpg", "png"]

#: Long edge in pixels of each named size.
SIZE_LONG_EDGE: dict[str, int] = {"1K": 1024, "2K": 2048, "4K": 4096}
DEFAULT_SIZE: Size = "1K"
DEFAULT_AR: AspectRatio = "3:4"
DEFAULT_FORMAT: OutputFormat = "jpg"
CUSTOM_DIM_MIN = 256
CUSTOM_DIM_MAX = 7000


# --- model swap ---------------------------------------------------------------------------------


class SwapOptions(RequestModel):
    model: SwapModel = "auto"
    num_variations: int = Field(default=1, ge=1, le=SWAP_MAX_VARIATIONS)
    add_ai_watermark: bool = False
    use_anchor: bool = False


class ModelSwapRequest(RequestModel):
    identity_code: str = Field(min_length=1)
    project_id: str = Field(min_length=1)
    images: list[str] = Field(min_length=1, max_length=MAX_JOB_IMAGES)
    post_process: bool = False
    swap_options: SwapOptions = Field(default_factory=SwapOptions)
    #: Legacy flag, mapped to `swap_options.model = "nano_banana_pro"`.
    use_alternative_method: bool | None = None

    @model_validator(mode="after")
    def _legacy_model(self) -> ModelSwapRequest:
        if self.use_alternative_method:
            self.swap_options.model = "nano_banana_pro"
        return self


# --- flat to model -------------------------------------------------------------------------------


class DesignRef(RequestModel):
    """A Design Value as `{text, image}`: a descriptor paired with a reference image's file id."""

    text: str | None = None
    image: str | None = None


class CameraSpec(RequestModel):
    framing: str | None = None
    angle: str | None = None
    lens: str | None = None
    aperture: str | None = None
    text: str | None = None
    image: str | None = None


class LightingSpec(RequestModel):
    direction: str | None = None
    quality: str | None = None
    complexity: str | None = None
    text: str | None = None
    image: str | None = None


#: A Design Value: a plain string, the index of a value saved in the account, or `{text, image}`.
DesignValue = str | int | DesignRef


def output_dimensions(
    size: str | None, ar: str | None, width: int | None = None, height: int | None = None
) -> tuple[int, int]:
    """Pixel size of one output: custom width/height win; otherwise the size's long edge on the
    aspect ratio, both sides rounded down to a multiple of 8."""
    if width is not None and height is not None:
        return width, height
    long_edge = SIZE_LONG_EDGE[size or DEFAULT_SIZE]
    aw, ah = (int(part) for part in (ar or DEFAULT_AR).split(":"))
    w: float
    h: float
    if aw >= ah:
        w, h = long_edge, long_edge * ah / aw
    else:
        w, h = long_edge * aw / ah, long_edge
    return int(w) // 8 * 8, int(h) // 8 * 8


class OutputOptions(RequestModel):
    size: Size | None = None
    ar: AspectRatio | None = None
    format: OutputFormat | None = None
    width: int | None = Field(default=None, ge=CUSTOM_DIM_MIN, le=CUSTOM_DIM_MAX, multiple_of=8)
    height: int | None = Field(default=None, ge=CUSTOM_DIM_MIN, le=CUSTOM_DIM_MAX, multiple_of=8)
    seed: int | None = None

    @model_validator(mode="after")
    def _custom_dimensions(self) -> OutputOptions:
        if (self.width is None) != (self.height is None):
            raise ValueError("width and height must be set together")
        if self.width is not None and self.height is not None:
            ratio = self.width / self.height
            if not 0.25 <= ratio <= 4.0:
                raise ValueError("width / height must be between 1:4 and 4:1")
        return self

    def dimensions(self) -> tuple[int, int]:
        return output_dimensions(self.size, self.ar, self.width, self.height)


class InstructionSeed:
    """The seed rule of every instruction with `seed` and `options` (flat-to-model,
    packshots): the top-level seed wins over `options.seed`."""

    def effective_seed(self) -> int | None:
        seed: int | None = getattr(self, "seed", None)
        options: OutputOptions = getattr(self, "options")  # noqa: B009
        return seed if seed is not None else options.seed


def check_anchor_index(anchor_index: int, instructions: int) -> None:
    """`options.anchor_index` of a job with instructions (flat-to-model, packshots) names one."""
    if anchor_index >= instructions:
        raise ValueError(
            f"options.anchor_index must be below the number of instructions ({instructions})"
        )


class Instruction(InstructionSeed, RequestModel):
    pose: DesignValue | None = None
    expression: DesignValue | None = None
    mood: DesignValue | None = None
    camera: str | int | CameraSpec | None = None
    lighting: str | int | LightingSpec | None = None
    background: DesignValue | None = None
    style: DesignValue | None = None
    color_palette: DesignValue | None = None
    angle: DesignValue | None = None
    prompt: str | None = None
    seed: int | None = None
    num_variations: int = Field(default=1, ge=1, le=FLAT_MAX_VARIATIONS)
    preset_name: str | None = None
    category_names: list[str] | None = None
    options: OutputOptions = Field(default_factory=OutputOptions)


class AnnotatedImage(RequestModel):
    file_id: str = Field(min_length=1)
    note: str | None = Field(default=None, max_length=1000)


class FlatOptions(RequestModel):
    model: FlatModel = "auto"
    use_anchor: bool = True
    anchor_index: int = Field(default=0, ge=0)
    add_ai_watermark: bool = False
    barefoot: bool = False


class ReviewConfig(RequestModel):
    requires_review: bool = False
    default_reviewer_type: str | None = None
    default_retouch_method: str | None = None
    auto_approve_threshold: float | None = None


class Flat2ModelRequest(RequestModel):
    identity_code: str = Field(min_length=1)
    project_id: str = Field(min_length=1)
    images: list[str | AnnotatedImage] = Field(min_length=1, max_length=MAX_JOB_IMAGES)
    instructions: list[Instruction] = Field(default_factory=list, max_length=MAX_INSTRUCTIONS)
    post_process: bool = False
    options: FlatOptions = Field(default_factory=FlatOptions)
    review_config: ReviewConfig | None = None
    #: Legacy flag, mapped to `options.model = "seedream"`.
    use_alternative_method: bool | None = None

    @model_validator(mode="after")
    def _normalise(self) -> Flat2ModelRequest:
        if self.use_alternative_method:
            self.options.model = "seedream"
        if not self.instructions:
            self.instructions = [Instruction()]
        check_anchor_index(self.options.anchor_index, len(self.instructions))
        return self

    def annotated_images(self) -> list[AnnotatedImage]:
        return [AnnotatedImage(file_id=i) if isinstance(i, str) else i for i in self.images]

    def total_outputs(self) -> int:
        return sum(instruction.num_variations for instruction in self.instructions)


# --- job lifecycle -------------------------------------------------------------------------------


class JobCreatedResponse(WireModel):
    job_id: str
    status: str = "pending"
    message: str = "Job created successfully"
    total_outputs: int | None = None


class JobStatusResponse(WireModel):
    job_id: str
    job_type: str
    status: str
    progress: float = 0.0
    total_images: int = 0
    processed_images: int = 0
    should_post_process: bool = False
    post_processing_status: str | None = None
    post_processing_error: str | None = None
    error_message: str | None = None
    identity_code: str | None = None
    identity_name: str | None = None
    project_id: int | str | None = None
    project_text: str | None = None
    project_key: str | None = None
    processing_options: dict[str, Any] | None = None
    created_at: str | None = None
    updated_at: str | None = None


class ResultOutput(WireModel):
    full_size: str | None = None
    thumbnail: str | None = None


#: Marks a field that the hosted API does not have, in the OpenAPI document.
VESTIS_EXTENSION: dict[str, Any] = {"x-vestis-extension": True}


class GarmentMetrics(WireModel):
    """vestis extension: one garment of a flat-to-model output, as the engine measured it (did
    it make it from its photo onto the body, whole?)."""

    name: str | None = Field(default=None, description="The garment photo's file name.")
    kind: str | None = Field(
        default=None, description="What the engine took it for: top, bottom, dress, shoes, ..."
    )
    verdict: Literal["ok", "doubtful", "lost"] = Field(
        description="ok; doubtful: delivered with a warning and a score of at most 0.45; lost: "
        "the output is refused, never delivered."
    )
    reasons: list[str] = Field(default_factory=list, description="Why, when not ok.")
    cutout_kept: float | None = Field(
        default=None, description="Share of the garment in its photo that the cut-out kept."
    )
    coverage: float | None = Field(
        default=None,
        description="Share of the body region where the garment belongs that it covers.",
    )
    old_clothes: float | None = Field(
        default=None,
        description="The body's own clothes still showing where this garment replaces them, "
        "relative to that region's area (0 on a mannequin).",
    )


class IdentityPhotoChoice(WireModel):
    """vestis extension: which of the identity's photos a model swap used."""

    photo_id: str = Field(description="The photo (GET /identity/{code}/photos).")
    position: int = Field(description="Its place among the identity's photos, 0 the first.")
    of: int = Field(description="How many photos the identity held.")
    distance: float | None = Field(
        default=None,
        description="How far its mouth state and head pose were from the target's (0: alike; "
        "null: a face not measured).",
    )
    refused: list[str] = Field(
        default=[],
        description="What a swap cannot render that even the best photo showed (glasses, "
        "turned_head, beard_onto_clean_shaven, grin_onto_closed_mouth); empty normally.",
    )


class OutputMetrics(WireModel):
    """vestis extension: what vestis measured on one output, whatever engine made it.

    Distances are between dlib face embeddings: two photos of the same person are below 0.6.
    A value is null when it could not be measured (e.g. no face in the identity image)."""

    face_found: bool | None = Field(default=None, description="A face was found in the output.")
    identity_distance: float | None = Field(
        default=None, description="Distance from the output's face to the identity's."
    )
    original_distance: float | None = Field(
        default=None,
        description="Model swap: distance from the output's face to the original model's.",
    )
    is_identity: bool | None = Field(
        default=None,
        description="The output's face is the identity (identity_distance below 0.6); false "
        "also when a model swap lost the face.",
    )
    unchanged_outside_head: float | None = Field(
        default=None,
        description="Model swap: share of the pixels outside the head (garments, body, "
        "background) within 3 levels of the input photo, in the delivered file.",
    )
    sharpness_ratio: float | None = Field(
        default=None,
        description="Model swap: sharpness of the inner face (variance of the Laplacian), "
        "output / input photo; below 0.7 looks smeared.",
    )
    attempts: int = Field(
        default=1,
        description="How many times the output was made: an output that is not the identity "
        "is made again with another seed (server setting --identity-retries), the best kept.",
    )
    identity_photo: IdentityPhotoChoice | None = Field(
        default=None,
        description="Model swap with an identity of several photos: the one chosen for this "
        "photo (expression and head pose closest, none the swap cannot render).",
    )
    garments: list[GarmentMetrics] | None = Field(
        default=None,
        description="Flat-to-model: each garment as the engine measured it, when it measures "
        "them (the local engine does).",
    )
    target_colour: str | None = Field(
        default=None, description="Garment recolour: the colour asked for, as a hex code."
    )
    delta_e2000: float | None = Field(
        default=None,
        description="Garment recolour: CIEDE2000 difference between the colour asked for and "
        "the recoloured garment's median colour, in the delivered file (below 5: that colour).",
    )
    unchanged_outside_garment: float | None = Field(
        default=None,
        description="Garment recolour: share of the pixels outside the garment within 3 levels "
        "of the input photo, in the delivered file (the engine's own image: 1.0 bit for bit).",
    )
    garment_whole: bool | None = Field(
        default=None,
        description="Packshot: the garment was cut out whole (not cut by the photo's edge, "
        "the cut-out keeping the garment the photo shows).",
    )


class JobResult(WireModel):
    job_id: str | None = None
    image_index: int = 0
    group_index: int = 0
    version: int = 0
    original_filename: str | None = None
    download_filename: str | None = None
    inputs: list[ResultOutput] = []
    output: ResultOutput | None = None
    url: str | None = None
    input_description: dict[str, Any] = {}
    model_used: str | None = None
    status: str = "pending"
    quality_score: float | None = None
    processing_time: float | None = None
    error_message: str | None = None
    warnings: list[str] = []
    #: The reviewer's verdict (`like` = approved, `dislike` = rejected) and note, spec §2.9.
    feedback: str | None = None
    feedback_comment: str | None = None
    #: Set when the quality measures flag the output (warnings, a low score); the reason says
    #: which, in words.
    detail_needs_review: bool | None = None
    detail_review_reason: str | None = None
    #: vestis extension: the id of this version of the output (feedback, redo).
    output_id: str | None = None
    #: vestis extension: the measures behind `quality_score`.
    metrics: OutputMetrics | None = Field(
        default=None,
        description="vestis extension: the measures of this output behind quality_score.",
        json_schema_extra=VESTIS_EXTENSION,
    )
    created_at: str | None = None
    # vestis extensions of a server in front of other services (`vestis serve --engine
    # onmodel,local`): who really made the output and what it cost upstream.
    engine: str | None = Field(
        default=None,
        description="vestis extension: the engine of the server's chain that made the output "
        "(`local`, `onmodel`, `fashn`, ...); `model_used` is that engine's own model name.",
        json_schema_extra=VESTIS_EXTENSION,
    )
    upstream_id: str | None = Field(
        default=None,
        description="vestis extension: the upstream job (On-Model) or prediction (FASHN) that "
        "made the output.",
        json_schema_extra=VESTIS_EXTENSION,
    )
    upstream_credits: float | None = Field(
        default=None,
        description="vestis extension: what the output cost upstream, in the upstream's credits.",
        json_schema_extra=VESTIS_EXTENSION,
    )
    garment_locked_share: float | None = Field(
        default=None,
        description="vestis extension: share of the output's pixels that are the input photo's "
        "bit for bit (garment lock of a model swap from an engine that repaints the photo).",
        json_schema_extra=VESTIS_EXTENSION,
    )

    @property
    def image_url(self) -> str | None:
        """`output.full_size`, or `url` for results that carry only that (seed 002)."""
        if self.output is not None and self.output.full_size:
            return self.output.full_size
        return self.url


class ResultsSummary(WireModel):
    total_images: int = 0
    successful: int = 0
    failed: int = 0
    average_quality_score: float = 0.0
    success_rate: float = 0.0
    #: vestis extension: the consistency of the set.
    identity_consistency: float | None = Field(
        default=None,
        description="vestis extension: the largest distance between the faces of two outputs "
        "of this job (one identity: below 0.6 when the whole set shows the same person); null "
        "with fewer than two faces.",
        json_schema_extra=VESTIS_EXTENSION,
    )


class JobResultsResponse(JobStatusResponse):
    results: list[JobResult] = []
    summary: ResultsSummary = Field(default_factory=ResultsSummary)
    credits_used: float | None = None


# --- review (feedback, versions, redo) -----------------------------------------------------------

Feedback = Literal["like", "dislike"]
MAX_FEEDBACK_COMMENT = 2000
MAX_FEEDBACK_OUTPUTS = 500


class FeedbackRequest(RequestModel):
    """Approve (`like`) or reject (`dislike`) one output, or clear the verdict (`null`).
    A field left out keeps its value (a bulk approval keeps each output's note)."""

    feedback: Feedback | None = None
    feedback_comment: str | None = Field(default=None, max_length=MAX_FEEDBACK_COMMENT)


class BulkFeedbackRequest(FeedbackRequest):
    """The same verdict (and note, if given) for many outputs of one job."""

    output_ids: list[str] = Field(min_length=1, max_length=MAX_FEEDBACK_OUTPUTS)


class BulkFeedbackResponse(WireModel):
    results: list[JobResult] = []


# --- an instruction in words (review pages) -------------------------------------------------------

_DESIGN_FIELDS = (
    "pose", "expression", "mood", "camera", "lighting", "background", "style", "color_palette",
    "angle",
)  # fmt: skip


def _design_words(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int):
        return f"saved design value #{value}"
    if isinstance(value, dict):
        parts = [str(v) for k, v in value.items() if v not in (None, "") and k != "image"]
        if value.get("image"):
            parts.append("with a reference image")
        return ", ".join(parts)
    return str(value)


def describe_instruction(instruction: dict[str, Any]) -> list[tuple[str, str]]:
    """A flat-to-model instruction (the wire dict) as (label, words) pairs for a reviewer:
    `[("pose", "standing front-facing"), ("background", "white studio"), ("size", "2K, 3:4")]`.
    An empty instruction is `[("instruction", "default")]`."""
    words: list[tuple[str, str]] = []
    for field in _DESIGN_FIELDS:
        text = _design_words(instruction.get(field))
        if text:
            words.append((field.replace("_", " "), text))
    if instruction.get("prompt"):
        words.append(("notes", str(instruction["prompt"])))
    options = instruction.get("options") or {}
    if options.get("width") and options.get("height"):
        words.append(("size", f"{options['width']}x{options['height']} px"))
    else:
        size = ", ".join(str(options[k]) for k in ("size", "ar") if options.get(k))
        if size:
            words.append(("size", size))
    if options.get("format"):
        words.append(("format", str(options["format"])))
    seed = instruction.get("seed", options.get("seed"))
    if seed is not None:
        words.append(("seed", str(seed)))
    return words or [("instruction", "default")]
