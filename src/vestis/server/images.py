"""Checking and encoding images: what an upload must be, and how outputs are written."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

from vestis.contract.uploads import MAX_IMAGE_PIXELS

#: Pillow refuses (raises) above this many pixels instead of merely warning.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

ACCEPTED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
THUMBNAIL_EDGE = 256


class ImageRejected(ValueError):
    """The bytes are not an image we accept; the message says why and what to do.
    `status_code` is 415 for non-images and 413 for images too large to decode."""

    def __init__(self, message: str, status_code: int = 415) -> None:
        super().__init__(message)
        self.status_code = status_code


def rejection_title(rejected: ImageRejected) -> str:
    """The `error` of an answer refusing an image: one wording for every upload route."""
    return "Image too large" if rejected.status_code == 413 else "Unsupported image"


@dataclass(frozen=True)
class ImageFacts:
    ext: str  # jpg | png | webp
    width: int
    height: int


def inspect_image(data: bytes) -> ImageFacts:
    """Check that `data` is a JPEG, PNG or WebP of at most MAX_IMAGE_PIXELS, fully decodable."""
    if not data:
        raise ImageRejected("The upload is empty: send the image bytes as the request body.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format or ""
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise ImageRejected(_too_many_pixels(width, height), 413)
                image.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(f"The image is too large to decode safely: {exc}", 413) from exc
    except Exception as exc:  # Pillow raises many types for undecodable data
        raise ImageRejected(
            "The upload is not a readable image (JPEG, PNG or WebP expected)."
        ) from exc
    if fmt not in ACCEPTED_FORMATS:
        raise ImageRejected(f"Image format {fmt or 'unknown'} is not accepted; send JPEG or PNG.")
    return ImageFacts(ACCEPTED_FORMATS[fmt], width, height)


def _too_many_pixels(width: int, height: int) -> str:
    return (
        f"The image has {width}x{height} = {width * height} pixels, more than the limit of "
        f"{MAX_IMAGE_PIXELS}; scale it down and upload again."
    )


def open_image(data: bytes) -> Image.Image:
    """Decode for processing: EXIF orientation applied, RGB."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        oriented = ImageOps.exif_transpose(image)
        return oriented.convert("RGB")


def encode(image: Image.Image, ext: str) -> bytes:
    buffer = io.BytesIO()
    if ext == "png":
        image.save(buffer, format="PNG", optimize=False)
    else:
        image.convert("RGB").save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def thumbnail(image: Image.Image) -> bytes:
    thumb = image.copy()
    thumb.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE))
    return encode(thumb, "jpg")


def ext_from_filename(filename: str) -> str | None:
    """`jpg` / `png` / `webp` from the name's extension, None when it is none of those."""
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return {"jpg": "jpg", "jpeg": "jpg", "png": "png", "webp": "webp"}.get(suffix)


def content_type_for(filename: str) -> str:
    """What the reference scripts expect: `.png` is image/png, everything else image/jpeg."""
    return CONTENT_TYPES.get(ext_from_filename(filename) or "jpg", "image/jpeg")
