"""OnModelEngine: the image work done by another On-Model v2 server (the hosted API, or another
`vestis serve`), through vestis's own SDK.

One gateway job becomes one remote job (the hosted API allows 5 job creations a minute, so never
one per output). Each input is uploaded once per job, each identity once per remote account (its
remote `identity_code` is remembered; a 409 `existing_identity_code` is reuse). The request's
options (`model`, `post_process`, `use_anchor`, instructions, notes, `barefoot`, `consistency`)
go through unchanged; only the ids are translated. Packshots and recolours go the same way
(no identity; a recolour's `reference_image` is uploaded like an input), and so do identity
creations (`POST /identity/create`: the brief as it came, no project, no file; its drafts are
the remote job's results). The remote job is
followed over SSE with a polling fallback, and each finished output is downloaded and delivered
with the remote result's fields (`model_used`, `quality_score`, warnings).

Exactly once: the Idempotency-Key of the remote creation is checkpointed before it is sent and
the remote job id as soon as the upstream accepts it, so a gateway restarted mid-job re-sends
the same key (the upstream answers with the same job) or follows the job it already has.
"""

from __future__ import annotations

import functools
import io
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from PIL import Image, UnidentifiedImageError

from vestis.client import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    Client,
    JobTimeoutError,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
)
from vestis.contract import pricing
from vestis.contract.jobs import Instruction, JobCreatedResponse, JobResult, JobStatusResponse
from vestis.contract.products import (
    GarmentRecolorRequest,
    IdentityCreateRequest,
    IdentityCreateResponse,
    PackshotInstruction,
)
from vestis.engines.base import (
    EngineError,
    EngineOutput,
    FlatSpec,
    JobContext,
    JobWork,
    OutputSlot,
    SwapSpec,
    UpstreamError,
)
from vestis.engines.remote.config import OnModelAccount
from vestis.engines.remote.engine_base import RemoteEngineBase
from vestis.engines.remote.gate import gate_for
from vestis.engines.remote.single import flat_work, referenced_files, run_one, swap_work

log = logging.getLogger("vestis.engines.onmodel")

T = TypeVar("T")

SWAP_MODELS = frozenset({"auto", "onda", "nano_banana_pro", "nano_banana_2"})
FLAT_MODELS = frozenset({"auto", "nano_banana_pro", "seedream"})
PACKSHOT_MODELS = frozenset({"auto", "nano_banana_pro", "seedream"})
RECOLOR_MODELS = frozenset({"auto", "nano_banana_2", "nano_banana_pro", "seedream", "gpt_image"})
#: The brief's `options.model` is the hosted service's to read: the gateway passes any on.
IDENTITY_MODELS = frozenset({"auto"})
#: The SDK's creation call of each job type the engine passes on: (resource, method).
CREATE_METHODS = {
    "model_swap": ("jobs", "model_swap"),
    "flat_2_model": ("jobs", "flat_to_model"),
    "create_packshot": ("jobs", "create_packshot"),
    "garment_recolor": ("jobs", "garment_recolor"),
    "identity_creation": ("identities", "create"),
}
#: Words of a remote error message that say the input, not the service, is at fault.
USER_FAULTS = (
    "no face",
    "too small",
    "not a readable",
    "not an image",
    "unsupported image",
    "cannot be read",
    "decompression",
)


class Stopped(Exception):
    """The gateway is shutting down: leave the job for the next start."""


def classify(message: str | None) -> EngineError:
    """A remote output's failure: the user's (no face, bad image) or the upstream's."""
    text = (message or "").strip() or "The upstream service gave no reason."
    if any(words in text.lower() for words in USER_FAULTS):
        return EngineError(text)
    return UpstreamError(f"On-Model: {text}")


def _strip_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_none(v) for v in value]
    return value


def remote_request(
    work: JobWork, project_id: str, identity_code: str | None, files: dict[str, str]
) -> dict[str, Any]:
    """The gateway's request with the remote ids: everything else goes through as it came."""
    body: dict[str, Any] = _strip_none(dict(work.request))
    if work.job_type == "identity_creation":
        return body  # a brief: no project, no file
    body["project_id"] = project_id
    if identity_code is not None:
        body["identity_code"] = identity_code
    if isinstance(body.get("reference_image"), str):
        body["reference_image"] = files[body["reference_image"]]
    images: list[Any] = []
    for item in body.get("images", []):
        if isinstance(item, str):
            images.append(files[item])
        else:
            images.append({**item, "file_id": files[item["file_id"]]})
    body["images"] = images
    for instruction in body.get("instructions", []) or []:
        for value in instruction.values():
            if isinstance(value, dict) and isinstance(value.get("image"), str):
                value["image"] = files[value["image"]]
    return body


def _price(work: JobWork, slot: OutputSlot) -> float:
    if work.job_type == "identity_creation":
        brief = IdentityCreateRequest.model_validate(work.request)
        return pricing.identity_draft_cost(brief, brief.instructions[slot.group_index])
    if work.job_type == "model_swap":
        return pricing.model_swap_output_cost()
    if work.job_type == "garment_recolor":
        return pricing.recolor_output_cost(GarmentRecolorRequest.model_validate(work.request))
    instructions = work.request.get("instructions") or [{}]
    if work.job_type == "create_packshot":
        index = slot.spec.get("instruction_index", 0)
        return pricing.packshot_output_cost(PackshotInstruction.model_validate(instructions[index]))
    return pricing.flat_output_cost(
        Instruction.model_validate(instructions[slot.spec.get("instruction_index", 0)])
    )


class OnModelEngine(RemoteEngineBase):
    """Model swap and flat-to-model on a remote On-Model v2 server (`VESTIS_ONMODEL_*`)."""

    name = "onmodel"
    #: A generative service repaints the whole photo: the server locks the garments.
    repaints = True
    models = {
        "model_swap": SWAP_MODELS,
        "flat_2_model": FLAT_MODELS,
        "create_packshot": PACKSHOT_MODELS,
        "garment_recolor": RECOLOR_MODELS,
        "identity_creation": IDENTITY_MODELS,
    }

    def __init__(self, account: OnModelAccount | None = None) -> None:
        self.account = account or OnModelAccount.from_env()
        key = self.account.fingerprint()
        self.memo_prefix = f"onmodel:{key}"
        self._creations = gate_for(f"{self.memo_prefix}:jobs", self.account.job_rate)
        self._pause = gate_for(f"{self.memo_prefix}:pause", None)
        self._client: Client | None = None
        self._detector: Any = None

    @property
    def host(self) -> str:
        """The upstream's host and port (never its credentials) for messages."""
        return urlsplit(self.account.base_url).netloc.rsplit("@", 1)[-1]

    def client(self) -> Client:
        if self._client is None:
            account = self.account
            self._client = Client(
                account.base_url,
                token=account.token,
                username=account.username,
                password=account.password,
                retry_policy=RetryPolicy(max_retries=account.max_retries),
                on_retry=self._on_retry,
            )
        return self._client

    # --- the Engine protocol --------------------------------------------------------------------

    def model_swap(self, spec: SwapSpec) -> EngineOutput:
        return run_one(self, swap_work(spec))

    def flat_to_model(self, spec: FlatSpec) -> EngineOutput:
        return run_one(self, flat_work(spec))

    def generate_identity(self, spec: SwapSpec) -> EngineOutput:
        raise EngineError(
            "The onmodel engine swaps in a given identity; it does not invent one from a prompt. "
            "Send face_reference."
        )

    # --- the follow-up of a draft identity -----------------------------------------------------

    def promote_draft(
        self, remote_job_id: str, image_index: int, group_index: int, name: str | None
    ) -> tuple[str, str, str]:
        """Promote upstream the draft that remote job made at these indices (`POST
        /identity/promote-generated`, charged there; a draft promoted before answers with its
        identity). Returns (the upstream's identity code, its preprocessing status, the memo
        prefix under which the gateway remembers identity codes by image digest)."""
        client = self.client()
        results = client.jobs.results(remote_job_id).results
        draft = next(
            (r for r in results if (r.image_index, r.group_index) == (image_index, group_index)),
            None,
        )
        if draft is None or not draft.output_id:
            raise UpstreamError(f"On-Model job {remote_job_id} has no such draft any more.")
        code = client.identities.promote(draft.output_id, name).identity_code
        status = client.identities.status(code).preprocessing_status
        return code, status, f"{self.memo_prefix}:identity:"

    # --- one job --------------------------------------------------------------------------------

    def run_job(self, work: JobWork, context: JobContext) -> None:
        if work.job_type not in self.models:
            raise UpstreamError(f"The onmodel engine does not pass {work.job_type} jobs on yet.")
        state = dict(work.state)
        try:
            if not state.get("remote_job_id"):
                self._submit(work, context, state)
            self._follow(work, context, state)
        except Stopped:
            return
        except EngineError:
            raise
        except AuthenticationError as exc:
            raise UpstreamError(
                f"The On-Model service at {self.host} refused this gateway's credentials "
                f"({exc.status_code}); the operator must check VESTIS_ONMODEL_TOKEN or "
                "VESTIS_ONMODEL_USERNAME/VESTIS_ONMODEL_PASSWORD."
            ) from exc
        except APIConnectionError as exc:
            raise UpstreamError(
                f"The On-Model service at {self.host} could not be reached ({_short(exc)})."
            ) from exc
        except APIError as exc:
            if exc.status_code == 402:
                raise UpstreamError(
                    f"The On-Model account of this gateway has too few credits for this job "
                    f"({exc.message})."
                ) from exc
            if exc.status_code >= 500 or exc.status_code == 429:
                raise UpstreamError(f"On-Model answered {exc.status_code}: {exc.message}") from exc
            raise EngineError(f"On-Model refused the job: {exc.message}") from exc

    def _call(self, context: JobContext, fn: Callable[[], T]) -> T:
        if not self._pause.wait_open(context.stopping):
            raise Stopped()
        return fn()

    def _submit(self, work: JobWork, context: JobContext, state: dict[str, Any]) -> None:
        client = self.client()
        if work.job_type == "identity_creation":
            state.setdefault("project_id", "")  # a brief is filed under no project upstream
        if not state.get("project_id") and work.job_type != "identity_creation":
            state["project_id"] = self._call(
                context, lambda: client.projects.ensure(work.project_name)
            )
            context.save_state(state)
        files: dict[str, str] = state.setdefault("files", {})
        for file_id in referenced_files(work.request):
            if file_id in files:
                continue
            item = work.files[file_id]
            upload = functools.partial(client.uploads.upload_bytes, item.data, item.filename)
            files[file_id] = self._call(context, upload)
            context.save_state(state)
        if not state.get("idempotency_key"):
            # Stored before the first attempt: a restart re-sends the same key, and the upstream
            # answers with the job it already made instead of making (and charging) another.
            state["idempotency_key"] = f"vestis-{work.job_id}-{secrets.token_hex(8)}"
            context.save_state(state)
        created = self._create(work, context, state)
        state["remote_job_id"] = created
        context.save_state(state)
        log.info("job %s: remote job %s on %s", work.job_id, created, self.host)

    def _identity(self, work: JobWork, context: JobContext, fresh: bool = False) -> str | None:
        """The remote code of the job's identity; None for the job types without one."""
        identity = work.identity
        if identity is None:
            return None
        key = f"{self.memo_prefix}:identity:{identity.sha256}"
        known = None if fresh else context.recall(key)
        if known:
            return known
        code = self._call(
            context,
            lambda: self.client().identities.ensure(
                identity.data, identity.name, filename=identity.filename
            ),
        )
        context.remember(key, code)
        return code

    def _create(self, work: JobWork, context: JobContext, state: dict[str, Any]) -> str:
        resource, method = CREATE_METHODS[work.job_type]
        create: Callable[..., JobCreatedResponse | IdentityCreateResponse] = getattr(
            getattr(self.client(), resource), method
        )
        fresh_identity = False
        while True:
            code = self._identity(work, context, fresh=fresh_identity)
            body = remote_request(work, state["project_id"], code, state["files"])
            try:
                with self._creations.turn(context.stopping) as mine:
                    if not mine:
                        raise Stopped()
                    send = functools.partial(create, body, idempotency_key=state["idempotency_key"])
                    return self._call(context, send).job_id
            except RateLimitError as exc:
                # Not a failure: wait as the upstream asks (every worker of this account does).
                self._pause.close_for(exc.retry_after or 1.0)
            except NotFoundError as exc:
                if fresh_identity or "identity" not in exc.message.lower():
                    raise
                fresh_identity = True  # the remembered identity is gone upstream: upload again

    # --- following the remote job ---------------------------------------------------------------

    def _follow(self, work: JobWork, context: JobContext, state: dict[str, Any]) -> None:
        remote_id: str = state["remote_job_id"]
        client = self.client()
        pending = {(s.image_index, s.group_index): s for s in work.slots}
        seen = {"processed": -1}

        def on_update(status: JobStatusResponse) -> None:
            if status.processed_images > seen["processed"]:
                seen["processed"] = status.processed_images
                try:
                    self._collect(work, context, remote_id, pending)
                except (APIError, APIConnectionError) as exc:
                    log.info("results of %s not read yet (%s)", remote_id, _short(exc))

        try:
            final = client.jobs.wait(
                remote_id,
                timeout=self.account.job_timeout,
                poll_interval=self.account.poll_interval,
                on_update=on_update,
                raise_on_failure=False,
            )
        except JobTimeoutError as exc:
            raise UpstreamError(
                f"The On-Model job {remote_id} did not finish within "
                f"{self.account.job_timeout:g} s."
            ) from exc
        self._final_collect(work, context, remote_id, pending)
        for slot in list(pending.values()):
            reason = final.error_message or f"the remote job ended {final.status}"
            context.fail(
                slot.key, UpstreamError(f"On-Model gave no result for this output ({reason}).")
            )

    def _final_collect(
        self,
        work: JobWork,
        context: JobContext,
        remote_id: str,
        pending: dict[tuple[int, int], OutputSlot],
    ) -> None:
        """Read the results once the job ended; an upstream restarting now is waited for."""
        deadline = time.monotonic() + self.account.job_timeout
        while True:
            try:
                self._collect(work, context, remote_id, pending)
                return
            except (APIConnectionError, APIError) as exc:
                if isinstance(exc, APIError) and exc.status_code < 500:
                    raise
                if time.monotonic() > deadline or context.stopping():
                    raise
                log.info("results of %s not read yet (%s); retrying", remote_id, _short(exc))
                time.sleep(self.account.poll_interval)

    def _collect(
        self,
        work: JobWork,
        context: JobContext,
        remote_id: str,
        pending: dict[tuple[int, int], OutputSlot],
    ) -> None:
        results = self.client().jobs.results(remote_id)
        for result in results.results:
            slot = pending.get((result.image_index, result.group_index))
            if slot is None:
                continue
            if result.status == "completed" and result.image_url:
                try:
                    output = self._output(work, slot, remote_id, result)
                except UpstreamError as exc:
                    del pending[(result.image_index, result.group_index)]
                    context.fail(slot.key, exc)
                    continue
                del pending[(result.image_index, result.group_index)]
                context.deliver(slot.key, output)
            elif result.status == "failed":
                del pending[(result.image_index, result.group_index)]
                context.fail(slot.key, classify(result.error_message))

    def _output(
        self, work: JobWork, slot: OutputSlot, remote_id: str, result: JobResult
    ) -> EngineOutput:
        assert result.image_url is not None
        data = self.client().downloads.fetch(result.image_url)
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except (UnidentifiedImageError, OSError) as exc:
            raise UpstreamError(f"On-Model sent an output that is not an image ({exc}).") from exc
        return EngineOutput(
            image=image.convert("RGB"),
            model_used=result.model_used or "onmodel",
            quality_score=result.quality_score if result.quality_score is not None else 0.0,
            warnings=list(result.warnings),
            metadata={"upstream_processing_time": result.processing_time},
            upstream_id=remote_id,
            upstream_credits=_price(work, slot),
        )


def _short(exc: BaseException) -> str:
    return type(exc).__name__ if not str(exc) else str(exc)[:300]
