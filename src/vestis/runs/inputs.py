"""Which files of an input folder a run uploads, and what its project is called (spec §4.3)."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

from PIL import Image

from vestis.contract.uploads import MAX_IMAGE_PIXELS, MAX_UPLOAD_BYTES

#: Pillow warns (in words about attacks) above its own pixel limit; `unusable` says it plainly.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

#: What the API takes (spec §2.2): checked from the file's header before anything is sent.
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
#: Model swap skips photos without a model; the reference scripts mark them in the file name.
SWAP_EXCLUDED_MARKERS = ("_INTERNAL_", "_NONMODEL_")


def list_images(folder: Path, *, swap: bool) -> list[Path]:
    """The regular files directly in `folder` with a .jpg/.jpeg/.png suffix, sorted by name;
    model swap also drops names containing `_INTERNAL_` or `_NONMODEL_` (case-sensitive)."""
    files = [
        path
        for path in folder.iterdir()
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
    ]
    if swap:
        files = [p for p in files if not any(m in p.name for m in SWAP_EXCLUDED_MARKERS)]
    return sorted(files, key=lambda p: p.name)


def project_name(folder: Path) -> str:
    """The project of a folder is named after its last path component, as the scripts do."""
    return Path(folder).name or Path(folder).resolve().name


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (inputs and outputs are checked against the journal)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def unusable(path: Path) -> str | None:
    """Why the API would refuse this file as an image, found locally from its size and header
    (a text file named .jpg, another format, too many bytes or pixels); None when it looks fine.
    The server still checks the whole image."""
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        return f"{size / 2**20:.0f} MiB, more than the {MAX_UPLOAD_BYTES // 2**20} MiB allowed"
    try:
        with Image.open(path) as image:
            fmt, (width, height) = image.format, image.size
    except Image.DecompressionBombError:
        return f"more than {MAX_IMAGE_PIXELS // 1_000_000} megapixels, the most allowed"
    except (OSError, ValueError, SyntaxError):
        return "not a readable image (JPEG, PNG or WebP expected)"
    if fmt not in ACCEPTED_FORMATS:
        return f"a {fmt} image (JPEG, PNG or WebP expected)"
    if width * height > MAX_IMAGE_PIXELS:
        return (
            f"{width}x{height} is {width * height / 1e6:.0f} megapixels, more than the "
            f"{MAX_IMAGE_PIXELS // 1_000_000} allowed; scale it down"
        )
    return None
