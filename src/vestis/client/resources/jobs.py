"""Jobs: creation with an idempotency key, status, results, and `wait` (SSE with a polling
fallback). Spec §2.6 to §2.9, §2.11, §3.3."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from contextlib import aclosing, closing
from typing import Any

from pydantic import BaseModel

from vestis.client._base import IDEMPOTENCY_HEADER, should_retry
from vestis.client._sse import aiter_events, iter_events
from vestis.client._tracking import (
    SSE_READ_TIMEOUT,
    Deadline,
    NotFoundGrace,
    OnUpdate,
    RecheckDue,
    RecheckWindow,
    SSEUnavailable,
    finish,
    is_terminal,
    wants_status,
)
from vestis.client.errors import APIConnectionError, APIError, NotFoundError
from vestis.client.resources._resource import AsyncAPIResource, SyncAPIResource
from vestis.contract import (
    BulkFeedbackResponse,
    Feedback,
    Flat2ModelRequest,
    JobCreatedResponse,
    JobResult,
    JobResultsResponse,
    JobStatusResponse,
    ModelSwapRequest,
)
from vestis.contract.products import CreatePackshotRequest, GarmentRecolorRequest

logger = logging.getLogger("vestis.client")

DEFAULT_WAIT_TIMEOUT = 1200.0
DEFAULT_POLL_INTERVAL = 5.0


def _payload(request: BaseModel | dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """The JSON body: a dict is validated (and normalised) through the contract model first."""
    parsed = request if isinstance(request, model) else model.model_validate(request)
    return parsed.model_dump(mode="json", exclude_none=True)


def with_image_notes(body: dict[str, Any], notes: list[str] | None) -> dict[str, Any]:
    """The public scripts' `--image-notes`: with notes, every image becomes an object
    `{file_id}`, plus `note` when the note at its index is not empty (`""` skips an image; a
    note past the last image is ignored). A note given in the request itself is kept unless
    the notes name one for that image."""
    if notes is None:
        return body
    images: list[dict[str, Any]] = []
    for index, item in enumerate(body.get("images") or []):
        image = {"file_id": item} if isinstance(item, str) else dict(item)
        if index < len(notes) and notes[index]:
            image["note"] = notes[index]
        images.append(image)
    return {**body, "images": images}


def _creation_headers(idempotency_key: str | None) -> dict[str, str]:
    # One key per call, reused by every retry: a replayed submission returns the first job.
    return {IDEMPOTENCY_HEADER: idempotency_key or str(uuid.uuid4())}


def _versions_params(all_versions: bool) -> dict[str, str] | None:
    return {"all_versions": "true"} if all_versions else None


def _feedback_body(feedback: Feedback | None, comment: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"feedback": feedback}
    if comment is not None:
        body["feedback_comment"] = comment
    return body


def _sse_params(job_id: str) -> dict[str, str]:
    return {"id_task": job_id}


def _read_timeout(deadline: Deadline) -> float:
    return max(0.1, min(SSE_READ_TIMEOUT, deadline.remaining()))


def _log_fallback(reason: BaseException) -> None:
    logger.info("Event stream unavailable (%s); polling the job status instead.", reason)


class Jobs(SyncAPIResource):
    def model_swap(
        self, request: ModelSwapRequest | dict[str, Any], *, idempotency_key: str | None = None
    ) -> JobCreatedResponse:
        """Start a model-swap job (202). Safe to retry: the Idempotency-Key makes a replayed
        submission return the first job instead of starting another."""
        return self._create("/model-swap", _payload(request, ModelSwapRequest), idempotency_key)

    def flat_to_model(
        self, request: Flat2ModelRequest | dict[str, Any], *, idempotency_key: str | None = None
    ) -> JobCreatedResponse:
        """Start a flat-lay-to-model job (202), idempotently like `model_swap`."""
        return self._create("/flat-2-model", _payload(request, Flat2ModelRequest), idempotency_key)

    def create_packshot(
        self,
        request: CreatePackshotRequest | dict[str, Any],
        *,
        idempotency_key: str | None = None,
        image_notes: list[str] | None = None,
    ) -> JobCreatedResponse:
        """Start a create-packshot job (202), idempotently like `model_swap`; `image_notes`
        are per-image notes in the order of `images` (`with_image_notes`)."""
        body = with_image_notes(_payload(request, CreatePackshotRequest), image_notes)
        return self._create("/create-packshot", body, idempotency_key)

    def garment_recolor(
        self, request: GarmentRecolorRequest | dict[str, Any], *, idempotency_key: str | None = None
    ) -> JobCreatedResponse:
        """Start a garment-recolor job (202), idempotently like `model_swap`."""
        body = _payload(request, GarmentRecolorRequest)
        return self._create("/garment-recolor", body, idempotency_key)

    def _create(self, path: str, body: dict[str, Any], key: str | None) -> JobCreatedResponse:
        response = self._call("POST", path, json=body, headers=_creation_headers(key))
        return JobCreatedResponse.model_validate(response.json())

    def status(self, job_id: str) -> JobStatusResponse:
        return JobStatusResponse.model_validate(self._call("GET", f"/jobs/{job_id}/status").json())

    def results(self, job_id: str, *, all_versions: bool = False) -> JobResultsResponse:
        """The current version of each output; every version with `all_versions` (vestis)."""
        return JobResultsResponse.model_validate(
            self.results_raw(job_id, all_versions=all_versions)
        )

    def results_raw(self, job_id: str, *, all_versions: bool = False) -> dict[str, Any]:
        """The exact JSON body of `GET /jobs/{id}/results` (what metadata.json holds)."""
        params = _versions_params(all_versions)
        body: dict[str, Any] = self._call("GET", f"/jobs/{job_id}/results", params=params).json()
        return body

    def feedback(
        self, job_id: str, output_id: str, feedback: Feedback | None, *, comment: str | None = None
    ) -> JobResult:
        """Approve (`like`) or reject (`dislike`) one output, or clear the verdict (None); a
        `comment` replaces the note (left out, the note stays). vestis extension."""
        path = f"/jobs/{job_id}/results/{output_id}/feedback"
        response = self._call("PUT", path, json=_feedback_body(feedback, comment))
        return JobResult.model_validate(response.json())

    def bulk_feedback(
        self,
        job_id: str,
        output_ids: list[str],
        feedback: Feedback | None,
        *,
        comment: str | None = None,
    ) -> list[JobResult]:
        """The same verdict for many outputs of one job, all or nothing. vestis extension."""
        body = {**_feedback_body(feedback, comment), "output_ids": list(output_ids)}
        response = self._call("POST", f"/jobs/{job_id}/feedback", json=body)
        return BulkFeedbackResponse.model_validate(response.json()).results

    def redo(self, job_id: str, output_id: str) -> JobResult:
        """Make one output again as its next `version` (another seed; charged like any output,
        refunded if it fails). Returns the new version, `pending`. vestis extension."""
        response = self._call("POST", f"/jobs/{job_id}/results/{output_id}/redo")
        return JobResult.model_validate(response.json())

    def wait(
        self,
        job_id: str,
        *,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        use_sse: bool = True,
        on_update: OnUpdate | None = None,
        raise_on_failure: bool = True,
    ) -> JobStatusResponse:
        """Block until the job is completed, failed or aborted; return its final status.

        Listens on the event stream and confirms the end with `GET /jobs/{id}/status`; polls
        every `poll_interval` seconds when the stream is unavailable or drops. Raises
        JobFailedError (failed/aborted, unless `raise_on_failure=False`) and JobTimeoutError
        after `timeout` seconds. `on_update` receives every status seen."""
        deadline = Deadline(job_id, timeout)
        if use_sse:
            try:
                return finish(self._wait_sse(job_id, deadline, on_update), raise_on_failure)
            except SSEUnavailable as exc:
                _log_fallback(exc)
        return finish(self._wait_poll(job_id, deadline, poll_interval, on_update), raise_on_failure)

    def _wait_sse(
        self, job_id: str, deadline: Deadline, on_update: OnUpdate | None
    ) -> JobStatusResponse:
        """Listen for the job's end; every recheck window, confirm the status and reopen."""
        while True:
            try:
                return self._listen(job_id, deadline, on_update)
            except RecheckDue:
                status = self._confirm(job_id, deadline, on_update)
                if is_terminal(status):
                    return status

    def _listen(
        self, job_id: str, deadline: Deadline, on_update: OnUpdate | None
    ) -> JobStatusResponse:
        try:
            events = iter_events(
                self._http,
                _sse_params(job_id),
                read_timeout=_read_timeout(deadline),
                guard=RecheckWindow(deadline),
            )
            with closing(events):
                for event in events:
                    if wants_status(event.event, event.data, job_id, on_update is not None):
                        status = self._confirm(job_id, deadline, on_update)
                        if is_terminal(status):
                            return status
        except (APIError, APIConnectionError) as exc:
            raise SSEUnavailable(str(exc)) from exc
        raise SSEUnavailable("the event stream ended")

    def _confirm(
        self, job_id: str, deadline: Deadline, on_update: OnUpdate | None
    ) -> JobStatusResponse:
        """The job's status. A 404 (just created) or an error hands over to polling, which
        tolerates both."""
        try:
            status = self.status(job_id)
        except (APIError, APIConnectionError) as exc:
            raise SSEUnavailable(f"status check failed: {exc}") from exc
        deadline.last_status = status.status
        if on_update is not None:
            on_update(status)
        return status

    def _wait_poll(
        self, job_id: str, deadline: Deadline, interval: float, on_update: OnUpdate | None
    ) -> JobStatusResponse:
        grace = NotFoundGrace()
        while True:
            try:
                status = self._status_or_raise(job_id, grace)
            except APIConnectionError as exc:
                logger.info("Checking job %s failed (%s); will try again.", job_id, exc)
                status = None
            if status is not None:
                deadline.last_status = status.status
                if on_update is not None:
                    on_update(status)
                if is_terminal(status):
                    return status
            deadline.check()
            time.sleep(deadline.sleep_for(interval))

    def _status_or_raise(self, job_id: str, grace: NotFoundGrace) -> JobStatusResponse | None:
        """The status; None for a tolerated 404 or an exhausted retryable error."""
        try:
            status = self.status(job_id)
        except NotFoundError as exc:
            grace.tolerate(exc)
            return None
        except APIError as exc:
            if not should_retry(exc):
                raise
            logger.info("Checking job %s failed (%s); will try again.", job_id, exc)
            return None
        grace.reset()
        return status


class AsyncJobs(AsyncAPIResource):
    async def model_swap(
        self, request: ModelSwapRequest | dict[str, Any], *, idempotency_key: str | None = None
    ) -> JobCreatedResponse:
        """Start a model-swap job (202), idempotently (see `Jobs.model_swap`)."""
        body = _payload(request, ModelSwapRequest)
        return await self._create("/model-swap", body, idempotency_key)

    async def flat_to_model(
        self, request: Flat2ModelRequest | dict[str, Any], *, idempotency_key: str | None = None
    ) -> JobCreatedResponse:
        """Start a flat-lay-to-model job (202), idempotently."""
        body = _payload(request, Flat2ModelRequest)
        return await self._create("/flat-2-model", body, idempotency_key)

    async def create_packshot(
        self,
        request: CreatePackshotRequest | dict[str, Any],
        *,
        idempotency_key: str | None = None,
        image_notes: list[str] | None = None,
    ) -> JobCreatedResponse:
        """Start a create-packshot job (202), idempotently; `image_notes` as in the sync
        client."""
        body = with_image_notes(_payload(request, CreatePackshotRequest), image_notes)
        return await self._create("/create-packshot", body, idempotency_key)

    async def garment_recolor(
        self, request: GarmentRecolorRequest | dict[str, Any], *, idempotency_key: str | None = None
    ) -> JobCreatedResponse:
        """Start a garment-recolor job (202), idempotently."""
        body = _payload(request, GarmentRecolorRequest)
        return await self._create("/garment-recolor", body, idempotency_key)

    async def _create(self, path: str, body: dict[str, Any], key: str | None) -> JobCreatedResponse:
        response = await self._call("POST", path, json=body, headers=_creation_headers(key))
        return JobCreatedResponse.model_validate(response.json())

    async def status(self, job_id: str) -> JobStatusResponse:
        response = await self._call("GET", f"/jobs/{job_id}/status")
        return JobStatusResponse.model_validate(response.json())

    async def results(self, job_id: str, *, all_versions: bool = False) -> JobResultsResponse:
        """The current version of each output; every version with `all_versions` (vestis)."""
        body = await self.results_raw(job_id, all_versions=all_versions)
        return JobResultsResponse.model_validate(body)

    async def results_raw(self, job_id: str, *, all_versions: bool = False) -> dict[str, Any]:
        """The exact JSON body of `GET /jobs/{id}/results` (what metadata.json holds)."""
        params = _versions_params(all_versions)
        response = await self._call("GET", f"/jobs/{job_id}/results", params=params)
        body: dict[str, Any] = response.json()
        return body

    async def feedback(
        self, job_id: str, output_id: str, feedback: Feedback | None, *, comment: str | None = None
    ) -> JobResult:
        """Async twin of `Jobs.feedback`."""
        path = f"/jobs/{job_id}/results/{output_id}/feedback"
        response = await self._call("PUT", path, json=_feedback_body(feedback, comment))
        return JobResult.model_validate(response.json())

    async def bulk_feedback(
        self,
        job_id: str,
        output_ids: list[str],
        feedback: Feedback | None,
        *,
        comment: str | None = None,
    ) -> list[JobResult]:
        """Async twin of `Jobs.bulk_feedback`."""
        body = {**_feedback_body(feedback, comment), "output_ids": list(output_ids)}
        response = await self._call("POST", f"/jobs/{job_id}/feedback", json=body)
        return BulkFeedbackResponse.model_validate(response.json()).results

    async def redo(self, job_id: str, output_id: str) -> JobResult:
        """Async twin of `Jobs.redo`."""
        response = await self._call("POST", f"/jobs/{job_id}/results/{output_id}/redo")
        return JobResult.model_validate(response.json())

    async def wait(
        self,
        job_id: str,
        *,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        use_sse: bool = True,
        on_update: OnUpdate | None = None,
        raise_on_failure: bool = True,
    ) -> JobStatusResponse:
        """Async twin of `Jobs.wait`."""
        deadline = Deadline(job_id, timeout)
        if use_sse:
            try:
                status = await self._wait_sse(job_id, deadline, on_update)
                return finish(status, raise_on_failure)
            except SSEUnavailable as exc:
                _log_fallback(exc)
        status = await self._wait_poll(job_id, deadline, poll_interval, on_update)
        return finish(status, raise_on_failure)

    async def _wait_sse(
        self, job_id: str, deadline: Deadline, on_update: OnUpdate | None
    ) -> JobStatusResponse:
        """Listen for the job's end; every recheck window, confirm the status and reopen."""
        while True:
            try:
                return await self._listen(job_id, deadline, on_update)
            except RecheckDue:
                status = await self._confirm(job_id, deadline, on_update)
                if is_terminal(status):
                    return status

    async def _listen(
        self, job_id: str, deadline: Deadline, on_update: OnUpdate | None
    ) -> JobStatusResponse:
        try:
            events = aiter_events(
                self._http,
                _sse_params(job_id),
                read_timeout=_read_timeout(deadline),
                guard=RecheckWindow(deadline),
            )
            async with aclosing(events):
                async for event in events:
                    if wants_status(event.event, event.data, job_id, on_update is not None):
                        status = await self._confirm(job_id, deadline, on_update)
                        if is_terminal(status):
                            return status
        except (APIError, APIConnectionError) as exc:
            raise SSEUnavailable(str(exc)) from exc
        raise SSEUnavailable("the event stream ended")

    async def _confirm(
        self, job_id: str, deadline: Deadline, on_update: OnUpdate | None
    ) -> JobStatusResponse:
        """The job's status. A 404 (just created) or an error hands over to polling, which
        tolerates both."""
        try:
            status = await self.status(job_id)
        except (APIError, APIConnectionError) as exc:
            raise SSEUnavailable(f"status check failed: {exc}") from exc
        deadline.last_status = status.status
        if on_update is not None:
            on_update(status)
        return status

    async def _wait_poll(
        self, job_id: str, deadline: Deadline, interval: float, on_update: OnUpdate | None
    ) -> JobStatusResponse:
        grace = NotFoundGrace()
        while True:
            try:
                status = await self._status_or_raise(job_id, grace)
            except APIConnectionError as exc:
                logger.info("Checking job %s failed (%s); will try again.", job_id, exc)
                status = None
            if status is not None:
                deadline.last_status = status.status
                if on_update is not None:
                    on_update(status)
                if is_terminal(status):
                    return status
            deadline.check()
            await asyncio.sleep(deadline.sleep_for(interval))

    async def _status_or_raise(self, job_id: str, grace: NotFoundGrace) -> JobStatusResponse | None:
        try:
            status = await self.status(job_id)
        except NotFoundError as exc:
            grace.tolerate(exc)
            return None
        except APIError as exc:
            if not should_retry(exc):
                raise
            logger.info("Checking job %s failed (%s); will try again.", job_id, exc)
            return None
        grace.reset()
        return status
