"""The Engine protocol: what the server asks of whatever does the image work.

The server owns storage, users, credits and job state; an engine only turns images into images.
Every call is synchronous; the server runs it on its worker pool. A call that cannot produce its
output raises `EngineError` with a message meant for the user (it becomes the result's
`error_message`); other outputs of the same job go on. `UpstreamError` says the failure is not
the user's (a remote service down, a 5xx, a timeout, refused content): the server may give the
output to the next engine of its chain.

Engines that work on a whole job at once (a remote service that takes one job for many outputs)
also implement `JobEngine.run_job`; the server then hands them the job's pending outputs in one
call, with a `JobContext` to deliver outputs and to checkpoint remote ids durably.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from PIL import Image


class EngineError(Exception):
    """One output cannot be made; `str(err)` is shown to the user as `error_message`."""


class UpstreamError(EngineError):
    """The output could not be made for a reason that is not the user's: a remote service is
    down, answered 5xx, timed out, refused the content, or its account is out of credits. The
    server moves such an output to the next engine of its chain (with a warning), if any."""


@dataclass(frozen=True)
class FaceInfo:
    """What face detection found in an image (identity upload's `face_detected`/`face_metadata`)."""

    detected: bool
    box: tuple[int, int, int, int] | None = None  # left, top, right, bottom in pixels
    confidence: float = 0.0
    has_body: bool = False  # pose landmarks found: the image can be dressed by flat-to-model
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SwapSpec:
    """One model-swap output: put `identity`'s face on the model in `target`."""

    target: Image.Image
    identity: Image.Image
    seed: int
    variation: int = 0  # 0..num_variations-1; different variations must look different
    post_process: bool = False  # skin equalisation: neck, arms, hands, legs to the new tone
    add_ai_watermark: bool = False
    model: str = "auto"
    #: FASHN `face_reference_mode`: "match_base" keeps the target's head angle and expression,
    #: "match_reference" favours the reference face.
    face_reference_mode: str = "match_base"
    prompt: str | None = None
    #: 0 for the output as asked; n for the server's n-th identity retry of it (the output's
    #: face was measured not to be the identity). The seed changes too; an engine whose result
    #: does not depend on the seed (the local engine's variation 0) uses this to try harder.
    retry: int = 0


@dataclass(frozen=True)
class FlatGarment:
    """One flat-lay or packshot photo, with its optional styling note and file name."""

    image: Image.Image
    filename: str = ""
    note: str | None = None


@dataclass(frozen=True)
class FlatSpec:
    """One flat-to-model output: dress `identity` (or a body) in every garment."""

    garments: list[FlatGarment]
    identity: Image.Image
    width: int
    height: int
    seed: int
    variation: int = 0
    instruction: dict[str, Any] = field(default_factory=dict)  # the wire Instruction as a dict
    add_ai_watermark: bool = False
    barefoot: bool = False
    model: str = "auto"
    #: Output of the anchor instruction, when `use_anchor` is on and this is not the anchor.
    anchor: Image.Image | None = None


@dataclass(frozen=True)
class PackshotSpec:
    """One packshot output: the garment of `garments` (1 to 10 photos of one garment) as
    `instruction` (the wire packshot instruction as a dict) asks, `width` x `height` pixels."""

    garments: list[FlatGarment]
    width: int
    height: int
    seed: int
    variation: int = 0
    instruction: dict[str, Any] = field(default_factory=dict)
    add_ai_watermark: bool = False
    model: str = "auto"


@dataclass(frozen=True)
class RecolorSpec:
    """One garment recolour: the garment in `image` to `target` (RGB) when the request gave a
    colour, or the colour of `reference` (an image); everything else left as it is."""

    image: Image.Image
    seed: int
    variation: int = 0
    target: tuple[int, int, int] | None = None
    reference: Image.Image | None = None
    garment_label: str | None = None
    instruction: str | None = None
    #: Long edge of the output in pixels (the request's `processing_size`): the server gives
    #: `image` at that size already.
    processing_size: int = 2048
    #: The uploaded input's own size, when `image` was resampled to `processing_size`.
    source_size: tuple[int, int] | None = None
    add_ai_watermark: bool = False
    model: str = "auto"


@dataclass(frozen=True)
class IdentitySpec:
    """One draft identity of `POST /identity/create`: a new person drawn from `instruction`
    (one instruction group of the brief, as sent: `appearance`, `face`, `hair`, ...),
    `width` x `height` pixels. Only engines that draw people make it (`create_identity`)."""

    instruction: dict[str, Any]
    width: int
    height: int
    seed: int
    variation: int = 0
    name: str | None = None


#: The spec of one output of any job type.
AnySpec = SwapSpec | FlatSpec | PackshotSpec | RecolorSpec | IdentitySpec


@dataclass
class EngineOutput:
    image: Image.Image
    model_used: str
    quality_score: float = 0.0
    warnings: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    #: Remote engines: the upstream job or prediction that made the output, and what it cost
    #: there (in the upstream's credits).
    upstream_id: str | None = None
    upstream_credits: float | None = None
    #: The engine (of a chain) that really made the output; set by the chain.
    engine: str | None = None
    #: Share of the pixels the garment lock kept from the photo (None: not locked); set by the
    #: chain for model swaps of engines that repaint.
    garment_locked_share: float | None = None


# --- the job-level path ---------------------------------------------------------------------------


@dataclass(frozen=True)
class JobFile:
    """An image a job names (an input, or a reference image of an instruction), as uploaded."""

    file_id: str
    filename: str
    data: bytes


@dataclass(frozen=True)
class JobIdentity:
    code: str
    name: str
    filename: str
    data: bytes
    sha256: str


@dataclass(frozen=True)
class OutputSlot:
    """One output still to make. `key` is the server's output id; `spec` is what the server
    computed for it (model swap: `file_id`, `seed`; flat-to-model: `instruction_index`, `width`,
    `height`, `seed`)."""

    key: str
    image_index: int
    group_index: int
    variation: int
    output_format: str
    spec: dict[str, Any]


@dataclass(frozen=True)
class JobWork:
    """A whole job for a job-level engine."""

    job_id: str
    #: "model_swap" | "flat_2_model" | "create_packshot" | "garment_recolor" | "identity_creation"
    job_type: str
    #: The wire request as the server validated it (file ids and identity code are the server's).
    request: dict[str, Any]
    project_name: str
    #: None for the job types that show no person (packshots, recolours).
    identity: JobIdentity | None
    #: Every file the request names, by file id.
    files: dict[str, JobFile]
    slots: list[OutputSlot]
    #: What this engine checkpointed for this job in an earlier attempt; {} the first time.
    state: dict[str, Any] = field(default_factory=dict)


class JobContext(Protocol):
    """What the server offers a job-level engine while it runs one job."""

    def save_state(self, state: dict[str, Any]) -> None:
        """Store the engine's checkpoint of this job durably before returning (remote ids)."""
        ...

    def recall(self, key: str) -> str | None:
        """A value this engine remembered earlier (any job), e.g. a remote identity code."""
        ...

    def remember(self, key: str, value: str) -> None: ...

    def deliver(self, key: str, output: EngineOutput) -> None:
        """One output is made; the server stores and records it before returning."""
        ...

    def fail(self, key: str, error: EngineError) -> None:
        """One output cannot be made here (`UpstreamError`: the next engine may try)."""
        ...

    def stopping(self) -> bool:
        """True when the server is shutting down: leave the rest for the next start."""
        ...


@runtime_checkable
class JobEngine(Protocol):
    """An engine that makes a whole job in one call (a remote On-Model job, FASHN runs)."""

    name: str

    def run_job(self, work: JobWork, context: JobContext) -> None:
        """Make every slot of `work`: `context.deliver` or `context.fail` each one. Raising
        `EngineError` (or `UpstreamError`) fails every slot not delivered yet."""
        ...


@runtime_checkable
class Engine(Protocol):
    """What the server needs from an engine."""

    name: str

    def detect_face(self, image: Image.Image) -> FaceInfo:
        """Find the (largest) face and, if visible, a body in `image`."""
        ...

    def model_swap(self, spec: SwapSpec) -> EngineOutput:
        """Replace the model's face in `spec.target`; everything outside the head stays as is."""
        ...

    def flat_to_model(self, spec: FlatSpec) -> EngineOutput:
        """Render one on-model image of `spec.garments`, `spec.width` x `spec.height` pixels."""
        ...

    def generate_identity(self, spec: SwapSpec) -> EngineOutput:
        """Invent an identity from `spec.prompt` and swap it in (FASHN model-swap without a
        face reference). Engines that cannot generate raise `EngineError` saying so."""
        ...


def call_engine(engine: object, spec: AnySpec) -> EngineOutput:
    """The engine's method for `spec`'s job type. Packshots, recolours and drawn identities
    are optional: an engine without them refuses the output, naming itself."""
    if isinstance(spec, SwapSpec):
        return engine.model_swap(spec)  # type: ignore[attr-defined,no-any-return]
    if isinstance(spec, FlatSpec):
        return engine.flat_to_model(spec)  # type: ignore[attr-defined,no-any-return]
    method = (
        "create_packshot"
        if isinstance(spec, PackshotSpec)
        else "create_identity"
        if isinstance(spec, IdentitySpec)
        else "garment_recolor"
    )
    call = getattr(engine, method, None)
    if call is None:
        name = getattr(engine, "name", type(engine).__name__)
        # not the user's fault: the next engine of a chain may make it
        if isinstance(spec, IdentitySpec):
            raise UpstreamError(f"The {name} engine cannot draw a new person (identity creation).")
        raise UpstreamError(f"The {name} engine does not make {method.replace('_', ' ')} outputs.")
    return call(spec)  # type: ignore[no-any-return]


def draws_people(engine: object) -> bool:
    """True when `engine` makes identity-creation outputs: a per-output engine with
    `create_identity`, or a job-level engine whose `models` list `identity_creation`."""
    models = getattr(engine, "models", None)
    if isinstance(models, dict) and "identity_creation" in models:
        return True
    return callable(getattr(engine, "create_identity", None))
