"""Packshots, garment recolours and the identity endpoints through a real server process on the
local engine, driven the way the public create-packshot, garment-recolor and create-identity
scripts drive the hosted API (spec §3, §9): plain HTTP, 202 only, polling, downloads by name."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import sqlalchemy
from PIL import Image
from tests.engines.drawn_garments import BACKDROPS, draw_garment
from tests.server.product_scripts import ProductScript
from tests.server.reference_client import Run, ScriptFailed
from tests.support.server_process import ServerProcess

from vestis.quality import colour

RED = (178, 40, 44)
TERMINAL = ("completed", "failed", "aborted")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("products"), engine="local", credits=1000) as s:
        yield s


@pytest.fixture
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {server.token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
        yield client


def _garment_folder(tmp_path: Path, name: str = "TEE123") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    drawn = draw_garment("tee", RED, BACKDROPS["lightgrey"], seed=3, size=(480, 640))
    drawn.image.save(folder / "front.jpg", quality=92)
    return folder


def _balance(server: ServerProcess) -> float:
    """The user's credits, read from the server's database (the API has no balance call)."""
    engine = sqlalchemy.create_engine(server.db_url)
    try:
        with engine.connect() as connection:
            query = sqlalchemy.text("SELECT credits FROM users WHERE username = :name")
            return float(connection.execute(query, {"name": server.username}).scalar_one())
    finally:
        engine.dispose()


def test_packshot_script_flow(server: ServerProcess, api: httpx.Client, tmp_path: Path) -> None:
    folder = _garment_folder(tmp_path)
    instructions = [
        {"style": "white_cutout", "framing": "square_packshot", "shadow": "contact",
         "options": {"size": "1K", "format": "png"}},
        {"style": "flat_lay", "surface": "linen", "num_variations": 2,
         "options": {"size": "2K", "ar": "3:4", "format": "jpg"}},
    ]  # fmt: skip
    before = _balance(server)
    script = ProductScript(server.base_url, token=server.token)
    run, body = script.create_packshot(folder, tmp_path / "out", instructions)
    assert sorted(run.files) == ["output_0_0_v0.png", "output_1_0_v0.jpg", "output_1_1_v0.jpg"]
    assert json.loads((tmp_path / "out" / "metadata.json").read_text())["job_id"] == run.job_id
    assert body["job_type"] == "create_packshot" and body["identity_code"] is None
    assert before - _balance(server) == 3 + 2 * 5  # 3 credits at 1K, 5 at 2K, per output
    cutout = np.asarray(Image.open(tmp_path / "out" / "output_0_0_v0.png").convert("RGB"))
    assert cutout.shape == (1024, 1024, 3)
    assert (cutout[:20] == 255).all() and (cutout[:, :20] == 255).all()  # pure white around
    flat = Image.open(tmp_path / "out" / "output_1_0_v0.jpg")
    assert flat.size == (1536, 2048)
    for result in body["results"]:
        assert result["metrics"]["garment_whole"] is True
        assert result["status"] == "completed" and result["model_used"] == "local"


def _uploaded(server: ServerProcess, folder: Path) -> tuple[str, list[str]]:
    run = Run()
    file_ids = ProductScript(server.base_url, token=server.token).upload_folder(folder, run)
    assert run.project_id is not None
    return run.project_id, file_ids


def _finished(api: httpx.Client, job_id: str) -> dict:
    """The job's results once it ended, waiting on its notification stream (no sleeps)."""
    with api.stream("GET", "/notifications/events", params={"id_task": job_id}) as events:
        for line in events.iter_lines():
            if line.startswith("data: "):
                event = json.loads(line[6:])
                data = event.get("data") or {}
                ended = event.get("name") == "batch_edit" and data.get("status") in TERMINAL
                if ended and data.get("id_task") == job_id:
                    break
    return api.get(f"/jobs/{job_id}/results").json()


def test_generative_packshot_styles_are_refused_with_the_engine_that_can(
    server: ServerProcess, api: httpx.Client, tmp_path: Path
) -> None:
    project, files = _uploaded(server, _garment_folder(tmp_path))
    before = _balance(server)
    created = api.post(
        "/create-packshot",
        json={"project_id": project, "images": files,
              "instructions": [{"style": "ghost_mannequin"}, {"style": "white_cutout"}]},
    )  # fmt: skip
    assert created.status_code == 202, created.text
    body = _finished(api, created.json()["job_id"])
    refused, made = body["results"]
    assert refused["status"] == "failed" and made["status"] == "completed"
    assert "ghost_mannequin" in refused["error_message"]
    assert "onmodel" in refused["error_message"]
    assert before - _balance(server) == 3  # the refused output was refunded


def test_packshot_request_checked_before_any_job(
    server: ServerProcess, api: httpx.Client, tmp_path: Path
) -> None:
    project, files = _uploaded(server, _garment_folder(tmp_path))
    for instructions in ([], [{"style": "sideways"}], [{"framing": "tall_3_4"}]):
        answer = api.post(
            "/create-packshot",
            json={"project_id": project, "images": files, "instructions": instructions},
        )
        assert answer.status_code == 422, answer.text
    unknown = api.post(
        "/create-packshot",
        json={"project_id": project, "images": ["nope"], "instructions": [{"style": "flat_lay"}]},
    )
    assert unknown.status_code == 404


def test_recolor_script_flow(server: ServerProcess, api: httpx.Client, tmp_path: Path) -> None:
    folder = _garment_folder(tmp_path)
    before = _balance(server)
    script = ProductScript(server.base_url, token=server.token)
    run, body = script.garment_recolor(folder, tmp_path / "out", reference_text="navy",
                                       num_variations=2)  # fmt: skip
    assert sorted(run.files) == ["output_0_0_v0.jpg", "output_0_1_v0.jpg"]
    assert before - _balance(server) == 2 * 5  # processing_size 2048: 5 credits per output
    delivered = Image.open(tmp_path / "out" / "output_0_0_v0.jpg").convert("RGB")
    assert delivered.size == (1536, 2048)  # processing_size 2048 is the long edge, as paid for
    out = np.asarray(delivered.resize((480, 640), Image.Resampling.LANCZOS))
    first, second = body["results"]
    metrics = first["metrics"]
    assert metrics["target_colour"] == "#000080"
    assert metrics["delta_e2000"] < colour.TARGET_DELTA_E
    assert metrics["unchanged_outside_garment"] > 0.97  # the delivered JPEG, within 3 levels
    drawn = draw_garment("tee", RED, BACKDROPS["lightgrey"], seed=3, size=(480, 640))
    core = colour.median_lab(out, drawn.mask)
    assert colour.delta_e(core, colour.colour_lab((0, 0, 128))) < 8
    assert any("upscaled from the input's 480x640" in w for w in first["warnings"])
    # one colour has one right answer: the second variation is the same image, and says so
    # without being scored down for it
    assert (tmp_path / "out" / "output_0_0_v0.jpg").read_bytes() == (
        tmp_path / "out" / "output_0_1_v0.jpg"
    ).read_bytes()
    assert any("variation 2 is the same image as variation 1" in w for w in second["warnings"])
    assert second["quality_score"] == first["quality_score"]


def test_recolor_output_size_is_the_processing_size(server: ServerProcess, tmp_path: Path) -> None:
    """processing_size 1024 (3 credits) on a 480x640 photo: a 768x1024 output."""
    folder = _garment_folder(tmp_path)
    before = _balance(server)
    script = ProductScript(server.base_url, token=server.token)
    _run, body = script.garment_recolor(folder, tmp_path / "out", reference_text="navy",
                                        processing_size=1024)  # fmt: skip
    assert before - _balance(server) == 3
    assert Image.open(tmp_path / "out" / "output_0_0_v0.jpg").size == (768, 1024)
    metrics = body["results"][0]["metrics"]
    assert metrics["delta_e2000"] < colour.TARGET_DELTA_E
    assert metrics["unchanged_outside_garment"] > 0.97


def test_recolor_needs_a_target_and_a_known_reference(
    server: ServerProcess, api: httpx.Client, tmp_path: Path
) -> None:
    project, files = _uploaded(server, _garment_folder(tmp_path))
    no_target = api.post("/garment-recolor", json={"project_id": project, "images": files})
    assert no_target.status_code == 422
    assert "reference_text" in no_target.text
    foreign = api.post(
        "/garment-recolor",
        json={"project_id": project, "images": files, "reference_image": "file_missing"},
    )
    assert foreign.status_code == 422


def test_recolor_to_a_reference_image(
    server: ServerProcess, api: httpx.Client, tmp_path: Path
) -> None:
    swatch = tmp_path / "swatch.png"
    Image.new("RGB", (64, 64), (30, 110, 60)).save(swatch)
    script = ProductScript(server.base_url, token=server.token)
    _run, body = script.garment_recolor(_garment_folder(tmp_path), tmp_path / "out",
                                        reference_image=swatch)  # fmt: skip
    metrics = body["results"][0]["metrics"]
    assert metrics["target_colour"] == "#1E6E3C"
    assert metrics["delta_e2000"] < colour.TARGET_DELTA_E


def test_identity_create_names_the_engines_that_can(api: httpx.Client) -> None:
    brief = {"instructions": [{"appearance": {"skin_tone": "light"}, "num_variations": 2}],
             "options": {"model": "auto"}, "name": "Nordic"}  # fmt: skip
    answer = api.post("/identity/create", json=brief)
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] and "On-Model" in body["message"] and "local" in body["message"]


def test_promote_a_generated_output(
    server: ServerProcess, api: httpx.Client, tmp_path: Path
) -> None:
    project, files = _uploaded(server, _garment_folder(tmp_path))
    created = api.post(
        "/create-packshot",
        json={"project_id": project, "images": files, "instructions": [{"style": "white_cutout"}]},
    )
    result = _finished(api, created.json()["job_id"])["results"][0]
    before = _balance(server)
    body = {"image_result_id": result["output_id"], "name": "Packshot"}
    promoted = api.post("/identity/promote-generated", json=body)
    assert promoted.status_code == 201, promoted.text
    code = promoted.json()["identity_code"]
    assert before - _balance(server) == 50
    again = api.post("/identity/promote-generated", json={"image_result_id": result["output_id"]})
    assert again.status_code == 409 and again.json()["identity_code"] == code
    assert before - _balance(server) == 50  # the second answer charged nothing
    assert api.get(f"/identity/{code}").json()["name"] == "Packshot"
    missing = api.post("/identity/promote-generated", json={"image_result_id": "out_nope"})
    assert missing.status_code == 404


def test_the_scripts_ride_out_429s_and_give_up_on_a_job_that_never_appears(
    tmp_path: Path,
) -> None:
    """On a server answering 429 to a third of the API calls (Retry-After), the scripts' 429
    backoff gets both job types through; polling a job that does not exist ends after the
    scripts' ten 404 retries."""
    seen: list[int] = []
    with ServerProcess(tmp_path / "faulty", engine="local", faults="429=0.3,seed=11") as server:
        script = ProductScript(server.base_url, token=server.token)
        send = script.http.request

        def request(method: str, url: str, **kwargs: object) -> httpx.Response:
            response = send(method, url, **kwargs)  # type: ignore[arg-type]
            seen.append(response.status_code)
            return response

        script.http.request = request  # type: ignore[method-assign]
        folder = _garment_folder(tmp_path)
        run, _body = script.create_packshot(folder, tmp_path / "p", [{"style": "white_cutout"}])
        assert run.files == ["output_0_0_v0.jpg"]
        run, _body = script.garment_recolor(folder, tmp_path / "r", reference_text="navy")
        assert run.files == ["output_0_0_v0.jpg"]
        assert 429 in seen  # the faults were met, and waited out
        with pytest.raises(ScriptFailed, match="not found after 10 retries"):
            script.wait("job_does_not_exist", Run(), poll=0.01)


def test_packshot_variations_are_alternatives(
    server: ServerProcess, api: httpx.Client, tmp_path: Path
) -> None:
    """Variations change what the instruction leaves open (a flat lay's surface tint, then the
    shadow, then the framing), never what it fixes; with nothing open they repeat, and say so."""
    project, files = _uploaded(server, _garment_folder(tmp_path))
    instructions = [
        {"style": "flat_lay", "num_variations": 4, "options": {"size": "1K", "format": "png"}},
        {"style": "white_cutout", "shadow": "contact", "framing": "square_packshot",
         "num_variations": 2, "options": {"size": "1K", "format": "png"}},
    ]  # fmt: skip
    created = api.post(
        "/create-packshot",
        json={"project_id": project, "images": files, "instructions": instructions},
    )
    assert created.status_code == 202, created.text
    body = _finished(api, created.json()["job_id"])
    made = {(r["group_index"], r["image_index"]): r for r in body["results"]}
    assert all(r["status"] == "completed" for r in made.values())

    def pixels(result: dict) -> np.ndarray:
        data = httpx.get(result["output"]["full_size"], timeout=30).content
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.int16)

    flat = [pixels(made[(0, v)]) for v in range(4)]
    for a in range(4):
        for b in range(a + 1, 4):
            assert np.abs(flat[a] - flat[b]).mean() > 0.5, (a, b)  # visibly different
    corner = [tuple(int(c) for c in image[5, 5]) for image in flat]
    assert corner[1] != corner[0] and corner[2] == corner[0]  # only variation 2 is re-tinted
    notes = [" ".join(made[(0, v)]["warnings"]) for v in range(4)]
    assert "variation" not in notes[0]
    assert "variation 2: cool light grey surface" in notes[1]
    assert "variation 3: contact shadow" in notes[2]
    assert "variation 4: roomier framing" in notes[3]
    assert all(made[(0, v)]["metrics"]["garment_whole"] for v in range(4))
    fixed = [pixels(made[(1, v)]) for v in range(2)]
    assert (fixed[0] == fixed[1]).all()
    assert "variation 2 is the same image as variation 1" in " ".join(made[(1, 1)]["warnings"])
