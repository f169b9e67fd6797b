"""`PUT /webhooks` (spec §2.12). Deliveries carry `X-Webhook-Signature: sha256=<hex>`."""

from __future__ import annotations

from pydantic import Field

from vestis.contract.common import RequestModel, WireModel

SIGNATURE_HEADER = "X-Webhook-Signature"


class WebhookRequest(RequestModel):
    url: str = Field(min_length=1, max_length=2048)


class WebhookResponse(WireModel):
    id: int
    url: str
    secret: str | None = None
    is_active: bool = True
    created_at: str
    updated_at: str
    last_response_status: int | None = None
    last_response_at: str | None = None
