"""A gate that a test holds over the engine of a server process (`GatedFakeEngine`): engine
calls wait at the gate until the test lets them through, one ticket per call or all at once.

So a test decides what has finished when it looks, instead of sleeping and hoping that a job is
still running (or already done) on a busy machine:

    gate = Gate(tmp_path / "gate")
    with ServerProcess(tmp_path, engine=GATED_FAKE_ENGINE, env=gate.env) as server:
        ...                        # jobs are accepted and stay `processing`
        gate.admit(1)              # exactly one more output may be made
        gate.open()                # everything may finish
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

#: The environment variable that tells GatedFakeEngine where its gate is.
GATE_ENV = "VESTIS_FAKE_ENGINE_GATE"
OPEN_MARK = "open"
TICKET_PREFIX = "ticket-"
#: A call waiting at the gate marks itself with a file of this prefix while it waits.
WAITING_PREFIX = "waiting-"
#: Polling interval of `wait_until`; how long a condition may take is `timeout`.
POLL_SECONDS = 0.02


class Gate:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def env(self) -> dict[str, str]:
        return {GATE_ENV: str(self.folder)}

    def admit(self, count: int = 1) -> None:
        """Let `count` more engine calls through."""
        for _ in range(count):
            ticket = self.folder / f"{TICKET_PREFIX}{uuid.uuid4().hex}"
            partial = ticket.with_suffix(".part")
            partial.write_text("")
            partial.rename(ticket)  # the engine never sees half a ticket

    def open(self) -> None:
        """Let every call through, now and later."""
        (self.folder / OPEN_MARK).write_text("")

    def close(self) -> None:
        (self.folder / OPEN_MARK).unlink(missing_ok=True)

    def tickets_left(self) -> int:
        return len(_tickets(self.folder))

    def waiting(self) -> int:
        """How many engine calls wait at the gate now (each has done all it does before it)."""
        return len(list(self.folder.glob(f"{WAITING_PREFIX}*")))


def _tickets(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob(f"{TICKET_PREFIX}*") if p.suffix != ".part")


def take_ticket(folder: Path) -> bool:
    """The engine's side: True when the gate is open or a ticket was taken (deleted: of two
    callers racing for one ticket, exactly one succeeds)."""
    if (folder / OPEN_MARK).exists():
        return True
    for ticket in _tickets(folder):
        try:
            ticket.unlink()
        except FileNotFoundError:
            continue
        return True
    return False


def wait_until(condition: Callable[[], object], timeout: float = 120, what: str = "") -> None:
    """Poll `condition` until it is true; fail the test after `timeout` seconds. The timeout only
    bounds a hang: a condition that holds is seen at once, however busy the machine."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout:g} s: {what or condition}")
        time.sleep(POLL_SECONDS)
