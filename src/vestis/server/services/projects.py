"""Projects: one name per user; a duplicate name answers 409 with the existing `project_id`."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vestis.contract.common import Pagination
from vestis.contract.projects import ProjectInfo, ProjectListResponse
from vestis.server.errors import ApiError, not_found
from vestis.server.guard.security import new_public_id
from vestis.server.services.accounts import iso
from vestis.server.store.models import Project, User


def conflict(project: Project) -> ApiError:
    return ApiError(
        409,
        "Project already exists",
        f"Project {project.name!r} already exists; use its project_id.",
        project_id=project.key,
        project_name=project.name,
    )


def by_name(db: Session, user: User, name: str) -> Project | None:
    return db.scalar(select(Project).where(Project.user_id == user.id, Project.name == name))


def by_key(db: Session, user: User, key: str) -> Project:
    project = db.scalar(select(Project).where(Project.user_id == user.id, Project.key == key))
    if project is None:
        raise not_found("Project", key)
    return project


def create(db: Session, user: User, name: str) -> Project:
    existing = by_name(db, user, name)
    if existing is not None:
        raise conflict(existing)
    project = Project(key=new_public_id("prj"), user_id=user.id, name=name)
    try:
        with db.begin_nested():
            db.add(project)
    except IntegrityError:  # a concurrent create of the same name won the race
        existing = by_name(db, user, name)
        if existing is None:
            raise
        raise conflict(existing) from None
    return project


def get_or_create(db: Session, user: User, name: str) -> Project:
    try:
        return create(db, user, name)
    except ApiError as exc:
        if exc.status_code != 409:
            raise
        project = by_name(db, user, name)
        assert project is not None
        return project


def info(project: Project) -> ProjectInfo:
    return ProjectInfo(
        project_id=project.key,
        project_key=project.key,
        project_text=project.name,
        project_name=project.name,
        created_at=iso(project.created_at) or "",
    )


def page(db: Session, user: User, page_no: int, per_page: int, order: str) -> ProjectListResponse:
    total = db.scalar(select(func.count(Project.id)).where(Project.user_id == user.id)) or 0
    ordering = Project.id.asc() if order == "asc" else Project.id.desc()
    rows = db.scalars(
        select(Project)
        .where(Project.user_id == user.id)
        .order_by(ordering)
        .offset((page_no - 1) * per_page)
        .limit(per_page)
    ).all()
    return ProjectListResponse(
        projects=[info(p) for p in rows], pagination=pagination(page_no, per_page, total)
    )


def pagination(page_no: int, per_page: int, total: int) -> Pagination:
    pages = max(1, -(-total // per_page))
    return Pagination(
        page=page_no,
        per_page=per_page,
        total=total,
        pages=pages,
        has_next=page_no < pages,
        has_prev=page_no > 1,
    )
