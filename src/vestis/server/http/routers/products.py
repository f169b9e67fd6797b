"""`POST /create-packshot`, `POST /garment-recolor` (202, then `/jobs/{id}/...`),
`POST /identity/create`, `POST /identity/promote-generated`, `POST /preset/extract-from-image`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from vestis.contract.common import ErrorBody
from vestis.contract.jobs import JobCreatedResponse
from vestis.contract.products import (
    CreatePackshotRequest,
    GarmentRecolorRequest,
    IdentityCreateRequest,
    IdentityCreateResponse,
    PresetExtractRequest,
    PresetExtractResponse,
    PromoteGeneratedRequest,
    PromoteGeneratedResponse,
)
from vestis.engines.base import draws_people
from vestis.server.errors import ApiError
from vestis.server.http.deps import DbDep, SessionRoute, StateDep, UserDep
from vestis.server.http.routers.jobs import CREATION_ERRORS, IdempotencyKey, RuntimeDep, _create
from vestis.server.services import products

router = APIRouter(route_class=SessionRoute, tags=["jobs"])


@router.post(
    "/create-packshot",
    status_code=202,
    response_model=JobCreatedResponse,
    responses=CREATION_ERRORS,
)
def create_packshot(
    runtime: RuntimeDep,
    db: DbDep,
    user: UserDep,
    body: CreatePackshotRequest,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Packshots of one garment (1 to 10 photos): one output per instruction and variation;
    3 / 5 / 10 credits per output at 1K / 2K / 4K."""
    return _create(runtime, db, user, products.CREATE_PACKSHOT, body, idempotency_key)


@router.post(
    "/garment-recolor",
    status_code=202,
    response_model=JobCreatedResponse,
    responses=CREATION_ERRORS,
)
def garment_recolor(
    runtime: RuntimeDep,
    db: DbDep,
    user: UserDep,
    body: GarmentRecolorRequest,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The garment of every image recoloured: images x num_variations outputs; 3 / 5 / 10
    credits per output at processing_size 1024 / 2048 / 4096."""
    return _create(runtime, db, user, products.GARMENT_RECOLOR, body, idempotency_key)


@router.post(
    "/identity/create",
    status_code=202,
    response_model=IdentityCreateResponse,
    responses={
        **CREATION_ERRORS,
        422: {"model": ErrorBody, "description": "No engine here draws people"},
    },
)
def identity_create(
    runtime: RuntimeDep,
    db: DbDep,
    user: UserDep,
    body: IdentityCreateRequest,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Draft identities from a brief: a job (`/jobs/{id}/...`) whose results are the drafts,
    on a server with an engine that draws people (a gateway passes it to the hosted On-Model
    service); 422 naming the engines that can otherwise."""
    state = runtime.state
    chain = getattr(state.engine, "engines", None) or [state.engine]
    if not any(draws_people(e) for e in chain):
        raise ApiError(
            422,
            "Identity creation not available on this server",
            products.NO_IDENTITY_CREATION.format(engines=state.engine_name),
        )
    return _create(runtime, db, user, products.IDENTITY_CREATION, body, idempotency_key)


@router.post(
    "/identity/promote-generated",
    status_code=201,
    response_model=PromoteGeneratedResponse,
    responses={402: {"model": ErrorBody}, 404: {"model": ErrorBody}, 409: {"model": ErrorBody}},
)
def promote_generated(
    state: StateDep, db: DbDep, user: UserDep, body: PromoteGeneratedRequest
) -> JSONResponse:
    """A job's output (its `output_id`, the client's `image_result_id`) made an identity; 50
    credits. 409 with its `identity_code` when it is one already."""
    status, answer = products.promote(state, db, user, body)
    return JSONResponse(answer, status_code=status)


@router.post(
    "/preset/extract-from-image",
    response_model=PresetExtractResponse,
    responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}},
)
def extract_from_image(
    state: StateDep, db: DbDep, user: UserDep, body: PresetExtractRequest
) -> PresetExtractResponse:
    """A brief's attributes read from a photo of a person, as far as local measures tell;
    `left_empty` lists the rest."""
    return PresetExtractResponse(**products.extract_preset(state, db, user, body.file_id))
