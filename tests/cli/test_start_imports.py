"""The commands that only read (or delete) through the embedded server start it without the
engine and the image libraries behind it (issue 18: they start in well under a second;
`python -m benchmarks cli_start` times them). Structural, not timed: each command runs as its
own process, as a user types it, and says at exit which modules it loaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.cli.conftest import cli_env

#: `vestis <args>` in this process, writing the names of the loaded modules to argv[1] at exit.
RUN_AND_LIST_MODULES = """
import atexit, runpy, sys
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write("\\n".join(sorted(sys.modules))))
sys.argv = ["vestis", *sys.argv[2:]]
runpy.run_module("vestis", run_name="__main__")
"""

#: What only making outputs or checking faces needs: the engines, the measures, the image
#: libraries and the job pipeline.
HEAVY = (
    "numpy",
    "cv2",
    "mediapipe",
    "dlib",
    "skimage",
    "scipy",
    "jpeglib",
    "torch",
    "procrastinate",
    "vestis.engines.local",
    "vestis.engines.garment_lock",
    "vestis.quality.faces",
    "vestis.quality.measures",
    "vestis.server.pipeline.runner",
)

READS = [
    (["identities", "list"], 0),
    (["identities", "show", "nobody"], 1),
    (["identities", "delete", "nobody"], 1),
    (["jobs", "status", "job_unknown"], 1),
    (["jobs", "results", "job_unknown"], 1),
    (["data", "info"], 0),
]


def _run_reporting(tmp_path: Path, script: str, args: list[str], code: int) -> str:
    """`script` runs the command `args` in a new process and writes what it found to a file:
    the command's exit code must be `code`; returns the file's text."""
    out = tmp_path / "report.txt"
    done = subprocess.run(
        [sys.executable, "-c", script, str(out), *args],
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == code, done.stdout + done.stderr
    return out.read_text()


def _loaded(tmp_path: Path, args: list[str], code: int) -> set[str]:
    return set(_run_reporting(tmp_path, RUN_AND_LIST_MODULES, args, code).split())


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize(("args", "code"), READS, ids=[" ".join(a) for a, _ in READS])
def test_a_read_starts_the_embedded_server_without_the_engine(
    tmp_path: Path, args: list[str], code: int
) -> None:
    first = _loaded(tmp_path, args, code)  # a new data dir: its database is made
    again = _loaded(tmp_path, args, code)  # the database is there, at the head
    if args[0] != "data":
        assert "vestis.server.embedded" in first  # the command did ask the embedded server
    assert _heavy(first) == []
    assert _heavy(again) == []
    assert not any(m.split(".")[0] == "alembic" for m in again), "migrations at every start"


#: `vestis <args>` in this process, writing at exit how many objects were frozen out of the
#: garbage collector's reach.
RUN_AND_COUNT_FROZEN = """
import atexit, gc, runpy, sys
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(str(gc.get_freeze_count())))
sys.argv = ["vestis", *sys.argv[2:]]
runpy.run_module("vestis", run_name="__main__")
"""


def test_a_command_leaves_its_objects_out_of_the_collection_at_exit(tmp_path: Path) -> None:
    """Python collects garbage once more as it exits, walking every object of every imported
    module (a third of a second for a command that started the embedded server): the CLI
    freezes them when the command is done, whether it succeeded or failed."""
    for args, code in ((["data", "info"], 0), (["identities", "show", "nobody"], 1)):
        assert int(_run_reporting(tmp_path, RUN_AND_COUNT_FROZEN, args, code)) > 10_000, args
