"""Garment lock on a repainted swap: outside the region a swap may change the pixels are the
photo's bit for bit, even when the repaint came back larger and shifted; an output that cannot
be aligned, or a photo without a face, is delivered unlocked with a warning."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vestis.engines.base import SwapSpec
from vestis.engines.garment_lock import lock_garments, swap_region
from vestis.engines.local import LocalEngine
from vestis.runs import samples


def repaint(image: Image.Image, scale: float = 1.0, shift: tuple[int, int] = (0, 0)) -> Image.Image:
    """What a generative service does to a photo: every pixel a little different, and maybe
    another size and a few pixels off."""
    noisy = np.asarray(image.convert("RGB")).astype(np.int16)
    noisy += np.random.default_rng(1).integers(-6, 7, noisy.shape, dtype=np.int16)
    out = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    if scale != 1.0:
        out = out.resize((round(out.width * scale), round(out.height * scale)))
    if shift != (0, 0):
        out = out.transform(out.size, Image.Transform.AFFINE, (1, 0, shift[0], 0, 1, shift[1]))
    return out


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return samples.make_pdp_photo(1)


@pytest.fixture(scope="module")
def swapped(photo: Image.Image) -> Image.Image:
    identity = samples.make_portrait_identity_image()
    with pytest.MonkeyPatch.context() as patch:  # see engines/conftest.py: glasses_allowed
        patch.setattr("vestis.engines.local.engine.wears_glasses", lambda face: False)
        return LocalEngine().model_swap(SwapSpec(target=photo, identity=identity, seed=1)).image


@pytest.mark.parametrize(("scale", "shift"), [(1.0, (0, 0)), (1.5, (4, -3))])
def test_only_the_swap_region_changes(
    photo: Image.Image, swapped: Image.Image, scale: float, shift: tuple[int, int]
) -> None:
    result = lock_garments(photo, repaint(swapped, scale, shift))

    assert result.warnings == []
    source = np.asarray(photo.convert("RGB"))
    locked = np.asarray(result.image)
    assert locked.shape == source.shape
    changed = (locked != source).any(axis=2)
    region = swap_region(source)
    assert region is not None
    # the garments (the suit, the trousers) and the background are the photo's, bit for bit
    assert not changed[330:, :].any()
    assert not changed[200:330, :120].any()
    # the new face came through
    assert changed[40:110, 170:280].mean() > 0.5
    # what changed is within the region of the photo or of the (aligned) output, a minority
    assert changed.mean() < region.mean() * 2
    assert result.locked_share is not None and result.locked_share > 0.85
    assert result.locked_share == pytest.approx(1 - changed.mean(), abs=1e-6)


def test_an_output_that_cannot_be_aligned_is_delivered_unlocked(photo: Image.Image) -> None:
    other = samples.make_flat_lay("top", (30, 90, 160)).resize((700, 300))
    result = lock_garments(photo, other)
    assert result.locked_share is None
    assert result.warnings and "garment lock not applied" in result.warnings[0]
    assert result.image.size == other.size


def test_a_photo_without_a_face_is_delivered_unlocked(photo: Image.Image) -> None:
    faceless = samples.make_faceless_image().resize(photo.size)
    result = lock_garments(faceless, repaint(faceless))
    assert result.locked_share is None
    assert "no face" in result.warnings[0]


def test_only_swaps_of_engines_that_repaint_are_locked(
    photo: Image.Image, swapped: Image.Image
) -> None:
    from vestis.engines.base import EngineOutput
    from vestis.engines.garment_lock import lock_if_repainted

    class Repainter:
        name = "remote"
        repaints = True

    made = EngineOutput(repaint(swapped, 1.25), "onda", engine="remote")
    share = lock_if_repainted(Repainter(), "model_swap", photo, made)
    assert share is not None and share > 0.85 and made.image.size == photo.size
    assert made.garment_locked_share == share
    by_local = EngineOutput(swapped, "local", engine="local")
    assert lock_if_repainted(LocalEngine(), "model_swap", photo, by_local) is None
    assert by_local.image is swapped and by_local.garment_locked_share is None
    assert lock_if_repainted(Repainter(), "model_swap", photo, made, enabled=False) is None
    assert lock_if_repainted(Repainter(), "flat_2_model", photo, made) is None


def test_the_chain_locks_what_a_repainting_job_engine_delivers(
    photo: Image.Image, swapped: Image.Image
) -> None:
    import io

    from tests.engines.remote.conftest import RecordingContext, swap_work

    from vestis.engines.base import EngineOutput, JobContext, JobFile, JobWork
    from vestis.engines.chain import run_job_on_chain

    class RepaintingRemote:
        name = "remote"
        repaints = True

        def run_job(self, work: JobWork, context: JobContext) -> None:
            for slot in work.slots:
                context.deliver(slot.key, EngineOutput(repaint(swapped, 1.25), "onda"))

    buffer = io.BytesIO()
    photo.save(buffer, format="PNG")
    work = swap_work("job_lock", inputs=1)
    work.files["file0"] = JobFile("file0", "look.png", buffer.getvalue())
    context = RecordingContext()
    run_job_on_chain([RepaintingRemote()], work, context, lambda slot: None)  # type: ignore[list-item, arg-type, return-value]
    made = context.outputs["out0_0"]
    assert made.image.size == photo.size
    assert made.garment_locked_share is not None and made.garment_locked_share > 0.85
    unlocked = RecordingContext()
    run_job_on_chain([RepaintingRemote()], work, unlocked, lambda s: None, garment_lock=False)  # type: ignore[list-item, arg-type, return-value]
    assert unlocked.outputs["out0_0"].garment_locked_share is None
