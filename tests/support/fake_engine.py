"""FakeEngine: a fast, deterministic test double of the Engine protocol.

It does checkable work, so tests can tell it ran:
- `detect_face`: no face in a plain single-colour image; otherwise a face box in the upper middle
  (the middle third horizontally, from 1/8 to 3/8 of the height).
- `model_swap`: on real photos (the quality measures find a face in the target and in the
  identity) the identity's face pasted over the target's, a crude swap that the measures take
  for the identity; on drawn figures the target unchanged except a marker filled over that face
  box, in a colour made from the identity's mean colour and the variation. A target without a
  face fails the output.
  With `add_ai_watermark` a dark 24x12 mark sits in the bottom-right corner.
- `flat_to_model`: a canvas of exactly `width` x `height`, the garments pasted side by side, a
  marker for the identity's face on top. An instruction whose prompt contains "FAIL" fails.
- `generate_identity`: like `model_swap` with a marker colour from the seed.
- `create_identity` (`POST /identity/create`): a drawn head and shoulders of the draft's size,
  coloured from the seed; a brief whose prompt says FAIL fails.
- an output given the anchor's image (flat-to-model with `use_anchor`) says so in a warning.

`JobFakeEngine` works per job (`run_job`): it makes every output of a job in one call and says
so in each output's warnings ("made in one job of N outputs").

`VESTIS_FAKE_ENGINE_DELAY` (seconds, default 0) makes every call sleep first. `SlowFakeEngine`
sleeps 1 s. A test that needs a job to stay `processing` until it has looked uses
`GatedFakeEngine` instead (tests/support/gate.py): a sleep is only a guess on a busy machine.
`RepaintingFakeEngine` behaves like a generative service: its swaps change every pixel a little
and come back 1.25 times larger (the double behind the gateway's garment-lock tests).
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageStat
from tests.support.gate import GATE_ENV, POLL_SECONDS, WAITING_PREFIX, take_ticket

from vestis.engines.base import (
    EngineError,
    EngineOutput,
    FaceInfo,
    FlatSpec,
    IdentitySpec,
    JobContext,
    JobWork,
    PackshotSpec,
    RecolorSpec,
    SwapSpec,
)
from vestis.quality import face_signature
from vestis.server.pipeline.delivery import retry_seed

DELAY_ENV = "VESTIS_FAKE_ENGINE_DELAY"


def is_plain(image: Image.Image) -> bool:
    """True when every channel has a single value (a flat single-colour image)."""
    return all(low == high for low, high in image.convert("RGB").getextrema())


def face_box(image: Image.Image) -> tuple[int, int, int, int]:
    w, h = image.size
    return (w // 3, h // 8, 2 * w // 3, 3 * h // 8)


def marker_colour(identity: Image.Image, variation: int) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in ImageStat.Stat(identity.convert("RGB")).mean[:3])
    return ((r + 97 * variation) % 256, (g + 53 * variation) % 256, (b + 31 * variation) % 256)


def watermark(image: Image.Image) -> None:
    w, h = image.size
    ImageDraw.Draw(image).rectangle((w - 26, h - 14, w - 2, h - 2), fill=(10, 10, 10))


def paste_face(
    target: Image.Image, identity: Image.Image, variation: int = 0
) -> Image.Image | None:
    """The identity's face box scaled onto the target's face box (a little margin around): a
    crude swap that the quality measures take for the identity, a shade brighter for each
    variation (variations must differ). None when the measures find no face in one of the two
    (drawn figures)."""
    t, d = face_signature(target), face_signature(identity)
    if t is None or d is None:
        return None
    out = target.convert("RGB").copy()
    pad_t, pad_d = t.width // 6, d.width // 6
    region = (t.box[0] - pad_t, t.box[1] - pad_t, t.box[2] + pad_t, t.box[3] + pad_t)
    face = identity.crop((d.box[0] - pad_d, d.box[1] - pad_d, d.box[2] + pad_d, d.box[3] + pad_d))
    face = face.resize((region[2] - region[0], region[3] - region[1]))
    if variation:
        face = face.point(lambda v: min(255, v + 4 * variation))
    out.paste(face, region[:2])
    return out


class FakeEngine:
    name = "fake"

    def __init__(self, delay: float | None = None) -> None:
        self.delay = float(os.environ.get(DELAY_ENV, "0")) if delay is None else delay

    def _wait(self) -> None:
        if self.delay > 0:
            time.sleep(self.delay)

    def detect_face(self, image: Image.Image) -> FaceInfo:
        if is_plain(image):
            return FaceInfo(detected=False)
        return FaceInfo(detected=True, box=face_box(image), confidence=0.99, has_body=True)

    def model_swap(self, spec: SwapSpec) -> EngineOutput:
        self._wait()
        if is_plain(spec.target):
            raise EngineError("No face found in the target image: nothing to swap.")
        out = paste_face(spec.target, spec.identity, spec.variation)
        if out is None:
            out = spec.target.convert("RGB").copy()
            ImageDraw.Draw(out).rectangle(
                face_box(out), fill=marker_colour(spec.identity, spec.variation)
            )
        if spec.add_ai_watermark:
            watermark(out)
        model = "onda" if spec.model in ("auto", "onda") else spec.model
        warnings = ["fake engine: post-processing is a no-op"] if spec.post_process else []
        return EngineOutput(image=out, model_used=model, quality_score=0.9, warnings=warnings)

    def flat_to_model(self, spec: FlatSpec) -> EngineOutput:
        self._wait()
        if "FAIL" in str(spec.instruction.get("prompt") or ""):
            raise EngineError("The instruction asked the fake engine to fail.")
        canvas = Image.new("RGB", (spec.width, spec.height), (245, 245, 245))
        slot = max(1, spec.width // max(1, len(spec.garments)))
        for i, garment in enumerate(spec.garments):
            piece = garment.image.convert("RGB").copy()
            piece.thumbnail((slot, spec.height // 2))
            canvas.paste(piece, (i * slot, spec.height // 2))
        ImageDraw.Draw(canvas).ellipse(
            face_box(canvas), fill=marker_colour(spec.identity, spec.variation)
        )
        if spec.add_ai_watermark:
            watermark(canvas)
        model = "nano_banana_pro" if spec.model == "auto" else spec.model
        warnings = ["fake engine: followed the anchor"] if spec.anchor is not None else []
        return EngineOutput(image=canvas, model_used=model, quality_score=0.8, warnings=warnings)

    def create_packshot(self, spec: PackshotSpec) -> EngineOutput:
        """Every style (the hosted service draws them all): the first photo on a plain canvas,
        a refusal for a prompt saying FAIL."""
        self._wait()
        if "FAIL" in str(spec.instruction.get("prompt") or ""):
            raise EngineError("The instruction asked the fake engine to fail.")
        canvas = Image.new("RGB", (spec.width, spec.height), (250, 250, 250))
        piece = spec.garments[0].image.convert("RGB").copy()
        piece.thumbnail((spec.width * 3 // 4, spec.height * 3 // 4))
        canvas.paste(piece, ((spec.width - piece.width) // 2, (spec.height - piece.height) // 2))
        model = "nano_banana_pro" if spec.model == "auto" else spec.model
        return EngineOutput(image=canvas, model_used=model, quality_score=0.8)

    def garment_recolor(self, spec: RecolorSpec) -> EngineOutput:
        """The lower half of the image painted the target (or mid-grey without one)."""
        self._wait()
        out = spec.image.convert("RGB").copy()
        box = (0, out.height // 2, out.width, out.height)
        ImageDraw.Draw(out).rectangle(box, fill=spec.target or (128, 128, 128))
        model = "nano_banana_2" if spec.model == "auto" else spec.model
        return EngineOutput(image=out, model_used=model, quality_score=0.7)

    def create_identity(self, spec: IdentitySpec) -> EngineOutput:
        """A drawn head and shoulders, coloured from the seed (the brief's hair colour for the
        hair when it names one of a few); a brief whose `prompt` says FAIL fails."""
        self._wait()
        if "FAIL" in str(spec.instruction.get("prompt") or ""):
            raise EngineError("The brief asked the fake engine to fail.")
        w, h = spec.width, spec.height
        out = Image.new("RGB", (w, h), (200, 205, 210))
        draw = ImageDraw.Draw(out)
        skin = (180 + spec.seed % 50, 140 + (spec.seed // 7) % 40, 110 + spec.variation * 9 % 60)
        hair = {"black": (20, 20, 20), "blonde": (220, 190, 120), "red": (160, 60, 30)}.get(
            str((spec.instruction.get("hair") or {}).get("color", "")), (70, 45, 30)
        )
        draw.rectangle((w // 5, 3 * h // 5, 4 * w // 5, h), fill=(40, 60, 110))  # shoulders
        left, top, right, bottom = face_box(out)
        draw.ellipse((left, top - h // 16, right, bottom), fill=hair)
        draw.ellipse((left + w // 40, top, right - w // 40, bottom + h // 16), fill=skin)
        return EngineOutput(image=out, model_used="fake-draw", quality_score=0.6)

    def generate_identity(self, spec: SwapSpec) -> EngineOutput:
        self._wait()
        out = spec.target.convert("RGB").copy()
        colour = (spec.seed % 256, (spec.seed // 256) % 256, 128)
        ImageDraw.Draw(out).rectangle(face_box(out), fill=colour)
        return EngineOutput(image=out, model_used="fake-generate", quality_score=0.5)


class SlowFakeEngine(FakeEngine):
    """FakeEngine that takes one second per call (unless VESTIS_FAKE_ENGINE_DELAY says more)."""

    def __init__(self) -> None:
        super().__init__(max(1.0, float(os.environ.get(DELAY_ENV, "0"))))


class RepaintingFakeEngine(FakeEngine):
    """A swap that repaints the whole photo: FakeEngine's marker, then every pixel moved by a
    small seeded amount, and the picture scaled up by a quarter."""

    name = "fake-repaint"

    def model_swap(self, spec: SwapSpec) -> EngineOutput:
        made = super().model_swap(spec)
        pixels = np.asarray(made.image.convert("RGB")).astype(np.int16)
        rng = np.random.default_rng(spec.seed)
        pixels += rng.integers(-5, 6, pixels.shape, dtype=np.int16)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        made.image = image.resize((round(image.width * 1.25), round(image.height * 1.25)))
        return made


class GatedFakeEngine(FakeEngine):
    """FakeEngine whose every output waits at the gate named by VESTIS_FAKE_ENGINE_GATE until
    the test admits it (`tests.support.gate.Gate`); face detection is not gated. The gate
    meters outputs: the server's identity retries of an output already let through (the same
    inputs, a retry seed) pass without a ticket of their own (FakeEngine's marker hides the
    face of a real photo, so its outputs are never the identity and are always retried)."""

    def __init__(self) -> None:
        super().__init__(0.0)
        self.gate = Path(os.environ[GATE_ENV])
        self._admitted: dict[str, int] = {}
        self._lock = threading.Lock()

    def model_swap(self, spec: SwapSpec) -> EngineOutput:
        self._pass(spec, spec.target, spec.identity)
        return super().model_swap(spec)

    def flat_to_model(self, spec: FlatSpec) -> EngineOutput:
        self._pass(spec, *(g.image for g in spec.garments), spec.identity)
        return super().flat_to_model(spec)

    def generate_identity(self, spec: SwapSpec) -> EngineOutput:
        self._pass(spec, spec.target)
        return super().generate_identity(spec)

    def _pass(self, spec: SwapSpec | FlatSpec, *images: Image.Image) -> None:
        digest = hashlib.blake2b(digest_size=16)
        for image in images:
            digest.update(image.tobytes())
        key = f"{type(spec).__name__}:{digest.hexdigest()}:{spec.variation}"
        with self._lock:
            first = self._admitted.get(key)
        if first is not None and spec.seed in {retry_seed(first, k) for k in range(1, 10)}:
            return
        arrival = self.gate / f"{WAITING_PREFIX}{uuid.uuid4().hex}"
        arrival.write_text("")  # the test may see that a call waits here (`Gate.waiting`)
        while not take_ticket(self.gate):
            time.sleep(POLL_SECONDS)
        arrival.unlink(missing_ok=True)
        with self._lock:
            self._admitted[key] = spec.seed


class JobFakeEngine(FakeEngine):
    """FakeEngine that works per job: one `run_job` call makes all the outputs of a job."""

    name = "fake-job"

    def run_job(self, work: JobWork, context: JobContext) -> None:
        identity = Image.open(io.BytesIO(work.identity.data))
        for slot in work.slots:
            if work.job_type != "model_swap":
                raise EngineError("JobFakeEngine makes model swaps only.")
            target = Image.open(io.BytesIO(work.files[slot.spec["file_id"]].data))
            spec = SwapSpec(target, identity, seed=slot.spec["seed"], variation=slot.variation)
            try:
                made = self.model_swap(spec)
            except EngineError as exc:
                context.fail(slot.key, exc)
                continue
            made.warnings.append(f"made in one job of {len(work.slots)} outputs")
            context.deliver(slot.key, made)


class PidGatedFakeEngine(GatedFakeEngine):
    """GatedFakeEngine whose `model_used` names the process that made the output, so a test can
    tell which worker made each one."""

    def model_swap(self, spec: SwapSpec) -> EngineOutput:
        made = super().model_swap(spec)
        made.model_used = f"fake@{os.getpid()}"
        return made
