"""The review page: content from the journal, and a real headless Chromium that renders it and
loads every image."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from tests.runs.conftest import draw, make_ctx
from tests.runs.fake_client import FakeClient

from vestis.report import write_report
from vestis.runs.batch import run_batch
from vestis.runs.spec import RunSpec
from vestis.runs.summary import swap_configuration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def batch_output(tmp_path: Path) -> Path:
    """A batch of three folders: one completes, one's job fails, one has no images."""
    root = tmp_path / "PDP"
    for name, color in (("image1.jpg", "red"), ("image2.png", "green")):
        draw(root / "GOOD" / name, color)
    draw(root / "BAD" / "image1.jpg", "purple")
    draw(root / "EMPTY" / "x_INTERNAL_.jpg")
    out = tmp_path / "results"
    client = FakeClient()
    spec = RunSpec(kind="swap", identity_code="KnownIdentity")
    ctx, _ = make_ctx(client, spec)
    config = swap_configuration(
        parallel=1,
        post_process=False,
        model="auto",
        use_anchor=False,
        base_url="http://x",
        identity_code="KnownIdentity",
        identity_image=None,
    )
    run_batch(ctx, [root / "GOOD"], out, 1, config)
    client.state.job_status = "failed"
    run_batch(ctx, [root / "BAD", root / "EMPTY"], out, 1, config)
    return out


def test_page_shows_inputs_outputs_models_and_failures(batch_output: Path):
    page = write_report(batch_output)
    assert page == batch_output / "report.html"
    html = page.read_text()
    assert html.count('<section class="run"') == 3
    assert "GOOD" in html and "BAD" in html and "EMPTY" in html
    assert "image1_v0.jpg (onda)" in html and "image2_v0.jpg (onda)" in html
    assert "engine refused" in html  # the failed job's message
    assert 'class="badge completed"' in html and 'class="badge failed"' in html
    # Self-contained: every picture is an embedded thumbnail, links are relative.
    sources = re.findall(r'<img src="([^"]+)"', html)
    assert len(sources) == 5 and all(s.startswith("data:image/jpeg;base64,") for s in sources)
    assert 'href="GOOD/image1_v0.jpg"' in html
    assert "http://" not in html.replace("http://x", "")


def test_single_run_folder(tmp_path: Path):
    folder = tmp_path / "A"
    draw(folder / "image1.jpg")
    ctx, _ = make_ctx(FakeClient(), RunSpec(kind="swap", identity_code="KnownIdentity"))
    from vestis.runs.batch import run_single

    assert run_single(ctx, folder, tmp_path / "out") == 0
    html = write_report(tmp_path / "out").read_text()
    assert html.count('<section class="run"') == 1 and "image1_v0.jpg" in html


CHECK_IMAGES = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const broken = imgs.filter(i => !i.complete || i.naturalWidth === 0).length;
  document.body.setAttribute('data-images', imgs.length);
  document.body.setAttribute('data-broken', broken);
});
</script></body>"""


def chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp / 'chromium-profile'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make browser installs it)")
def test_page_renders_in_chromium_and_every_image_loads(batch_output: Path, tmp_path: Path):
    page = write_report(batch_output)
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text().replace("</body>", CHECK_IMAGES))
    dom = chromium("--virtual-time-budget=5000", "--dump-dom", probe.as_uri(), tmp=tmp_path)
    match = re.search(r'data-images="(\d+)" data-broken="(\d+)"', dom.stdout)
    assert match, dom.stdout[-2000:] + dom.stderr[-2000:]
    assert (int(match[1]), int(match[2])) == (5, 0)
    shot = tmp_path / "report.png"
    chromium(f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri(), tmp=tmp_path)
    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(1 << 20)
    assert image.size == (1200, 1600)
    assert colours is None or len(colours) > 50  # a rendered page, not a blank one


def test_page_and_console_show_the_measures(tmp_path: Path):
    """A server that measures its outputs (vestis extension `metrics`): each output says
    whether it is the identity, the folder line and the page give the folder's figures."""
    root = tmp_path / "PDP"
    draw(root / "ART" / "image1.jpg", "red")
    draw(root / "ART" / "image2.jpg", "blue")
    client = FakeClient()

    def measured(index: int, distance: float, identity: bool, *defects: str) -> dict:
        return {
            "image_index": index,
            "group_index": 0,
            "version": 0,
            "original_filename": f"image{index + 1}.jpg",
            "status": "completed",
            "model_used": "local",
            "quality_score": 0.9 if identity else 0.3,
            "output": {"full_size": f"http://cdn/x/{index}"},
            "metrics": {
                "face_found": True,
                "identity_distance": distance,
                "original_distance": 0.8,
                "is_identity": identity,
                "unchanged_outside_head": 1.0,
                "sharpness_ratio": 0.93,
                "attempts": 1 if identity else 3,
                "realism": {"ok": not defects, "defects": list(defects), "sharpness_ratio": 0.93},
            },
        }

    client.state.results_override = [
        measured(0, 0.41, True),
        measured(1, 0.71, False, "skin_blotch", "glasses_fragments"),
    ]
    ctx, console = make_ctx(client, RunSpec(kind="swap", identity_code="KnownIdentity"))
    out = tmp_path / "results"
    config = swap_configuration(
        parallel=1,
        post_process=False,
        model="auto",
        use_anchor=False,
        base_url="http://x",
        identity_code="KnownIdentity",
        identity_image=None,
    )
    run_batch(ctx, [root / "ART"], out, 1, config)
    figures = (
        "identity 1/2 (farthest 0.71), looks real 1/2 (1 with defects: skin_blotch x1, "
        "glasses_fragments x1), garments kept 100 %"
    )
    assert "ART: OK (" in console.getvalue()
    assert f" - {figures}" in console.getvalue()
    html = write_report(out).read_text()
    assert f"measures: {figures}" in html
    assert "identity (0.41) · looks real · kept 100.0 % · sharp 0.93 · score 0.90" in html
    assert (
        '<div class="measures bad">NOT the identity (0.71) · '
        "UNREAL: skin_blotch, glasses_fragments · kept" in html
    )


def test_an_identity_face_with_a_realism_defect_is_marked_bad():
    """The face is the identity, but nobody would publish it: the page says so in red."""
    from vestis.report.collect import OutputImage
    from vestis.report.html import _measures

    metrics = {
        "identity_distance": 0.42,
        "is_identity": True,
        "realism": {"ok": False, "defects": ["teeth_on_closed_mouth"]},
    }
    shown = _measures(OutputImage(Path("x.png"), 0, 0, 0, "local", 0.5, metrics))
    assert shown == (
        '<div class="measures bad">identity (0.42) · UNREAL: teeth_on_closed_mouth · '
        "score 0.50</div>"
    )


# --- what a reviewer needs: large previews, face crops, the identity, the instructions ---------


def _journal_run(folder: Path, kind: str, inputs: list[str], outputs: list[dict], review: dict):
    from vestis.runs.journal import Journal

    journal = Journal.open(folder)
    journal.set("kind", kind)
    journal.set("input_folder", str(folder / "in"))
    journal.update_job(job_id="job_x", status="completed", inputs=inputs)
    for n, entry in enumerate(outputs):
        journal.set_in("downloads", str(n), entry)
    journal.set("review", review)
    journal.set("completed", True)


def test_swap_page_shows_face_crops_and_the_identity(tmp_path: Path):
    from PIL import ImageDraw

    from vestis.runs.samples import make_pdp_photo, make_portrait_identity_image

    folder = tmp_path / "ARTICLE"
    (folder / "in").mkdir(parents=True)
    photo = make_pdp_photo(0)
    photo.save(folder / "in" / "look.jpg", quality=92)
    swapped = photo.copy()
    ImageDraw.Draw(swapped).ellipse((180, 90, 300, 230), fill=(200, 150, 120))  # "the new face"
    swapped.save(folder / "look_v0.jpg", quality=92)
    identity = tmp_path / "Grace.jpg"
    make_portrait_identity_image().save(identity, quality=92)
    entry = {"file": "look_v0.jpg", "image_index": 0, "group_index": 0, "version": 0}
    _journal_run(folder, "swap", ["look.jpg"], [entry], {"identity_image": str(identity)})
    html = write_report(folder).read_text()
    for caption in ("input", "identity", "output"):
        assert f'alt="{caption} face"' in html
    assert 'alt="identity Grace"' not in html  # labelled by name or code, not the file
    assert "identity · " in html
    # previews are large enough to judge a face (900 px long edge, from a 480x640 photo: 640)
    uri = re.search(r'<img src="data:image/jpeg;base64,([^"]+)" alt="look_v0.jpg"', html)
    assert uri
    import base64
    import io

    with Image.open(io.BytesIO(base64.b64decode(uri[1]))) as preview:
        assert preview.size == (480, 640)
    # clicking opens both full-size files side by side: input and output are linked by path
    pair = html[html.index('<div class="pair swap">') :]
    assert 'href="in/look.jpg"' in pair and 'href="look_v0.jpg"' in pair
    assert 'id="compare"' in html


def test_flat_page_says_what_each_instruction_asked(tmp_path: Path):
    folder = tmp_path / "SKU"
    (folder / "in").mkdir(parents=True)
    draw(folder / "in" / "top.jpg", "red")
    for n in range(2):
        draw(folder / f"output_{n}_0_v0.jpg", "blue")
    instructions = [
        {"pose": "standing front-facing", "background": "white studio", "options": {"ar": "3:4"}},
        {"pose": "walking", "prompt": "tucked in"},
    ]
    outputs = [
        {"file": f"output_{n}_0_v0.jpg", "image_index": n, "group_index": n, "version": 0}
        for n in range(2)
    ]
    _journal_run(folder, "flat", ["top.jpg"], outputs, {"instructions": instructions})
    html = write_report(folder).read_text()
    assert "<dt>pose</dt><dd>standing front-facing</dd>" in html
    assert "<dt>background</dt><dd>white studio</dd>" in html
    assert "<dt>notes</dt><dd>tucked in</dd>" in html
    assert "instruction 0" not in html
