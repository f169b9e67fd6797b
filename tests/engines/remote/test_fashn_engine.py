"""FashnEngine against a real vestis server's `/v1` (FakeEngine): a run per photo and per
instruction, the prompt and warnings of product-to-model, outputs of exactly the asked size,
checkpointed prediction ids, no blind re-send, OutOfCredits that stops; the account gates."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.engines.remote.conftest import RecordingContext, flat_work, swap_work, upstream_rows
from tests.support.server_process import ServerProcess

from vestis.engines.base import JobWork, UpstreamError
from vestis.engines.remote import FashnAccount, FashnEngine
from vestis.engines.remote.gate import AccountGate


def engine_for(server: ServerProcess, token: str | None = None, **overrides: Any) -> FashnEngine:
    settings: dict[str, Any] = {"poll_interval": 0.1, "max_retries": 2}
    settings.update(overrides)
    account = FashnAccount(server.base_url, api_key=token or server.token, **settings)
    return FashnEngine(account)


def predictions(server: ServerProcess) -> int:
    return int(upstream_rows(server, "select count(*) from fashn_predictions")[0][0])


def test_model_swap_runs_once_per_photo_with_its_variations(upstream: ServerProcess) -> None:
    before = predictions(upstream)
    work = swap_work("job_fashn_swap", inputs=2, variations=2, post_process=True)
    context = RecordingContext()
    engine_for(upstream).run_job(work, context)

    assert not context.errors
    assert sorted(context.outputs) == sorted(s.key for s in work.slots)
    assert predictions(upstream) == before + 2
    ids = {key: out.upstream_id for key, out in context.outputs.items()}
    assert ids["out0_0"] == ids["out0_1"] != ids["out1_0"] == ids["out1_1"]
    assert set(context.state["runs"]) == {"swap:0:0", "swap:1:0"}
    for output in context.outputs.values():
        assert output.model_used == "fashn:model-swap"
        assert output.upstream_credits == 4.0  # 8 credits for 2 images with a face reference
        assert any("post_process" in w for w in output.warnings)
        assert output.image.size == (120, 160)
    # the variations differ (the fake engine's marker follows the variation)
    assert context.outputs["out0_0"].image.tobytes() != context.outputs["out0_1"].image.tobytes()


def test_product_to_model_prompt_warnings_and_exact_size(upstream: ServerProcess) -> None:
    instructions = [
        {"pose": "walking", "background": "white studio", "mood": 3, "num_variations": 2},
    ]
    work = flat_work("job_fashn_flat", instructions=instructions, notes=["tucked in", None])
    context = RecordingContext()
    engine_for(upstream).run_job(work, context)

    assert not context.errors
    assert len(context.outputs) == 2
    output = context.outputs["flat0_0"]
    assert output.model_used == "fashn:product-to-model"
    assert output.image.size == (768, 1024)
    warnings = " | ".join(output.warnings)
    assert "saved Design Value (#3)" in warnings
    assert "2 garment photos were sent side by side" in warnings
    assert "use_anchor" in warnings
    (row,) = upstream_rows(
        upstream, f"select inputs from fashn_predictions where public_id = '{output.upstream_id}'"
    )
    sent = row[0] if isinstance(row[0], dict) else json.loads(row[0])
    assert sent["prompt"] == "pose: walking. background: white studio. styling: tucked in"
    assert sent["product_image"] == "<base64>" and sent["face_reference"] == "<base64>"
    assert sent["num_images"] == 2 and sent["aspect_ratio"] == "3:4"


def _with_state(work: JobWork, state: dict[str, Any]) -> JobWork:
    return JobWork(**{**work.__dict__, "state": state})


def test_a_restart_follows_the_prediction_and_never_resends_blindly(
    upstream: ServerProcess,
) -> None:
    engine = engine_for(upstream)
    work = swap_work("job_fashn_resume", inputs=1)
    first = RecordingContext()
    engine.run_job(work, first)
    before = predictions(upstream)

    followed = RecordingContext()
    engine.run_job(_with_state(work, first.state), followed)
    assert followed.outputs["out0_0"].upstream_id == first.outputs["out0_0"].upstream_id
    assert predictions(upstream) == before

    # died between sending /v1/run and storing its answer: not sent again
    unsure = RecordingContext()
    engine.run_job(_with_state(work, {"runs": {"swap:0:0": {"sending": True}}}), unsure)
    error = unsure.errors["out0_0"]
    assert isinstance(error, UpstreamError) and "not sent again" in str(error)
    assert predictions(upstream) == before


def test_out_of_credits_stops_and_says_so(upstream: ServerProcess) -> None:
    poor = upstream.add_user("poor", "poor-password", credits=3)
    engine = engine_for(upstream, token=poor)
    context = RecordingContext()
    engine.run_job(swap_work("job_poor", inputs=1), context)
    error = context.errors["out0_0"]
    assert isinstance(error, UpstreamError) and "out of credits" in str(error)
    before = predictions(upstream)
    again = RecordingContext()
    engine.run_job(swap_work("job_poor2", inputs=1), again)
    assert "out of credits" in str(again.errors["out0_0"])
    assert predictions(upstream) == before


def test_a_full_gate_waits_and_a_stopping_server_is_not_kept_waiting() -> None:
    gate = AccountGate("1/hour")
    assert gate.acquire()
    assert gate.acquire(stopping=lambda: True) is False
    paused = AccountGate(None)
    paused.close_for(3600)
    assert paused.wait_open(stopping=lambda: True) is False
    with pytest.raises(ValueError):
        AccountGate("often")


def test_a_turn_is_counted_only_once_the_upstream_accepted() -> None:
    gate = AccountGate("1/hour")
    with pytest.raises(RuntimeError), gate.turn() as mine:
        assert mine
        raise RuntimeError("429: refused, not counted")
    with gate.turn() as mine:
        assert mine  # still room: the refused call was not counted
    with gate.turn(stopping=lambda: True) as mine:
        assert mine is False  # full now, and the server is stopping
