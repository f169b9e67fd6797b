"""Puts the repository root on sys.path so `tests.support` imports from every test folder, and
keeps every test out of the user's own vestis library."""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The embedded server's default data dir is the user's data folder (platformdirs: under
# XDG_DATA_HOME): a test that forgot VESTIS_DATA_DIR must not add to, or clear, the user's
# library. Every process the tests start inherits this.
_SAFE_DATA_HOME = tempfile.mkdtemp(prefix="vestis-tests-data-")
os.environ["XDG_DATA_HOME"] = _SAFE_DATA_HOME


def pytest_unconfigure(config: object) -> None:
    shutil.rmtree(_SAFE_DATA_HOME, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """A failing test's report ends with the log of every test server that died on its own (a
    native crash, the OOM killer): its exit code and the last lines it printed."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    from tests.support.server_process import ServerProcess

    for server in ServerProcess.exited_on_their_own():
        code = server.exit_code_on_its_own()
        tail = "\n".join(server.log().splitlines()[-120:])
        report.sections.append(
            (f"server on port {server.port} exited on its own (code {code})", tail)
        )
