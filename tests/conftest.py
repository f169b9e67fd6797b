"""Puts the repository root on sys.path so `tests.support` imports from every test folder, and
keeps every test out of the user's own vestis library."""

import os
import shutil
import sys
import tempfile
from pathlib import Path

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
