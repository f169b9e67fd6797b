"""The Engine protocol: what the server asks of whatever does the image work.

The server owns storage, users, credits and job state; an engine only turns images into images.
Every call is synchronous and CPU-bound; the server runs it on its worker pool. A call that cannot
produce its output raises `EngineError` with a message meant for the user (it becomes the result's
`error_message`); other outputs of the same job go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from PIL import Image


class EngineError(Exception):
    """One output cannot be made; `str(err)` is shown to the user as `error_message`."""


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


@dataclass
class EngineOutput:
    image: Image.Image
    model_used: str
    quality_score: float = 0.0
    warnings: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


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
