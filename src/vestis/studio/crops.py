"""Face crops for the model-swap review: the same square around the face in the input and in
the output, and the identity's face, each scaled to one size so they sit side by side.

The face is found by the server's engine in the *input* (so input and output crops show exactly
the same region); when it finds none, the region the swap changed is used instead. Crops are
made on first request and kept in the blob store.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from typing import Literal

from PIL import Image, ImageDraw

from vestis.quality.crops import Box, changed_box, square_crop
from vestis.server.media import images
from vestis.server.process.state import ServerState
from vestis.server.store.models import File, Job, JobOutput

Which = Literal["input", "identity", "output"]
CROP_EDGE = 320


def _key(output_id: str, which: str) -> str:
    digest = hashlib.sha256(f"{output_id}:{which}:{CROP_EDGE}".encode()).hexdigest()[:32]
    return f"crops/{digest[:2]}/{digest}.jpg"


def placeholder(text: str) -> bytes:
    canvas = Image.new("RGB", (CROP_EDGE, CROP_EDGE), (236, 236, 236))
    ImageDraw.Draw(canvas).text((20, CROP_EDGE // 2 - 6), text, fill=(110, 110, 110))
    return _jpeg(canvas)


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _detect(state: ServerState, image: Image.Image) -> Box | None:
    if state.engine is None:
        return None
    found = state.engine.detect_face(image)
    return found.box if found.detected and found.box else None


def _make(state: ServerState, db, job: Job, output: JobOutput, which: Which) -> bytes:  # type: ignore[no-untyped-def]
    blobs = state.blobs
    if which == "identity":
        photo = images.open_image(blobs.read(job.identity.blob_key))
        stored = (job.identity.face_metadata or {}).get("box")
        box = tuple(stored) if stored else _detect(state, photo)
        return _jpeg(square_crop(photo, box, CROP_EDGE)) if box else placeholder("no face found")  # type: ignore[arg-type]
    upload = db.query(File).filter(File.public_id == output.spec.get("file_id")).one_or_none()
    if upload is None or upload.blob_key is None or output.blob_key is None:
        return placeholder("no image yet")
    before = images.open_image(blobs.read(upload.blob_key))
    after = images.open_image(blobs.read(output.blob_key))
    box = _detect(state, before) or changed_box(before, after)
    if box is None:
        return placeholder("no face found")
    picture = before if which == "input" else after.resize(before.size)
    return _jpeg(square_crop(picture, box, CROP_EDGE))


def face_crop(state: ServerState, db, job: Job, output: JobOutput, which: Which) -> bytes:  # type: ignore[no-untyped-def]
    """The JPEG bytes of one crop, made once and then read from the blob store."""
    key = _key(job.identity.code if which == "identity" else output.public_id, which)
    if state.blobs.exists(key):
        return state.blobs.read(key)
    data = _make(state, db, job, output, which)
    if which == "identity" or output.status == "completed":  # these never change
        # several cards ask for the same identity crop at once: one write wins, all answer
        with contextlib.suppress(OSError):
            state.blobs.write(key, data)
    return data
