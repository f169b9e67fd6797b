"""A new job from the browser: a folder of photos, an identity, options. The photos are stored
by the upload service and the job is created by the API's own route functions (validation,
rate limit, credits, idempotency), exactly as for any client."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, get_args

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from vestis.contract.common import PRINTABLE
from vestis.contract.jobs import (
    MAX_JOB_IMAGES,
    AspectRatio,
    Flat2ModelRequest,
    FlatModel,
    ModelSwapRequest,
    Size,
    SwapModel,
)
from vestis.contract.uploads import MAX_UPLOAD_BYTES
from vestis.server.errors import ApiError
from vestis.server.http.deps import DbDep, StateDep
from vestis.server.http.routers import jobs as jobs_api
from vestis.server.process.state import ServerState
from vestis.server.services import projects, uploads
from vestis.server.store.models import User
from vestis.studio.auth import CsrfChecked, StudioUser
from vestis.studio.identities import identity_cards
from vestis.studio.templating import page

router = APIRouter()


class FormProblem(Exception):
    """Something to fix in the form; the message says what."""


def _form_page(
    request: Request,
    state: ServerState,
    db: Session,
    user: User,
    error: str | None = None,
    form: dict[str, Any] | None = None,
) -> HTMLResponse:
    return page(
        request, "new_job.html", status_code=422 if error else 200, user=user, nav="new",
        error=error, form=form or {},
        identities=identity_cards(state, db, user, with_face_only=True),
        swap_models=get_args(SwapModel), flat_models=get_args(FlatModel), sizes=get_args(Size),
        ratios=get_args(AspectRatio), max_images=MAX_JOB_IMAGES, idempotency_key=str(uuid.uuid4()),
    )  # fmt: skip


@router.get("/new", response_class=HTMLResponse)
def new_job_page(request: Request, state: StateDep, db: DbDep, user: StudioUser) -> HTMLResponse:
    return _form_page(request, state, db, user)


def _store_photos(
    state: ServerState, db: Session, user: User, photos: list[UploadFile]
) -> list[str]:
    """Each photo through the upload service (the same checks as `PUT <upload_url>`)."""
    file_ids = []
    for photo in photos:
        data = photo.file.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise FormProblem(f"{photo.filename}: larger than {MAX_UPLOAD_BYTES} bytes.")
        reserved = uploads.reserve(state, db, user, photo.filename, None)
        db.commit()  # the upload service stores in sessions of its own, as the PUT route does
        temp = state.blobs.temp_path()
        temp.write_bytes(data)
        try:
            uploads.store(state, reserved.file_id, data, temp)
        except ApiError as exc:
            raise FormProblem(f"{photo.filename}: {exc.message}") from exc
        finally:
            temp.unlink(missing_ok=True)
        file_ids.append(reserved.file_id)
    return file_ids


def _request(
    kind: str, fields: dict[str, Any], project_key: str, file_ids: list[str]
) -> ModelSwapRequest | Flat2ModelRequest:
    variations = int(fields.get("num_variations") or 1)
    if kind == "model_swap":
        return ModelSwapRequest(
            identity_code=fields["identity_code"], project_id=project_key, images=file_ids,
            post_process=bool(fields.get("post_process")),
            swap_options={
                "model": fields.get("swap_model") or "auto", "num_variations": variations
            },
        )  # fmt: skip
    instruction: dict[str, Any] = {
        key: fields[key] for key in ("pose", "background", "prompt") if fields.get(key)
    }
    instruction["num_variations"] = variations
    instruction["options"] = {"size": fields.get("size") or "1K", "ar": fields.get("ar") or "3:4"}
    return Flat2ModelRequest(
        identity_code=fields["identity_code"], project_id=project_key, images=file_ids,
        instructions=[instruction], options={"model": fields.get("flat_model") or "auto"},
    )  # fmt: skip


def _submit(
    state: ServerState, db: Session, user: User, photos: list[UploadFile], fields: dict[str, Any]
) -> str:
    photos = [p for p in photos if p.filename]
    if not photos:
        raise FormProblem("Choose or drop at least one photo.")
    if len(photos) > MAX_JOB_IMAGES:
        raise FormProblem(
            f"{len(photos)} photos: a job takes at most {MAX_JOB_IMAGES}; split the folder."
        )
    if not fields.get("identity_code"):
        raise FormProblem("Pick an identity (upload one on the Identities page first).")
    name = (fields.get("project") or "").strip()
    if not name:
        raise FormProblem("Name the project (the folder's name is used when you drop one).")
    project = projects.get_or_create(db, user, name[:128])
    file_ids = _store_photos(state, db, user, photos)
    try:
        body = _request(fields.get("kind") or "model_swap", fields, project.key, file_ids)
    except ValidationError as exc:
        raise FormProblem("; ".join(e["msg"] for e in exc.errors())) from exc
    runtime = state.runtime
    assert runtime is not None
    key = fields.get("idempotency_key") or None
    if isinstance(body, ModelSwapRequest):
        answer = jobs_api.model_swap(runtime, db, user, body, key)
    else:
        answer = jobs_api.flat_2_model(runtime, db, user, body, key)
    return str(json.loads(answer.body)["job_id"])


@router.post("/new", dependencies=[CsrfChecked])
def create_job(
    request: Request,
    state: StateDep,
    db: DbDep,
    user: StudioUser,
    photos: Annotated[list[UploadFile], File()] = [],  # noqa: B006 (FastAPI copies defaults)
    project: Annotated[str, Form(max_length=1000, pattern=PRINTABLE)] = "",
    kind: Annotated[str, Form()] = "model_swap",
    identity_code: Annotated[str, Form()] = "",
    num_variations: Annotated[int, Form(ge=1, le=4)] = 1,
    swap_model: Annotated[str, Form()] = "auto",
    post_process: Annotated[bool, Form()] = False,
    flat_model: Annotated[str, Form()] = "auto",
    pose: Annotated[str, Form(max_length=1000, pattern=PRINTABLE)] = "",
    background: Annotated[str, Form(max_length=1000, pattern=PRINTABLE)] = "",
    size: Annotated[str, Form()] = "1K",
    ar: Annotated[str, Form()] = "3:4",
    prompt: Annotated[str, Form(max_length=1000, pattern=PRINTABLE)] = "",
    idempotency_key: Annotated[str, Form(max_length=255)] = "",
) -> Response:
    fields = {
        k: v for k, v in locals().items() if k not in ("request", "state", "db", "user", "photos")
    }
    try:
        job_id = _submit(state, db, user, photos, fields)
    except (FormProblem, ApiError) as exc:
        db.rollback()
        message = exc.message if isinstance(exc, ApiError) else str(exc)
        return _form_page(request, state, db, user, message, fields)
    return RedirectResponse(f"/studio/jobs/{job_id}", status_code=303)
