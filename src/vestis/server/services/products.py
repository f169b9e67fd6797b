"""Packshot and recolour jobs (their outputs: names, prices, seeds) and the identity endpoints
around generated images: promotion of a job's output to an identity, attributes read from a
photo (`POST /preset/extract-from-image`), and identity creation from a brief, which needs an
engine that draws people."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vestis.contract import pricing
from vestis.contract.jobs import DEFAULT_FORMAT
from vestis.contract.products import (
    CREATE_PACKSHOT,
    GARMENT_RECOLOR,
    IDENTITY_CREATION,
    CreatePackshotRequest,
    GarmentRecolorRequest,
    IdentityCreateRequest,
    PromoteGeneratedRequest,
    PromoteGeneratedResponse,
)
from vestis.server.errors import ApiError, not_found
from vestis.server.guard.security import new_public_id
from vestis.server.services import credits, identities
from vestis.server.store.core import ServerCore
from vestis.server.store.models import EngineMemo, File, Identity, Job, JobOutput, User

log = logging.getLogger("vestis.server.services.products")

__all__ = [
    "CREATE_PACKSHOT",
    "GARMENT_RECOLOR",
    "IDENTITY_CREATION",
    "identity_outputs",
    "packshot_outputs",
    "recolor_outputs",
]

#: What a server whose engines cannot draw a person answers `POST /identity/create`.
NO_IDENTITY_CREATION = (
    "This server (engines: {engines}) does not create identities from a brief: the local "
    "engine cannot draw a new person, and FASHN's model-create and face-to-model do not take "
    "an On-Model brief (vestis does not translate one). Identity creation runs on the hosted "
    "On-Model service (its generative engines): point the client at it, or run this server as "
    "a gateway to it (vestis serve --engine onmodel,local). Or upload a photo of a real person "
    "with POST /identity/upload, or promote a generated output with "
    "POST /identity/promote-generated."
)

#: The project a server files identity-creation jobs under (the brief names none).
DRAFTS_PROJECT = "identity-drafts"


@dataclass(frozen=True)
class OutputGroup:
    """One instruction of a job (a flat-to-model or packshot instruction, a brief's group): its
    outputs' count, format, size and price, and the seed it fixes, if any."""

    variations: int
    fmt: str
    width: int
    height: int
    price: float
    seed: int | None = None


def instruction_outputs(
    groups: list[OutputGroup], seed: int, running_index: bool = False
) -> list[JobOutput]:
    """One output per group and variation, `group_index` the group. `image_index` is the
    variation (packshots, drafts: the clients name files `output_<group>_<variation>`), or
    with `running_index` the output's place in the job (flat-to-model, as the hosted API).
    Seeds: the group's own plus the variation, else the job's seed spread by group."""
    outputs: list[JobOutput] = []
    for index, group in enumerate(groups):
        base = seed + index * 101 if group.seed is None else group.seed
        for variation in range(group.variations):
            outputs.append(
                JobOutput(
                    public_id=new_public_id("out"),
                    position=len(outputs),
                    image_index=len(outputs) if running_index else variation,
                    group_index=index,
                    variation=variation,
                    original_filename=f"output_{index}_{variation}.{group.fmt}",
                    output_format=group.fmt,
                    price=group.price,
                    spec={
                        "instruction_index": index,
                        "width": group.width,
                        "height": group.height,
                        "seed": base + variation,
                    },
                )
            )
    return outputs


def packshot_outputs(request: CreatePackshotRequest, seed: int) -> list[JobOutput]:
    """One output per instruction and variation: `group_index` is the instruction and
    `image_index` the variation (the create-packshot client names files by them)."""
    groups = [
        OutputGroup(
            variations=i.num_variations,
            fmt=i.options.format or DEFAULT_FORMAT,
            width=i.dimensions()[0],
            height=i.dimensions()[1],
            price=pricing.packshot_output_cost(i),
            seed=i.effective_seed(),
        )
        for i in request.instructions
    ]
    return instruction_outputs(groups, seed)


def recolor_outputs(
    request: GarmentRecolorRequest, inputs: list[File], seed: int
) -> list[JobOutput]:
    """One output per input and variation: `image_index` is the input, `group_index` the
    variation (the garment-recolor client names files by them); each keeps its input's
    format, so that what is outside the garment stays the input's own pixels."""
    outputs: list[JobOutput] = []
    for index, upload in enumerate(inputs):
        fmt = "png" if upload.image_format == "png" else "jpg"
        for variation in range(request.num_variations):
            outputs.append(
                JobOutput(
                    public_id=new_public_id("out"),
                    position=len(outputs),
                    image_index=index,
                    group_index=variation,
                    variation=variation,
                    original_filename=f"output_{index}_{variation}.{fmt}",
                    output_format=fmt,
                    price=pricing.recolor_output_cost(request),
                    spec={"file_id": upload.public_id, "seed": seed + index * 101 + variation},
                )
            )
    return outputs


def identity_outputs(request: IdentityCreateRequest, seed: int) -> list[JobOutput]:
    """One draft per instruction group and variation, numbered like packshots: `group_index`
    is the group, `image_index` the variation."""
    groups = []
    for instruction in request.instructions:
        options = request.draft_options(instruction)
        width, height = options.dimensions()
        groups.append(
            OutputGroup(
                variations=request.variations(instruction),
                fmt=options.format or "jpg",
                width=width,
                height=height,
                price=pricing.identity_draft_cost(request, instruction),
            )
        )
    return instruction_outputs(groups, seed)


# --- identities from generated images -------------------------------------------------------------


def _generated(db: Session, user: User, output_id: str) -> JobOutput:
    output = db.scalar(
        select(JobOutput)
        .join(Job, JobOutput.job_id == Job.id)
        .where(JobOutput.public_id == output_id, Job.user_id == user.id)
    )
    if output is None:
        raise not_found("Image result", output_id)
    if output.status != "completed" or output.blob_key is None:
        raise ApiError(
            409,
            "Not finished",
            f"Image result {output_id!r} is {output.status}: nothing to promote.",
        )
    return output


def promote(
    state: ServerCore, db: Session, user: User, request: PromoteGeneratedRequest
) -> tuple[int, dict[str, Any]]:
    """Make a job's output an identity (201), charged `PROMOTION_CREDITS`; an output already
    promoted answers 409 with its identity's code, charging nothing."""
    output = _generated(db, user, request.image_result_id)
    data = state.blobs.read(output.blob_key)  # type: ignore[arg-type]
    name = request.name or f"Generated {output.public_id}"
    upstream = _promote_upstream(state, output, name)
    try:
        made = identities.upload(
            state, db, user, data, f"{output.public_id}.{output.output_format}", name, None
        )
    except ApiError as exc:
        if exc.status_code == 409:
            code = exc.extra.get("identity_code")
            return 409, {"identity_code": code, "message": "This image is already an identity."}
        raise
    if upstream is not None:
        _adopt_upstream(db, made.identity_code, hashlib.sha256(data).hexdigest(), upstream)
    if not credits.charge(db, user.id, pricing.PROMOTION_CREDITS):
        db.rollback()
        available = credits.balance(db, user.id)
        raise ApiError(
            402,
            "Insufficient credits",
            f"Promotion costs {pricing.PROMOTION_CREDITS:g} credits but the balance is "
            f"{available:g}.",
            credits_required=pricing.PROMOTION_CREDITS,
            credits_available=available,
        )
    db.commit()
    body = PromoteGeneratedResponse(identity_code=made.identity_code, preprocessing_job_id=None)
    return 201, body.model_dump()


@dataclass(frozen=True)
class _Upstream:
    engine: str
    code: str
    status: str
    memo_prefix: str


def _promote_upstream(state: ServerCore, output: JobOutput, name: str) -> _Upstream | None:
    """A draft a gateway's upstream made is promoted there too (the upstream charges its
    promotion), so that later jobs through the gateway use the upstream's identity instead of
    uploading the image again. An upstream that fails here leaves the identity local: jobs
    then upload it to the upstream as any other identity (logged, not refused)."""
    if output.job.job_type != IDENTITY_CREATION or not output.upstream_id or not output.engine:
        return None
    by_name = getattr(state.engine, "by_name", None)
    engine = by_name(output.engine) if callable(by_name) else None
    promote_draft = getattr(engine, "promote_draft", None)
    if not callable(promote_draft):
        return None
    try:
        code, status, prefix = promote_draft(
            output.upstream_id, output.image_index, output.group_index, name
        )
    except Exception as exc:  # the upstream's trouble must not lose the user's promotion
        log.warning("draft %s not promoted upstream (%s)", output.public_id, exc)
        return None
    return _Upstream(str(output.engine), code, status, prefix)


def _adopt_upstream(db: Session, code: str, digest: str, upstream: _Upstream) -> None:
    """The local identity records the upstream's (code, cost) and, when the upstream has
    its face, is ready as the upstream says; the engine remembers the code for this image."""
    identity = db.scalar(select(Identity).where(Identity.code == code))
    assert identity is not None
    identity.face_metadata = {
        **(identity.face_metadata or {}),
        "upstream": {
            "engine": upstream.engine,
            "identity_code": upstream.code,
            "preprocessing_status": upstream.status,
            "credits": pricing.PROMOTION_CREDITS,
        },
    }
    if upstream.status == "completed":
        identity.face_detected = True
        identity.preprocessing_status = "completed"
        identity.error_message = None
    key = f"{upstream.memo_prefix}{digest}"
    memo = db.scalar(select(EngineMemo).where(EngineMemo.key == key))
    if memo is None:
        db.add(EngineMemo(key=key, value=upstream.code))
    else:
        memo.value = upstream.code


def _tone_words(lightness: float) -> str:
    """A skin tone in the words a brief uses, from the face's median L* (CIE Lab)."""
    for limit, words in ((35, "deep"), (50, "dark"), (62, "medium"), (72, "light")):
        if lightness < limit:
            return words
    return "fair"


def _hair_words(lab: Any) -> str:
    lightness, a, b = (float(v) for v in lab)
    if lightness < 22:
        return "black"
    if lightness > 70 and abs(a) < 6 and abs(b) < 10:
        return "grey"
    if a > 14 and b > 18:
        return "red"
    if lightness > 55 and b > 15:
        return "blonde"
    return "dark brown" if lightness < 38 else "brown"


def extract_preset(state: ServerCore, db: Session, user: User, file_id: str) -> dict[str, Any]:
    """What the local measures can tell of the person in an uploaded photo: skin tone (the
    face's median colour) and hair colour (above the forehead, inside the person). The rest
    of a brief (age, face shape, glasses, facial hair, ...) is left empty and listed."""
    import numpy as np

    from vestis.engines.local import models
    from vestis.engines.local.faces import find_face
    from vestis.quality.colour import to_lab
    from vestis.server.media import images

    row = db.scalar(select(File).where(File.public_id == file_id, File.user_id == user.id))
    if row is None or not row.uploaded or row.blob_key is None:
        raise not_found("File", file_id)
    rgb = np.ascontiguousarray(np.asarray(images.open_image(state.blobs.read(row.blob_key))))
    face = find_face(rgb)
    if face is None:
        raise ApiError(422, "No face", "No face was found in this image: nothing to extract.")
    x0, y0, x1, y1 = face.box
    inner = rgb[
        y0 + (y1 - y0) // 3 : y1 - (y1 - y0) // 4, x0 + (x1 - x0) // 4 : x1 - (x1 - x0) // 4
    ]
    skin = np.median(to_lab(inner.reshape(-1, 3)), axis=0)
    top = max(0, y0 - (y1 - y0) // 4)
    person = models.person_mask(rgb)[top:y0, x0:x1] > 0.5
    hair_pixels = rgb[top:y0, x0:x1][person]
    data: dict[str, dict[str, Any]] = {"appearance": {"skin_tone": _tone_words(float(skin[0]))}}
    left_empty = ["appearance.age", "appearance.gender", "face.shape", "face.glasses",
                  "face.facial_hair", "face.expression", "hair.style", "hair.length"]  # fmt: skip
    if len(hair_pixels) >= 50:
        data["hair"] = {"color": _hair_words(np.median(to_lab(hair_pixels), axis=0))}
    else:
        left_empty.append("hair.color")
    return {"instruction_data": data, "left_empty": left_empty}
