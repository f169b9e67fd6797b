"""Credit prices, shared by the server (charging, refunds) and the client (`--dry-run`).

A job is charged in full when it is created and refused (402) if the balance cannot pay it;
every output that fails is refunded.
"""

from __future__ import annotations

from vestis.contract.jobs import Flat2ModelRequest, Instruction, ModelSwapRequest
from vestis.contract.products import (
    PROCESSING_SIZE_NAME,
    CreatePackshotRequest,
    GarmentRecolorRequest,
    IdentityCreateRequest,
    PackshotInstruction,
)

#: One model-swap output (one input image x one variation).
MODEL_SWAP_CREDITS_PER_OUTPUT = 1.0
#: One flat-to-model output, by named size. Custom width/height are priced by pixel count
#: like the smallest named size that holds them.
FLAT_CREDITS_BY_SIZE: dict[str, float] = {"1K": 2.0, "2K": 3.0, "4K": 5.0}
#: FASHN `/v1/run` model-swap: per image, and per image with a face reference.
FASHN_CREDITS_PER_IMAGE = 1.0
FASHN_CREDITS_PER_IMAGE_WITH_FACE_REFERENCE = 4.0


def model_swap_output_cost() -> float:
    return MODEL_SWAP_CREDITS_PER_OUTPUT


def model_swap_cost(request: ModelSwapRequest) -> float:
    """Credits for the whole job: inputs x variations x the per-output price."""
    outputs = len(request.images) * request.swap_options.num_variations
    return outputs * MODEL_SWAP_CREDITS_PER_OUTPUT


def flat_output_cost(instruction: Instruction) -> float:
    """Credits for one output of `instruction` (each of its variations costs this)."""
    options = instruction.options
    if options.width is not None and options.height is not None:
        pixels = options.width * options.height
        for size, edge in (("1K", 1024), ("2K", 2048)):
            if pixels <= edge * edge:
                return FLAT_CREDITS_BY_SIZE[size]
        return FLAT_CREDITS_BY_SIZE["4K"]
    return FLAT_CREDITS_BY_SIZE[options.size or "1K"]


def flat_to_model_cost(request: Flat2ModelRequest) -> float:
    return sum(flat_output_cost(i) * i.num_variations for i in request.instructions)


def fashn_cost(num_images: int, face_reference: bool) -> float:
    per_image = (
        FASHN_CREDITS_PER_IMAGE_WITH_FACE_REFERENCE if face_reference else FASHN_CREDITS_PER_IMAGE
    )
    return num_images * per_image


#: One packshot or recolour output, by named size (the hosted API's prices).
PRODUCT_CREDITS_BY_SIZE: dict[str, float] = {"1K": 3.0, "2K": 5.0, "4K": 10.0}
#: Turning a generated draft into an identity (`POST /identity/promote-generated`).
PROMOTION_CREDITS = 50.0


def _size_of(width: int | None, height: int | None, size: str | None) -> str:
    if width is not None and height is not None:
        pixels = width * height
        return next((n for n, e in (("1K", 1024), ("2K", 2048)) if pixels <= e * e), "4K")
    return size or "1K"


def packshot_output_cost(instruction: PackshotInstruction) -> float:
    options = instruction.options
    return PRODUCT_CREDITS_BY_SIZE[_size_of(options.width, options.height, options.size)]


def packshot_cost(request: CreatePackshotRequest) -> float:
    return sum(packshot_output_cost(i) * i.num_variations for i in request.instructions)


def recolor_output_cost(request: GarmentRecolorRequest) -> float:
    return PRODUCT_CREDITS_BY_SIZE[PROCESSING_SIZE_NAME[request.processing_size]]


def recolor_cost(request: GarmentRecolorRequest) -> float:
    return request.total_outputs() * recolor_output_cost(request)


def identity_draft_cost(request: IdentityCreateRequest, instruction: dict[str, object]) -> float:
    """One draft identity of `POST /identity/create`. The wire contract names no price: vestis
    charges a draft as a flat-to-model output of its size (2 / 3 / 5 credits at 1K / 2K / 4K)."""
    return FLAT_CREDITS_BY_SIZE[request.draft_options(instruction).size or "1K"]


def identity_creation_cost(request: IdentityCreateRequest) -> float:
    return sum(
        identity_draft_cost(request, i) * request.variations(i) for i in request.instructions
    )
