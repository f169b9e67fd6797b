"""LocalEngine: the CPU engine (classical computer vision on mediapipe's bundled models)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from vestis.engines.base import (
    EngineError,
    EngineOutput,
    FaceInfo,
    FlatSpec,
    PackshotSpec,
    RecolorSpec,
    SwapSpec,
)
from vestis.quality.face_traits import FaceTraits, traits, wears_glasses
from vestis.quality.identity_choice import (
    CLEAN_AT,
    CLOSED_BELOW,
    FACIAL_HAIR_AT,
    IDENTITY_YAW_AT_MOST,
    grins,
)

if TYPE_CHECKING:  # the engine module stays cheap to import: OpenCV loads on first use
    from vestis.engines.local.faces import FaceGeometry

#: Pose landmark indices: shoulders and hips must be visible for an image to count as a body.
_BODY_POINTS = (11, 12, 23, 24)

NO_FACE_TARGET = (
    "No face found in the target photo: the local engine swaps faces only on photos where a face "
    "is visible (front or three-quarter view). Check the photo, or leave it out of the job."
)
NO_FACE_IDENTITY = (
    "No face found in the identity image: upload an identity photo with a clearly visible face "
    "(front view, not too small)."
)


#: Smallest faces the swap works on, as the distance between the outer eye corners in pixels:
#: below this a target face is a few dozen pixels wide and carries no recognisable identity,
#: and an identity face would have to be enlarged into a blur.
MIN_TARGET_EYE_PX = 16
MIN_IDENTITY_EYE_PX = 24
#: Share of the face outline that may lie outside the target photo (a forehead cut by the top
#: edge is fine; a face cut at the brows, the mouth or down the middle is not).
MAX_OUTSIDE_SHARE = 0.10


def _check_faces(
    target_face: FaceGeometry, size: tuple[int, int], identity_face: FaceGeometry
) -> None:
    """Refuse, with a message that says which and the size found, a target or identity face the
    swap cannot use (rather than pasting a patch of skin where half a face is)."""
    from vestis.engines.local.faces import framing

    if identity_face.eye_distance < MIN_IDENTITY_EYE_PX:
        raise EngineError(
            f"The face in the identity image is too small to swap: its eyes are "
            f"{identity_face.eye_distance:.0f} px apart (outer corners), at least "
            f"{MIN_IDENTITY_EYE_PX} px are needed. Upload a larger or closer identity photo."
        )
    if target_face.eye_distance < MIN_TARGET_EYE_PX:
        raise EngineError(
            f"The face in the target photo is too small to swap: its eyes are "
            f"{target_face.eye_distance:.0f} px apart (outer corners), at least "
            f"{MIN_TARGET_EYE_PX} px are needed. Use a larger photo or a closer shot."
        )
    frame = framing(target_face, size)
    if frame.outside_share > MAX_OUTSIDE_SHARE or frame.features_outside:
        edges = " and ".join(frame.edges) or "an"
        raise EngineError(
            f"The face in the target photo is cut by the frame: {frame.outside_share:.0%} of "
            f"the face lies outside the picture (at the {edges} edge"
            f"{'s' if len(frame.edges) > 1 else ''}; at most {MAX_OUTSIDE_SHARE:.0%} allowed, "
            "with eyes, brows, nose and mouth in the picture). The local engine swaps only "
            "faces that are in the photo; leave this photo out of the job."
        )


#: What the local swap cannot render in the photo itself (calibrated on the development
#: photos: three-quarter heads 0.3-0.5, profiles 0.6 and more). The rules of the pair (glasses,
#: a turned identity, beard onto clean-shaven, grin onto a closed mouth) are
#: `quality.identity_choice`'s, which picks among an identity's photos by the same figures.
TARGET_YAW_AT_MOST = 0.3
TARGET_ROLL_AT_MOST = 25.0


def _check_traits(target: FaceTraits, identity: FaceTraits) -> None:
    """Refuse, saying what to do, a pair whose swap would show broken frames or half a face."""
    if wears_glasses(identity):
        raise EngineError(
            "The identity wears glasses: the local engine cannot take them off, and their "
            "frames would arrive in pieces across the new face. Upload a photo of the identity "
            "without glasses, or use a generative engine (the hosted service through the gateway)."
        )
    if abs(identity.yaw) > IDENTITY_YAW_AT_MOST:
        raise EngineError(
            f"The identity's head is turned to the side (turn {abs(identity.yaw):.2f}, at most "
            f"{IDENTITY_YAW_AT_MOST} for the local engine): half of its face is not in the photo. "
            "Upload a photo that looks at the camera."
        )
    if wears_glasses(target):
        raise EngineError(
            "The model in this photo wears glasses: the local engine would break the frames "
            "across the new face. Leave this photo out, or use a generative engine."
        )
    if abs(target.yaw) > TARGET_YAW_AT_MOST or abs(target.roll) > TARGET_ROLL_AT_MOST:
        raise EngineError(
            f"The model's head in this photo is turned or tilted too far for the local engine "
            f"(turn {abs(target.yaw):.2f}, tilt {abs(target.roll):.0f}°; at most "
            f"{TARGET_YAW_AT_MOST} and {TARGET_ROLL_AT_MOST:.0f}°): the new face would break. "
            "Leave this photo out, or use a generative engine."
        )
    if identity.facial_hair >= FACIAL_HAIR_AT and target.facial_hair < CLEAN_AT:
        raise EngineError(
            "The identity has a beard or stubble and the model in this photo is clean-shaven: "
            "the local engine would paste grey shadows of it across the new face. Upload a "
            "clean-shaven photo of the identity, or use a generative engine."
        )
    if grins(identity) and target.mouth_open < CLOSED_BELOW:
        raise EngineError(
            "The identity smiles with an open mouth and the model in this photo does not: the "
            "local engine keeps the photo's closed mouth, and the smile's cheek folds would come "
            "along without it. Upload a photo of the identity with a closed mouth (a neutral "
            "expression swaps best)."
        )


def _rgb(image: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(image.convert("RGB")))


class LocalEngine:
    """Model swap and flat-to-model on a CPU, with no network and no downloaded weights."""

    name = "local"
    model_used = "local"

    def detect_face(self, image: Image.Image) -> FaceInfo:
        from vestis.engines.local.faces import body_landmarks, find_face

        rgb = _rgb(image)
        face = find_face(rgb)
        body = body_landmarks(rgb)
        has_body = bool(body is not None and (body[list(_BODY_POINTS), 2] > 0.5).all())
        metadata: dict[str, object] = {"image_size": [rgb.shape[1], rgb.shape[0]]}
        if face is None:
            return FaceInfo(detected=False, has_body=has_body, metadata=metadata)
        metadata["landmarks"] = int(len(face.landmarks))
        metadata["eye_distance_px"] = round(face.eye_distance, 1)
        return FaceInfo(
            detected=True,
            box=face.box,
            confidence=round(face.confidence, 3),
            has_body=has_body,
            metadata=metadata,
        )

    def model_swap(self, spec: SwapSpec) -> EngineOutput:
        from vestis.engines.local.faces import find_face
        from vestis.engines.local.skin import equalise_skin, skin_weight
        from vestis.engines.local.swap import swap_face, swap_params
        from vestis.engines.local.watermark import add_ai_watermark

        target = _rgb(spec.target)
        identity = _rgb(spec.identity)
        identity_face = find_face(identity)
        if identity_face is None:
            raise EngineError(NO_FACE_IDENTITY)
        target_face = find_face(target)
        if target_face is None:
            raise EngineError(NO_FACE_TARGET)
        _check_faces(target_face, (target.shape[1], target.shape[0]), identity_face)
        target_traits = traits(target, target_face.landmarks)
        identity_traits = traits(identity, identity_face.landmarks)
        _check_traits(target_traits, identity_traits)
        params = swap_params(
            spec.seed, spec.variation, spec.face_reference_mode, spec.post_process, spec.retry
        )
        result = swap_face(target, target_face, identity, identity_face, params)
        head = result.alpha > 0
        out = result.image
        skin_pixels = 0
        if spec.post_process:
            weight = skin_weight(target, target_face, result.alpha, result.tone_ramp)
            out = equalise_skin(out, weight, result.face_lab_after - result.face_lab_before)
            skin_pixels = int((weight > 0).sum())
        image = Image.fromarray(out)
        if spec.add_ai_watermark:
            image = add_ai_watermark(image)
        warnings: list[str] = []
        if spec.prompt:
            warnings.append("prompt ignored: the local engine does not interpret text prompts")
        ys, xs = np.nonzero(head)
        total = head.size
        metadata = {
            "face_found": True,
            "changed_region_bbox": [
                int(xs.min()),
                int(ys.min()),
                int(xs.max()) + 1,
                int(ys.max()) + 1,
            ],
            "head_region_share": round(float(head.sum()) / total, 6),
            "unchanged_outside_head_share": 1.0,
            "skin_pixels_equalised": skin_pixels,
            "variation_params": vars(params),
            "fit_residual": round(result.fit_residual, 4),
            "seam_error": round(result.seam_error, 3),
        }
        if spec.post_process or spec.add_ai_watermark:
            same = (np.asarray(image) == target).all(axis=2)
            metadata["unchanged_outside_head_share"] = round(
                float(same[~head].sum()) / max(int((~head).sum()), 1), 6
            )
        quality = 0.5 * math.exp(-result.fit_residual / 0.25) + 0.5 * math.exp(
            -result.seam_error / 12.0
        )
        quality *= min(1.0, 0.5 + target_face.confidence / 2)
        return EngineOutput(
            image=image,
            model_used=self.model_used,
            quality_score=round(float(np.clip(quality, 0.0, 1.0)), 4),
            warnings=warnings,
            metadata=metadata,
        )

    def flat_to_model(self, spec: FlatSpec) -> EngineOutput:
        from vestis.engines.local.flat import render_flat_to_model

        return render_flat_to_model(spec, self.model_used)

    def generate_identity(self, spec: SwapSpec) -> EngineOutput:
        raise EngineError(
            "The local engine cannot invent an identity from a prompt: it only transfers a real "
            "face. Provide a face_reference image, or configure a generative (GPU or remote) "
            "engine for prompt-only model swaps."
        )

    def create_packshot(self, spec: PackshotSpec) -> EngineOutput:
        from vestis.engines.local.products import packshot_output

        return packshot_output(spec, self.model_used)

    def garment_recolor(self, spec: RecolorSpec) -> EngineOutput:
        from vestis.engines.local.products import recolor_output

        return recolor_output(spec, self.model_used)
