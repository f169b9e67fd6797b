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


def run_in_pty(
    argv: list[str], env: dict[str, str], columns: int = 120, rows: int = 50, timeout: float = 120
) -> tuple[int, str]:
    """Run `argv` with a pseudo-terminal of `columns` x `rows` as its stdin, stdout and stderr,
    as a user's terminal runs it (rich draws for a terminal, at its width); the exit code and
    everything it printed (terminal escapes included)."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import subprocess
    import termios

    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    process = subprocess.Popen(argv, env=env, stdin=child, stdout=child, stderr=child)
    os.close(child)
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([main], [], [], timeout)
            if not ready:
                process.kill()
                raise TimeoutError(f"{argv} printed nothing for {timeout} s")
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: every writer of the terminal has closed it
                break
            if not chunk:
                break
            chunks.append(chunk)
        return process.wait(timeout=timeout), b"".join(chunks).decode("utf-8", "replace")
    finally:
        os.close(main)
