"""`POST /project` and `GET /project` (spec §2.3, §2.4)."""

from __future__ import annotations

from pydantic import Field

from vestis.contract.common import Pagination, PrintableText, RequestModel, WireModel


class ProjectCreateRequest(RequestModel):
    project_name: PrintableText = Field(min_length=1, max_length=128)


class ProjectCreateResponse(WireModel):
    project_id: str
    project_name: str


class ProjectConflict(WireModel):
    """Body of the 409 for a name the user already has; carries the existing `project_id`."""

    error: str = "Project already exists"
    message: str | None = None
    project_id: str
    project_name: str


class ProjectInfo(WireModel):
    project_id: str
    project_key: str
    project_text: str
    project_name: str
    created_at: str


class ProjectListResponse(WireModel):
    projects: list[ProjectInfo]
    pagination: Pagination
