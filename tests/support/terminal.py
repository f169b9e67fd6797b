"""Starting `vestis` as a terminal's foreground job runs it, for tests that press Ctrl-C.

A test run started in the background by a script (`make test & make test`) has SIGINT ignored,
as POSIX shells arrange for background jobs, and every process below inherits that: Python keeps
an inherited "ignore", and so does vestis. A test that sends SIGINT must not depend on how
pytest itself was started, so it starts vestis with SIGINT handled, as at a terminal.
"""

from __future__ import annotations

import sys

AS_AT_A_TERMINAL = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'vestis'; runpy.run_module('vestis', run_name='__main__', alter_sys=True)"
)


def vestis_argv(*args: str) -> list[str]:
    """The command line of `python -m vestis <args>` with SIGINT handled."""
    return [sys.executable, "-c", AS_AT_A_TERMINAL, *args]
