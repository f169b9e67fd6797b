"""The single-folder workflow on the in-memory client: reference outputs, then resume."""

import json
import os
from pathlib import Path

from tests.runs.conftest import draw, make_ctx
from tests.runs.fake_client import FakeClient

from vestis.client import errors
from vestis.runs.batch import run_single
from vestis.runs.folder import FolderRun
from vestis.runs.journal import JOURNAL_NAME, Journal
from vestis.runs.spec import RunSpec

SWAP = RunSpec(kind="swap", identity_code="KnownIdentity")


def test_model_swap_writes_reference_names_and_raw_metadata(pdp: Path, tmp_path: Path):
    client = FakeClient()
    ctx, out = make_ctx(client, SWAP)
    output = tmp_path / "out"
    assert run_single(ctx, pdp, output) == 0
    files = sorted(p.name for p in output.iterdir())
    assert files == [
        JOURNAL_NAME,
        "image1_v0.jpg",
        "image2_v0.jpg",
        "image3_v0.jpg",
        "metadata.json",
    ]
    # The filter and the sorted order reached the server.
    assert client.state.uploads == ["image1.jpg", "image2.jpg", "image3.png"]
    job = client.state.jobs["job_1"]["body"]
    assert job == {
        "project_id": "proj_1",
        "images": job["images"],
        "identity_code": "KnownIdentity",
        "post_process": False,
        "swap_options": {"model": "auto"},
    }
    body = client.jobs.results_raw("job_1")
    assert (output / "metadata.json").read_text() == json.dumps(body, indent=2)
    text = out.getvalue()
    for line in (
        "Found 3 images to upload",
        "Using existing identity: KnownIdentity",
        "Job created: job_1",
        "Downloaded: image1_v0.jpg (model: onda)",
        "Processing complete",
        "Progress: 50.0% - Status: processing",
    ):
        assert line in text


def test_rerun_after_completion_does_nothing(pdp: Path, tmp_path: Path):
    client = FakeClient()
    output = tmp_path / "out"
    assert run_single(make_ctx(client, SWAP)[0], pdp, output) == 0
    stats = {p.name: os.stat(p).st_mtime_ns for p in output.iterdir()}
    ctx, out = make_ctx(client, SWAP)
    assert run_single(ctx, pdp, output) == 0
    assert "Already complete" in out.getvalue()
    assert (len(client.state.uploads), len(client.state.jobs), len(client.state.fetches)) == (
        3,
        1,
        3,
    )
    assert {p.name: os.stat(p).st_mtime_ns for p in output.iterdir()} == stats


def test_crash_while_waiting_resumes_without_a_second_job(pdp: Path, tmp_path: Path):
    client = FakeClient()
    client.state.fail_wait = [errors.APIConnectionError("server went away")]
    output = tmp_path / "out"
    assert run_single(make_ctx(client, SWAP)[0], pdp, output) == 1
    assert Journal.read(output)["job"]["job_id"] == "job_1"
    ctx, out = make_ctx(client, SWAP)
    assert run_single(ctx, pdp, output) == 0
    assert "Resuming job: job_1" in out.getvalue()
    assert len(client.state.jobs) == 1 and client.state.submissions == 1
    assert len(client.state.uploads) == 3


def test_dropped_answer_after_acceptance_reuses_the_idempotency_key(pdp: Path, tmp_path: Path):
    client = FakeClient()
    client.state.drop_after_create = 1  # the job exists server-side, the client never hears
    output = tmp_path / "out"
    assert run_single(make_ctx(client, SWAP)[0], pdp, output) == 1
    assert Journal.read(output)["job"]["job_id"] is None
    assert run_single(make_ctx(client, SWAP)[0], pdp, output) == 0
    assert len(client.state.jobs) == 1 and client.state.submissions == 2


def test_lost_download_is_fetched_again_and_only_it(pdp: Path, tmp_path: Path):
    client = FakeClient()
    output = tmp_path / "out"
    run_single(make_ctx(client, SWAP)[0], pdp, output)
    (output / "image2_v0.jpg").unlink()
    (output / "image3_v0.jpg").write_bytes(b"corrupted")
    keep = os.stat(output / "image1_v0.jpg").st_mtime_ns
    assert run_single(make_ctx(client, SWAP)[0], pdp, output) == 0
    assert len(client.state.fetches) == 5 and len(client.state.jobs) == 1
    assert os.stat(output / "image1_v0.jpg").st_mtime_ns == keep
    assert (output / "image2_v0.jpg").is_file()


def test_changed_input_is_uploaded_again_and_makes_a_new_job(pdp: Path, tmp_path: Path):
    client = FakeClient()
    output = tmp_path / "out"
    run_single(make_ctx(client, SWAP)[0], pdp, output)
    draw(pdp / "image2.jpg", color="green")
    assert run_single(make_ctx(client, SWAP)[0], pdp, output) == 0
    assert client.state.uploads[3:] == ["image2.jpg"]
    assert len(client.state.jobs) == 2


def test_second_variation_does_not_overwrite_and_url_only_results_download(tmp_path: Path):
    folder = tmp_path / "A"
    draw(folder / "image1.jpg")
    client = FakeClient()
    client.state.results_override = [
        {
            "image_index": 0,
            "group_index": 0,
            "version": 0,
            "original_filename": "image1.jpg",
            "status": "completed",
            "output": {"full_size": "http://cdn/a"},
        },
        {
            "image_index": 0,
            "group_index": 1,
            "version": 0,
            "original_filename": "image1.jpg",
            "status": "completed",
            "output": {"full_size": "http://cdn/b"},
        },
        {
            "image_index": 1,
            "version": 0,
            "original_filename": "image9.jpg",
            "status": "completed",
            "url": "http://cdn/c",
        },
        {"image_index": 2, "status": "failed", "error_message": "no face"},
    ]
    client.state.output_format = "PNG"
    ctx, out = make_ctx(client, SWAP)
    assert run_single(ctx, folder, tmp_path / "out") == 1  # an output failed: not complete
    names = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    assert names == ["image1_v0.png", "image1_v0_g1.png", "image9_v0.png"]
    failures = Journal.read(tmp_path / "out")["failures"]
    assert failures == [{"key": "image 3, variation 1", "message": "no face"}]
    assert "Processing incomplete: 1 missing\n  - image 3, variation 1: no face" in out.getvalue()
    # Accepting the folder as it is makes no new job and fetches nothing again.
    fetched = list(client.state.fetches)
    ctx, out = make_ctx(client, SWAP, allow_partial=True)
    assert run_single(ctx, folder, tmp_path / "out") == 0
    assert client.state.submissions == 1 and client.state.fetches == fetched
    assert "Processing complete, 1 missing (accepted with --allow-partial)" in out.getvalue()


def test_flat_names_notes_and_options(tmp_path: Path):
    folder = tmp_path / "SKU1"
    for name in ("a.jpg", "b.jpg", "c.jpg", "d_INTERNAL_.jpg"):
        draw(folder / name)
    client = FakeClient()
    client.state.fail_upload["b.jpg"] = errors.BadRequestError("not an image", status_code=400)
    spec = RunSpec(
        kind="flat",
        identity_code="KnownIdentity",
        model="seedream",
        instructions=[{"pose": "p"}, {"num_variations": 2}],
        image_notes=["note a", "note b", "note c"],
        enhance_consistency=False,
        barefoot=True,
    )
    ctx, out = make_ctx(client, spec, allow_partial=True)  # go on without the refused b.jpg
    assert run_single(ctx, folder, tmp_path / "out") == 0
    body = client.state.jobs["job_1"]["body"]
    names = [client.state.file_names[i["file_id"]] for i in body["images"]]
    assert names == ["a.jpg", "c.jpg", "d_INTERNAL_.jpg"]  # flat applies no name filter
    # b failed: its note went with it; c keeps its own note (the reference shifts it).
    assert [i.get("note") for i in body["images"]] == ["note a", "note c", None]
    assert body["options"] == {"model": "seedream", "use_anchor": False, "barefoot": True}
    assert "post_process" not in body
    outputs = sorted(p.name for p in (tmp_path / "out").glob("output_*"))
    assert outputs == ["output_0_0_v0.jpg", "output_1_0_v0.jpg", "output_1_1_v0.jpg"]
    text = out.getvalue()
    assert "Found 4 SKU images to upload" in text and "Job created: job_1 (3 outputs)" in text
    assert "Successfully uploaded 3/4 SKU images" in text
    assert "Downloading results..." in text


def test_transient_upload_failure_fails_the_folder_then_resumes(pdp: Path, tmp_path: Path):
    client = FakeClient()
    client.state.fail_upload["image2.jpg"] = errors.InternalServerError("boom", status_code=500)
    run = FolderRun(make_ctx(client, SWAP)[0], pdp, tmp_path / "out").run()
    assert not run.ok and run.transient and not client.state.jobs
    assert FolderRun(make_ctx(client, SWAP)[0], pdp, tmp_path / "out").run().ok
    assert sorted(client.state.uploads) == ["image1.jpg", "image2.jpg", "image3.png"]


def test_failures_have_the_reference_messages(tmp_path: Path):
    client = FakeClient()
    ctx, out = make_ctx(client, SWAP)
    assert run_single(ctx, tmp_path / "missing", tmp_path / "o") == 1
    assert "Input folder not found:" in out.getvalue() and "Checked path:" in out.getvalue()
    empty = tmp_path / "empty"
    draw(empty / "only_NONMODEL_.jpg")
    ctx, out = make_ctx(client, SWAP)
    assert run_single(ctx, empty, tmp_path / "o") == 1
    assert f"No processable images found in {empty}" in out.getvalue()
    ctx, out = make_ctx(client, RunSpec(kind="swap", identity_code="Unknown"))
    draw(empty / "ok.jpg")
    assert run_single(ctx, empty, tmp_path / "o") == 1
    assert "Identity code 'Unknown' not found on this server" in out.getvalue()
    client.state.job_status = "failed"
    ctx, out = make_ctx(client, SWAP)
    assert run_single(ctx, empty, tmp_path / "o2") == 1
    # the server's reason ends the folder's error line, and is said once
    assert "Job did not complete successfully (status: failed): engine refused" in out.getvalue()
    assert out.getvalue().count("engine refused") == 1
    assert not (tmp_path / "o2" / "metadata.json").exists()


def test_identity_image_fallback(pdp: Path, tmp_path: Path):
    client = FakeClient()
    image = draw(tmp_path / "ids" / "Lisa.jpg")
    spec = RunSpec(kind="swap", identity_code="Unknown", identity_image=image)
    assert run_single(make_ctx(client, spec)[0], pdp, tmp_path / "o") == 0
    assert client.state.jobs["job_1"]["body"]["identity_code"] == "ident_Lisa"


def test_identity_network_error_is_transient_and_not_remembered(pdp: Path, tmp_path: Path):
    client = FakeClient()
    client.state.fail_identity = [errors.APIConnectionError("down")]
    ctx, _ = make_ctx(client, SWAP)
    first = FolderRun(ctx, pdp, tmp_path / "out").run()
    assert not first.ok and first.transient
    assert FolderRun(ctx, pdp, tmp_path / "out").run().ok  # same context: asks again
    assert len(client.state.uploads) == 3  # the uploads of the first attempt were kept


def test_more_images_than_a_job_takes_fails_before_uploading(tmp_path: Path):
    folder = tmp_path / "BIG"
    for index in range(11):
        draw(folder / f"image{index:02d}.jpg")
    client = FakeClient()
    ctx, out = make_ctx(client, SWAP)
    assert run_single(ctx, folder, tmp_path / "out") == 1
    assert "11 images" in out.getvalue() and "at most 10" in out.getvalue()
    assert client.state.uploads == []
