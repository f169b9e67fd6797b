"""The delivery of one output: encoded as delivered (JPEG outputs keep the source's JPEG
settings), measured, scored, and made again while the face is not the identity."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from tests.support.fake_engine import paste_face
from tests.support.identity_engines import SecondTryEngine, UnchangedEngine

from vestis.engines.base import EngineError, EngineOutput, SwapSpec
from vestis.quality import face_signature, head_region
from vestis.runs.samples import make_pdp_photo, make_portrait_identity_image
from vestis.server.media import images
from vestis.server.pipeline import delivery


@pytest.fixture(scope="module")
def hopper() -> Image.Image:
    return make_portrait_identity_image()


def _jpeg_source(photo: Image.Image, **options: object) -> tuple[bytes, Image.Image]:
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", **options)
    return buffer.getvalue(), images.open_image(buffer.getvalue())


def _kept_outside_head(delivered: bytes, source: Image.Image, tolerance: int = 3) -> float:
    out = np.asarray(Image.open(io.BytesIO(delivered)).convert("RGB")).astype(int)
    ref = np.asarray(source).astype(int)
    face = face_signature(source)
    assert face is not None
    x0, y0, x1, y1 = head_region(face.box, source.size)
    outside = np.ones(ref.shape[:2], dtype=bool)
    outside[y0:y1, x0:x1] = False
    return float((np.abs(out - ref).max(axis=2) <= tolerance)[outside].mean())


@pytest.mark.parametrize(
    "options",
    [
        {"quality": 95, "subsampling": 0},
        {"quality": 90, "subsampling": 2},
        {"quality": 85, "subsampling": 1},
        {"quality": 75},
    ],
    ids=["q95-444", "q90-420", "q85-422", "q75"],
)
def test_a_jpeg_output_keeps_the_sources_pixels_outside_the_head(
    hopper: Image.Image, options: dict
) -> None:
    photo = make_pdp_photo(1).resize((720, 960), Image.Resampling.LANCZOS)
    _, source = _jpeg_source(photo, **options)
    swapped = paste_face(source, hopper)
    made = EngineOutput(image=swapped, model_used="paste", quality_score=1.0)
    spec = SwapSpec(target=source, identity=hopper, seed=1)
    out = delivery.deliver(spec, made, "jpg")
    kept = _kept_outside_head(out.data, source)
    assert kept >= 0.99
    # the blocks the paste did not touch are the source's own: they decode bit for bit
    assert _kept_outside_head(out.data, source, tolerance=0) >= 0.99
    assert out.metrics["unchanged_outside_head"] == pytest.approx(kept, abs=0.002)
    assert out.metrics["is_identity"] is True
    # the face is the delivered one, not the source's
    delivered = np.asarray(Image.open(io.BytesIO(out.data)).convert("RGB")).astype(int)
    face = face_signature(source)
    assert face is not None
    x0, y0, x1, y1 = face.box
    moved = np.abs(delivered[y0:y1, x0:x1] - np.asarray(swapped)[y0:y1, x0:x1]).mean()
    was = np.abs(delivered[y0:y1, x0:x1] - np.asarray(source)[y0:y1, x0:x1]).mean()
    assert moved < was / 3
    # the encoding it replaces (quality 92, 4:2:0) does worse on a finely shot source
    if options.get("subsampling") == 0:
        old = io.BytesIO()
        swapped.save(old, format="JPEG", quality=92)
        assert _kept_outside_head(old.getvalue(), source) < 0.99


def test_a_png_output_is_bit_for_bit_outside_the_head(hopper: Image.Image) -> None:
    buffer = io.BytesIO()
    make_pdp_photo(2).save(buffer, format="PNG")
    source = images.open_image(buffer.getvalue())
    out = delivery.deliver(
        SwapSpec(target=source, identity=hopper, seed=1),
        EngineOutput(image=paste_face(source, hopper), model_used="paste"),
        "png",
    )
    assert out.metrics["unchanged_outside_head"] == 1.0
    face = face_signature(source)
    assert face is not None
    region = head_region(face.box, source.size)
    delivered = np.asarray(Image.open(io.BytesIO(out.data)))
    mask = np.ones(delivered.shape[:2], dtype=bool)
    mask[region[1] : region[3], region[0] : region[2]] = False
    assert (delivered[mask] == np.asarray(source)[mask]).all()


def _call_counter(engine: object) -> tuple[list[int], object]:
    seeds: list[int] = []

    def call(spec: SwapSpec) -> EngineOutput:
        seeds.append(spec.seed)
        return engine.model_swap(spec)  # type: ignore[attr-defined]

    return seeds, call


def test_an_unchanged_target_is_retried_then_delivered_with_a_warning(hopper: Image.Image):
    seeds, call = _call_counter(UnchangedEngine())
    spec = SwapSpec(target=make_pdp_photo(0), identity=hopper, seed=5)
    out = delivery.make(call, spec, "png", retries=2)  # type: ignore[arg-type]
    assert seeds == [5, delivery.retry_seed(5, 1), delivery.retry_seed(5, 2)]
    assert len(set(seeds)) == 3
    assert out.metrics["attempts"] == 3
    assert out.metrics["is_identity"] is False
    assert out.metrics["original_distance"] < 0.05
    assert out.quality_score <= 0.4
    assert any(
        "not the identity" in w and "made 3 times" in w and "closest" in w for w in out.warnings
    )


def test_no_retries_when_told_so(hopper: Image.Image) -> None:
    seeds, call = _call_counter(UnchangedEngine())
    out = delivery.make(call, SwapSpec(make_pdp_photo(0), hopper, seed=5), "png", retries=0)  # type: ignore[arg-type]
    assert seeds == [5] and out.metrics["attempts"] == 1
    assert any("not the identity" in w for w in out.warnings)
    assert not any("made" in w for w in out.warnings)


def test_a_retry_that_is_the_identity_is_kept(hopper: Image.Image) -> None:
    seeds, call = _call_counter(SecondTryEngine())
    out = delivery.make(call, SwapSpec(make_pdp_photo(3), hopper, seed=1), "png", retries=2)  # type: ignore[arg-type]
    assert len(seeds) == 2
    assert out.metrics["attempts"] == 2 and out.metrics["is_identity"] is True
    assert not any("not the identity" in w for w in out.warnings)
    assert out.quality_score > 0.4
    assert out.face_embedding is not None and len(out.face_embedding) == 128


def test_an_engine_that_ignores_the_seed_is_not_asked_again_and_again(hopper: Image.Image):
    target = make_pdp_photo(0)
    calls: list[int] = []

    def same_every_time(spec: SwapSpec) -> EngineOutput:
        calls.append(spec.seed)
        return EngineOutput(image=target.copy(), model_used="same")

    out = delivery.make(same_every_time, SwapSpec(target, hopper, seed=1), "png", retries=5)  # type: ignore[arg-type]
    assert len(calls) == 2 and out.metrics["attempts"] == 2


def test_an_engine_error_on_a_retry_keeps_the_first(hopper: Image.Image) -> None:
    calls: list[int] = []
    unchanged = UnchangedEngine()

    def fails_later(spec: SwapSpec) -> EngineOutput:
        calls.append(spec.seed)
        if len(calls) > 1:
            raise EngineError("busy")
        return unchanged.model_swap(spec)

    out = delivery.make(fails_later, SwapSpec(make_pdp_photo(0), hopper, seed=1), "png", 2)  # type: ignore[arg-type]
    assert len(calls) == 2 and out.metrics["attempts"] == 1
    with pytest.raises(EngineError):
        delivery.make(
            lambda spec: (_ for _ in ()).throw(EngineError("no face")),  # type: ignore[arg-type]
            SwapSpec(make_pdp_photo(0), hopper, seed=1),
            "png",
            2,
        )


@pytest.mark.parametrize("value", [56, 57, 120, 250])
def test_a_change_in_the_corner_keeps_every_other_block(value: int) -> None:
    """One pixel changed in the last MCU: everything else decodes exactly as the upload (the
    blocks along the image's own edge too, whose upsampling reads the changed MCU)."""
    _, source = _jpeg_source(
        make_pdp_photo(0).resize((600, 800), Image.Resampling.LANCZOS), quality=90, subsampling=2
    )
    out = source.copy()
    out.putpixel((out.width - 1, out.height - 1), (value, 0, 7))
    delivered = np.asarray(Image.open(io.BytesIO(images.encode(out, "jpg", like=source))))
    same = (delivered == np.asarray(source)).all(axis=2)
    same[-16:, -16:] = True  # the changed MCU itself
    assert same.mean() >= 0.9999


def test_jpeglib_is_only_ever_called_under_its_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """jpeglib's C wrapper keeps a file's markers in global variables and ctypes releases the
    GIL: two threads reading at once corrupted the heap. Every call into it, the lazy `load`
    and `write_dct` included, holds `jpeg_blocks._JPEGLIB`."""
    import jpeglib

    from vestis.server.media import jpeg_blocks

    calls: list[str] = []
    real_read = jpeglib.read_dct

    def guarded(name: str, call):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            assert jpeg_blocks._JPEGLIB.locked(), f"jpeglib {name} called without the lock"
            calls.append(name)
            return call(*args, **kwargs)

        return wrapper

    def read_dct(path: str):  # type: ignore[no-untyped-def]
        jpeg = guarded("read_dct", real_read)(path)
        jpeg.load = guarded("load", jpeg.load)
        jpeg.write_dct = guarded("write_dct", jpeg.write_dct)
        return jpeg

    monkeypatch.setattr(jpeglib, "read_dct", read_dct)
    _, source = _jpeg_source(make_pdp_photo(2).resize((480, 640)), quality=90, subsampling=2)
    out = source.copy()
    out.putpixel((10, 10), (255, 0, 0))
    images.encode(out, "jpg", like=source)
    assert sorted(calls) == ["load", "load", "read_dct", "read_dct", "write_dct"]


#: Four threads delivering small JPEGs with a comment marker at once, in a process of its own.
#: Without the lock, 7 of 10 such processes died (SIGSEGV, SIGBUS or a malloc abort).
_MANY_THREADS = """
import io, sys, threading
import numpy as np
from PIL import Image
from vestis.server.media import images

cases = []
for index in range(4):
    pixels = np.random.default_rng(index).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90, comment=b"x" * 500)
    source = images.open_image(buffer.getvalue())
    out = source.copy()
    out.putpixel((5, 5), (255, 0, 0))
    cases.append((source, out))
alone = [images.encode(out, "jpg", like=source) for source, out in cases]
wrong = []

def deliver(number):
    for k in range(300):
        source, out = cases[(number + k) % 4]
        if images.encode(out, "jpg", like=source) != alone[(number + k) % 4]:
            wrong.append(number)

threads = [threading.Thread(target=deliver, args=(n,)) for n in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print("different outputs:", len(wrong))
"""


def test_jpeg_outputs_made_in_many_threads_at_once_are_those_made_one_at_a_time() -> None:
    """Worker threads delivering JPEGs at the same moment (a server's first jobs) get the very
    bytes a lone thread gets, and the process lives."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", _MANY_THREADS],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "different outputs: 0"
