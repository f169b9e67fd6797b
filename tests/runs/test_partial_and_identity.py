"""What a run checks before it sends anything, what it does with inputs and outputs it cannot
have (stop, or with --allow-partial go on and list them), and what it says about warnings and
the identity (in-memory client)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image
from tests.runs.conftest import draw, make_ctx
from tests.runs.fake_client import FakeClient, FakeState

from vestis.client import errors
from vestis.runs.batch import run_batch, run_single
from vestis.runs.folder import FolderRun
from vestis.runs.inputs import unusable
from vestis.runs.journal import Journal
from vestis.runs.spec import RunSpec

SWAP = RunSpec(kind="swap", identity_code="KnownIdentity")


def _folder_with_a_text_file(tmp_path: Path) -> Path:
    folder = tmp_path / "A"
    draw(folder / "good.jpg")
    (folder / "text.jpg").write_text("not an image at all")
    return folder


def test_an_unreadable_image_stops_the_folder_before_anything_is_sent(tmp_path: Path):
    client = FakeClient()
    ctx, out = make_ctx(client, SWAP)
    assert run_single(ctx, _folder_with_a_text_file(tmp_path), tmp_path / "out") == 1
    assert client.state.uploads == [] and client.state.jobs == {}
    text = out.getvalue()
    assert "1 of 2 images in" in text and "text.jpg: not a readable image" in text
    assert "--allow-partial" in text and "Processing complete" not in text


def test_allow_partial_skips_it_and_lists_it(tmp_path: Path):
    client = FakeClient()
    ctx, out = make_ctx(client, SWAP, allow_partial=True)
    assert run_single(ctx, _folder_with_a_text_file(tmp_path), tmp_path / "out") == 0
    assert client.state.uploads == ["good.jpg"]
    text = out.getvalue()
    assert "Warning: Skipped text.jpg: not a readable image" in text
    assert "Processing complete, 1 missing (accepted with --allow-partial)" in text
    assert "  - text.jpg: skipped, not a readable image" in text
    assert Journal.read(tmp_path / "out")["missing"] == [
        "text.jpg: skipped, not a readable image (JPEG, PNG or WebP expected)"
    ]


def test_an_image_the_server_refuses_stops_the_job_and_the_rerun_uploads_only_it(pdp, tmp_path):
    client = FakeClient()
    client.state.fail_upload["image2.jpg"] = errors.BadRequestError(
        "PUT http://127.0.0.1:1/upload/img_9 failed",
        status_code=415,
        reason="The upload is not a readable image (JPEG, PNG or WebP expected).",
    )
    ctx, out = make_ctx(client, SWAP)
    result = FolderRun(ctx, pdp, tmp_path / "out").run()
    assert not result.ok and not result.transient and client.state.jobs == {}
    assert "image2.jpg: The upload is not a readable image" in out.getvalue()
    assert "127.0.0.1" not in out.getvalue()  # the reason, not the signed link
    assert FolderRun(make_ctx(client, SWAP)[0], pdp, tmp_path / "out").run().complete
    assert sorted(client.state.uploads) == ["image1.jpg", "image2.jpg", "image3.png"]
    assert client.state.submissions == 1


def test_warnings_are_printed_once_grouped_and_counted_with_the_model_that_ran(tmp_path: Path):
    folder = tmp_path / "A"
    draw(folder / "a.jpg")
    draw(folder / "b.jpg")
    client = FakeClient()
    client.state.results_override = [
        {
            "image_index": i,
            "version": 0,
            "original_filename": name,
            "status": "completed",
            "model_used": "local",
            "warnings": ["pose 'sitting' not supported"] + (["prompt ignored"] if i else []),
            "output": {"full_size": f"http://cdn/{i}"},
        }
        for i, name in enumerate(["a.jpg", "b.jpg"])
    ]
    spec = RunSpec(kind="swap", identity_code="KnownIdentity", model="onda")
    ctx, out = make_ctx(client, spec)
    assert run_single(ctx, folder, tmp_path / "out") == 0
    lines = out.getvalue().splitlines()
    assert lines.count("Warning: pose 'sitting' not supported [2 outputs]") == 1
    assert "Warning: prompt ignored [b.jpg (image 2, variation 1)]" in lines
    assert "Warning: --model onda was asked; the server ran local" in lines
    assert any(line.startswith("Processing complete; 4 warnings") for line in lines)


def test_a_photo_without_a_face_is_refused_before_any_upload_and_not_kept(pdp, tmp_path):
    client = FakeClient()
    client.state.faceless.add("ident_landscape")
    image = draw(tmp_path / "landscape.jpg")
    ctx, out = make_ctx(client, RunSpec(kind="swap", identity_image=image))
    assert run_single(ctx, pdp, tmp_path / "out") == 1
    assert client.state.uploads == [] and client.state.jobs == {}
    assert client.state.deleted_identities == ["ident_landscape"]
    text = out.getvalue()
    assert "landscape.jpg cannot be the identity: No face was found." in text
    assert "not kept" in text and "Identity ready" not in text


def test_a_faceless_identity_uploaded_before_is_removed_too(pdp, tmp_path):
    client = FakeClient()
    client.state.identities.add("ident_old")  # a 409 names it
    client.state.faceless.add("ident_old")
    ctx, out = make_ctx(client, RunSpec(kind="swap", identity_image=draw(tmp_path / "old.jpg")))
    assert run_single(ctx, pdp, tmp_path / "out") == 1
    assert client.state.deleted_identities == ["ident_old"] and client.state.uploads == []


def test_an_unknown_code_without_an_image_says_where_to_look(pdp, tmp_path):
    client = FakeClient()
    ctx, out = make_ctx(client, RunSpec(kind="swap", identity_code="PiktidSummer"))
    assert run_single(ctx, pdp, tmp_path / "out") == 1
    assert client.state.uploads == []
    assert "Identity code 'PiktidSummer' not found" in out.getvalue()
    assert "vestis identities list" in out.getvalue()


def test_a_refused_token_is_not_a_reason_to_upload_the_image_instead(pdp, tmp_path):
    client = FakeClient()
    client.state.fail_identity = [
        errors.AuthenticationError("x", status_code=401, reason="Token expired (h). Advice.")
    ]
    spec = RunSpec(
        kind="swap", identity_code="KnownIdentity", identity_image=draw(tmp_path / "i.jpg")
    )
    ctx, out = make_ctx(client, spec)
    assert run_single(ctx, pdp, tmp_path / "out") == 1
    assert client.state.identity_uploads == 0
    assert out.getvalue().count("Token expired") == 1


def test_a_batch_lists_incomplete_folders_and_exits_1(tmp_path: Path):
    root = tmp_path / "in"
    for name in ("GOOD", "GAPS"):
        draw(root / name / "a.jpg")
    (root / "GAPS" / "b.jpg").write_text("text")
    client = FakeClient()
    ctx, out = make_ctx(client, SWAP)
    code = run_batch(ctx, sorted(root.iterdir()), tmp_path / "out", 2, {})
    assert code == 1
    text = out.getvalue()
    assert "GOOD: OK (" in text and "GAPS: FAILED (" in text
    # the folder's reason, every line of it under the folder's own line
    summary_lines = text[text.index("Failed folders:") :].splitlines()
    assert (
        summary_lines[1] == "  - GAPS: 1 of 2 images in " + str(root / "GAPS") + " cannot be used:"
    )
    assert summary_lines[2] == "        - b.jpg: not a readable image (JPEG, PNG or WebP expected)"
    assert summary_lines[3].startswith("      Fix or remove them")
    ctx, out = make_ctx(client, SWAP, allow_partial=True)
    assert run_batch(ctx, sorted(root.iterdir()), tmp_path / "out", 2, {}) == 0
    text = out.getvalue()
    assert "GAPS: OK, 1 missing" in text and "Accepted with gaps (--allow-partial):" in text
    (summary,) = sorted((tmp_path / "out").glob("batch_summary_*.json"))[-1:]
    entries = {e["folder"]: e for e in json.loads(summary.read_text())["results"]}
    assert entries["GAPS"]["missing"] == [
        "b.jpg: skipped, not a readable image (JPEG, PNG or WebP expected)"
    ]
    assert "missing" not in entries["GOOD"]


# vestis.runs.inputs silences this warning for the command; pytest resets filters per test.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_what_the_api_would_refuse_is_found_from_the_file_alone(tmp_path: Path):
    text = tmp_path / "a.jpg"
    text.write_text("hello")
    assert unusable(text) == "not a readable image (JPEG, PNG or WebP expected)"
    gif = tmp_path / "b.jpg"
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    assert unusable(gif) == "a GIF image (JPEG, PNG or WebP expected)"
    huge = tmp_path / "c.png"
    Image.new("1", (8000, 8000)).save(huge)  # 64 megapixels in a small file
    assert unusable(huge) == "8000x8000 is 64 megapixels, more than the 60 allowed; scale it down"
    heavy = tmp_path / "d.jpg"
    with open(heavy, "wb") as handle:
        handle.truncate(41 * 2**20)
    assert unusable(heavy) == "41 MiB, more than the 40 MiB allowed"
    assert unusable(draw(tmp_path / "e.jpg")) is None
    os.remove(heavy)


def test_a_server_without_the_journals_uploads_and_job_gets_them_again(pdp, tmp_path):
    """`vestis data clear` (or another server): the journal's ids mean nothing there."""
    out = tmp_path / "out"
    client = FakeClient()
    client.state.fail_wait = [errors.APIConnectionError("gone")]  # stopped while the job runs
    assert not FolderRun(make_ctx(client, SWAP)[0], pdp, out).run().ok
    assert client.state.submissions == 1
    cleared = FakeClient(FakeState(project_prefix="fresh"))
    ctx, text = make_ctx(cleared, SWAP)
    assert FolderRun(ctx, pdp, out).run().complete
    assert sorted(cleared.state.uploads) == ["image1.jpg", "image2.jpg", "image3.png"]
    assert cleared.state.submissions == 1
    assert "does not hold this folder's earlier uploads and job" in text.getvalue()
    journal = Journal.read(out)
    assert journal["previous_jobs"][0]["job_id"] == "job_1" and journal["completed"] is True


def test_a_batch_says_why_a_job_failed(tmp_path: Path):
    """The server's reason is the folder's: on its error line and in the summary, not only
    "status: failed" (a terminal's live display shows nothing else of the folder)."""
    root = tmp_path / "in"
    draw(root / "A" / "a.jpg")
    client = FakeClient()
    client.state.job_status = "failed"
    ctx, out = make_ctx(client, SWAP)
    assert run_batch(ctx, sorted(root.iterdir()), tmp_path / "out", 2, {}) == 1
    text = out.getvalue()
    assert (
        "Failed folders:\n  - A: Job did not complete successfully (status: failed): engine refused"
        in text
    )
    assert text.count("engine refused") == 2  # the folder's error line, the summary
