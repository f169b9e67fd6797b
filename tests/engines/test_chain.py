"""The engine chain: routing by model, fallback on failures that are not the user's (with a
warning naming both engines), never on the user's own errors; whole jobs split between a
job-level engine and a per-output one; `--engine` lists parsed into chains."""

from __future__ import annotations

from typing import Any

import pytest
from PIL import Image
from tests.engines.remote.conftest import RecordingContext, swap_work
from tests.support.fake_engine import FakeEngine

from vestis.engines.base import (
    EngineError,
    EngineOutput,
    JobContext,
    JobWork,
    OutputSlot,
    SwapSpec,
    UpstreamError,
)
from vestis.engines.chain import EngineChain, run_job_on_chain
from vestis.server.process.engine_loader import load_chain

PHOTO = Image.new("RGB", (60, 80), (120, 90, 60))
PHOTO.paste((200, 170, 150), (20, 10, 40, 30))  # not one colour: the fake engine finds a face


class Remote:
    """A job-level engine double: fails the slots named in `refuse` with the given errors."""

    name = "remote"
    models = {"model_swap": frozenset({"auto", "onda"}), "flat_2_model": frozenset({"auto"})}

    def __init__(self, refuse: dict[str, EngineError] | None = None, down: bool = False) -> None:
        self.refuse = refuse or {}
        self.down = down
        self.seen: list[list[str]] = []
        self.states: list[dict[str, Any]] = []

    def detect_face(self, image: Image.Image) -> Any:
        raise NotImplementedError

    def model_swap(self, spec: SwapSpec) -> EngineOutput:
        if self.down:
            raise UpstreamError("the upstream is down")
        return EngineOutput(spec.target, "onda")

    def flat_to_model(self, spec: Any) -> EngineOutput:
        raise NotImplementedError

    def generate_identity(self, spec: SwapSpec) -> EngineOutput:
        raise NotImplementedError

    def run_job(self, work: JobWork, context: JobContext) -> None:
        self.seen.append([slot.key for slot in work.slots])
        self.states.append(work.state)
        context.save_state({"remote_job_id": "rjob_1"})
        if self.down:
            raise UpstreamError("the upstream is down")
        for slot in work.slots:
            if slot.key in self.refuse:
                context.fail(slot.key, self.refuse[slot.key])
            else:
                context.deliver(slot.key, EngineOutput(PHOTO, "onda", upstream_id="rjob_1"))


def spec_for(slot: OutputSlot) -> SwapSpec:
    return SwapSpec(target=PHOTO, identity=PHOTO, seed=1)


def test_routing_by_model() -> None:
    remote, local = Remote(), FakeEngine()
    chain = EngineChain([remote, local])
    assert chain.name == "remote,fake"
    assert chain.route("model_swap", "auto") == [remote, local]
    assert chain.route("model_swap", "onda") == [remote, local]
    # a model the remote does not offer goes to the first engine that does: the local one
    assert chain.route("model_swap", "nano_banana_pro") == [local, remote]
    assert EngineChain([local, remote]).route("model_swap", "auto") == [local, remote]


def test_one_output_falls_back_on_upstream_failures_only() -> None:
    chain = EngineChain([Remote(down=True), FakeEngine()])
    made = chain.model_swap(SwapSpec(target=PHOTO, identity=PHOTO, seed=1))
    assert made.engine == "fake"
    assert made.warnings[0].startswith("remote could not make this output (the upstream is down)")
    assert "made by the fake engine instead" in made.warnings[0]
    with pytest.raises(EngineError, match="No face"):
        chain.model_swap(SwapSpec(target=Image.new("RGB", (8, 8)), identity=PHOTO, seed=1))
    with pytest.raises(UpstreamError):
        EngineChain([Remote(down=True)]).model_swap(SwapSpec(target=PHOTO, identity=PHOTO, seed=1))


def test_a_whole_job_splits_between_the_remote_and_the_local_engine() -> None:
    refuse = {
        "out0_0": UpstreamError("On-Model: content refused"),
        "out1_0": EngineError("No face found in the target photo"),
    }
    remote = Remote(refuse)
    context = RecordingContext()
    work = swap_work("job_chain", inputs=3)
    run_job_on_chain([remote, FakeEngine()], work, context, spec_for)

    assert remote.seen == [["out0_0", "out1_0", "out2_0"]]
    assert context.outputs["out2_0"].engine == "remote"
    assert context.outputs["out2_0"].warnings == []
    moved = context.outputs["out0_0"]
    assert moved.engine == "fake"
    assert "remote could not make this output (On-Model: content refused)" in moved.warnings[0]
    assert str(context.errors["out1_0"]).startswith("No face")  # the user's: no fallback
    assert context.state == {"remote": {"remote_job_id": "rjob_1"}}


def test_a_down_upstream_sends_the_whole_job_to_the_next_engine_and_resumes_its_state() -> None:
    remote = Remote(down=True)
    context = RecordingContext()
    work = swap_work("job_down", inputs=2)
    work = JobWork(**{**work.__dict__, "state": {"remote": {"idempotency_key": "k"}}})
    run_job_on_chain([remote, FakeEngine()], work, context, spec_for)
    assert remote.states == [{"idempotency_key": "k"}]
    assert sorted(context.outputs) == ["out0_0", "out1_0"]
    assert all(o.engine == "fake" for o in context.outputs.values())
    # alone, a down upstream fails the outputs with its own message
    alone = RecordingContext()
    run_job_on_chain([Remote(down=True)], swap_work("job_alone", inputs=1), alone, spec_for)
    assert isinstance(alone.errors["out0_0"], UpstreamError)


def test_engine_lists_become_chains(monkeypatch: pytest.MonkeyPatch) -> None:
    chain = load_chain("tests.support.fake_engine:FakeEngine")
    assert chain.name == "fake"
    with pytest.raises(ValueError, match="twice"):
        load_chain("local,local")
    for name in ("VESTIS_ONMODEL_TOKEN", "VESTIS_ONMODEL_USERNAME", "VESTIS_ONMODEL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name + "_FILE", raising=False)
    with pytest.raises(ValueError, match="VESTIS_ONMODEL_TOKEN"):
        load_chain("onmodel,local")
    monkeypatch.setenv("VESTIS_ONMODEL_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("VESTIS_ONMODEL_TOKEN", "vst_x")
    assert load_chain("onmodel, local").name == "onmodel,local"
