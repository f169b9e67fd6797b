"""`POST /project` and `GET /project` (spec §2.3, §2.4)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from vestis.contract.common import MAX_PAGE, ErrorBody
from vestis.contract.projects import (
    ProjectConflict,
    ProjectCreateRequest,
    ProjectCreateResponse,
    ProjectListResponse,
)
from vestis.server.http.deps import DbDep, SessionRoute, UserDep
from vestis.server.services import projects

router = APIRouter(route_class=SessionRoute, tags=["projects"])


@router.post(
    "/project",
    response_model=ProjectCreateResponse,
    responses={409: {"model": ProjectConflict}, 422: {"model": ErrorBody}},
)
def create_project(db: DbDep, user: UserDep, body: ProjectCreateRequest) -> ProjectCreateResponse:
    project = projects.create(db, user, body.project_name)
    return ProjectCreateResponse(project_id=project.key, project_name=project.name)


@router.get("/project", response_model=ProjectListResponse)
def list_projects(
    db: DbDep,
    user: UserDep,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
) -> ProjectListResponse:
    return projects.page(db, user, page, per_page, order)
