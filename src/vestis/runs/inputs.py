"""Which files of an input folder a run uploads, and what its project is called (spec §4.3)."""

from __future__ import annotations

import hashlib
from pathlib import Path

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
