"""`PUT /webhooks` (spec §2.12). Verify deliveries with `vestis.client.verify_webhook_signature`."""

from __future__ import annotations

from vestis.client.resources._resource import AsyncAPIResource, SyncAPIResource
from vestis.contract import WebhookResponse


class Webhooks(SyncAPIResource):
    def set(self, url: str) -> WebhookResponse:
        """Create or replace the account's webhook; the answer carries the new `secret`."""
        return WebhookResponse.model_validate(
            self._call("PUT", "/webhooks", json={"url": url}).json()
        )


class AsyncWebhooks(AsyncAPIResource):
    async def set(self, url: str) -> WebhookResponse:
        """Create or replace the account's webhook; the answer carries the new `secret`."""
        response = await self._call("PUT", "/webhooks", json={"url": url})
        return WebhookResponse.model_validate(response.json())
