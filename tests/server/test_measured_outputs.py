"""Every output measured, end to end: a real server process whose engine does not put the
identity on the photo is caught ("not the identity"), retried with other seeds and delivered
with a warning; one that gets it right on a retry is kept; results and metadata.json carry the
metrics; a JPEG output keeps the source's pixels outside the head."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from tests.server.conftest import Api, api_for
from tests.support.server_process import ServerProcess

from vestis.quality import face_signature, head_region
from vestis.runs.samples import make_pdp_photo, make_portrait_identity_image

UNCHANGED = "tests.support.identity_engines:UnchangedEngine"
SECOND_TRY = "tests.support.identity_engines:SecondTryEngine"
SMEARED = "tests.support.identity_engines:SmearedEngine"


def _jpeg(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def _swap(api: Api, photos: dict[str, bytes]) -> dict:
    identity = api.identity(_jpeg(make_portrait_identity_image(), quality=95), name="hopper")
    project = api.project("measured")
    files = [api.upload(name, data) for name, data in photos.items()]
    created = api.http.post(
        "/model-swap", json={"identity_code": identity, "project_id": project, "images": files}
    )
    assert created.status_code == 202, created.text
    job_id = created.json()["job_id"]
    assert api.wait(job_id, timeout=240)["status"] == "completed"
    body = api.http.get(f"/jobs/{job_id}/results").json()
    return body


@pytest.fixture(scope="module")
def unchanged(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with ServerProcess(tmp_path_factory.mktemp("unchanged"), engine=UNCHANGED) as server:
        yield server


def test_a_swap_that_is_not_the_identity_is_retried_and_said_so(
    unchanged: ServerProcess, tmp_path: Path
) -> None:
    source = make_pdp_photo(0).resize((600, 800), Image.Resampling.LANCZOS)
    uploaded = _jpeg(source, quality=90, subsampling=2)
    api = api_for(unchanged)
    body = _swap(api, {"image1.jpg": uploaded})
    (result,) = body["results"]
    metrics = result["metrics"]
    assert metrics["attempts"] == 3  # the first try and two retries (the default)
    assert metrics["is_identity"] is False and metrics["face_found"] is True
    assert metrics["identity_distance"] > 0.6 > 0.05 > metrics["original_distance"]
    assert result["quality_score"] <= 0.4
    assert any(
        "not the identity" in w and "made 3 times" in w and "closest" in w
        for w in result["warnings"]
    ), result["warnings"]
    assert body["summary"]["identity_consistency"] is None  # one output: nothing to compare

    # The delivered JPEG: every pixel outside the head as the uploaded file decodes.
    delivered = httpx.get(result["output"]["full_size"])
    assert delivered.status_code == 200
    out = np.asarray(Image.open(io.BytesIO(delivered.content)).convert("RGB")).astype(int)
    ref = np.asarray(Image.open(io.BytesIO(uploaded)).convert("RGB")).astype(int)
    face = face_signature(ref.astype(np.uint8))
    assert face is not None
    x0, y0, x1, y1 = head_region(face.box, (ref.shape[1], ref.shape[0]))
    outside = np.ones(ref.shape[:2], dtype=bool)
    outside[y0:y1, x0:x1] = False
    kept = float((np.abs(out - ref).max(axis=2) <= 3)[outside].mean())
    assert kept >= 0.99
    assert metrics["unchanged_outside_head"] == pytest.approx(kept, abs=0.001)

    # metadata.json (the raw results body) keeps them.
    folder = tmp_path / "again"
    subprocess.run(
        [sys.executable, "-m", "vestis", "jobs", "download", body["job_id"],
         "--output-folder", str(folder), "--base-url", unchanged.base_url,
         "--token", unchanged.token],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    saved = json.loads((folder / "metadata.json").read_text())
    assert saved["results"][0]["metrics"] == metrics


def test_no_retries_when_the_server_is_told_so(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, engine=UNCHANGED, extra_args=["--identity-retries", "0"]) as s:
        body = _swap(api_for(s), {"image1.png": _png(make_pdp_photo(1))})
    (result,) = body["results"]
    assert result["metrics"]["attempts"] == 1 and result["metrics"]["is_identity"] is False
    assert any("not the identity" in w for w in result["warnings"])


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_retry_that_is_the_identity_is_delivered(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, engine=SECOND_TRY) as server:
        photos = {"image1.png": _png(make_pdp_photo(2)), "image2.png": _png(make_pdp_photo(3))}
        body = _swap(api_for(server), photos)
    for result in body["results"]:
        metrics = result["metrics"]
        assert metrics["attempts"] == 2 and metrics["is_identity"] is True
        assert metrics["unchanged_outside_head"] == 1.0  # PNG: bit for bit
        assert not any("not the identity" in w for w in result["warnings"])
        assert result["quality_score"] > 0.4
    spread = body["summary"]["identity_consistency"]
    assert spread is not None and spread < 0.6  # both outputs show the same person


def test_a_realism_defect_is_said_in_the_result_and_the_studio(tmp_path: Path) -> None:
    """A smeared face: the result names the defect (metrics, warning, review reason), the score
    is capped at 0.5, and the studio's card says the face does not look like a photo."""
    from tests.studio.conftest import sign_in

    with ServerProcess(tmp_path, engine=SMEARED, extra_args=["--identity-retries", "0"]) as s:
        body = _swap(api_for(s), {"image1.png": _png(make_pdp_photo(1))})
        (result,) = body["results"]
        realism = result["metrics"]["realism"]
        assert realism["ok"] is False and "sharpness" in realism["defects"], realism
        assert realism["sharpness_ratio"] < 0.8
        assert result["quality_score"] <= 0.5
        assert any(w.startswith("face looks unreal (sharpness): ") for w in result["warnings"])
        assert result["detail_needs_review"] is True
        assert "face looks unreal (sharpness)" in result["detail_review_reason"]
        studio = sign_in(s, s.username, s.password)
        page = studio.get(f"/studio/jobs/{body['job_id']}")
        studio.close()
        assert page.status_code == 200
        assert '<dt>looks like a photo</dt><dd class="flagged">no: sharpness</dd>' in page.text
        assert "face looks unreal (sharpness): " in page.text
