"""What the review flags for a reviewer, and which version of an output is current (pure
functions on model objects, no server)."""

from __future__ import annotations

from vestis.server.pipeline.delivery import retry_seed
from vestis.server.services.review import current_outputs, redo_seed, review_reasons
from vestis.server.store.models import JobOutput


def _output(version: int = 0, status: str = "completed", **fields: object) -> JobOutput:
    values: dict[str, object] = {
        "position": 0, "image_index": 0, "group_index": 0, "version": version,
        "status": status, "warnings": [], "quality_score": 0.9, "metrics": None,
    }  # fmt: skip
    values.update(fields)
    return JobOutput(**values)


def test_nothing_flagged_on_a_good_output() -> None:
    assert review_reasons(_output(metrics={"is_identity": True, "sharpness_ratio": 0.95})) == []


def test_warnings_low_scores_and_measures_are_reasons() -> None:
    output = _output(
        warnings=["post-processing is a no-op"],
        quality_score=0.31,
        metrics={
            "is_identity": False,
            "identity_distance": 0.74,
            "sharpness_ratio": 0.42,
            "unchanged_outside_head": 0.951,
            "garments": [{"name": "cardigan.jpg", "verdict": "doubtful", "reasons": ["cut"]}],
        },
    )
    assert review_reasons(output) == [
        "post-processing is a no-op",
        "quality score 0.31 is below 0.5",
        "not the identity: the face does not match (distance 0.74)",
        "smeared face: 42% of the photo's sharpness",
        "garments changed: 95.1% of the pixels outside the head kept",
        "garment cardigan.jpg: cut",
    ]


def test_a_warning_that_says_it_already_is_not_repeated() -> None:
    output = _output(
        warnings=["not the identity: the face is 0.71 from the identity's"],
        metrics={"is_identity": False, "identity_distance": 0.71},
    )
    assert review_reasons(output) == ["not the identity: the face is 0.71 from the identity's"]


def test_failed_outputs_are_not_for_review() -> None:
    assert review_reasons(_output(status="failed", warnings=["x"])) == []


def test_current_version_is_the_newest_completed_one() -> None:
    first, redo = _output(0), _output(1, status="processing")
    assert current_outputs([first, redo]) == [first]  # a running redo hides nothing
    redo.status = "failed"
    assert current_outputs([first, redo]) == [first]  # nor does a failed one
    redo.status = "completed"
    assert current_outputs([first, redo]) == [redo]
    other = _output(0, image_index=1, position=1)
    assert current_outputs([other, redo, first]) == [redo, other]


def test_a_redo_never_repeats_an_identity_retry() -> None:
    # A redo with a retry's seed would make again what a retry already made (and rejected).
    for seed in (0, 1234, 0x7FFFFFFF - 5):
        versions = [seed]
        for _ in range(4):
            versions.append(redo_seed(versions[-1]))
        made = [{v, *(retry_seed(v, k) for k in range(1, 6))} for v in versions]
        assert sum(len(m) for m in made) == len(set().union(*made)) == 5 * 6


def test_a_realism_defect_is_named_once() -> None:
    metrics = {
        "is_identity": True,
        "identity_distance": 0.41,
        "realism": {"ok": False, "defects": ["skin_blotch", "sharpness"], "sharpness_ratio": 1.6},
    }
    # A server's own output carries the warning that says why; the review names it once.
    warned = _output(
        quality_score=0.5,
        warnings=["face looks unreal (skin_blotch, sharpness): a grey patch on the cheek"],
        metrics=metrics,
    )
    assert review_reasons(warned) == [
        "face looks unreal (skin_blotch, sharpness): a grey patch on the cheek"
    ]
    # An output measured without that warning (e.g. stored by an older version) is still flagged.
    assert review_reasons(_output(quality_score=0.5, metrics=metrics)) == [
        "face looks unreal: skin_blotch, sharpness"
    ]
    clean = {**metrics, "realism": {"ok": True, "defects": [], "sharpness_ratio": 1.0}}
    assert review_reasons(_output(metrics=clean)) == []
