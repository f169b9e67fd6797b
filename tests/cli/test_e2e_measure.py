"""`vestis measure swap|flat`, run as a separate process on files made here: the JSON a result
carries, one per manifest line in order, and clear errors for missing or corrupt inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import ImageFilter
from tests.cli.conftest import cli_env, vestis

from vestis.quality import face_signature
from vestis.runs.samples import make_pdp_photo, make_portrait_identity_image

pytestmark = pytest.mark.e2e

FIELDS = {"quality_score", "detail_needs_review", "detail_review_reason", "warnings", "metrics"}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The astronaut's photo; Grace Hopper as the identity; the photo with its face smeared
    (what a swap that blurs the face delivers); and a file that is not an image."""
    root = tmp_path_factory.mktemp("measure")
    photo = make_pdp_photo(0)
    face = face_signature(photo)
    assert face is not None
    smeared = photo.copy()
    smeared.paste(photo.crop(face.box).filter(ImageFilter.GaussianBlur(3)), face.box[:2])
    paths = {
        "original": root / "photo.png",
        "identity": root / "identity.jpg",
        "smeared": root / "smeared.png",
        "corrupt": root / "corrupt.jpg",
    }
    photo.save(paths["original"])
    make_portrait_identity_image().save(paths["identity"])
    smeared.save(paths["smeared"])
    paths["corrupt"].write_bytes(b"\xff\xd8 not a jpeg")
    return paths


def _lines(stdout: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in stdout.splitlines()]


def test_one_output_flags_its_realism_defect(files: dict[str, Path], tmp_path: Path) -> None:
    done = vestis(
        "measure", "swap", "--original", str(files["original"]),
        "--identity", str(files["identity"]), "--output", str(files["smeared"]),
        env=cli_env(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [result] = _lines(done.stdout)
    assert set(result) == FIELDS
    realism = result["metrics"]["realism"]
    assert realism["ok"] is False and "sharpness" in realism["defects"]
    assert realism["sharpness_ratio"] < 0.8
    assert result["quality_score"] <= 0.5
    assert result["detail_needs_review"] is True
    assert "face looks unreal (sharpness)" in result["detail_review_reason"]


def test_a_manifest_gives_one_line_per_output_in_order(
    files: dict[str, Path], tmp_path: Path
) -> None:
    rows = [
        {"original": str(files["original"]), "identity": "identity.jpg", "output": "photo.png"},
        {"original": str(files["original"]), "identity": "identity.jpg", "output": "smeared.png"},
        {"original": "photo.png", "identity": "identity.jpg", "output": "corrupt.jpg"},
        {"original": "photo.png", "identity": "identity.jpg", "output": "photo.png"},
    ]
    manifest = files["original"].parent / "manifest.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    done = vestis("measure", "swap", "--manifest", str(manifest), env=cli_env(tmp_path))
    assert done.returncode == 1  # the corrupt output, said and skipped; the rest measured
    assert "entry 3" in done.stderr and "corrupt.jpg" in done.stderr
    same, smeared, corrupt, again = _lines(done.stdout)
    # The photo as its own output: a real photo, realism ok, but not a new person.
    assert same["metrics"]["realism"]["ok"] is True
    assert same["metrics"]["original_distance"] == 0.0
    assert same["metrics"]["is_identity"] is False and same["detail_needs_review"] is True
    assert "sharpness" in smeared["metrics"]["realism"]["defects"]
    assert corrupt["entry"] == 3 and "not a readable image" in corrupt["error"]
    assert again == same


def test_a_bad_manifest_is_refused_before_anything_is_measured(
    files: dict[str, Path], tmp_path: Path
) -> None:
    manifest = tmp_path / "bad.jsonl"
    good = {"original": str(files["original"]), "identity": str(files["identity"])}
    manifest.write_text(
        "\n".join(
            [
                json.dumps({**good, "output": str(files["original"])}),
                json.dumps({**good, "output": "gone.png"}),
                "not json",
                json.dumps({"original": "x.png"}),
            ]
        ),
        encoding="utf-8",
    )
    done = vestis("measure", "swap", "--manifest", str(manifest), env=cli_env(tmp_path))
    assert done.returncode == 1 and done.stdout == ""
    assert f"{manifest} line 2: no such file: output {tmp_path / 'gone.png'}" in done.stderr
    assert f"{manifest} line 3: not JSON" in done.stderr
    assert f"{manifest} line 4: no identity, output" in done.stderr


def test_usage_errors_and_a_missing_file(files: dict[str, Path], tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    half = vestis("measure", "swap", "--original", str(files["original"]), env=env)
    assert half.returncode == 2 and "missing --identity, --output" in half.stderr
    gone = vestis(
        "measure", "flat", "--identity", str(files["identity"]),
        "--output", str(tmp_path / "none.png"), env=env,
    )  # fmt: skip
    assert gone.returncode == 1 and "no such file: output" in gone.stderr


def test_a_flat_output_is_measured_too(files: dict[str, Path], tmp_path: Path) -> None:
    done = vestis(
        "measure", "flat", "--identity", str(files["identity"]),
        "--output", str(files["identity"]), env=cli_env(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [result] = _lines(done.stdout)
    assert result["metrics"]["is_identity"] is True
    assert result["detail_needs_review"] is False and result["detail_review_reason"] is None
