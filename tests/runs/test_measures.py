"""The measures of a folder in a few words, and where the CLI shows them."""

from __future__ import annotations

import io

from vestis.runs.events import Reporter
from vestis.runs.measures import summarise


def _result(status="completed", **metrics):  # type: ignore[no-untyped-def]
    return {"status": status, "metrics": metrics or None}


def test_a_folder_of_measured_swaps():
    body = {
        "results": [
            _result(is_identity=True, identity_distance=0.41, unchanged_outside_head=1.0),
            _result(is_identity=False, identity_distance=0.71, unchanged_outside_head=0.99973),
            _result(is_identity=True, identity_distance=0.52, unchanged_outside_head=1.0),
            _result("failed"),
        ],
        "summary": {"identity_consistency": 0.66},
    }
    assert summarise(body) == (
        "identity 2/3 (farthest 0.71), garments kept 99.9 %, set spread 0.66 (not one face)"
    )


def _real(*defects: str) -> dict:  # type: ignore[type-arg]
    return {"ok": not defects, "defects": list(defects), "sharpness_ratio": 1.0}


def test_unusable_faces_are_counted_beside_the_identity():
    """Seven faces that are all the identity, five of them with realism defects: the line says
    so instead of a bare "identity 7/7"."""
    realism = [
        _real(),
        _real("skin_blotch", "sharpness"),
        _real("skin_blotch"),
        _real(),
        _real("glasses_fragments"),
        _real("skin_blotch"),
        _real("sharpness"),
    ]
    body = {
        "results": [
            _result(is_identity=True, identity_distance=0.5, unchanged_outside_head=1.0, realism=r)
            for r in realism
        ],
        "summary": {},
    }
    assert summarise(body) == (
        "identity 7/7 (farthest 0.50), looks real 2/7 (5 with defects: skin_blotch x3, "
        "sharpness x2, glasses_fragments x1), garments kept 100 %"
    )
    body["results"] = body["results"][:1]
    assert summarise(body) == "identity 1/1 (farthest 0.50), looks real 1/1, garments kept 100 %"


def test_flat_to_model_without_faces_and_unmeasured_servers():
    flat = {"results": [_result(face_found=False, is_identity=None)], "summary": {}}
    assert summarise(flat) is None
    assert summarise({"results": [{"status": "completed", "quality_score": 0.9}]}) is None
    one = {"results": [_result(is_identity=True, identity_distance=0.3)], "summary": {}}
    assert summarise(one) == "identity 1/1 (farthest 0.30)"


def test_the_folder_lines_carry_the_measures():
    out = io.StringIO()
    reporter = Reporter(stream=out)
    reporter.event("results_saved", output="out/A", measures="identity 2/2 (farthest 0.50)")
    reporter.event("results_saved", output="out/B", measures=None)
    reporter.event(
        "folder_done", folder="A", index=1, total=2, ok=True, seconds=1.2, measures="identity 2/2"
    )
    reporter.event("folder_done", folder="B", index=2, total=2, ok=True, seconds=1.0)
    assert out.getvalue().splitlines() == [
        "Results saved to out/A",
        "Measures: identity 2/2 (farthest 0.50)",
        "Results saved to out/B",
        "[1/2] A: OK (1.2s) - identity 2/2",
        "[2/2] B: OK (1.0s)",
    ]


def test_failed_outputs_and_warnings_are_printed():
    out = io.StringIO()
    reporter = Reporter(stream=out)
    reporter.event(
        "output_failed",
        output="image2.jpg (image 2, variation 1)",
        message="The face in the target photo is cut by the frame.",
    )
    reporter.event("job_finished", status="failed", message="All 1 output(s) failed: no face")
    assert out.getvalue().splitlines() == [
        "Output failed: image2.jpg (image 2, variation 1): The face in the target photo is cut "
        "by the frame.",
        "Job finished with status: failed",
    ]
