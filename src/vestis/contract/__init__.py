"""The wire contract of the On-Model v2 API (and FASHN's v1 `/run`), shared by client and server.

Nothing else is the truth about the wire: the server's OpenAPI document is generated from these
models, and the client parses responses with them.
"""

from vestis.contract.auth import (
    ApiTokenInfo,
    LoginResponse,
    RefreshRequest,
    RefreshResponse,
    TokenCreateRequest,
    TokenCreateResponse,
    TokenListResponse,
    UserInfo,
)
from vestis.contract.common import ErrorBody, ErrorDetail, Pagination
from vestis.contract.downloads import BulkDownloadRequest, DownloadRequest, DownloadResponse
from vestis.contract.identities import (
    IdentityConflict,
    IdentityInfo,
    IdentityListResponse,
    IdentityMetadataRequest,
    IdentityMetadataResponse,
    IdentityStatusResponse,
    IdentityUploadResponse,
)
from vestis.contract.jobs import (
    TERMINAL_STATUSES,
    AnnotatedImage,
    CameraSpec,
    DesignRef,
    Flat2ModelRequest,
    FlatOptions,
    Instruction,
    JobCreatedResponse,
    JobResult,
    JobResultsResponse,
    JobStatus,
    JobStatusResponse,
    JobType,
    LightingSpec,
    ModelSwapRequest,
    OutputOptions,
    ResultOutput,
    ResultsSummary,
    SwapOptions,
    output_dimensions,
)
from vestis.contract.notifications import Notification, NotificationPollRequest
from vestis.contract.projects import (
    ProjectConflict,
    ProjectCreateRequest,
    ProjectCreateResponse,
    ProjectInfo,
    ProjectListResponse,
)
from vestis.contract.uploads import UploadRequest, UploadResponse
from vestis.contract.webhooks import WebhookRequest, WebhookResponse

__all__ = [
    "TERMINAL_STATUSES",
    "AnnotatedImage",
    "ApiTokenInfo",
    "BulkDownloadRequest",
    "CameraSpec",
    "DesignRef",
    "DownloadRequest",
    "DownloadResponse",
    "ErrorBody",
    "ErrorDetail",
    "Flat2ModelRequest",
    "FlatOptions",
    "IdentityConflict",
    "IdentityInfo",
    "IdentityListResponse",
    "IdentityMetadataRequest",
    "IdentityMetadataResponse",
    "IdentityStatusResponse",
    "IdentityUploadResponse",
    "Instruction",
    "JobCreatedResponse",
    "JobResult",
    "JobResultsResponse",
    "JobStatus",
    "JobStatusResponse",
    "JobType",
    "LightingSpec",
    "LoginResponse",
    "ModelSwapRequest",
    "Notification",
    "NotificationPollRequest",
    "OutputOptions",
    "Pagination",
    "ProjectConflict",
    "ProjectCreateRequest",
    "ProjectCreateResponse",
    "ProjectInfo",
    "ProjectListResponse",
    "RefreshRequest",
    "RefreshResponse",
    "ResultOutput",
    "ResultsSummary",
    "SwapOptions",
    "TokenCreateRequest",
    "TokenCreateResponse",
    "TokenListResponse",
    "UploadRequest",
    "UploadResponse",
    "UserInfo",
    "WebhookRequest",
    "WebhookResponse",
    "output_dimensions",
]
