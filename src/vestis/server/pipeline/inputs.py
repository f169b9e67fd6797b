"""What the engine is given for an output: the job's images read from the blob store, turned
into a `SwapSpec` or `FlatSpec`, and the engine call itself."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from vestis.contract.jobs import Flat2ModelRequest, Instruction, ModelSwapRequest
from vestis.contract.products import (
    CREATE_PACKSHOT,
    GARMENT_RECOLOR,
    IDENTITY_CREATION,
    CreatePackshotRequest,
    GarmentRecolorRequest,
    IdentityCreateRequest,
)
from vestis.engines import base
from vestis.engines.base import (
    AnySpec,
    Engine,
    EngineError,
    EngineOutput,
    FlatGarment,
    FlatSpec,
    IdentitySpec,
    PackshotSpec,
    RecolorSpec,
    SwapSpec,
)
from vestis.quality import identity_choice
from vestis.quality.colour import ColourError, parse_colour
from vestis.quality.face_traits import FaceTraits
from vestis.server.media import images
from vestis.server.services.jobs import MODEL_SWAP
from vestis.server.store.blobs import BlobStore
from vestis.server.store.models import File, Identity, Job, JobOutput


class InputError(EngineError):
    """An input of the job cannot be read any more (blob gone, image unreadable): the output
    fails with this message, as for an engine's refusal."""


@dataclass
class IdentityPhotoInput:
    """One of an identity's photos, for the choice per target (`identity_for`)."""

    photo_id: str
    image: Image.Image
    traits: FaceTraits | None


@dataclass
class Inputs:
    identity: Image.Image | None  # None for packshots and recolours
    uploads: dict[str, Image.Image] = field(default_factory=dict)
    garments: list[FlatGarment] = field(default_factory=list)
    #: The anchor output's image (flat-to-model with `use_anchor`), once it exists.
    anchor: Image.Image | None = None
    #: A model swap whose identity holds several photos: all of them, the first first (empty
    #: with one photo: `identity` is it).
    identity_photos: list[IdentityPhotoInput] = field(default_factory=list)
    #: The photo chosen per target file (`identity_for`), with the figures of the choice.
    chosen: dict[str, dict[str, Any]] = field(default_factory=dict)


#: Traits of target photos, by file id (an upload's bytes never change): each target is measured
#: once per process, whatever number of variations and retries are made of it.
_TARGET_TRAITS: OrderedDict[str, FaceTraits | None] = OrderedDict()
_TARGET_TRAITS_SIZE = 512
_TARGET_LOCK = threading.Lock()


def target_traits(file_id: str, image: Image.Image) -> FaceTraits | None:
    with _TARGET_LOCK:
        if file_id in _TARGET_TRAITS:
            _TARGET_TRAITS.move_to_end(file_id)
            return _TARGET_TRAITS[file_id]
    try:
        measured = identity_choice.measure(image)
    except Exception:  # a photo the face mesh cannot read: the engine says what is wrong
        measured = None
    with _TARGET_LOCK:
        _TARGET_TRAITS[file_id] = measured
        while len(_TARGET_TRAITS) > _TARGET_TRAITS_SIZE:
            _TARGET_TRAITS.popitem(last=False)
    return measured


def identity_for(inputs: Inputs, file_id: str) -> Image.Image:
    """The identity photo to swap onto the target `file_id`: with several photos, the one
    `quality.identity_choice` picks (recorded in `inputs.chosen`); else the only one."""
    assert inputs.identity is not None
    if len(inputs.identity_photos) <= 1:
        return inputs.identity
    target = target_traits(file_id, inputs.uploads[file_id])
    choice = identity_choice.choose(target, [p.traits for p in inputs.identity_photos])
    photo = inputs.identity_photos[choice.index]
    inputs.chosen[file_id] = {
        "photo_id": photo.photo_id,
        "position": choice.index,
        "of": len(inputs.identity_photos),
        "distance": choice.distance,
        "refused": choice.refused,
    }
    return photo.image


def _identity_photos(db: Session, blobs: BlobStore, identity: Identity) -> list[IdentityPhotoInput]:
    """Every photo of `identity` with its face traits; traits missing (a photo from before
    they were stored) are measured now and kept."""
    loaded = []
    for photo in identity.photos:
        image = _open(blobs, photo.blob_key, "identity photo")
        face = identity_choice.from_dict(photo.face_traits)
        if face is None:
            face = identity_choice.measure(image)
            if face is not None:
                photo.face_traits = face.as_dict()
        loaded.append(IdentityPhotoInput(photo.public_id, image, face))
    return loaded


def anchor_position(job: Job) -> int | None:
    """The output every other output of a flat-to-model job follows (`use_anchor`), if any."""
    options = job.request.get("options") or {}
    if job.job_type in (MODEL_SWAP, GARMENT_RECOLOR, IDENTITY_CREATION) or not options.get(
        "use_anchor", True
    ):
        return None
    wanted = options.get("anchor_index", 0)
    for output in job.outputs:
        if output.group_index == wanted and output.variation == 0:
            return output.id
    return None


def _open(blobs: BlobStore, key: str | None, what: str) -> Image.Image:
    if key is None:
        raise InputError(f"The {what} of this job was never uploaded.")
    try:
        return images.open_image(blobs.read(key))
    except Exception as exc:  # a missing or unreadable blob fails the output, not the worker
        raise InputError(f"The {what} of this job cannot be read any more: {exc}") from exc


def _file(db: Session, blobs: BlobStore, file_id: str) -> tuple[File, Image.Image]:
    row = db.scalar(select(File).where(File.public_id == file_id))
    if row is None:
        raise InputError(f"The input file {file_id} of this job no longer exists.")
    return row, _open(blobs, row.blob_key, f"input file {file_id}")


def load(db: Session, blobs: BlobStore, job: Job, file_ids: set[str], follower: bool) -> Inputs:
    """The images the outputs of `job` need: the identity, the uploads `file_ids` (model swap)
    or every garment (flat-to-model), and the anchor image for a `follower` of the anchor."""
    identity = job.identity
    inputs = Inputs(
        identity=_open(blobs, identity.blob_key, "identity photo") if identity else None
    )
    if job.job_type == IDENTITY_CREATION:
        return inputs  # a brief: no image
    if job.job_type == MODEL_SWAP and identity is not None and len(identity.photos) > 1:
        inputs.identity_photos = _identity_photos(db, blobs, identity)
    if job.job_type in (MODEL_SWAP, GARMENT_RECOLOR):
        reference = job.request.get("reference_image")
        for file_id in sorted(file_ids | ({reference} if reference else set())):
            inputs.uploads[file_id] = _file(db, blobs, file_id)[1]
        return inputs
    request: Flat2ModelRequest | CreatePackshotRequest = (
        CreatePackshotRequest.model_validate(job.request)
        if job.job_type == CREATE_PACKSHOT
        else Flat2ModelRequest.model_validate(job.request)
    )
    for item in request.annotated_images():
        row, image = _file(db, blobs, item.file_id)
        inputs.garments.append(FlatGarment(image=image, filename=row.filename, note=item.note))
    anchor_id = anchor_position(job)
    if follower and anchor_id is not None:
        anchor = db.get(JobOutput, anchor_id)
        if anchor is not None and anchor.status == "completed" and anchor.blob_key:
            inputs.anchor = _open(blobs, anchor.blob_key, "anchor output")
    return inputs


def _product_spec(
    job_type: str, request: dict[str, Any], spec: dict[str, Any], variation: int, inputs: Inputs
) -> PackshotSpec | RecolorSpec:
    if job_type == CREATE_PACKSHOT:
        packshot = CreatePackshotRequest.model_validate(request)
        instruction = packshot.instructions[spec["instruction_index"]]
        return PackshotSpec(
            garments=inputs.garments,
            width=spec["width"],
            height=spec["height"],
            seed=spec["seed"],
            variation=variation,
            instruction=instruction.model_dump(mode="json", exclude_none=True),
            add_ai_watermark=packshot.options.add_ai_watermark,
            model=packshot.options.model,
        )
    recolor = GarmentRecolorRequest.model_validate(request)
    target = None
    if recolor.reference_text:
        try:
            target = parse_colour(recolor.reference_text)
        except ColourError:
            target = None  # a pattern in words: the engine reads it with the instruction
    reference = recolor.reference_image
    source = inputs.uploads[spec["file_id"]]
    return RecolorSpec(
        image=at_processing_size(source, recolor.processing_size),
        source_size=source.size,
        seed=spec["seed"],
        variation=variation,
        target=target,
        reference=inputs.uploads.get(reference) if reference else None,
        garment_label=recolor.garment_label,
        instruction=recolor.instruction or recolor.reference_text,
        processing_size=recolor.processing_size,
        add_ai_watermark=recolor.add_ai_watermark,
        model=recolor.model,
    )


def at_processing_size(image: Image.Image, long_edge: int) -> Image.Image:
    """A recolour's input at the request's `processing_size` (its long edge; the output is
    this size, as a packshot is its `size`): resampled (Lanczos) when it differs, else the
    input itself, whose pixels outside the garment then stay bit for bit."""
    width, height = image.size
    if max(width, height) == long_edge:
        return image
    scale = long_edge / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.convert("RGB").resize(size, Image.Resampling.LANCZOS)


def engine_spec(
    job_type: str,
    request: dict[str, Any],
    spec: dict[str, Any],
    variation: int,
    inputs: Inputs,
    choose_photo: bool = True,
) -> AnySpec:
    """The engine's view of one output. A model swap gets the identity photo that fits its
    target best (`identity_for`), unless `choose_photo` is off (engines that work per job were
    given the identity's first photo)."""
    if job_type == IDENTITY_CREATION:
        brief = IdentityCreateRequest.model_validate(request)
        return IdentitySpec(
            instruction=dict(brief.instructions[spec["instruction_index"]]),
            width=spec["width"],
            height=spec["height"],
            seed=spec["seed"],
            variation=variation,
            name=brief.name,
        )
    if job_type in (CREATE_PACKSHOT, GARMENT_RECOLOR):
        return _product_spec(job_type, request, spec, variation, inputs)
    assert inputs.identity is not None, "model swaps and flat-to-model jobs have an identity"
    if job_type == MODEL_SWAP:
        swap = ModelSwapRequest.model_validate(request)
        file_id = spec["file_id"]
        return SwapSpec(
            target=inputs.uploads[file_id],
            identity=identity_for(inputs, file_id) if choose_photo else inputs.identity,
            seed=spec["seed"],
            variation=variation,
            post_process=swap.post_process,
            add_ai_watermark=swap.swap_options.add_ai_watermark,
            model=swap.swap_options.model,
        )
    flat = Flat2ModelRequest.model_validate(request)
    instruction: Instruction = flat.instructions[spec["instruction_index"]]
    return FlatSpec(
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
        anchor=inputs.anchor if flat.options.use_anchor else None,
    )


def call_engine(engine: Engine, spec: AnySpec) -> EngineOutput:
    return base.call_engine(engine, spec)
