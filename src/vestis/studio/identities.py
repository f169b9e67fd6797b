"""Identities: upload (with the face check's answer), list with photo, delete. The same
service as `POST /identity/upload`; a photo without a face is refused and not kept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from vestis.contract.common import PRINTABLE
from vestis.contract.identities import IdentityUploadResponse
from vestis.contract.uploads import MAX_UPLOAD_BYTES
from vestis.server.errors import ApiError
from vestis.server.http.deps import DbDep, StateDep
from vestis.server.process.state import ServerState
from vestis.server.services import identities
from vestis.server.store.models import Identity, User
from vestis.studio import views
from vestis.studio.auth import CsrfChecked, StudioUser
from vestis.studio.templating import page

router = APIRouter()


@dataclass
class IdentityCard:
    code: str
    name: str
    url: str
    created: str
    face: str


@dataclass
class Answer:
    ok: bool
    title: str
    text: str
    photo_url: str | None = None
    code: str | None = None


def identity_cards(
    state: ServerState, db: Session, user: User, with_face_only: bool = False
) -> list[IdentityCard]:
    rows = db.scalars(
        select(Identity)
        .where(Identity.user_id == user.id, Identity.deleted.is_(False))
        .order_by(Identity.id.desc())
    ).all()
    return [
        IdentityCard(
            code=row.code,
            name=row.name,
            url=views.signed(state.signer, f"/files/identities/{row.code}"),
            created=views.when(row.created_at),
            face="face found" if row.face_detected else "no face: cannot be used",
        )
        for row in rows
        if row.face_detected or not with_face_only
    ]


def _page(
    request: Request,
    state: ServerState,
    db: Session,
    user: User,
    answer: Answer | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return page(
        request, "identities.html", status_code=status_code, user=user, nav="identities",
        identities=identity_cards(state, db, user), answer=answer,
    )  # fmt: skip


@router.get("/identities", response_class=HTMLResponse)
def identities_page(request: Request, state: StateDep, db: DbDep, user: StudioUser) -> HTMLResponse:
    return _page(request, state, db, user)


def _advice(made: IdentityUploadResponse) -> str:
    """What the photo check found, said at upload so another photo can be chosen in time."""
    findings = made.photo_check.findings if made.photo_check else []
    return "".join(f" Note: {finding.message}." for finding in findings)


def _upload(
    state: ServerState, db: Session, user: User, data: bytes, filename: str | None, name: str
) -> Answer:
    try:
        made = identities.upload(state, db, user, data, filename, name.strip() or None, None)
    except ApiError as exc:
        if exc.status_code == 409:
            return Answer(False, "Already there", exc.message)
        return Answer(False, "Refused", exc.message)
    if not made.face_detected:
        row = identities.owned(db, user, made.identity_code)
        row.deleted = True  # a faceless identity can never be used: do not keep it
        return Answer(
            False,
            "Refused: no face found",
            f"The face check found no face in {filename or 'this photo'}; it was not added. "
            "Upload a clear, front-facing photo of one face.",
        )
    confidence = (made.face_metadata or {}).get("confidence")
    detail = f" (confidence {confidence:.2f})" if isinstance(confidence, float) else ""
    db.flush()
    return Answer(
        True,
        f"Face found{detail}",
        f"{made.name} is ready to use ({made.identity_code}).{_advice(made)}",
        made.link,
        made.identity_code,
    )


@router.post("/identities", response_class=HTMLResponse, dependencies=[CsrfChecked])
def upload_identity(
    request: Request,
    state: StateDep,
    db: DbDep,
    user: StudioUser,
    image: Annotated[UploadFile, File()],
    name: Annotated[str, Form(max_length=255, pattern=PRINTABLE)] = "",
) -> HTMLResponse:
    data = image.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        answer = Answer(False, "Refused", f"Photos are limited to {MAX_UPLOAD_BYTES} bytes.")
    else:
        answer = _upload(state, db, user, data, image.filename, name)
    if answer.ok and state.runtime is not None:  # as the API's upload: the same event
        db.commit()  # before the event, so a client reacting to it finds the identity
        check = identities.owned(db, user, answer.code or "").photo_check or {}
        event = {
            "identity_code": answer.code,
            "status": "completed",
            "face_detected": True,
            "findings": [f["name"] for f in check.get("findings") or []],
        }
        state.runtime.bus.emit(user.id, "identity_preprocessing", event)
    if answer.photo_url:
        answer.photo_url = answer.photo_url[len(state.signer.base_url) :]
    db.commit()
    return _page(request, state, db, user, answer, 200 if answer.ok else 422)


@router.post("/identities/{code}/delete", dependencies=[CsrfChecked])
def delete_identity(db: DbDep, user: StudioUser, code: str) -> Response:
    """As `DELETE /identity/{code}`: jobs made with it keep it; new jobs cannot use it."""
    identities.owned(db, user, code).deleted = True
    return RedirectResponse("/studio/identities", status_code=303)
