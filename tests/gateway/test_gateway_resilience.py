"""A gateway when things go wrong: upstream faults (429, 500, dropped connections), an upstream
restarted mid-job, the gateway killed mid-job and restarted (no second remote job), the
upstream down (the local engine makes the outputs, with a warning), an upstream that repaints
the whole photo (the garment lock), and secrets that never show.

One gateway (`--engine onmodel`, its upstream token read from a file) on the session's upstream
serves most tests; the gateway and the upstream are killed and restarted in place."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.gateway.conftest import (
    Gateway,
    as_dict,
    count,
    onmodel_env,
    photo,
    rows,
    wait_for,
)
from tests.server.conftest import plain_image
from tests.support.server_process import FAKE_ENGINE, ServerProcess, free_port

from vestis.engines.garment_lock import swap_region
from vestis.engines.local.faces import find_face
from vestis.runs.samples import make_pdp_photo

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def gateway_server(
    tmp_path_factory: pytest.TempPathFactory, upstream: ServerProcess
) -> Iterator[ServerProcess]:
    """The upstream token comes from a file (`VESTIS_ONMODEL_TOKEN_FILE`), not the command line
    or the environment."""
    path = tmp_path_factory.mktemp("gateway-resilience")
    token_file = path / "onmodel-token"
    token_file.write_text(upstream.token + "\n")
    env = {**onmodel_env(upstream), "VESTIS_ONMODEL_TOKEN": ""}
    env["VESTIS_ONMODEL_TOKEN_FILE"] = str(token_file)
    with ServerProcess(path, engine="onmodel", env=env) as server:
        yield server


def remote_job_of(gateway: ServerProcess, job_id: str) -> str | None:
    found = rows(gateway, "select engine_state from jobs where public_id = :id", id=job_id)
    state = as_dict(found[0][0]) if found and found[0][0] else {}
    return state.get("onmodel", {}).get("remote_job_id")


def test_the_garment_lock_keeps_every_pixel_outside_the_swap_region(
    gateway_server: ServerProcess,
) -> None:
    source = make_pdp_photo(1)
    buffer = io.BytesIO()
    source.save(buffer, format="PNG")
    gateway = Gateway(gateway_server)
    body = gateway.finish(gateway.swap([("look.png", buffer.getvalue())]))
    (result,) = body["results"]
    made = np.asarray(gateway.image(result).convert("RGB"))

    original = np.asarray(source.convert("RGB"))
    assert made.shape == original.shape  # the 1.25x repaint was aligned back onto the photo
    changed = (made != original).any(axis=2)
    face = find_face(original)
    region = swap_region(original, face)
    assert region is not None
    # the region a swap may change: the photo's face, hair, neck and skin, and the new head's
    # hair, which lies within the head's box (the face's width either side, a face above)
    left, top, right, bottom = face.box
    fw, fh = right - left, bottom - top
    hair = np.zeros_like(region)
    hair[max(0, top - fh - 4) : bottom + fh // 8 + 4, max(0, left - fw - 4) : right + fw + 4] = True
    assert not (changed & ~(region | hair)).any(), "a pixel outside the swap region changed"
    assert changed[region].mean() > 0.2  # the swap itself came through
    assert result["garment_locked_share"] == pytest.approx(1 - changed.mean(), abs=1e-5)
    assert not [w for w in result["warnings"] if w.startswith("garment lock")]


def test_an_upstream_restarted_mid_job_is_followed_to_the_end(
    gateway_server: ServerProcess, upstream: ServerProcess
) -> None:
    gateway = Gateway(gateway_server)
    before = count(upstream, "jobs")
    job_id = gateway.swap([(f"p{i}.jpg", photo(i)) for i in range(4)])
    remote = wait_for(lambda: remote_job_of(gateway_server, job_id), "the remote job id")
    wait_for(
        lambda: rows(
            upstream,
            "select 1 from job_outputs o join jobs j on o.job_id = j.id "
            "where j.public_id = :id and o.status = 'completed'",
            id=remote,
        ),
        "the upstream to make a first output",
    )
    upstream.kill()
    upstream.start()
    body = gateway.finish(job_id)
    assert body["status"] == "completed", body
    assert {r["status"] for r in body["results"]} == {"completed"}
    assert {r["upstream_id"] for r in body["results"]} == {remote}
    assert {r["engine"] for r in body["results"]} == {"onmodel"}
    assert count(upstream, "jobs") == before + 1


def test_a_gateway_killed_mid_job_follows_the_same_remote_job(
    gateway_server: ServerProcess, upstream: ServerProcess
) -> None:
    gateway = Gateway(gateway_server)
    upstream_before, gateway_before = count(upstream, "jobs"), count(gateway_server, "jobs")
    job_id = gateway.swap([(f"p{i}.jpg", photo(i)) for i in range(4)])
    remote = wait_for(lambda: remote_job_of(gateway_server, job_id), "the remote job id")
    gateway_server.kill()  # SIGKILL: nothing gets a chance to clean up
    gateway_server.start()
    body = Gateway(gateway_server).finish(job_id)
    assert body["status"] == "completed", body
    assert {r["upstream_id"] for r in body["results"]} == {remote}
    assert count(upstream, "jobs") - upstream_before == 1
    assert count(gateway_server, "jobs") - gateway_before == 1


def test_upstream_faults_are_retried_without_a_second_remote_job(tmp_path: Path) -> None:
    faults = "429=0.1,500=0.1,drop=0.05,seed=11"
    upstream = ServerProcess(tmp_path / "up", engine=FAKE_ENGINE, faults=faults)
    with upstream:
        env = onmodel_env(upstream, VESTIS_ONMODEL_MAX_RETRIES="8")
        with ServerProcess(tmp_path / "gw", engine="onmodel", env=env) as server:
            gateway = Gateway(server)
            jobs = [gateway.swap([(f"p{i}.jpg", photo(i))]) for i in range(2)]
            bodies = [gateway.finish(job) for job in jobs]
            assert [b["status"] for b in bodies] == ["completed"] * 2
            assert count(upstream, "jobs") == count(server, "jobs") == 2
            assert len({b["results"][0]["upstream_id"] for b in bodies}) == 2


def test_an_upstream_that_is_down_leaves_the_work_to_the_local_engine(tmp_path: Path) -> None:
    env = {
        "VESTIS_ONMODEL_URL": f"http://127.0.0.1:{free_port()}",
        "VESTIS_ONMODEL_TOKEN": "vst_down_upstream_token",
        "VESTIS_ONMODEL_MAX_RETRIES": "1",
    }
    with ServerProcess(tmp_path / "gw", engine="onmodel,local", env=env) as server:
        gateway = Gateway(server)
        body = gateway.finish(gateway.swap([("p.jpg", photo(0))]), timeout=180)
        log = server.log()
    assert body["status"] == "completed", body
    (result,) = body["results"]
    assert result["engine"] == "local" and result["model_used"] == "local"
    assert result["upstream_id"] is None and result["garment_locked_share"] is None
    warning = result["warnings"][0]
    assert warning.startswith("onmodel could not make this output (The On-Model service at")
    assert "could not be reached" in warning and "made by the local engine instead" in warning
    assert "vst_down_upstream_token" not in log + str(body)


def test_secrets_never_show_in_logs_results_or_errors(
    gateway_server: ServerProcess, upstream: ServerProcess, tmp_path: Path
) -> None:
    assert upstream.token not in " ".join(gateway_server.command())
    gateway = Gateway(gateway_server)
    done = gateway.finish(gateway.swap([("ok.jpg", photo(0)), ("blank.jpg", plain_image())]))
    assert sorted(r["status"] for r in done["results"]) == ["completed", "failed"]
    texts = [
        gateway.http.get(f"/jobs/{done['job_id']}/results").text,
        gateway.http.get(f"/jobs/{done['job_id']}/status").text,
        gateway.http.get("/health").text,
    ]
    wrong = {**onmodel_env(upstream), "VESTIS_ONMODEL_TOKEN": "vst_wrong_secret_value"}
    with ServerProcess(tmp_path / "gw-wrong", engine="onmodel", env=wrong) as refused:
        client = Gateway(refused)
        failed = client.finish(client.swap([("ok.jpg", photo(0))]))
        assert failed["status"] == "failed"
        assert "refused this gateway's credentials" in failed["results"][0]["error_message"]
        texts.append(client.http.get(f"/jobs/{failed['job_id']}/results").text)
        logs = gateway_server.log() + refused.log()
    for secret in (upstream.token, "vst_wrong_secret_value"):
        assert secret not in logs
        assert all(secret not in text for text in texts)
