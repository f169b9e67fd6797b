"""A server that dies in native code says where: `vestis serve` enables faulthandler, so the log
holds every thread's Python stack, and the test harness reports such a death (tests/conftest.py)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.support.server_process import ServerProcess


def test_a_segfault_leaves_every_threads_stack_in_the_log(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path)
    server._env.pop("PYTHONFAULTHANDLER", None)  # the server's own doing, not the environment's
    with server:
        process = server._process
        assert process is not None
        os.kill(process.pid, signal.SIGSEGV)
        process.wait(timeout=30)
        assert server in ServerProcess.exited_on_their_own()
        assert server.exit_code_on_its_own() == -signal.SIGSEGV
        log = server.log()
    assert "Fatal Python error: Segmentation fault" in log
    assert "Thread 0x" in log and 'threading.py", line' in log  # the stacks, not just the error
    assert server not in ServerProcess.exited_on_their_own()  # stop() forgets it
