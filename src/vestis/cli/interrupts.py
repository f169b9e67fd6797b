"""Ctrl-C in the `vestis` command: stop at once, say so in one line, exit 130.

The command raises its own `Interrupted` on SIGINT instead of KeyboardInterrupt, for two reasons:
click and typer turn a KeyboardInterrupt into a silent exit, and libraries catch it here and
there; a BaseException of our own reaches the command's handler whatever is running. An
inherited "ignore SIGINT" (a job started in the background by a shell script) is kept, as every
POSIX program keeps it: stop such a run with SIGTERM, which is just as safe for the journal.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from vestis.runs.events import Reporter

EXIT_INTERRUPTED = 130
RESUME_HINT = "Interrupted. Run the same command again to resume where it stopped."


class Interrupted(BaseException):
    """SIGINT arrived (raised in the main thread, wherever it was)."""


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted()


def install() -> None:
    """Raise `Interrupted` on SIGINT, unless SIGINT was ignored when the command started."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _raise_interrupted)


def run_command(load: Callable[[], Callable[[], object]]) -> None:
    """Run the command that `load` imports and returns, under the Ctrl-C handler and with
    faulthandler on (see `vestis.cli.main`)."""
    if not faulthandler.is_enabled():
        faulthandler.enable()
    try:
        install()
        load()()
    except (Interrupted, KeyboardInterrupt):
        stop_now()


def stop_now(message: str | None = "Interrupted.") -> NoReturn:
    """Print `message` on stderr and end the process with 130 without waiting for anything:
    worker threads may be mid-request, and every file vestis writes is replaced atomically, so
    there is nothing to finish."""
    if message:
        print(message, file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed or broken pipe
            stream.flush()
    os._exit(EXIT_INTERRUPTED)


def stop_run(reporter: Reporter) -> NoReturn:
    """Ctrl-C during a run: the resume hint through the run's reporter (a JSON event with
    --json), the live display closed, exit 130 now. Folders in flight stay as their journals
    say, consistent at every step, so the same command resumes them."""
    reporter.event("error", message=RESUME_HINT)
    reporter.close()
    stop_now(None)
