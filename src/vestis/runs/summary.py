"""The batch summary file `batch_summary_<YYYYmmdd_HHMMSS>.json` (spec §5.3)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass
class FolderOutcome:
    """How one folder of a batch ended. `error` is set only when the worker raised (as in the
    reference summary); `message` is vestis's own explanation of an ordinary failure; `missing`
    lists the inputs skipped and outputs failed of a folder whose job completed."""

    folder: str
    success: bool
    processing_time: float
    error: str | None = None
    message: str | None = None
    missing: list[str] = field(default_factory=list)
    warnings: int = 0

    def summary_entry(self) -> dict[str, Any]:
        if self.error is not None:
            return {"folder": self.folder, "success": False, "error": self.error}
        entry: dict[str, Any] = {
            "folder": self.folder,
            "success": self.success,
            "processing_time": round(self.processing_time, 1),
        }
        if self.missing:  # a vestis extension: the reference has no partial folders
            entry["missing"] = list(self.missing)
        return entry


def swap_configuration(
    *,
    parallel: int,
    post_process: bool,
    model: str,
    use_anchor: bool,
    base_url: str,
    identity_code: str | None,
    identity_image: str | None,
) -> dict[str, Any]:
    """`configuration` of batch_swap (newest reference, MS-5 key order); never a secret."""
    return {
        "parallel": parallel,
        "post_process": post_process,
        "model": model,
        "use_anchor": use_anchor,
        "base_url": base_url,
        "identity_code": identity_code,
        "identity_image": identity_image,
    }


def flat_configuration(
    *,
    parallel: int,
    model: str,
    enhance_consistency: bool,
    barefoot: bool,
    base_url: str,
    identity_code: str | None,
    identity_image: str | None,
    instructions_file: str | None,
) -> dict[str, Any]:
    """`configuration` of batch_flat2model (newest reference, FM-5 key order)."""
    return {
        "parallel": parallel,
        "model": model,
        "enhance_consistency": enhance_consistency,
        "barefoot": barefoot,
        "base_url": base_url,
        "identity_code": identity_code,
        "identity_image": identity_image,
        "instructions_file": instructions_file,
    }


def packshot_configuration(
    *,
    parallel: int,
    model: str,
    style: str,
    use_anchor: bool,
    anchor_index: int,
    post_process: bool,
    base_url: str,
    instructions_file: str | None,
) -> dict[str, Any]:
    """`configuration` of batch_create_packshot (reference key order)."""
    return {
        "parallel": parallel,
        "model": model,
        "style": style,
        "use_anchor": use_anchor,
        "anchor_index": anchor_index,
        "post_process": post_process,
        "base_url": base_url,
        "instructions_file": instructions_file,
    }


def recolor_configuration(
    *, parallel: int, recolor: dict[str, Any], reference_image: str | None, base_url: str
) -> dict[str, Any]:
    """`configuration` of batch_garment_recolor (reference key order)."""
    return {
        "parallel": parallel,
        "model": recolor.get("model", "auto"),
        "garment_label": recolor.get("garment_label"),
        "reference_image": reference_image,
        "reference_text": recolor.get("reference_text"),
        "instruction": recolor.get("instruction"),
        "num_variations": recolor.get("num_variations", 1),
        "processing_size": recolor.get("processing_size", 2048),
        "use_anchor": recolor.get("use_anchor", True),
        "post_process": recolor.get("post_process", True),
        "add_ai_watermark": recolor.get("add_ai_watermark", False),
        "base_url": base_url,
    }


def build_summary(
    configuration: dict[str, Any], outcomes: list[FolderOutcome], total_seconds: float
) -> dict[str, Any]:
    """The summary document; `outcomes` in completion order."""
    successful = sum(1 for o in outcomes if o.success)
    return {
        "timestamp": datetime.now().isoformat(),
        "configuration": configuration,
        "total_folders": len(outcomes),
        "successful": successful,
        "failed": len(outcomes) - successful,
        "total_time_seconds": round(total_seconds, 1),
        "results": [o.summary_entry() for o in outcomes],
    }


def write_summary(output_dir: Path, summary: dict[str, Any], when: datetime | None = None) -> Path:
    """Write `batch_summary_<local YYYYmmdd_HHMMSS>.json` (2-space indent); never overwrites an
    earlier summary of the same second."""
    output_dir.mkdir(parents=True, exist_ok=True)
    stamp = (when or datetime.now()).strftime("%Y%m%d_%H%M%S")
    path = output_dir / f"batch_summary_{stamp}.json"
    counter = 1
    while path.exists():
        path = output_dir / f"batch_summary_{stamp}_{counter}.json"
        counter += 1
    path.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return path
