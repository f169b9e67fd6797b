"""One output through a job-level engine: for callers that have a single `SwapSpec` or
`FlatSpec` in hand (the FASHN `/v1/run` API of a gateway, tests), not a stored job.

The job lives in memory only: nothing is checkpointed, so an interrupted call is not resumed
(the FASHN API fails interrupted predictions at the next start anyway).
"""

from __future__ import annotations

import hashlib
import io
import threading
from typing import Any

from PIL import Image

from vestis.engines.base import (
    EngineError,
    EngineOutput,
    FlatSpec,
    JobEngine,
    JobFile,
    JobIdentity,
    JobWork,
    OutputSlot,
    SwapSpec,
)

#: Remembered values of single calls, per process (no database behind them).
_memory: dict[str, str] = {}
_memory_lock = threading.Lock()


def referenced_files(request: dict[str, Any]) -> list[str]:
    """The file ids a request names: its images, then its instructions' reference images."""
    ids = [i if isinstance(i, str) else i["file_id"] for i in request.get("images", [])]
    if isinstance(request.get("reference_image"), str):  # a recolour's colour reference
        ids.append(request["reference_image"])
    for instruction in request.get("instructions", []) or []:
        for value in instruction.values():
            if isinstance(value, dict) and isinstance(value.get("image"), str):
                ids.append(value["image"])
    return list(dict.fromkeys(ids))


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def identity_of(image: Image.Image, name: str = "identity") -> JobIdentity:
    data = png_bytes(image)
    digest = hashlib.sha256(data).hexdigest()
    return JobIdentity(
        code=f"id_{digest[:16]}", name=name, filename=f"{name}.png", data=data, sha256=digest
    )


class MemoryContext:
    """A `JobContext` that keeps everything in memory and collects what is delivered."""

    def __init__(self) -> None:
        self.outputs: dict[str, EngineOutput] = {}
        self.errors: dict[str, EngineError] = {}
        self.state: dict[str, Any] = {}

    def save_state(self, state: dict[str, Any]) -> None:
        self.state = dict(state)

    def recall(self, key: str) -> str | None:
        with _memory_lock:
            return _memory.get(key)

    def remember(self, key: str, value: str) -> None:
        with _memory_lock:
            _memory[key] = value

    def deliver(self, key: str, output: EngineOutput) -> None:
        self.outputs[key] = output

    def fail(self, key: str, error: EngineError) -> None:
        self.errors[key] = error

    def stopping(self) -> bool:
        return False


def run_one(engine: JobEngine, work: JobWork) -> EngineOutput:
    """Run a one-slot job; its output, or the engine's error raised."""
    context = MemoryContext()
    engine.run_job(work, context)
    key = work.slots[0].key
    if key in context.outputs:
        return context.outputs[key]
    raise context.errors.get(key) or EngineError("The engine made no output.")


def swap_work(spec: SwapSpec, fmt: str = "png") -> JobWork:
    """A one-output model-swap job for `spec` (the target as a PNG upload)."""
    target = JobFile(file_id="target", filename=f"target.{fmt}", data=png_bytes(spec.target))
    request = {
        "identity_code": "identity",
        "project_id": "project",
        "images": ["target"],
        "post_process": spec.post_process,
        "swap_options": {
            "model": spec.model,
            "num_variations": 1,
            "add_ai_watermark": spec.add_ai_watermark,
        },
    }
    slot = OutputSlot("out", 0, 0, 0, fmt, {"file_id": "target", "seed": spec.seed})
    return JobWork(
        job_id=f"single-{hashlib.sha256(target.data).hexdigest()[:12]}-{spec.seed}",
        job_type="model_swap",
        request=request,
        project_name="vestis-single",
        identity=identity_of(spec.identity),
        files={"target": target},
        slots=[slot],
    )


def flat_work(spec: FlatSpec) -> JobWork:
    """A one-output flat-to-model job for `spec` (garments as PNG uploads)."""
    files: dict[str, JobFile] = {}
    images: list[dict[str, Any]] = []
    for index, garment in enumerate(spec.garments):
        file_id = f"garment{index}"
        name = garment.filename or f"{file_id}.png"
        files[file_id] = JobFile(file_id=file_id, filename=name, data=png_bytes(garment.image))
        images.append({"file_id": file_id, **({"note": garment.note} if garment.note else {})})
    instruction = dict(spec.instruction)
    request = {
        "identity_code": "identity",
        "project_id": "project",
        "images": images,
        "instructions": [instruction],
        "options": {
            "model": spec.model,
            "add_ai_watermark": spec.add_ai_watermark,
            "barefoot": spec.barefoot,
        },
    }
    fmt = str((spec.instruction.get("options") or {}).get("format") or "jpg")
    slot = OutputSlot(
        "out",
        0,
        0,
        0,
        fmt,
        {"instruction_index": 0, "width": spec.width, "height": spec.height, "seed": spec.seed},
    )
    return JobWork(
        job_id=f"single-flat-{spec.seed}",
        job_type="flat_2_model",
        request=request,
        project_name="vestis-single",
        identity=identity_of(spec.identity),
        files=files,
        slots=[slot],
    )
