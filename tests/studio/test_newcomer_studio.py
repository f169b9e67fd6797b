"""What a newcomer saw in the studio (issue 18), in a real headless Chromium at 1400 px: a failed
job in plain words, each error once, no redo offered for a refusal, the runs list counting
what was made, identities that fit their cards, a zoom overlay nothing shows through, the ZIP
button on one line, no identity picked for them, and the same output numbers as the CLI.
Screenshots go to VESTIS_SCREENSHOTS when it is set, for people to look at."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from tests.server.conftest import Api, person_image
from tests.studio.conftest import make_job
from tests.support.server_process import REPO_ROOT, ServerProcess

pytestmark = pytest.mark.e2e

WAIT_MS = 30_000


def _shoot(page, name: str, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    folder = Path(os.environ.get("VESTIS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / f"newcomer-{name}.png"
    page.screenshot(path=str(shot))
    with Image.open(shot) as image:
        assert image.width == 1400
    return shot


@pytest.fixture(scope="module")
def page(browser, server: ServerProcess):  # type: ignore[no-untyped-def]
    tab = browser.new_page()
    tab.set_default_timeout(WAIT_MS)
    tab.goto(server.base_url + "/studio/login")
    tab.fill("input[name=username]", server.username)
    tab.fill("input[name=password]", server.password)
    tab.click("button[type=submit]")
    tab.wait_for_url(server.base_url + "/studio/")
    yield tab
    tab.close()


@pytest.fixture(scope="module")
def refused_job(api: Api) -> str:
    """A flat-to-model job the engine refuses: both variations of its one instruction fail
    (FakeEngine fails an instruction whose prompt says FAIL, every time)."""
    project = api.project("REFUSED-LOOK")
    files = [api.upload("dress.jpg", person_image(3))]
    identity = api.identity(person_image(12), "Refused model")
    created = api.http.post(
        "/flat-2-model",
        json={
            "project_id": project,
            "identity_code": identity,
            "images": files,
            "instructions": [{"prompt": "FAIL please", "num_variations": 2}],
        },
    )
    assert created.status_code == 202, created.text
    job_id = str(created.json()["job_id"])
    assert api.wait(job_id)["status"] == "failed"
    return job_id


def test_a_refused_job_reads_in_plain_words_once_per_card_without_a_redo(
    page, server, refused_job: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.base_url}/studio/jobs/{refused_job}")
    page.wait_for_selector(".card")
    head = page.locator("#jobhead").inner_text()
    assert "error_message" not in head
    assert "No output was made: all 2 failed. Each card below says why." in head
    assert "0 / 2 outputs made" in head
    cards = page.locator(".card")
    assert cards.count() == 2
    for index in range(2):
        text = cards.nth(index).inner_text()
        assert text.count("The instruction asked the fake engine to fail.") == 1, text
    assert page.locator("button.redo").count() == 0
    assert page.locator(".not-redone").count() == 2
    labels = sorted(page.locator(".card .label").all_inner_texts())
    assert labels == ["instruction 1 · variation 1", "instruction 1 · variation 2"]
    _shoot(page, "refused-job", tmp_path)


def test_the_cli_numbers_outputs_as_the_studio_does(
    server, refused_job: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VESTIS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "src")])
    got = subprocess.run(
        [sys.executable, "-m", "vestis", "jobs", "download", refused_job,
         "--base-url", server.base_url, "--token", server.token,
         "--output-folder", str(tmp_path / "out")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "output_0_0.jpg (instruction 1, variation 1)" in got.stdout, got.stdout + got.stderr
    assert "output_0_1.jpg (instruction 1, variation 2)" in got.stdout


def test_the_runs_list_counts_what_was_made(page, server, refused_job: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.base_url}/studio/")
    row = page.locator(f"#row-{refused_job}")
    row.wait_for()
    assert "0 / 2 outputs made" in row.inner_text()
    assert "2 / 2" not in row.inner_text()
    _shoot(page, "runs", tmp_path)


def _inside(inner: dict, outer: dict) -> bool:
    return (
        inner["x"] >= outer["x"] - 0.5
        and inner["y"] >= outer["y"] - 0.5
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 0.5
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 0.5
    )


def test_identity_codes_and_delete_stay_inside_their_cards(
    page, server, api: Api, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    for n, name in enumerate(("Ada", "Maximiliane Alexandrina von Hohenzollern-Sigmaringen")):
        api.identity(person_image(60 + n), name)
    page.goto(f"{server.base_url}/studio/identities")
    items = page.locator(".identities li")
    items.first.wait_for()
    assert items.count() >= 2
    for index in range(items.count()):
        item = items.nth(index)
        card = item.bounding_box()
        for part in ("code", "form button"):
            box = item.locator(part).bounding_box()
            assert card and box and _inside(box, card), (part, box, card)
            # not only inside the box: the text itself is not cut off (no overflow)
        assert item.locator("code").evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    _shoot(page, "identities", tmp_path)


def test_the_zoom_overlay_hides_the_navigation_and_the_zip_button_is_one_line(
    page, server, api: Api, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # a long project name makes a long header beside the button, as a long message did
    job = make_job(api, "SS26-WOMEN-DRESSES-" + "-".join(["LINEN-MIDI-SUMMER-EDIT"] * 4), 1)
    page.goto(f"{server.base_url}/studio/jobs/{job}")
    page.wait_for_selector(".pair figure.out img")
    lines = page.locator("#download-approved").evaluate(
        "e => { const r = document.createRange(); r.selectNodeContents(e);"
        " return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size }"
    )
    assert lines == 1
    _shoot(page, "job-head", tmp_path)
    links = [
        box for box in (a.bounding_box() for a in page.locator("header.top nav a").all()) if box
    ]
    assert links
    page.click(".pair figure.out img")
    page.wait_for_selector(".zoom:not([hidden])")
    drawn = [
        box
        for box in (e.bounding_box() for e in page.locator(".zoombar > *").all())
        if box and box["width"] and box["height"]
    ]
    clear = [box for box in links if not any(_overlap(box, d) for d in drawn)]
    assert clear, "every navigation link is under the overlay's own title or buttons"
    shot = _shoot(page, "zoom", tmp_path)
    with Image.open(shot) as image:
        rgb = image.convert("RGB")
        for box in clear:
            area = rgb.crop(
                (
                    int(box["x"]),
                    int(box["y"]),
                    int(box["x"] + box["width"]),
                    int(box["y"] + box["height"]),
                )
            )
            # where a link was, only the overlay's own colour: nothing shows through it
            assert all(high - low <= 2 for low, high in area.getextrema()), area.getextrema()
    page.keyboard.press("Escape")


def _overlap(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_new_job_picks_no_identity_for_the_user(page, server, api: Api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    api.identity(person_image(70), "Someone")
    page.goto(f"{server.base_url}/studio/new")
    page.wait_for_selector("input[name=identity_code]")
    assert page.locator("input[name=identity_code]").count() >= 1
    assert page.locator("input[name=identity_code]:checked").count() == 0
    assert page.locator("input[name=identity_code][required]").count() >= 1
    _shoot(page, "new-job", tmp_path)
