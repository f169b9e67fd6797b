"""The studio in a real headless Chromium: sign in, live runs list, a job page (full size,
zoom, face crops), review with the keyboard, the approved ZIP, identities, a job started by
upload. Every wait is for an event (a selector, a URL, a download), never a fixed sleep."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from tests.server.conftest import Api, person_image, plain_image
from tests.studio.conftest import make_job
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.e2e

WAIT_MS = 30_000


@pytest.fixture(scope="module")
def page(browser, server: ServerProcess):  # type: ignore[no-untyped-def]
    """One signed-in tab: the first visit is sent to the sign-in form, which brings it back."""
    tab = browser.new_page()
    tab.set_default_timeout(WAIT_MS)
    tab.goto(server.base_url + "/studio/")
    tab.wait_for_url("**/studio/login?next=/studio/")
    tab.fill("input[name=username]", server.username)
    tab.fill("input[name=password]", server.password)
    tab.click("button[type=submit]")
    tab.wait_for_url(server.base_url + "/studio/")
    yield tab
    tab.close()


@pytest.fixture(scope="module")
def job(api: Api) -> str:
    return make_job(api, "browser-review", 3)


def _results(api: Api, job_id: str) -> list[dict]:
    return list(api.http.get(f"/jobs/{job_id}/results").json()["results"])


def test_runs_list_shows_a_new_job_live(page, api: Api, job: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(page.url)
    page.wait_for_selector(f"#row-{job}")
    page.wait_for_selector("body[data-live=on]")  # the event stream is open
    newer = make_job(api, "browser-live", 1)
    # the row arrives by server-sent event, without a reload, and ends completed
    page.wait_for_selector(f'tr#row-{newer}[data-status="completed"]')
    assert page.locator("tbody tr").first.get_attribute("id") == f"row-{newer}"


def test_job_page_shows_every_output_beside_its_input_full_size(page, server, job) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.base_url}/studio/jobs/{job}")
    page.wait_for_selector(".card")
    assert page.locator(".card").count() == 3
    page.wait_for_load_state("networkidle")
    first = page.locator("#card-0-0")
    first.scroll_into_view_if_needed()
    sizes = first.locator(".pair img").evaluate_all(
        "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.getBoundingClientRect().width])"
    )
    assert len(sizes) == 2  # input and output
    for complete, natural, shown in sizes:
        assert complete and natural == 120  # the full-size file, not a thumbnail
        assert shown > 400  # drawn large, side by side
    assert page.locator(".jobhead .identity img").evaluate("i => i.naturalWidth") > 0
    # zoom: both images at 100 %, side by side; Escape closes
    first.locator(".pair figure.out img").click()
    page.wait_for_selector("#zoom:not([hidden]) .pane img")
    assert page.locator("#zoom .pane").count() == 2
    page.keyboard.press("Escape")
    page.wait_for_selector("#zoom", state="hidden")


def test_face_crops_view(page, server, job) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.base_url}/studio/jobs/{job}?view=faces")
    page.wait_for_selector(".card .faces img")
    page.wait_for_load_state("networkidle")
    crops = page.locator("#card-0-0 .faces img")
    assert crops.count() == 3
    captions = page.locator("#card-0-0 .faces figcaption").all_inner_texts()
    assert captions == ["input", "identity", "output"]
    assert crops.evaluate_all("imgs => imgs.map(i => i.naturalWidth)") == [320, 320, 320]


def test_approve_and_reject_with_the_keyboard(page, server, api, job) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.base_url}/studio/jobs/{job}")
    page.wait_for_selector("#card-0-0.current")
    page.keyboard.press("a")  # approve the first, move to the second
    page.wait_for_selector("#card-0-0 .verdict.like")
    page.wait_for_selector("#card-1-0.current")
    page.keyboard.press("ArrowDown")  # skip to the third
    page.wait_for_selector("#card-2-0.current")
    page.fill("#card-2-0 textarea[name=note]", "eyes look sideways")
    page.locator("#card-2-0 textarea").evaluate("t => t.blur()")
    page.keyboard.press("r")
    page.wait_for_selector("#card-2-0 .verdict.dislike")  # the last card stays current
    page.keyboard.press("ArrowUp")
    page.wait_for_selector("#card-1-0.current")
    page.keyboard.press("r")
    page.wait_for_selector("#card-1-0 .verdict.dislike")
    by_index = {r["image_index"]: r for r in _results(api, job)}
    assert [by_index[i]["feedback"] for i in range(3)] == ["like", "dislike", "dislike"]
    assert by_index[2]["feedback_comment"] == "eyes look sideways"
    # the "not yet reviewed" filter is empty now; "all" still shows three
    page.goto(f"{server.base_url}/studio/jobs/{job}?show=unreviewed")
    page.wait_for_selector(".empty")
    assert page.locator(".card").count() == 0


def test_download_the_approved_zip(page, server, job) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.base_url}/studio/jobs/{job}")
    with page.expect_download() as download_info:
        page.click("#download-approved")
    path = download_info.value.path()
    assert path is not None
    names = zipfile.ZipFile(path).namelist()
    assert names == ["look1_v0.jpg"]  # only the approved output, named as the scripts name it


def test_identity_without_a_face_is_refused(page, server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    blank = tmp_path / "blank-wall.jpg"
    blank.write_bytes(plain_image())
    page.goto(f"{server.base_url}/studio/identities")
    page.set_input_files("input[name=image]", str(blank))
    page.click(".upload-identity button[type=submit]")
    refusal = page.wait_for_selector("#face-check.refused")
    assert "no face" in refusal.inner_text().lower()
    assert page.locator(".identities li", has_text="blank-wall").count() == 0  # not kept
    face = tmp_path / "Ada.jpg"
    face.write_bytes(person_image(21))
    page.set_input_files("input[name=image]", str(face))
    page.click(".upload-identity button[type=submit]")
    accepted = page.wait_for_selector("#face-check.ok")
    assert "face found" in accepted.inner_text().lower()
    assert "Ada" in page.locator(".identities").inner_text()


def test_start_a_job_by_upload(page, server, api: Api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    identity = api.identity(person_image(40), "Spring model")
    folder = tmp_path / "SPRING-01"
    folder.mkdir()
    for n in range(2):
        (folder / f"shot{n + 1}.jpg").write_bytes(person_image(30 + n))
    page.goto(f"{server.base_url}/studio/new")
    page.set_input_files("#photos", [str(p) for p in sorted(folder.iterdir())])
    page.wait_for_selector("#picked li >> nth=1")
    page.fill("#project", "SPRING-01")
    page.check(f"input[name=identity_code][value={identity}]")
    page.click("#submit-job")
    page.wait_for_url("**/studio/jobs/job_*")
    # the page follows the job by server-sent events until it is done
    page.wait_for_selector("#job-status.completed")
    page.wait_for_selector("#card-1-0 .pair figure.out img", state="attached")
    assert page.locator(".card").count() == 2
    assert "SPRING-01" in page.locator(".jobhead h1").inner_text()


def test_screenshots_of_the_job_page_and_face_crops(page, server, job, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """At 1400 px wide; kept in VESTIS_SCREENSHOTS (if set) for people to look at."""
    folder = Path(os.environ.get("VESTIS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    for name, query in (("job-page", ""), ("face-crops", "?view=faces")):
        page.goto(f"{server.base_url}/studio/jobs/{job}{query}")
        page.wait_for_selector(".card")
        page.wait_for_load_state("networkidle")
        shot = folder / f"studio-{name}.png"
        page.screenshot(path=str(shot), full_page=False)
        with Image.open(shot) as image:
            assert image.width == 1400
            colours = image.convert("RGB").getcolors(1 << 20)
        assert colours is None or len(colours) > 50  # a rendered page, not a blank one


def test_zip_entries_match_the_api(api: Api, job: str) -> None:
    """The studio's ZIP and the API's approved-only ZIP hold the same entries."""
    import httpx

    link = api.http.post("/download", json={"job_id": job, "approved_only": True}).json()
    names = zipfile.ZipFile(io.BytesIO(httpx.get(link["download_url"]).content)).namelist()
    assert names == ["look1_v0.jpg"]


def test_redo_one_output_and_compare_versions(page, server, api: Api, job: str) -> None:  # type: ignore[no-untyped-def]
    """Last in this module: the redo makes look1_v1, which is not approved yet."""
    page.goto(f"{server.base_url}/studio/jobs/{job}")
    page.wait_for_selector("body[data-live=on]")
    page.click("#card-0-0 button.redo")
    # the card follows the new version by server-sent events until it is made
    page.wait_for_selector('#card-0-0 .filename:text-is("look1_v1.jpg")')
    page.wait_for_selector("#card-0-0 .pair figure.out img")
    assert "approved" not in page.locator("#card-0-0 header").inner_text()
    page.click("#card-0-0 a.versions")
    page.wait_for_selector("#version-1")
    assert page.locator(".versions-row figure.version").count() == 2
    assert "current" in page.locator("#version-1 figcaption").inner_text()
    versions = [r["version"] for r in _results(api, job) if r["image_index"] == 0]
    assert versions == [1]
