"""The identity-free job types and identity creation: `POST /create-packshot`,
`POST /garment-recolor` (both 202, then the usual `/jobs/{id}/...`), `POST /identity/create`,
`POST /identity/promote-generated`, `POST /preset/extract-from-image` (spec §2.5, §2.13, §9;
the public clients piktid/create-packshot, garment-recolor and create-identity).

Output naming (the clients build the names themselves): a packshot's `group_index` is its
instruction and `image_index` its variation (`output_<instruction>_<variation>_v<version>`); a
recolour's `image_index` is its input and `group_index` its variation.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from vestis.contract.common import RequestModel, WireModel
from vestis.contract.jobs import (
    FLAT_MAX_VARIATIONS,
    MAX_INSTRUCTIONS,
    MAX_JOB_IMAGES,
    AnnotatedImage,
    AspectRatio,
    DesignValue,
    InstructionSeed,
    LightingSpec,
    OutputFormat,
    OutputOptions,
    Size,
    check_anchor_index,
    output_dimensions,
)

CREATE_PACKSHOT = "create_packshot"
GARMENT_RECOLOR = "garment_recolor"
IDENTITY_CREATION = "identity_creation"

PackshotStyle = Literal["flat_lay", "ghost_mannequin", "marketing_ready", "white_cutout", "free"]
PackshotFraming = Literal["square_packshot", "tall_3_4", "wide_4_3", "full_frame"]
PackshotAngle = Literal["front", "back", "three_quarter", "top_down", "detail_macro"]
PackshotShadow = Literal["auto", "none", "contact", "soft_drop", "natural"]
PackshotModel = Literal["auto", "nano_banana_pro", "seedream"]
RecolorModel = Literal["auto", "nano_banana_2", "nano_banana_pro", "seedream", "gpt_image"]
ProcessingSize = Literal[1024, 2048, 4096]

#: A file id as sent: never empty.
FileId = Annotated[str, Field(min_length=1)]

PACKSHOT_STYLES: tuple[str, ...] = PackshotStyle.__args__  # type: ignore[attr-defined]
PACKSHOT_FRAMINGS: tuple[str, ...] = PackshotFraming.__args__  # type: ignore[attr-defined]
PACKSHOT_ANGLES: tuple[str, ...] = PackshotAngle.__args__  # type: ignore[attr-defined]
PACKSHOT_SHADOWS: tuple[str, ...] = PackshotShadow.__args__  # type: ignore[attr-defined]
RECOLOR_MODELS: tuple[str, ...] = RecolorModel.__args__  # type: ignore[attr-defined]
#: Aspect ratio of each framing when the instruction's options name none.
FRAMING_AR: dict[str, str] = {"square_packshot": "1:1", "tall_3_4": "3:4", "wide_4_3": "4:3"}
#: The named size of each recolour processing size (prices and output size).
PROCESSING_SIZE_NAME: dict[int, str] = {1024: "1K", 2048: "2K", 4096: "4K"}


# --- create-packshot ------------------------------------------------------------------------------


class PackshotInstruction(InstructionSeed, RequestModel):
    style: PackshotStyle
    background: DesignValue | None = None
    composition: DesignValue | None = None
    props: DesignValue | None = None
    surface: DesignValue | None = None
    color_palette: DesignValue | None = None
    lighting: str | int | LightingSpec | None = None
    framing: PackshotFraming | None = None
    angle: PackshotAngle | None = None
    shadow: PackshotShadow | None = None
    prompt: str | None = None
    seed: int | None = None
    num_variations: int = Field(default=1, ge=1, le=FLAT_MAX_VARIATIONS)
    options: OutputOptions = Field(default_factory=OutputOptions)

    @model_validator(mode="after")
    def _flat_lay_is_top_down(self) -> PackshotInstruction:
        if self.style == "flat_lay":
            self.angle = "top_down"  # the hosted API forces it too
        return self

    def dimensions(self) -> tuple[int, int]:
        """Pixel size: the options' own, else the size on the framing's aspect ratio."""
        options = self.options
        ar = options.ar or FRAMING_AR.get(self.framing or "")
        return output_dimensions(options.size, ar, options.width, options.height)


class PackshotOptions(RequestModel):
    model: PackshotModel = "auto"
    #: Off by default for packshots: instructions usually differ in style on purpose.
    use_anchor: bool = False
    anchor_index: int = Field(default=0, ge=0)
    add_ai_watermark: bool = False


class CreatePackshotRequest(RequestModel):
    project_id: str = Field(min_length=1)
    images: list[FileId | AnnotatedImage] = Field(min_length=1, max_length=MAX_JOB_IMAGES)
    instructions: list[PackshotInstruction] = Field(min_length=1, max_length=MAX_INSTRUCTIONS)
    post_process: bool = False
    options: PackshotOptions = Field(default_factory=PackshotOptions)

    @model_validator(mode="after")
    def _anchor(self) -> CreatePackshotRequest:
        check_anchor_index(self.options.anchor_index, len(self.instructions))
        return self

    def annotated_images(self) -> list[AnnotatedImage]:
        return [AnnotatedImage(file_id=i) if isinstance(i, str) else i for i in self.images]

    def total_outputs(self) -> int:
        return sum(instruction.num_variations for instruction in self.instructions)


# --- garment-recolor ------------------------------------------------------------------------------


class GarmentRecolorRequest(RequestModel):
    project_id: str = Field(min_length=1)
    images: list[FileId] = Field(min_length=1, max_length=MAX_JOB_IMAGES)
    num_variations: int = Field(default=1, ge=1, le=FLAT_MAX_VARIATIONS)
    model: RecolorModel = "auto"
    processing_size: ProcessingSize = 2048
    post_process: bool = True
    use_anchor: bool = True
    add_ai_watermark: bool = False
    garment_label: str | None = Field(default=None, max_length=200)
    #: The file id of an uploaded colour or pattern reference image.
    reference_image: FileId | None = None
    #: A colour as text: a hex code (`#2E5A3B`) or a name (`forest green`).
    reference_text: str | None = Field(default=None, max_length=500)
    instruction: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _a_target(self) -> GarmentRecolorRequest:
        if not (self.reference_image or self.reference_text or self.instruction):
            raise ValueError(
                "give at least one recolour target: reference_image, reference_text or instruction"
            )
        return self

    def total_outputs(self) -> int:
        return len(self.images) * self.num_variations


# --- identities from a brief ---------------------------------------------------------------


#: A draft identity's default size and aspect ratio (a portrait, head to waist).
DRAFT_SIZE = "1K"
DRAFT_AR = "3:4"
DRAFT_CHOICES: dict[str, tuple[str, ...]] = {
    "size": Size.__args__,  # type: ignore[attr-defined]
    "ar": AspectRatio.__args__,  # type: ignore[attr-defined]
    "format": OutputFormat.__args__,  # type: ignore[attr-defined]
}


class IdentityCreateRequest(RequestModel):
    """A brief (the body the create-identity client sends): instruction groups (`appearance`,
    `face`, `hair`, ..., `num_variations`, `options`) kept as given."""

    instructions: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_INSTRUCTIONS)
    options: dict[str, Any] = Field(default_factory=dict)
    name: str | None = Field(default=None, max_length=200)

    def total_variations(self) -> int:
        return sum(self.variations(i) for i in self.instructions)

    @staticmethod
    def variations(instruction: dict[str, Any]) -> int:
        try:
            return min(max(int(instruction.get("num_variations") or 1), 1), FLAT_MAX_VARIATIONS)
        except (TypeError, ValueError):
            return 1

    def draft_options(self, instruction: dict[str, Any]) -> OutputOptions:
        """A draft's size, aspect ratio and format: the instruction's `options`, else the
        brief's, else a 1K 3:4 portrait JPEG; values the wire contract does not know are
        left to that default."""
        merged: dict[str, Any] = {"size": DRAFT_SIZE, "ar": DRAFT_AR, "format": "jpg"}
        for source in (self.options, instruction.get("options") or {}):
            if not isinstance(source, dict):
                continue
            for key in ("size", "ar", "format"):
                value = source.get(key)
                if isinstance(value, str) and value in DRAFT_CHOICES[key]:
                    merged[key] = value
        return OutputOptions(**merged)


class IdentityCreateResponse(WireModel):
    job_id: str
    total_variations: int


class PromoteGeneratedRequest(RequestModel):
    image_result_id: str = Field(min_length=1)
    name: str | None = Field(default=None, max_length=200)


class PromoteGeneratedResponse(WireModel):
    identity_code: str
    preprocessing_job_id: str | None = None


class PresetExtractRequest(RequestModel):
    file_id: FileId
    type: Literal["identity_creation"] = "identity_creation"


class PresetExtractResponse(WireModel):
    instruction_data: dict[str, dict[str, Any]]
    #: vestis extension: the fields this server could not tell from the image.
    left_empty: list[str] = Field(default_factory=list)
