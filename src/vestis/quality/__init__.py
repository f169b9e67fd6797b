"""Measures of an output, whatever engine made it: is the face the identity, did the garments
stay untouched, is the new face as sharp as the photo. No HTTP, no jobs: the server, the
benchmarks and the engines call these functions on images.

Imports nothing of vestis.

    from vestis.quality import measure_swap, quality_score
    measures = measure_swap(target, identity, output)
    measures.is_identity, measures.as_dict(), quality_score(measures)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vestis.quality.faces import SAME_PERSON, FaceSignature, face_distance, face_signature
    from vestis.quality.measures import (
        OutputMeasures,
        consistency,
        embedding_consistency,
        identity_term,
        identity_warning,
        measure_flat,
        measure_swap,
        quality_score,
    )
    from vestis.quality.pixels import TOLERANCE, head_region, sharpness_ratio, unchanged_share
    from vestis.quality.realism import RealismReport, measure_realism

__all__ = [
    "SAME_PERSON",
    "TOLERANCE",
    "FaceSignature",
    "OutputMeasures",
    "RealismReport",
    "consistency",
    "embedding_consistency",
    "face_distance",
    "face_signature",
    "head_region",
    "identity_term",
    "identity_warning",
    "measure_flat",
    "measure_realism",
    "measure_swap",
    "quality_score",
    "sharpness_ratio",
    "unchanged_share",
]

#: Where each name of `__all__` lives. Imported on first use: `vestis.quality.colour` or a
#: name from `measures` does not load the face models' libraries (OpenCV, numpy) of `faces`,
#: so a server that only answers reads starts without them.
_HOMES = {
    "FaceSignature": "vestis.quality.faces",
    "OutputMeasures": "vestis.quality.measures",
    "RealismReport": "vestis.quality.realism",
    "SAME_PERSON": "vestis.quality.faces",
    "TOLERANCE": "vestis.quality.pixels",
    "consistency": "vestis.quality.measures",
    "embedding_consistency": "vestis.quality.measures",
    "face_distance": "vestis.quality.faces",
    "face_signature": "vestis.quality.faces",
    "head_region": "vestis.quality.pixels",
    "identity_term": "vestis.quality.measures",
    "identity_warning": "vestis.quality.measures",
    "measure_flat": "vestis.quality.measures",
    "measure_realism": "vestis.quality.realism",
    "measure_swap": "vestis.quality.measures",
    "quality_score": "vestis.quality.measures",
    "sharpness_ratio": "vestis.quality.pixels",
    "unchanged_share": "vestis.quality.pixels",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
