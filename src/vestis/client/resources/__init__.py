"""One module per endpoint group, a sync class and its `Async` twin; imports client, contract."""

from vestis.client.resources.auth import AsyncAuth, Auth
from vestis.client.resources.downloads import AsyncDownloads, Downloads
from vestis.client.resources.identities import AsyncIdentities, Identities
from vestis.client.resources.jobs import AsyncJobs, Jobs
from vestis.client.resources.notifications import AsyncNotifications, Notifications
from vestis.client.resources.projects import AsyncProjects, Projects
from vestis.client.resources.uploads import AsyncUploads, Uploads
from vestis.client.resources.webhooks import AsyncWebhooks, Webhooks

__all__ = [
    "AsyncAuth",
    "AsyncDownloads",
    "AsyncIdentities",
    "AsyncJobs",
    "AsyncNotifications",
    "AsyncProjects",
    "AsyncUploads",
    "AsyncWebhooks",
    "Auth",
    "Downloads",
    "Identities",
    "Jobs",
    "Notifications",
    "Projects",
    "Uploads",
    "Webhooks",
]
