"""`POST /project` and `GET /project` (spec §2.3, §2.4)."""

from __future__ import annotations

from typing import Any

from vestis.client.errors import ConflictError, VestisError
from vestis.client.resources._resource import AsyncAPIResource, SyncAPIResource
from vestis.contract import ProjectCreateResponse, ProjectListResponse


def _id_from_conflict(error: ConflictError) -> str | None:
    body = error.body
    if isinstance(body, dict) and body.get("project_id"):
        return str(body["project_id"])
    return None


def _id_from_list(projects: ProjectListResponse, name: str) -> str:
    """The scripts' fallback: exact `project_text` match, `project_key` then `project_id`."""
    for project in projects.projects:
        if project.project_text == name:
            return project.project_key or project.project_id
    raise VestisError(f"Project {name!r} exists but is not in the first page of the project list.")


def _list_params(page: int, per_page: int) -> dict[str, Any]:
    return {"page": page, "per_page": per_page}


class Projects(SyncAPIResource):
    def create(self, name: str) -> ProjectCreateResponse:
        """Create a project; raises ConflictError (body carries `project_id`) if it exists."""
        response = self._call("POST", "/project", json={"project_name": name})
        return ProjectCreateResponse.model_validate(response.json())

    def ensure(self, name: str) -> str:
        """The id of the project called `name`, creating it or reusing the existing one."""
        return self.find_or_create(name)[0]

    def find_or_create(self, name: str) -> tuple[str, bool]:
        """The id of the project called `name`, and whether it existed before this call."""
        try:
            return self.create(name).project_id, False
        except ConflictError as exc:
            found = _id_from_conflict(exc)
            if found is not None:
                return found, True
        return _id_from_list(self.list(per_page=100), name), True

    def list(self, page: int = 1, per_page: int = 100) -> ProjectListResponse:
        response = self._call("GET", "/project", params=_list_params(page, per_page))
        return ProjectListResponse.model_validate(response.json())


class AsyncProjects(AsyncAPIResource):
    async def create(self, name: str) -> ProjectCreateResponse:
        """Create a project; raises ConflictError (body carries `project_id`) if it exists."""
        response = await self._call("POST", "/project", json={"project_name": name})
        return ProjectCreateResponse.model_validate(response.json())

    async def ensure(self, name: str) -> str:
        """The id of the project called `name`, creating it or reusing the existing one."""
        return (await self.find_or_create(name))[0]

    async def find_or_create(self, name: str) -> tuple[str, bool]:
        """The id of the project called `name`, and whether it existed before this call."""
        try:
            return (await self.create(name)).project_id, False
        except ConflictError as exc:
            found = _id_from_conflict(exc)
            if found is not None:
                return found, True
        return _id_from_list(await self.list(per_page=100), name), True

    async def list(self, page: int = 1, per_page: int = 100) -> ProjectListResponse:
        response = await self._call("GET", "/project", params=_list_params(page, per_page))
        return ProjectListResponse.model_validate(response.json())
