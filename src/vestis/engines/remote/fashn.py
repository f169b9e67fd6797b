"""FashnEngine: model swap and flat-to-model on FASHN's `/v1/run` (the hosted API, or a vestis
server's `/v1`), through `vestis.client.fashn.FashnClient`.

- Model swap: one `model-swap` run per input photo (the photo as `model_image`, the identity as
  `face_reference`, `face_reference_mode=match_base` so the photo's pose and expression stay,
  `num_images` = its variations).
- Flat-to-model: one `product-to-model` run per instruction (`num_images` = its variations, at
  most 4 a run), the prompt built from the instruction (`fashn_inputs`).

The account's limits are kept by every worker together: 50 runs a minute, 50 status polls per
10 s, 6 predictions in flight; a 429 pauses the whole account for its `Retry-After`.
`OutOfCredits` stops the engine (for 60 s, then the next run tries again) and says so.

FASHN has no idempotency key. A prediction id is checkpointed as soon as `/v1/run` answers;
a run is marked as being sent before it is sent, so a gateway that died between the two does not
send it again blindly after a restart (it may exist upstream, and be charged): those outputs go
to the next engine with a warning saying so, or fail with that message.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from PIL import Image, UnidentifiedImageError

from vestis.client import APIConnectionError, APIError, AuthenticationError, RateLimitError
from vestis.client._base import RetryPolicy
from vestis.client.fashn import FashnClient, Prediction, UnsureRunError, fashn_error_name
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
from vestis.engines.remote.config import FashnAccount
from vestis.engines.remote.engine_base import RemoteEngineBase
from vestis.engines.remote.fashn_inputs import data_uri, fit_to, image_uri, product_to_model_inputs
from vestis.engines.remote.gate import gate_for, slots_for
from vestis.engines.remote.onmodel import USER_FAULTS, Stopped

log = logging.getLogger("vestis.engines.fashn")

T = TypeVar("T")

MODEL_SWAP = "model-swap"
PRODUCT_TO_MODEL = "product-to-model"
MAX_IMAGES_PER_RUN = 4
#: Runtime failures that are about the inputs, not the service.
USER_ERROR_NAMES = frozenset({"ImageLoadError", "InputValidationError", "PoseError"})
#: After OutOfCredits, runs on the account are refused this long before trying again.
OUT_OF_CREDITS_PAUSE = 60.0


@dataclass
class Run:
    """One `/v1/run` for some slots of a job (a photo's variations, an instruction's)."""

    key: str
    model_name: str
    inputs: dict[str, Any]
    slots: list[OutputSlot]
    warnings: list[str] = field(default_factory=list)
    fit: tuple[int, int] | None = None  # flat-to-model: the exact output size


def runtime_error(prediction: Prediction) -> EngineError:
    name = prediction.error.name if prediction.error else prediction.status
    message = prediction.error.message if prediction.error else f"prediction {prediction.status}"
    text = f"FASHN {name}: {message}"
    if name in USER_ERROR_NAMES or any(w in message.lower() for w in USER_FAULTS):
        return EngineError(text)
    return UpstreamError(text)


class FashnEngine(RemoteEngineBase):
    """Model swap and flat-to-model on FASHN (`FASHN_API_KEY`, `FASHN_BASE_URL`)."""

    name = "fashn"
    repaints = True
    models = {"model_swap": frozenset({"auto"}), "flat_2_model": frozenset({"auto"})}

    def __init__(self, account: FashnAccount | None = None) -> None:
        self.account = account or FashnAccount.from_env()
        self.memo_prefix = f"fashn:{self.account.fingerprint()}"
        self._runs = gate_for(f"{self.memo_prefix}:runs", self.account.run_rate)
        self._polls = gate_for(f"{self.memo_prefix}:status", self.account.status_rate)
        self._pause = gate_for(f"{self.memo_prefix}:pause", None)
        self._in_flight = slots_for(f"{self.memo_prefix}:flight", self.account.concurrency)
        self._client: FashnClient | None = None
        self._client_lock = threading.Lock()
        self._out_of_credits: tuple[float, str] | None = None
        self._detector: Any = None

    @property
    def host(self) -> str:
        return urlsplit(self.account.base_url).netloc.rsplit("@", 1)[-1]

    def client(self) -> FashnClient:
        with self._client_lock:
            if self._client is None:
                policy = RetryPolicy(
                    max_retries=self.account.max_retries, initial_delay=2.0, max_delay=60.0
                )
                self._client = FashnClient(
                    self.account.api_key,
                    base_url=self.account.base_url,
                    retry_policy=policy,
                    on_retry=self._on_retry,
                )
            return self._client

    # --- the Engine protocol --------------------------------------------------------------------

    def model_swap(self, spec: SwapSpec) -> EngineOutput:
        inputs = {
            "model_image": image_uri(spec.target),
            "face_reference": image_uri(spec.identity),
            "face_reference_mode": spec.face_reference_mode,
            "seed": spec.seed % 2**32,
            "num_images": 1,
            "output_format": "png",
        }
        if spec.prompt:
            inputs["prompt"] = spec.prompt
        return self._single(Run("single", MODEL_SWAP, inputs, []), spec)

    def generate_identity(self, spec: SwapSpec) -> EngineOutput:
        """FASHN invents an identity from the prompt when there is no face reference."""
        inputs = {
            "model_image": image_uri(spec.target),
            "prompt": spec.prompt or "",
            "seed": spec.seed % 2**32,
            "num_images": 1,
            "output_format": "png",
        }
        return self._single(Run("single", MODEL_SWAP, inputs, []), spec)

    def flat_to_model(self, spec: FlatSpec) -> EngineOutput:
        built = product_to_model_inputs(
            spec.instruction,
            [(g.image, g.note) for g in spec.garments],
            spec.identity,
            {"barefoot": spec.barefoot},
            {},
            spec.width,
            spec.height,
        )
        inputs = {**built.inputs, "seed": spec.seed % 2**32, "num_images": 1}
        run = Run("single", PRODUCT_TO_MODEL, inputs, [], built.warnings, (spec.width, spec.height))
        return self._single(run, spec)

    def _single(self, run: Run, spec: SwapSpec | FlatSpec) -> EngineOutput:
        prediction = self._predict(run, lambda _id: None, lambda: False)
        images = self._images(prediction)
        output = self._output(run, prediction, images[0], 1)
        if spec.add_ai_watermark:
            output.image = _watermark(output.image)
        return output

    # --- one job --------------------------------------------------------------------------------

    def run_job(self, work: JobWork, context: JobContext) -> None:
        if work.job_type not in self.models:
            raise UpstreamError(f"The fashn engine does not make {work.job_type} outputs.")
        runs = self._plan(work)
        state = dict(work.state)
        known: dict[str, Any] = state.setdefault("runs", {})
        lock = threading.Lock()

        def checkpoint(key: str, value: dict[str, Any]) -> None:
            with lock:
                known[key] = value
                context.save_state(state)

        def one(run: Run) -> None:
            try:
                self._run_one(work, run, known.get(run.key), checkpoint, context)
            except Stopped:
                return
            except EngineError as exc:
                for slot in run.slots:
                    context.fail(slot.key, exc)

        workers = max(1, min(self.account.concurrency, len(runs)))
        with ThreadPoolExecutor(workers, thread_name_prefix="fashn-run") as pool:
            list(pool.map(one, runs))

    def _run_one(
        self,
        work: JobWork,
        run: Run,
        previous: dict[str, Any] | None,
        checkpoint: Callable[[str, dict[str, Any]], None],
        context: JobContext,
    ) -> None:
        prediction_id = (previous or {}).get("id")
        if previous is not None and not prediction_id:
            raise UpstreamError(
                "The gateway stopped while this output's FASHN run was being sent; FASHN has no "
                "idempotency key, so it was not sent again (it may have run, and been charged, "
                "upstream)."
            )

        def on_sent(pid: str | None) -> None:
            checkpoint(run.key, {"id": pid} if pid else {"sending": True})

        prediction = self._predict(run, on_sent, context.stopping, prediction_id)
        images = self._images(prediction)
        watermark = bool(_job_options(work).get("add_ai_watermark"))
        for slot, image in zip(run.slots, images, strict=False):
            output = self._output(run, prediction, image, len(images))
            if watermark:
                output.image = _watermark(output.image)
            context.deliver(slot.key, output)
        for slot in run.slots[len(images) :]:
            context.fail(slot.key, UpstreamError("FASHN returned fewer images than asked for."))

    # --- planning -------------------------------------------------------------------------------

    def _plan(self, work: JobWork) -> list[Run]:
        if work.job_type == "model_swap":
            return self._plan_swap(work)
        return self._plan_flat(work)

    def _plan_swap(self, work: JobWork) -> list[Run]:
        request = work.request
        warnings = []
        if request.get("post_process"):
            warnings.append("post_process: FASHN model-swap has no skin equalisation; not applied")
        if (request.get("swap_options") or {}).get("use_anchor"):
            warnings.append("use_anchor: FASHN has no anchor; not applied")
        by_photo: dict[str, list[OutputSlot]] = {}
        for slot in sorted(work.slots, key=lambda s: (s.image_index, s.variation)):
            by_photo.setdefault(slot.spec["file_id"], []).append(slot)
        runs = []
        assert work.identity is not None, "run_job takes only job types with an identity"
        identity = data_uri(work.identity.data)
        for file_id, slots in by_photo.items():
            photo = work.files[file_id]
            inputs = {
                "model_image": data_uri(photo.data),
                "face_reference": identity,
                "face_reference_mode": "match_base",
                "seed": int(slots[0].spec.get("seed", 42)) % 2**32,
                "num_images": len(slots),
                "output_format": "png" if slots[0].output_format == "png" else "jpeg",
            }
            key = f"swap:{slots[0].image_index}:{slots[0].variation}"
            runs.append(Run(key, MODEL_SWAP, inputs, slots, list(warnings)))
        return runs

    def _plan_flat(self, work: JobWork) -> list[Run]:
        request = work.request
        options = request.get("options") or {}
        instructions = request.get("instructions") or [{}]
        garments = []
        for item in request.get("images", []):
            file_id, note = (
                (item, None) if isinstance(item, str) else (item["file_id"], item.get("note"))
            )
            garments.append((_open(work.files[file_id].data), note))
        assert work.identity is not None, "run_job takes only job types with an identity"
        identity = _open(work.identity.data)
        references = {fid: f.data for fid, f in work.files.items()}
        total = len(work.slots)
        by_instruction: dict[int, list[OutputSlot]] = {}
        for slot in sorted(work.slots, key=lambda s: (s.group_index, s.variation)):
            by_instruction.setdefault(int(slot.spec["instruction_index"]), []).append(slot)
        runs = []
        for index, slots in by_instruction.items():
            width, height = int(slots[0].spec["width"]), int(slots[0].spec["height"])
            built = product_to_model_inputs(
                instructions[index], garments, identity, options, references, width, height
            )
            if options.get("use_anchor", True) and total > 1:
                built.warnings.append(
                    "use_anchor: FASHN has no anchor; the outputs share the face reference and "
                    "seed instead"
                )
            for start in range(0, len(slots), MAX_IMAGES_PER_RUN):
                chunk = slots[start : start + MAX_IMAGES_PER_RUN]
                inputs = {
                    **built.inputs,
                    "seed": int(chunk[0].spec.get("seed", 42)) % 2**32,
                    "num_images": len(chunk),
                }
                key = f"flat:{index}:{chunk[0].variation}"
                runs.append(
                    Run(key, PRODUCT_TO_MODEL, inputs, chunk, list(built.warnings), (width, height))
                )
        return runs

    # --- talking to FASHN -----------------------------------------------------------------------

    def _check_credits(self) -> None:
        stopped = self._out_of_credits
        if stopped is not None and time.monotonic() - stopped[0] < OUT_OF_CREDITS_PAUSE:
            raise UpstreamError(stopped[1])

    def _predict(
        self,
        run: Run,
        on_sent: Callable[[str | None], None],
        stopping: Callable[[], bool],
        prediction_id: str | None = None,
    ) -> Prediction:
        if not self._in_flight.acquire(stopping):
            raise Stopped()
        try:
            if prediction_id is None:
                prediction_id = self._start(run, on_sent, stopping)
            return self._wait(prediction_id, stopping)
        except AuthenticationError as exc:
            raise UpstreamError(
                f"FASHN at {self.host} refused this gateway's API key ({exc.status_code}); the "
                "operator must check FASHN_API_KEY."
            ) from exc
        except UnsureRunError as exc:
            raise UpstreamError(
                "The connection to FASHN dropped after the run was sent; FASHN has no "
                "idempotency key, so it was not sent again (it may have run, and been charged, "
                "upstream)."
            ) from exc
        except APIConnectionError as exc:
            raise UpstreamError(f"FASHN at {self.host} could not be reached ({exc}).") from exc
        except APIError as exc:
            if exc.status_code >= 500 or exc.status_code in (401, 403, 429):
                raise UpstreamError(f"FASHN answered {exc.message}") from exc
            raise EngineError(f"FASHN refused the run: {exc.message}") from exc
        finally:
            self._in_flight.release()

    def _start(
        self, run: Run, on_sent: Callable[[str | None], None], stopping: Callable[[], bool]
    ) -> str:
        while True:
            self._check_credits()
            try:
                with self._runs.turn(stopping) as mine:
                    if not mine:
                        raise Stopped()
                    on_sent(None)
                    started = self.client().run(run.model_name, run.inputs)
            except RateLimitError as exc:
                name = fashn_error_name(exc)
                if name == "OutOfCredits":
                    message = (
                        f"The FASHN account of this gateway is out of credits ({exc.message}); "
                        "no more runs are sent to it until credits are added."
                    )
                    self._out_of_credits = (time.monotonic(), message)
                    raise UpstreamError(message) from exc
                self._pause.close_for(exc.retry_after or 2.0)
                continue
            on_sent(started.id)
            log.info("FASHN %s run %s started", run.model_name, started.id)
            return started.id

    def _wait(self, prediction_id: str, stopping: Callable[[], bool]) -> Prediction:
        deadline = time.monotonic() + self.account.prediction_timeout
        while True:
            if not self._pause.wait_open(stopping) or not self._polls.acquire(stopping):
                raise Stopped()
            try:
                prediction = self.client().status(prediction_id)
            except RateLimitError as exc:
                self._pause.close_for(exc.retry_after or 2.0)
                continue
            except APIConnectionError as exc:
                if time.monotonic() > deadline:
                    raise
                log.info("status of %s not read (%s); retrying", prediction_id, exc)
                prediction = None
            if prediction is not None and prediction.is_terminal:
                return prediction
            if time.monotonic() > deadline:
                raise UpstreamError(
                    f"The FASHN prediction {prediction_id} did not finish within "
                    f"{self.account.prediction_timeout:g} s."
                )
            time.sleep(self.account.poll_interval)

    def _images(self, prediction: Prediction) -> list[Image.Image]:
        if prediction.status != "completed":
            raise runtime_error(prediction)
        images = []
        for output in prediction.output or []:
            try:
                images.append(_open(self.client().download(output)))
            except (UnidentifiedImageError, OSError) as exc:
                raise UpstreamError(f"FASHN sent an output that is not an image ({exc}).") from exc
        if not images:
            raise UpstreamError("FASHN completed the prediction without any image.")
        return images

    def _output(
        self, run: Run, prediction: Prediction, image: Image.Image, count: int
    ) -> EngineOutput:
        warnings = list(run.warnings)
        if run.fit is not None:
            image, warning = fit_to(image, *run.fit)
            if warning:
                warnings.append(warning)
        credits = None
        if prediction.credits_used is not None:
            credits = prediction.credits_used / max(1, count)
        return EngineOutput(
            image=image,
            model_used=f"fashn:{run.model_name}",
            quality_score=0.0,
            warnings=warnings,
            metadata={"fashn_inputs": sorted(run.inputs)},
            upstream_id=prediction.id,
            upstream_credits=credits,
        )


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.convert("RGB")


def _job_options(work: JobWork) -> dict[str, Any]:
    request = work.request
    return dict(request.get("swap_options") or request.get("options") or {})


def _watermark(image: Image.Image) -> Image.Image:
    from vestis.engines.local.watermark import add_ai_watermark

    return add_ai_watermark(image)
