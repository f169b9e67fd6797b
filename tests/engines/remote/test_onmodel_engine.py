"""OnModelEngine against a real upstream `vestis serve` (FakeEngine): one remote job per job,
options passed through, identities uploaded once per account, checkpoints that make a restart
follow the same remote job, and failures sorted into the user's and the upstream's."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.engines.remote.conftest import (
    RecordingContext,
    flat_work,
    swap_work,
    upstream_rows,
)
from tests.server.conftest import plain_image
from tests.support.server_process import ServerProcess, free_port

from vestis.engines.base import EngineError, JobFile, UpstreamError
from vestis.engines.remote import OnModelAccount, OnModelEngine


def engine_for(server: ServerProcess, **overrides: Any) -> OnModelEngine:
    settings: dict[str, Any] = {"poll_interval": 0.2, "max_retries": 3, "job_rate": None}
    settings.update(overrides)
    return OnModelEngine(OnModelAccount(server.base_url, token=server.token, **settings))


def remote_request(server: ServerProcess, job_id: str) -> dict[str, Any]:
    """The request as the upstream stored it, without the defaults it filled in as null."""
    (row,) = upstream_rows(server, f"select request from jobs where public_id = '{job_id}'")
    value = row[0]
    return _without_nulls(json.loads(value) if isinstance(value, str) else value)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def count(server: ServerProcess, table: str) -> int:
    return int(upstream_rows(server, f"select count(*) from {table}")[0][0])


def test_model_swap_passes_every_option_through(upstream: ServerProcess) -> None:
    engine = engine_for(upstream)
    options = {"model": "nano_banana_2", "use_anchor": True, "add_ai_watermark": True}
    work = swap_work("job_opts", variations=2, options=options, post_process=True)
    context = RecordingContext()

    engine.run_job(work, context)

    assert not context.errors
    assert sorted(context.outputs) == sorted(slot.key for slot in work.slots)
    remote_id = context.state["remote_job_id"]
    sent = remote_request(upstream, remote_id)
    assert sent["post_process"] is True
    assert sent["swap_options"] == {
        "model": "nano_banana_2",
        "num_variations": 2,
        "add_ai_watermark": True,
        "use_anchor": True,
    }
    assert sent["images"] == [context.state["files"][f] for f in ("file0", "file1")]
    for output in context.outputs.values():
        assert output.model_used == "nano_banana_2"
        assert output.upstream_id == remote_id
        assert output.upstream_credits == 1.0
        assert "fake engine: post-processing is a no-op" in output.warnings
        assert output.image.size == (120, 160)
    # the watermark of the upstream is in the picture: its dark box in the bottom-right corner
    marked = context.outputs["out0_0"].image
    assert max(marked.getpixel((marked.width - 10, marked.height - 8))) < 40


def test_flat_to_model_passes_instructions_notes_and_options(upstream: ServerProcess) -> None:
    engine = engine_for(upstream)
    instructions = [
        {"pose": "walking", "background": "urban street", "num_variations": 2},
        {"camera": {"framing": "full body", "angle": "low"}, "options": {"ar": "9:16"}},
    ]
    options = {"model": "seedream", "use_anchor": False, "barefoot": True}
    work = flat_work(instructions=instructions, notes=["tucked in", None], options=options)
    context = RecordingContext()

    engine.run_job(work, context)

    assert not context.errors
    assert len(context.outputs) == 3
    sent = remote_request(upstream, context.state["remote_job_id"])
    files = context.state["files"]
    assert sent["images"] == [
        {"file_id": files["sku0"], "note": "tucked in"},
        {"file_id": files["sku1"]},
    ]
    assert sent["options"]["model"] == "seedream"
    assert sent["options"]["use_anchor"] is False and sent["options"]["barefoot"] is True
    assert sent["instructions"][0]["pose"] == "walking"
    assert sent["instructions"][0]["num_variations"] == 2
    assert sent["instructions"][1]["camera"] == {"framing": "full body", "angle": "low"}
    assert sent["instructions"][1]["options"]["ar"] == "9:16"
    assert {o.model_used for o in context.outputs.values()} == {"seedream"}
    assert context.outputs["flat1_0"].image.size == (576, 1024)  # 9:16 at 1K
    assert context.outputs["flat0_0"].upstream_credits == 2.0


def test_identity_is_uploaded_once_per_account(upstream: ServerProcess) -> None:
    engine = engine_for(upstream)
    memo: dict[str, str] = {}
    before = count(upstream, "identities")
    first, second = RecordingContext(memo), RecordingContext(memo)
    engine.run_job(swap_work("job_id1", inputs=1, seed=31), first)
    engine.run_job(swap_work("job_id2", inputs=1, seed=31), second)
    assert count(upstream, "identities") == before + 1
    codes = {
        remote_request(upstream, c.state["remote_job_id"])["identity_code"] for c in (first, second)
    }
    assert len(codes) == 1
    # another gateway (nothing remembered) uploads the same image: the 409 is reuse
    third = RecordingContext()
    engine.run_job(swap_work("job_id3", inputs=1, seed=31), third)
    assert count(upstream, "identities") == before + 1
    assert remote_request(upstream, third.state["remote_job_id"])["identity_code"] in codes
    assert list(third.memo.values()) == list(codes)


def test_a_restart_follows_the_same_remote_job(upstream: ServerProcess) -> None:
    engine = engine_for(upstream)
    work = swap_work("job_resume")
    first = RecordingContext()
    engine.run_job(work, first)
    jobs_before = count(upstream, "jobs")
    files_before = count(upstream, "files")

    # the gateway died after the remote job was accepted: the checkpoint names it
    resumed = RecordingContext()
    engine.run_job(type(work)(**{**work.__dict__, "state": first.state}), resumed)
    assert sorted(resumed.outputs) == sorted(first.outputs)
    assert {o.upstream_id for o in resumed.outputs.values()} == {first.state["remote_job_id"]}

    # the gateway died after sending the creation but before storing the answer: the same
    # Idempotency-Key gets the same job, uploads are not repeated
    lost_answer = {k: v for k, v in first.state.items() if k != "remote_job_id"}
    again = RecordingContext()
    engine.run_job(type(work)(**{**work.__dict__, "state": lost_answer}), again)
    assert again.state["remote_job_id"] == first.state["remote_job_id"]
    assert count(upstream, "jobs") == jobs_before
    assert count(upstream, "files") == files_before


def test_failures_are_sorted_into_the_users_and_the_upstreams(upstream: ServerProcess) -> None:
    engine = engine_for(upstream)
    work = swap_work("job_faceless", inputs=2)
    work.files["file1"] = JobFile("file1", "blank.jpg", plain_image())
    context = RecordingContext()
    engine.run_job(work, context)
    assert "out0_0" in context.outputs
    error = context.errors["out1_0"]
    assert type(error) is EngineError and "No face found" in str(error)

    refused = flat_work(instructions=[{"prompt": "FAIL please"}], notes=[None])
    context = RecordingContext()
    engine.run_job(refused, context)
    assert isinstance(context.errors["flat0_0"], UpstreamError)


def test_an_unreachable_upstream_is_an_upstream_error(tmp_path: object) -> None:
    account = OnModelAccount(
        f"http://127.0.0.1:{free_port()}", token="vst_secret_token", max_retries=0, job_rate=None
    )
    with pytest.raises(UpstreamError) as caught:
        OnModelEngine(account).run_job(swap_work("job_down"), RecordingContext())
    assert "could not be reached" in str(caught.value)
    assert "vst_secret_token" not in str(caught.value)
