"""The engine chain of `vestis serve --engine onmodel,local`: engines tried in order.

Routing: a job's requested `model` goes to the first engine that offers it (`auto`, and models
no engine names, go to the first engine); the other engines follow in the chain's order. An
engine lists what it offers in `models` (job type -> model names); an engine without `models`
(the local engine) takes every model.

Fallback: an output that fails with `UpstreamError` (not the user's fault: an outage, a 5xx, a
timeout, refused content, an upstream account out of credits) moves to the next engine, and the
output that is finally made carries a warning saying so. The user's own errors (`EngineError`:
no face, a bad image) fail the output at once. `EngineOutput.engine` names the engine that
really made an output.

A chain is itself an `Engine` (per-output calls, with fallback); the server's job pipeline runs
whole jobs through `run_job_on_chain`, which gives job-level engines (`JobEngine`) the whole job
and per-output engines one output at a time.

Garment lock: on every path, a model swap made by an engine that repaints the photo
(`repaints = True`: the remote engines) is locked to the photo before it is delivered
(`garment_lock.lock_if_repainted`), unless the chain's `garment_lock` is switched off.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from PIL import Image

from vestis.engines.base import (
    AnySpec,
    Engine,
    EngineError,
    EngineOutput,
    FaceInfo,
    FlatSpec,
    IdentitySpec,
    JobContext,
    JobEngine,
    JobWork,
    OutputSlot,
    PackshotSpec,
    RecolorSpec,
    SwapSpec,
    UpstreamError,
    call_engine,
)

# `garment_lock` (OpenCV, numpy) is imported where a repainted output is locked: the server
# imports the chain with its job pipeline, and a server that only answers reads starts
# without those libraries.

log = logging.getLogger("vestis.engines.chain")

#: What the server gives `run_job_on_chain` to call a per-output engine on one slot.
SpecFor = Callable[[OutputSlot], AnySpec]


def offers(engine: object, job_type: str, model: str) -> bool:
    models = getattr(engine, "models", None)
    if models is None:
        return True
    return model in models.get(job_type, ())


def is_job_engine(engine: object) -> bool:
    return isinstance(engine, JobEngine) and callable(getattr(engine, "run_job", None))


def moved_on(engine: object, error: EngineError, to: object) -> str:
    return (
        f"{getattr(engine, 'name', 'engine')} could not make this output ({error}); it was made "
        f"by the {getattr(to, 'name', 'next')} engine instead"
    )


class EngineChain:
    """Engines in order; itself an Engine whose calls fall back along the chain."""

    def __init__(self, engines: Sequence[Engine], garment_lock: bool = True) -> None:
        if not engines:
            raise ValueError("An engine chain needs at least one engine.")
        self.engines = list(engines)
        self.name = ",".join(getattr(e, "name", type(e).__name__) for e in self.engines)
        #: Lock the garments of swaps from engines that repaint (`vestis serve --no-garment-lock`).
        self.garment_lock = garment_lock

    def route(self, job_type: str, model: str) -> list[Engine]:
        """The engines to try for `model`, in order."""
        first = next((e for e in self.engines if offers(e, job_type, model)), self.engines[0])
        if model == "auto":
            first = self.engines[0]
        return [first, *(e for e in self.engines if e is not first)]

    def by_name(self, name: str | None) -> Engine | None:
        return next((e for e in self.engines if getattr(e, "name", None) == name), None)

    # --- the Engine protocol (one output at a time) ---------------------------------------------

    def detect_face(self, image: Image.Image) -> FaceInfo:
        return self.engines[0].detect_face(image)

    def model_swap(self, spec: SwapSpec) -> EngineOutput:
        return self._one("model_swap", spec.model, lambda e: e.model_swap(spec), spec.target)

    def flat_to_model(self, spec: FlatSpec) -> EngineOutput:
        return self._one("flat_2_model", spec.model, lambda e: e.flat_to_model(spec))

    def generate_identity(self, spec: SwapSpec) -> EngineOutput:
        return self._one("model_swap", spec.model, lambda e: e.generate_identity(spec), spec.target)

    def create_packshot(self, spec: PackshotSpec) -> EngineOutput:
        return self._one("create_packshot", spec.model, lambda e: call_engine(e, spec))

    def garment_recolor(self, spec: RecolorSpec) -> EngineOutput:
        return self._one("garment_recolor", spec.model, lambda e: call_engine(e, spec))

    def create_identity(self, spec: IdentitySpec) -> EngineOutput:
        """A draft identity from the first engine that draws people (`base.draws_people`
        says which; the chain itself answers for its engines)."""
        return self._one("identity_creation", "auto", lambda e: call_engine(e, spec))

    def _one(
        self,
        job_type: str,
        model: str,
        call: Callable[[Engine], EngineOutput],
        target: Image.Image | None = None,
    ) -> EngineOutput:
        engines = self.route(job_type, model)
        notes: list[str] = []
        for index, engine in enumerate(engines):
            try:
                output = call(engine)
            except UpstreamError as exc:
                if index == len(engines) - 1:
                    raise
                notes.append(moved_on(engine, exc, engines[index + 1]))
                log.warning("%s failed (%s); trying %s", engine.name, exc, engines[index + 1].name)
                continue
            output.warnings = [*notes, *output.warnings]
            output.engine = output.engine or engine.name
            if repaints(engine):
                from vestis.engines.garment_lock import lock_if_repainted

                lock_if_repainted(engine, job_type, target, output, self.garment_lock)
            return output
        raise AssertionError("unreachable: the last engine's error is raised")

    def close(self) -> None:
        for engine in self.engines:
            close = getattr(engine, "close", None)
            if callable(close):
                close()


# --- whole jobs -------------------------------------------------------------------------------


class _EngineStep(JobContext):
    """The context one engine of the chain sees: its own checkpoint, deliveries tagged with its
    name and the warnings of earlier engines, and upstream failures set aside for the next."""

    def __init__(
        self,
        context: JobContext,
        engine: Engine,
        states: dict[str, Any],
        notes: dict[str, list[str]],
        last: bool,
        target_of: Callable[[str], Image.Image | None],
    ) -> None:
        self.context = context
        self.engine = engine
        self.states = states
        self.notes = notes
        self.last = last
        self.target_of = target_of
        self.done: set[str] = set()
        self.passed_on: dict[str, UpstreamError] = {}

    @property
    def key(self) -> str:
        return str(getattr(self.engine, "name", "engine"))

    def save_state(self, state: dict[str, Any]) -> None:
        self.states[self.key] = state
        self.context.save_state(dict(self.states))

    def recall(self, key: str) -> str | None:
        return self.context.recall(key)

    def remember(self, key: str, value: str) -> None:
        self.context.remember(key, value)

    def deliver(self, key: str, output: EngineOutput) -> None:
        self.done.add(key)
        output.warnings = [*self.notes.get(key, []), *output.warnings]
        output.engine = output.engine or self.key
        if repaints(self.engine):
            from vestis.engines.garment_lock import lock_if_repainted

            target = self.target_of(key)
            lock_if_repainted(self.engine, "model_swap", target, output, target is not None)
        self.context.deliver(key, output)

    def fail(self, key: str, error: EngineError) -> None:
        self.done.add(key)
        if isinstance(error, UpstreamError) and not self.last:
            self.passed_on[key] = error
        else:
            self.context.fail(key, error)

    def stopping(self) -> bool:
        return self.context.stopping()


def run_job_on_chain(
    engines: Sequence[Engine],
    work: JobWork,
    context: JobContext,
    spec_for: SpecFor,
    garment_lock: bool = True,
) -> None:
    """Make every slot of `work` on the first engine of `engines` that can, in order.

    `work.state` and `context.save_state` hold one checkpoint per engine name. A job-level
    engine gets the slots still to make in one `run_job`; a per-output engine gets
    `spec_for(slot)` one slot at a time. Returns early (leaving slots undelivered) when the
    server is stopping."""
    states: dict[str, Any] = dict(work.state)
    notes: dict[str, list[str]] = {}
    remaining = list(work.slots)
    target_of = _targets(work) if garment_lock else (lambda _key: None)
    if garment_lock and work.job_type == "model_swap" and any(repaints(e) for e in engines):
        # the photos' swap regions are worked out while the upstream makes the outputs
        from vestis.engines.garment_lock import prepare

        photos = {id(t): t for t in map(target_of, (s.key for s in work.slots)) if t is not None}
        prepare(list(photos.values()))
    for index, engine in enumerate(engines):
        if not remaining or context.stopping():
            return
        last = index == len(engines) - 1
        step = _EngineStep(context, engine, states, notes, last, target_of)
        if is_job_engine(engine):
            _whole(engine, replace(work, slots=remaining, state=states.get(step.key, {})), step)
        else:
            _each(engine, remaining, step, spec_for)
        if context.stopping():
            return
        nxt = engines[index + 1] if index + 1 < len(engines) else None
        for key, error in step.passed_on.items():
            notes.setdefault(key, []).append(moved_on(engine, error, nxt))
            log.warning("output %s moves on from %s: %s", key, step.key, error)
        remaining = [slot for slot in remaining if slot.key in step.passed_on]


def _targets(work: JobWork) -> Callable[[str], Image.Image | None]:
    """The photo of each model-swap slot, decoded once when first asked for (garment lock)."""
    by_key = {slot.key: slot.spec.get("file_id") for slot in work.slots}
    decoded: dict[str, Image.Image] = {}

    def target_of(key: str) -> Image.Image | None:
        file_id = by_key.get(key)
        if work.job_type != "model_swap" or file_id not in work.files:
            return None
        if file_id not in decoded:
            with Image.open(io.BytesIO(work.files[file_id].data)) as image:
                decoded[file_id] = image.convert("RGB")
        return decoded[file_id]

    return target_of


def _whole(engine: Engine, work: JobWork, step: _EngineStep) -> None:
    try:
        engine.run_job(work, step)  # type: ignore[attr-defined]
    except EngineError as exc:
        if step.stopping():
            return
        for slot in work.slots:
            if slot.key not in step.done:
                step.fail(slot.key, exc)
    except Exception as exc:  # an engine bug fails its outputs, not the worker
        log.exception("engine %s crashed on job %s", step.key, work.job_id)
        for slot in work.slots:
            if slot.key not in step.done:
                step.fail(slot.key, EngineError(f"Internal engine error: {type(exc).__name__}"))


def _each(engine: Engine, slots: list[OutputSlot], step: _EngineStep, spec_for: SpecFor) -> None:
    for slot in slots:
        if step.stopping():
            return
        try:
            output = call_engine(engine, spec_for(slot))
        except EngineError as exc:
            step.fail(slot.key, exc)
            continue
        except Exception as exc:
            log.exception("engine %s crashed on output %s", step.key, slot.key)
            step.fail(slot.key, EngineError(f"Internal engine error: {type(exc).__name__}"))
            continue
        step.deliver(slot.key, output)


def repaints(engine: object) -> bool:
    """True for engines that redraw the whole photo (their swaps get the garment lock); the
    same test as `garment_lock.repaints`, without importing it."""
    return bool(getattr(engine, "repaints", False))
