"""Output file names: the reference scripts' rule (spec §4.5), minus the ways it loses files.

Reference: `<stem of original_filename>_v<version>.<original ext>` (fallback name
`image_<image_index>.jpg`). vestis keeps that name for the first result that claims it, adds
`_g<group_index>` (then `_i<image_index>`) only when a second result would overwrite it, and uses
the extension of the real image format.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

#: Extensions that count as the same format, so `photo.jpeg` stays `.jpeg` for a JPEG output.
_FORMAT_EXTENSIONS = {
    "jpeg": ("jpg", "jpeg"),
    "png": ("png",),
    "webp": ("webp",),
    "gif": ("gif",),
}


def sniff_format(data: bytes) -> str | None:
    """The image format from the first bytes: jpeg, png, webp or gif; None when unknown."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


def reference_name(result: Mapping[str, Any]) -> str:
    """The name the reference scripts give a result (before any collision handling)."""
    original = result.get("original_filename") if "original_filename" in result else None
    if original is None:
        original = f"image_{result.get('image_index', 0)}.jpg"
    base = PurePosixPath(str(original).replace("\\", "/")).name
    version = result.get("version", 0)
    if "." in base:
        stem, ext = base.rsplit(".", 1)
        return f"{stem}_v{version}.{ext}"
    return f"{base}_v{version}"


def split_name(name: str) -> tuple[str, str]:
    """`stem`, `ext` (without dot; may be empty)."""
    if "." in name:
        stem, ext = name.rsplit(".", 1)
        return stem, ext
    return name, ""


def extension_for(original_ext: str, fmt: str | None) -> str:
    """Keep the original extension when it names the real format; otherwise the format's own."""
    if fmt is None:
        return original_ext
    allowed = _FORMAT_EXTENSIONS.get(fmt, (fmt,))
    if original_ext.lower() in allowed:
        return original_ext
    return allowed[0]


def result_key(result: Mapping[str, Any]) -> str:
    """Identifies one output of a job across runs: `image/group/version`."""
    return (
        f"{result.get('image_index', 0)}/{result.get('group_index', 0)}/{result.get('version', 0)}"
    )


def unique_stem(result: Mapping[str, Any], taken: set[str]) -> tuple[str, str]:
    """(stem, original ext) for a result, the stem made unique against `taken` (stems already
    used by other results of this job). The first claimant keeps the reference stem."""
    stem, ext = split_name(reference_name(result))
    candidates = [
        stem,
        f"{stem}_g{result.get('group_index', 0)}",
        f"{stem}_g{result.get('group_index', 0)}_i{result.get('image_index', 0)}",
    ]
    for candidate in candidates:
        if candidate not in taken:
            return candidate, ext
    counter = 2
    while f"{candidates[-1]}_{counter}" in taken:
        counter += 1
    return f"{candidates[-1]}_{counter}", ext


def assign_stems(results: list[Mapping[str, Any]]) -> dict[str, tuple[str, str]]:
    """Stems for every downloadable result of a job, in result order: key -> (stem, orig ext).

    Deterministic for the same results list, so a resumed run names files as the first did."""
    taken: set[str] = set()
    stems: dict[str, tuple[str, str]] = {}
    for result in results:
        key = result_key(result)
        if key in stems:
            continue
        stem, ext = unique_stem(result, taken)
        taken.add(stem)
        stems[key] = (stem, ext)
    return stems


def image_url(result: Mapping[str, Any]) -> str | None:
    """`output.full_size`, or `url` for results that carry only that (the model-swap seed)."""
    output = result.get("output")
    if isinstance(output, Mapping) and output.get("full_size"):
        return str(output["full_size"])
    url = result.get("url")
    return str(url) if url else None
