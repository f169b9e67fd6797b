"""Measures of an output, whatever engine made it: is the face the identity, did the garments
stay untouched, is the new face as sharp as the photo. No HTTP, no jobs: the server, the
benchmarks and the engines call these functions on images.

Imports nothing of vestis.

    from vestis.quality import measure_swap, quality_score
    measures = measure_swap(target, identity, output)
    measures.is_identity, measures.as_dict(), quality_score(measures)
"""

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
