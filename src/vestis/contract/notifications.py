"""Notifications, shared by SSE, polling and webhooks (spec §2.11)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import WithJsonSchema, field_validator

from vestis.contract.common import RequestModel, WireModel

#: Names the server emits. `batch_edit` on every job status change (seed 004), `image_result`
#: per finished output, `completed` / `error` for model-swap jobs (seed 002), `ping` to webhooks.
NOTIFICATION_NAMES = (
    "batch_edit",
    "image_result",
    "completed",
    "error",
    "ping",
    "identity_preprocessing",
)
BACKFILL_MAX_AGE_SECONDS = 600
KEEPALIVE_SECONDS = 15


class Notification(WireModel):
    id: int
    name: str
    timestamp: float
    data: dict[str, Any]

    @property
    def job_id(self) -> str | None:
        """The job this event is about: `data.id_task` or `data.job_id` (clients check both)."""
        value = self.data.get("id_task") or self.data.get("job_id")
        return str(value) if value else None


#: One string or a list of them (a single string is taken as a list of one).
_ONE_OR_MANY = WithJsonSchema(
    {
        "anyOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "string"},
            {"type": "null"},
        ]
    }
)


class NotificationPollRequest(RequestModel):
    id_task: Annotated[list[str] | None, _ONE_OR_MANY] = None
    name_list: Annotated[list[str] | None, _ONE_OR_MANY] = None

    @field_validator("id_task", "name_list", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value
