import io
import json

from vestis.runs.progress import make_reporter


def emit_all(reporter) -> None:
    reporter.event("banner", title="Model Swap")
    reporter.event("files_found", folder="A", kind="swap", count=3, files=[])
    reporter.event(
        "retry", folder="A", message="Rate limited (429). Waiting 1.0s before retry 1/5..."
    )
    reporter.event("uploaded", folder="A", kind="swap", name="a.jpg", file_id="f1", reused=False)
    reporter.event("error", folder="B", message="No processable images found in B")
    reporter.event("folder_done", folder="A", index=1, total=2, ok=True, seconds=1.25)
    reporter.event("folder_done", folder="B", index=2, total=2, ok=False, seconds=0.0)
    reporter.event("batch_summary", message="Total: 2")


def lines(json_mode=False, quiet=False, verbose=False) -> list[str]:
    out = io.StringIO()
    emit_all(
        make_reporter(json_mode=json_mode, quiet=quiet, verbose=verbose, batch=True, stream=out)
    )
    return out.getvalue().splitlines()


def test_plain_lines_are_the_reference_wording_with_folder_prefixes():
    assert lines() == [
        "=" * 70,
        "Model Swap",
        "=" * 70,
        "[A] Found 3 images to upload",
        "[A] Uploaded: a.jpg -> f1",
        "[B] No processable images found in B",
        "[1/2] A: OK (1.2s)",
        "[2/2] B: FAILED (0.0s)",
        "Total: 2",
    ]


def test_verbose_adds_retries():
    assert "[A] Rate limited (429). Waiting 1.0s before retry 1/5..." in lines(verbose=True)


def test_quiet_keeps_errors_failed_folders_and_summary():
    assert lines(quiet=True) == [
        "[B] No processable images found in B",
        "[2/2] B: FAILED (0.0s)",
        "Total: 2",
    ]


def test_json_is_one_object_per_line():
    records = [json.loads(line) for line in lines(json_mode=True)]
    assert [r["event"] for r in records] == [
        "files_found",
        "retry",
        "uploaded",
        "error",
        "folder_done",
        "folder_done",
        "batch_summary",
    ]
    assert records[2]["folder"] == "A" and records[2]["file_id"] == "f1"


def _terminal_reporter(out: io.StringIO, batch: bool):
    """The terminal rendering, written to `out` (rich draws the bars once, when it stops)."""
    from vestis.runs.progress import RichReporter

    return RichReporter(stream=out, prefix=batch)


def test_on_a_terminal_a_single_run_is_named_after_its_folder_and_the_summary_ends_it():
    out = io.StringIO()
    reporter = _terminal_reporter(out, batch=False)
    reporter.event("files_found", kind="swap", count=1, files=["a.jpg"], source="ARTICLE-9")
    assert [t.description for t in reporter.progress.tasks] == ["ARTICLE-9"]
    reporter.event("uploaded", kind="swap", name="a.jpg", file_id="f1", reused=False)
    reporter.event("complete", missing=[], warnings=0)
    reporter.close()
    text = out.getvalue()
    assert text.rstrip().endswith("=" * 70), text  # no bar drawn again under the summary
    assert "ARTICLE-9" not in text.split("Processing complete")[1]


def test_on_a_terminal_the_batch_summary_is_the_last_thing_printed():
    out = io.StringIO()
    reporter = _terminal_reporter(out, batch=True)
    reporter.event("batch_started", total=1)
    reporter.event("files_found", folder="A", kind="swap", count=1, files=["a.jpg"])
    reporter.event("folder_done", folder="A", index=1, total=1, ok=True, seconds=1.0)
    reporter.event("batch_summary", message="Batch summary saved to x.json")
    reporter.event("batch_started", total=1)  # the demo's second batch gets bars of its own
    reporter.event("files_found", folder="B", kind="flat", count=2, files=["b.jpg"])
    assert [t.description for t in reporter.progress.tasks] == ["Folders", "B"]
    reporter.event("results_saved", folder="B", output="out/B")
    (bar,) = [t for t in reporter.progress.tasks if t.description == "B"]
    assert bar.completed == bar.total == 2
    reporter.event("folder_done", folder="B", index=1, total=1, ok=True, seconds=1.0)
    reporter.event("batch_summary", message="Batch summary saved to y.json")
    reporter.close()
    text = out.getvalue()
    assert text.rstrip().endswith("Batch summary saved to y.json"), text
