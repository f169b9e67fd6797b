"""What every folder of a run shares: the client, the reporter, the pacer, the transfer pool."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from vestis.runs.events import Reporter
from vestis.runs.identity import IdentityResolver
from vestis.runs.pacing import SubmissionPacer
from vestis.runs.spec import RunSpec

#: Uploads and downloads in flight at once, across every folder of a batch.
DEFAULT_TRANSFERS = 4


@dataclass
class RunContext:
    client: Any  # vestis.client.Client (typed loosely: tests pass doubles)
    spec: RunSpec
    reporter: Reporter
    identity: IdentityResolver
    pacer: SubmissionPacer = field(default_factory=lambda: SubmissionPacer(0))
    transfers: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(DEFAULT_TRANSFERS, "vestis-transfer")
    )
    base_url: str = ""
    job_timeout: float = 1200.0
    poll_interval: float = 5.0
    max_retries: int = 5  # the SDK's, for the retry lines
    #: --allow-partial: a folder with inputs skipped or outputs failed still counts as done.
    #: Not part of the job's fingerprint: accepting a partial folder never makes a new job.
    allow_partial: bool = False
    #: The server runs the local engine: flat-lays that would hide each other are refused
    #: before upload (`runs.outfit`). Not part of the fingerprint either.
    outfit_rule: bool = False

    def on_retry(self, retry: int, wait: float, reason: str) -> None:
        """The SDK's retry hook: tell the user, and let a 429 close the submission gate."""
        if "429" in reason:
            self.pacer.penalize(wait)
        self.reporter.event(
            "retry",
            message=f"{reason}. Waiting {wait:.1f}s before retry {retry}/{self.max_retries}...",
        )


_SECRET_PATTERN = re.compile(r"(token|password|authorization)=[^&\s]+", re.IGNORECASE)


def redact(text: str) -> str:
    """Messages may quote URLs; never let a token in a query string reach a log or summary."""
    return _SECRET_PATTERN.sub(lambda m: f"{m.group(1)}=***", text)
