"""The background machinery of one server process, started and stopped with the app."""

from __future__ import annotations

from vestis.server.state import ServerState


class Runtime:
    """Job workers, the notification bus and the webhook sender of one process."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None
