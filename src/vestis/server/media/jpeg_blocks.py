"""JPEG outputs whose untouched blocks are the source's own: no re-encoding loss outside the edit.

Re-encoding a decoded JPEG with its own quantization tables and chroma subsampling keeps most
pixels within a level or two, but not all: with 4:2:0 chroma, saturated colour edges (a red logo
on a white shirt) drift by more than 3 levels in 1-3 % of the pixels, because the decoder's
chroma upsampling and the encoder's downsampling are not inverses. So after encoding the output
with the source's settings, every MCU (the 8x8 to 16x16 pixel unit of a JPEG) where the engine
left every pixel as the source decoded is given back the source's own DCT coefficients, read and
written losslessly with jpeglib (libjpeg's coefficient API): those pixels then decode exactly as
the source's. Only MCUs the engine touched are re-encoded.

jpeglib is used by one thread at a time, process-wide (`_JPEGLIB`): its C wrapper keeps the
markers of the file being read in global variables (`gpos`, `gmarker_data` in
cjpeglib_common_markers.cpp, allocated and freed per read), and ctypes releases the GIL during
the call, so two worker threads delivering JPEGs at once corrupted the heap ("malloc(): unaligned
tcache chunk detected", the server aborting in its first jobs). The locked part is about a third
of encoding a JPEG output (122 of 382 ms at 6 megapixels); the engine and the measures, most of
a delivery, stay parallel.
"""

from __future__ import annotations

import io
import logging
import tempfile
import threading
from pathlib import Path

import numpy as np
from PIL import Image

log = logging.getLogger("vestis.server.media.jpeg_blocks")

#: Held around every call into jpeglib (see the module's docstring).
_JPEGLIB = threading.Lock()


def keep_untouched_blocks(
    encoded: bytes, output: np.ndarray, source: bytes, source_pixels: np.ndarray
) -> bytes:
    """`encoded` (the output, encoded with the source's tables and subsampling) with the DCT
    coefficients of every MCU where `output` equals `source_pixels` copied from `source`.
    Returns `encoded` unchanged when the two files' block layouts differ."""
    import jpeglib

    if output.shape != source_pixels.shape:
        return encoded
    with tempfile.TemporaryDirectory(prefix="vestis-jpeg-") as folder:
        src_path, out_path = Path(folder, "source.jpg"), Path(folder, "output.jpg")
        src_path.write_bytes(source)
        out_path.write_bytes(encoded)
        with _JPEGLIB:
            src, out = jpeglib.read_dct(str(src_path)), jpeglib.read_dct(str(out_path))
            src.load()
            out.load()
        if not _same_layout(src, out):
            return encoded
        vs = round(src.Y.shape[0] / src.Cb.shape[0])
        hs = round(src.Y.shape[1] / src.Cb.shape[1])
        kept = _untouched_mcus(output, source_pixels, (8 * vs, 8 * hs), src.Cb.shape[:2])
        kept_y = np.repeat(np.repeat(kept, vs, axis=0), hs, axis=1)[
            : src.Y.shape[0], : src.Y.shape[1]
        ]
        out.Y = np.where(kept_y[..., None, None], src.Y, out.Y)
        out.Cb = np.where(kept[..., None, None], src.Cb, out.Cb)
        out.Cr = np.where(kept[..., None, None], src.Cr, out.Cr)
        with _JPEGLIB:
            out.write_dct(str(out_path))
        merged = out_path.read_bytes()
    return merged if _check(merged, source_pixels, kept, (8 * vs, 8 * hs)) else encoded


def _same_layout(src: object, out: object) -> bool:
    arrays = ("Y", "Cb", "Cr")
    if any(getattr(src, name, None) is None or getattr(out, name, None) is None for name in arrays):
        return False
    shapes_match = all(getattr(src, n).shape == getattr(out, n).shape for n in arrays)
    return shapes_match and np.array_equal(src.qt, out.qt)  # type: ignore[attr-defined]


def _untouched_mcus(
    output: np.ndarray, source: np.ndarray, mcu: tuple[int, int], grid: tuple[int, int]
) -> np.ndarray:
    """Per MCU of a `grid` (rows, columns): True where every pixel is as the source's."""
    h, w = source.shape[:2]
    changed = np.zeros((grid[0] * mcu[0], grid[1] * mcu[1]), dtype=bool)
    rows, cols = min(h, changed.shape[0]), min(w, changed.shape[1])
    changed[:rows, :cols] = (output[:rows, :cols] != source[:rows, :cols]).any(axis=2)
    return ~changed.reshape(grid[0], mcu[0], grid[1], mcu[1]).any(axis=(1, 3))


def _check(merged: bytes, source: np.ndarray, kept: np.ndarray, mcu: tuple[int, int]) -> bool:
    """The kept MCUs decode as the source did (but for the 2 pixels along a re-encoded
    neighbour, which chroma upsampling reads): otherwise the merge is not trusted."""
    with Image.open(io.BytesIO(merged)) as image:
        decoded = np.asarray(image.convert("RGB"))
    if decoded.shape != source.shape:
        return False
    inner = np.kron(kept, np.ones(mcu, dtype=bool))[: source.shape[0], : source.shape[1]]
    inner = np.pad(inner, 2, mode="edge")  # so that the image's own edges erode too
    for _ in range(2):
        inner[1:-1, 1:-1] &= inner[:-2, 1:-1] & inner[2:, 1:-1] & inner[1:-1, :-2] & inner[1:-1, 2:]
    inner = inner[2:-2, 2:-2]
    ok = bool((decoded == source).all(axis=2)[inner].all())
    if not ok:
        log.warning("JPEG block merge did not reproduce the source; kept the plain re-encode")
    return ok
