"""A gateway (`vestis serve --engine onmodel,local`) in front of an upstream vestis server:
model swap and flat-to-model end to end with every option passed through, one remote job per
job, identities uploaded once, the reference scripts and the FASHN SDK as against one server."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.gateway.conftest import (
    Gateway,
    as_dict,
    count,
    encoded,
    identity_bytes,
    onmodel_env,
    photo,
    rows,
)
from tests.server.reference_client import ReferenceScript
from tests.support.server_process import ServerProcess

from vestis.client.fashn import FashnClient
from vestis.runs.samples import make_flat_lay, make_identity_image, make_pdp_photo

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def gateway_server(
    tmp_path_factory: pytest.TempPathFactory, upstream: ServerProcess
) -> Iterator[ServerProcess]:
    path = tmp_path_factory.mktemp("gateway")
    with ServerProcess(path, engine="onmodel,local", env=onmodel_env(upstream)) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(gateway_server: ServerProcess) -> Iterator[Gateway]:
    client = Gateway(gateway_server)
    yield client
    client.http.close()


def upstream_request(upstream: ServerProcess, remote_id: str) -> dict:
    (row,) = rows(upstream, "select request from jobs where public_id = :id", id=remote_id)
    return as_dict(row[0])


def test_model_swap_with_variations_and_every_option(
    gateway: Gateway, upstream: ServerProcess
) -> None:
    jobs_before = count(upstream, "jobs")
    options = {
        "post_process": True,
        "swap_options": {
            "model": "nano_banana_2",
            "num_variations": 2,
            "use_anchor": True,
            "add_ai_watermark": True,
        },
    }
    job_id = gateway.swap([("image1.jpg", photo(0)), ("image2.png", photo(1, "PNG"))], **options)
    body = gateway.finish(job_id)

    assert body["status"] == "completed", body
    assert count(upstream, "jobs") == jobs_before + 1  # one remote job, not one per output
    results = body["results"]
    assert len(results) == 4 and {r["status"] for r in results} == {"completed"}
    remote_id = results[0]["upstream_id"]
    sent = upstream_request(upstream, remote_id)
    assert sent["post_process"] is True
    assert sent["swap_options"] == {**options["swap_options"]}
    for result in results:
        assert result["engine"] == "onmodel"
        assert result["model_used"] == "nano_banana_2"
        assert result["upstream_id"] == remote_id
        assert result["upstream_credits"] == 1.0
        assert "fake engine: post-processing is a no-op" in result["warnings"]
        assert 0 < result["garment_locked_share"] <= 1
    assert {(r["image_index"], r["group_index"]) for r in results} == {
        (0, 0), (0, 1), (1, 0), (1, 1)
    }  # fmt: skip
    png = next(r for r in results if r["original_filename"] == "image2.png")
    assert gateway.image(png).format == "PNG"


def test_flat_to_model_with_instructions_notes_and_options(
    gateway: Gateway, upstream: ServerProcess
) -> None:
    garments = [
        ("top.jpg", encoded(make_flat_lay("top", (30, 90, 160))), "tucked in"),
        ("pants.png", encoded(make_flat_lay("bottom"), "PNG"), None),
    ]
    instructions = [
        {"pose": "walking", "background": "urban street", "num_variations": 2},
        {"camera": {"framing": "full body"}, "options": {"ar": "9:16", "format": "png"}},
    ]
    options = {
        "options": {
            "model": "seedream",
            "use_anchor": False,
            "anchor_index": 1,
            "barefoot": True,
            "add_ai_watermark": True,
        }
    }
    body = gateway.finish(gateway.flat(garments, instructions, **options))

    assert body["status"] == "completed", body
    results = body["results"]
    assert len(results) == 3
    sent = upstream_request(upstream, results[0]["upstream_id"])
    assert sent["options"]["model"] == "seedream"
    assert sent["options"]["use_anchor"] is False and sent["options"]["barefoot"] is True
    assert sent["options"]["anchor_index"] == 1 and sent["options"]["add_ai_watermark"] is True
    assert sent["images"][0]["note"] == "tucked in" and sent["images"][1].get("note") is None
    assert sent["instructions"][0]["pose"] == "walking"
    assert sent["instructions"][1]["camera"]["framing"] == "full body"
    assert {r["model_used"] for r in results} == {"seedream"}
    assert {r["garment_locked_share"] for r in results} == {None}  # not a swap: no lock
    last = next(r for r in results if r["group_index"] == 1)
    assert last["original_filename"] == "output_1_0.png"
    assert gateway.image(last).size == (576, 1024)


def test_an_identity_is_uploaded_upstream_once(gateway: Gateway, upstream: ServerProcess) -> None:
    before = count(upstream, "identities")
    first = gateway.finish(gateway.swap([("a.jpg", photo(2))]))
    second = gateway.finish(gateway.swap([("b.jpg", photo(3))]))
    assert count(upstream, "identities") <= before + 1
    codes = {
        upstream_request(upstream, body["results"][0]["upstream_id"])["identity_code"]
        for body in (first, second)
    }
    assert len(codes) == 1
    remembered = rows(gateway.server, "select value from engine_memos")
    assert [r[0] for r in remembered] == list(codes)


def test_the_reference_scripts_run_through_the_gateway(
    gateway_server: ServerProcess, tmp_path: Path
) -> None:
    article = tmp_path / "ARTICLE123"
    article.mkdir()
    (article / "image1.jpg").write_bytes(photo(4))
    (article / "image2.png").write_bytes(photo(5, "PNG"))
    (article / "image3_INTERNAL_.jpg").write_bytes(photo(6))
    identity = tmp_path / "Anna.jpg"
    identity.write_bytes(identity_bytes())
    script = ReferenceScript(gateway_server.base_url, token=gateway_server.token)
    run = script.model_swap(article, tmp_path / "out", identity_image=identity)
    assert sorted(run.files) == ["image1_v0.jpg", "image2_v0.png"]
    assert run.statuses[-1] == ("completed", 100.0)
    assert any(line.endswith("(model: onda)") for line in run.log)

    by_login = ReferenceScript(
        gateway_server.base_url, login=(gateway_server.username, gateway_server.password)
    )
    again = by_login.model_swap(article, tmp_path / "out-login", identity_image=identity)
    assert sorted(again.files) == ["image1_v0.jpg", "image2_v0.png"]

    skus = tmp_path / "SKU-1"
    skus.mkdir()
    (skus / "shirt.jpg").write_bytes(encoded(make_flat_lay("top")))
    instructions = [{"pose": "standing"}, {"background": "white", "num_variations": 2}]
    flat = script.flat_to_model(skus, tmp_path / "flat", instructions, identity_image=identity)
    assert sorted(flat.files) == ["output_0_0_v0.jpg", "output_1_0_v0.jpg", "output_1_1_v0.jpg"]


def test_the_fashn_sdk_runs_through_the_gateway(gateway_server: ServerProcess) -> None:
    from tests.fashn.conftest import data_uri

    with FashnClient(gateway_server.token, base_url=gateway_server.base_url) as fashn:
        started = fashn.model_swap(
            {
                "model_image": data_uri(make_pdp_photo(7)),
                "face_reference": data_uri(make_identity_image()),
                "num_images": 2,
            }
        )
        final = fashn.wait(started.id, poll_interval=0.2, timeout=120)
        assert final.status == "completed", final
        assert final.credits_used == 8
        images = [fashn.download(url) for url in final.output or []]
    assert len(images) == 2 and all(data[:8] == b"\x89PNG\r\n\x1a\n" for data in images)


OFFICIAL_SDK_RUN = """
import json, sys
from fashn import Fashn

base_url, token, person, product, face = json.load(sys.stdin)
sdk = Fashn(api_key=token, base_url=base_url)
done = []
for name, inputs in (
    ("model-swap", {"model_image": person, "face_reference": face,
                    "face_reference_mode": "match_base"}),
    ("product-to-model", {"product_image": product, "face_reference": face,
                          "aspect_ratio": "3:4"}),
):
    final = sdk.predictions.subscribe(
        model_name=name, inputs=inputs, poll_interval=200, timeout=120_000
    )
    done.append({"status": final.status, "output": final.output})
print(json.dumps(done))
"""


def test_fashns_own_sdk_runs_through_the_gateway(
    gateway_server: ServerProcess, tmp_path: Path
) -> None:
    """FASHN's official Python SDK (`fashn` on PyPI), unchanged, against the gateway. It runs
    in a process of its own: under pytest `fashn` would name the tests' own package."""
    from tests.fashn.conftest import data_uri

    script = tmp_path / "official_sdk.py"
    script.write_text(OFFICIAL_SDK_RUN)
    person, face = data_uri(make_pdp_photo(8)), data_uri(make_identity_image())
    product = data_uri(make_flat_lay("top", (30, 90, 160)))
    given = [gateway_server.base_url, gateway_server.token, person, product, face]
    done = subprocess.run(
        [sys.executable, str(script)],
        input=json.dumps(given), capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    swapped, dressed = json.loads(done.stdout)
    assert swapped["status"] == dressed["status"] == "completed", done.stdout
    assert swapped["output"][0].startswith(gateway_server.base_url)
    assert len(dressed["output"]) == 1


def test_usage_sums_the_upstream_credits_per_user_and_engine(
    gateway_server: ServerProcess, gateway: Gateway
) -> None:
    gateway.finish(gateway.swap([("usage.jpg", photo(9))]))
    data = ["--data-dir", str(gateway_server.data_dir), *gateway_server.db_args()]
    lines = gateway_server.cli("usage", *data, "--json").stdout.splitlines()
    usage = {(row["user"], row["engine"]): row for row in map(json.loads, lines)}
    spent = rows(
        gateway_server,
        "select coalesce((select sum(upstream_credits) from job_outputs), 0) + "
        "coalesce((select sum(upstream_credits) from fashn_predictions), 0)",
    )[0][0]
    made = usage[("tester", "onmodel")]
    assert spent > 0 and made["upstream_credits"] == pytest.approx(spent)
    # FASHN API predictions the gateway ran upstream (the SDK tests above) count too
    for engine, credits in rows(
        gateway_server, "select engine, upstream_credits from fashn_predictions"
    ):
        assert engine == "onmodel" and credits > 0
    table = gateway_server.cli("usage", *data).stdout
    assert "tester" in table and "onmodel" in table


def test_an_upstream_running_the_local_engine(tmp_path: Path) -> None:
    """The upstream does real image work (the local engine): the swapped face comes back
    through the gateway, the garments are the photo's."""
    upstream = ServerProcess(tmp_path / "up", engine="local")
    with (
        upstream,
        ServerProcess(
            tmp_path / "gw", engine="onmodel", env=onmodel_env(upstream.start())
        ) as server,
    ):
        gateway = Gateway(server)
        body = gateway.finish(gateway.swap([("look.png", photo(0, "PNG"))]), timeout=180)
        (result,) = body["results"]
        assert body["status"] == "completed", body
        assert result["model_used"] == "local" and result["engine"] == "onmodel"
        made = np.asarray(gateway.image(result).convert("RGB"))
    original = np.asarray(make_pdp_photo(0).convert("RGB"))
    changed = (made != original).any(axis=2)
    assert 0.005 < changed.mean() < 0.2  # a new face; the rest of the photo as it was
    assert not changed[int(original.shape[0] * 0.75) :].any()  # the trousers, bit for bit


def test_an_output_the_upstream_refuses_is_made_by_the_local_engine(gateway: Gateway) -> None:
    """Refused content is not the user's fault: that output moves to the next engine of the
    chain, with a warning; the job's other outputs stay the upstream's."""
    garments = [("top.jpg", encoded(make_flat_lay("top", (30, 90, 160))), None)]
    instructions = [{"pose": "standing"}, {"prompt": "FAIL: the upstream refuses this one"}]
    body = gateway.finish(gateway.flat(garments, instructions), timeout=180)
    assert body["status"] == "completed", body
    made = {r["group_index"]: r for r in body["results"]}
    assert made[0]["engine"] == "onmodel" and made[0]["warnings"] == []
    moved = made[1]
    assert moved["status"] == "completed"
    assert moved["engine"] == "local" and moved["model_used"] == "local"
    assert moved["upstream_id"] is None
    warning = moved["warnings"][0]
    assert warning.startswith("onmodel could not make this output (On-Model: The instruction")
    assert warning.endswith("it was made by the local engine instead")
