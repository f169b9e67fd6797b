"""Checking and encoding images: what an upload must be, and how outputs are written."""

from __future__ import annotations

import io
import logging
import re
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, JpegImagePlugin

from vestis.contract.uploads import MAX_IMAGE_PIXELS

log = logging.getLogger("vestis.server.media.images")

#: Pillow refuses (raises) above this many pixels instead of merely warning.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

ACCEPTED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
THUMBNAIL_EDGE = 256
#: JPEG outputs with no source to follow (flat-to-model, or a PNG/WebP source delivered as JPEG).
JPEG_QUALITY = 92
#: Where `open_image` keeps a JPEG input's `JpegSource`, for `encode(..., like=input)`.
JPEG_SOURCE = "vestis.jpeg_source"


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
        # Pillow's own words speak of attacks and of twice the limit; say it as the limit is.
        raise ImageRejected(_too_many_pixels(pixels=_pixels_in(exc)), 413) from exc
    except Exception as exc:  # Pillow raises many types for undecodable data
        raise ImageRejected(
            "The upload is not a readable image (JPEG, PNG or WebP expected)."
        ) from exc
    if fmt not in ACCEPTED_FORMATS:
        raise ImageRejected(f"Image format {fmt or 'unknown'} is not accepted; send JPEG or PNG.")
    return ImageFacts(ACCEPTED_FORMATS[fmt], width, height)


def _too_many_pixels(width: int = 0, height: int = 0, pixels: int | None = None) -> str:
    size = f"{width}x{height}, " if width and height else ""
    count = pixels if pixels is not None else width * height
    has = f"has {size}{count / 1e6:.0f} megapixels" if count else "has too many pixels"
    return (
        f"The image {has}, more than the limit of {MAX_IMAGE_PIXELS // 1_000_000} megapixels; "
        "scale it down and upload again."
    )


def _pixels_in(exc: Exception) -> int | None:
    """The pixel count Pillow names in its decompression-bomb message, if it does."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class JpegSource:
    """A JPEG input as uploaded: its bytes, quantization tables and chroma subsampling (Pillow's
    codes: 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0)."""

    data: bytes
    qtables: dict[int, list[int]]
    subsampling: int


def open_image(data: bytes) -> Image.Image:
    """Decode for processing: EXIF orientation applied, RGB. A JPEG shown as stored (no
    rotation) keeps its `JpegSource` in `info[JPEG_SOURCE]`, so that an output made from it can
    be encoded like it (`encode(..., like=...)`)."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        source = _jpeg_source(image, data)
        oriented = ImageOps.exif_transpose(image)
        rgb = oriented.convert("RGB")
    if source is not None and oriented.size == image.size and _upright(image):
        rgb.info[JPEG_SOURCE] = source
    return rgb


def _upright(image: Image.Image) -> bool:
    return image.getexif().get(0x0112, 1) == 1  # EXIF orientation: 1 = as stored


def _jpeg_source(image: Image.Image, data: bytes) -> JpegSource | None:
    tables = getattr(image, "quantization", None)
    if image.format != "JPEG" or not tables or image.mode not in ("RGB", "L"):
        return None
    qtables = {index: list(table) for index, table in tables.items()}
    if len(qtables) == 1:  # a greyscale JPEG: its one table for the colour channels too
        qtables[1] = qtables[0]
    sampling = JpegImagePlugin.get_sampling(image)
    return JpegSource(data, qtables, sampling if sampling >= 0 else 0)


def encode(image: Image.Image, ext: str, like: Image.Image | None = None) -> bytes:
    """PNG (lossless), or JPEG. A JPEG made from a JPEG source (`like`, opened by `open_image`)
    is encoded with the source's quantization tables and chroma subsampling, and wherever the
    engine left the source's pixels alone the file holds the source's own coefficients
    (`jpeg_blocks`): those pixels decode exactly as the source's. (The old fixed quality 92
    with 4:2:0 moved up to 13 % of them by more than 3 levels.)"""
    buffer = io.BytesIO()
    if ext == "png":
        image.save(buffer, format="PNG", optimize=False)
        return buffer.getvalue()
    source = like.info.get(JPEG_SOURCE) if like is not None else None
    rgb = image.convert("RGB")
    if not isinstance(source, JpegSource) or like is None or like.mode != "RGB":
        rgb.save(buffer, format="JPEG", quality=JPEG_QUALITY)
        return buffer.getvalue()
    rgb.save(buffer, format="JPEG", qtables=source.qtables, subsampling=source.subsampling)
    # numpy and the JPEG block copy load with the first output, not with the server
    import numpy as np

    from vestis.server.media.jpeg_blocks import keep_untouched_blocks

    try:
        return keep_untouched_blocks(
            buffer.getvalue(), np.asarray(rgb), source.data, np.asarray(like)
        )
    except Exception:  # the plain re-encode is still a good file
        log.exception("could not copy the source's JPEG blocks; delivering the re-encode")
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
