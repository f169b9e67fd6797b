"""The realism measure on faces derived from photos that dependencies ship (scikit-image's
astronaut, matplotlib's Grace Hopper): the photo measured as its own output has no defect, and
each defect a reviewer rejects, drawn onto the photo's face where a swap would leave it, is
named. Every check compares the output with the original at the same place."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageFilter

from vestis.engines.local.faces import find_face
from vestis.quality import face_signature
from vestis.quality.face_traits import FACE_OVAL, INNER_LIPS, OUTER_LIPS, traits
from vestis.quality.realism import DEFECTS, measure_realism
from vestis.runs import samples


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A catalogue-like photo with a closed-mouth face (Grace Hopper's portrait)."""
    return np.ascontiguousarray(np.asarray(samples.make_portrait_identity_image().convert("RGB")))


@pytest.fixture(scope="module")
def mesh(photo: np.ndarray) -> np.ndarray:
    face = find_face(photo)
    assert face is not None
    return face.landmarks


def _measure(original: np.ndarray, output: np.ndarray) -> list[str]:
    face = face_signature(original)
    assert face is not None
    return measure_realism(original, output, face.box).defects


def _poly(shape: tuple[int, ...], points: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    return mask > 0


def test_a_real_photo_as_its_own_output_has_no_defect(photo: np.ndarray) -> None:
    assert _measure(photo, photo) == []
    astronaut = np.asarray(samples.make_pdp_photo(0).convert("RGB"))
    assert _measure(astronaut, astronaut) == []


def test_a_real_photo_reencoded_as_a_jpeg_has_no_defect(photo: np.ndarray) -> None:
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, "JPEG", quality=90)
    again = np.asarray(Image.open(buffer).convert("RGB"))
    assert _measure(photo, again) == []


def test_grey_patches_on_the_cheeks_are_skin_blotch(photo: np.ndarray, mesh: np.ndarray) -> None:
    out = photo.copy()
    eye = float(np.linalg.norm(mesh[33] - mesh[263]))
    for cheek in (mesh[50], mesh[280], mesh[205], mesh[425]):
        x, y = (int(v) for v in cheek)
        cv2.circle(out, (x, y), int(eye * 0.12), (128, 124, 122), -1)
    assert "skin_blotch" in _measure(photo, out)


def test_teeth_on_a_closed_mouth_is_an_expression_defect(
    photo: np.ndarray, mesh: np.ndarray
) -> None:
    """An open, toothy mouth pasted where the photo's mouth is closed (the reviewer's 'grin
    pasted on'): pale teeth between the lips."""
    out = photo.copy()
    centre = mesh[OUTER_LIPS].mean(axis=0)
    width = float(np.linalg.norm(mesh[61] - mesh[291]))
    cv2.ellipse(out, (int(centre[0]), int(centre[1])), (int(width * 0.42), int(width * 0.16)),
                0, 0, 360, (238, 236, 230), -1)  # fmt: skip
    defects = _measure(photo, out)
    assert "expression" in defects or "lips" in defects


def test_frame_lines_across_the_eyes_are_glasses_fragments(
    photo: np.ndarray, mesh: np.ndarray
) -> None:
    """Broken dark frame lines across the nose bridge and under the eyes, which the photo's
    own (light) glasses do not have."""
    out = photo.copy()
    eye = float(np.linalg.norm(mesh[33] - mesh[263]))
    thick = max(2, int(eye * 0.035))
    bridge_y = int((mesh[133, 1] + mesh[362, 1]) / 2 - eye * 0.05)
    cv2.line(out, (int(mesh[133, 0]), bridge_y), (int(mesh[362, 0]), bridge_y), (30, 25, 25), thick)
    for lower in (145, 374):
        x, y = mesh[lower]
        y = int(y + eye * 0.16)
        cv2.line(out, (int(x - eye * 0.2), y), (int(x + eye * 0.2), y), (30, 25, 25), thick)
    assert "glasses_fragments" in _measure(photo, out)


def test_a_smeared_face_is_not_as_sharp_as_the_photo(photo: np.ndarray, mesh: np.ndarray) -> None:
    face = _poly(photo.shape, mesh[FACE_OVAL])
    blurred = np.asarray(Image.fromarray(photo).filter(ImageFilter.GaussianBlur(4)))
    out = np.where(face[..., None], blurred, photo)
    assert "sharpness" in _measure(photo, out)


def test_every_defect_is_said_in_words(photo: np.ndarray, mesh: np.ndarray) -> None:
    """The warning's words (`DEFECTS`) are the same for every output, so outputs with the same
    defects are said once; every defect the measure can name has them."""
    import inspect

    from vestis.quality import realism

    named = set(__import__("re").findall(r'report\.add\(\s*"(\w+)"', inspect.getsource(realism)))
    assert named and named <= set(DEFECTS)


def test_traits_read_the_photo(photo: np.ndarray, mesh: np.ndarray) -> None:
    """Grace Hopper: a closed mouth, no teeth, a level frontal head; the smiling astronaut: an
    open mouth with teeth."""
    hopper = traits(photo, mesh)
    assert hopper.mouth_open < 0.05 and hopper.teeth == 0.0
    assert abs(hopper.yaw) < 0.2 and abs(hopper.roll) < 10
    smiling = np.ascontiguousarray(np.asarray(samples.make_pdp_photo(1).convert("RGB")))
    face = find_face(smiling)
    assert face is not None
    grin = traits(smiling, face.landmarks)
    assert grin.mouth_open > 0.1 and grin.teeth > 0.1
    assert _poly(smiling.shape, face.landmarks[INNER_LIPS]).sum() > 0


def _lens_outlines(image: np.ndarray, mesh: np.ndarray, strength: float) -> np.ndarray:
    """Thin brown lens outlines ringing each eye, blended in at `strength` (1: solid)."""
    from vestis.quality.face_traits import LEFT_EYE, RIGHT_EYE

    drawn = image.copy()
    eye = float(np.linalg.norm(mesh[33] - mesh[263]))
    for contour in (RIGHT_EYE, LEFT_EYE):
        centre = mesh[contour].mean(axis=0)
        axes = (int(0.3 * eye), int(0.21 * eye))
        thickness = max(1, int(eye * 0.025))
        cv2.ellipse(drawn, (int(centre[0]), int(centre[1])), axes, 0, 0, 360, (120, 90, 80),
                    thickness, cv2.LINE_AA)  # fmt: skip
    return (image * (1.0 - strength) + drawn * strength).astype(np.uint8)


def test_lens_outlines_are_glasses_and_faint_ones_count_when_the_identity_wears_them() -> None:
    """Lens outlines (browline frames' clear lower rims, as a swap leaves them): solid ones are
    glasses to the shared rule and to the measure; fainter ones gained over the photo are
    glasses fragments too; a faint ring is named only when the identity wears glasses (it can
    only be its frames), never on a photo as its own output."""
    from vestis.quality.face_traits import wears_glasses

    photo = np.ascontiguousarray(np.asarray(samples.make_pdp_photo(2).convert("RGB")))
    face = find_face(photo)
    signature = face_signature(photo)
    assert face is not None and signature is not None
    assert not wears_glasses(traits(photo, face.landmarks))
    solid = _lens_outlines(photo, face.landmarks, 1.0)
    assert wears_glasses(traits(solid, face.landmarks))
    assert "glasses_fragments" in measure_realism(photo, solid, signature.box).defects
    fainter = _lens_outlines(photo, face.landmarks, 0.8)
    assert "glasses_fragments" in measure_realism(photo, fainter, signature.box).defects
    faint = _lens_outlines(photo, face.landmarks, 0.35)
    assert "glasses_fragments" not in measure_realism(photo, faint, signature.box).defects
    assert "glasses_fragments" in measure_realism(photo, faint, signature.box, True).defects
    assert measure_realism(photo, photo, signature.box, True).defects == []
