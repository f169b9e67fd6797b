"""What the remote engines share: the SDK client's life, a 429 that pauses every worker of the
account, and face checks made locally (no upstream call, no upstream cost)."""

from __future__ import annotations

from typing import Any

from PIL import Image

from vestis.engines.base import FaceInfo
from vestis.engines.remote.gate import AccountGate


class RemoteEngineBase:
    _pause: AccountGate
    _client: Any
    _detector: Any

    def _on_retry(self, _retry: int, wait: float, reason: str) -> None:
        if reason.startswith("Rate limited"):
            self._pause.close_for(wait)  # every worker on this account waits, not just this one

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def detect_face(self, image: Image.Image) -> FaceInfo:
        """Checked here with the local engine's detector: no upstream call, no upstream cost."""
        if self._detector is None:
            from vestis.engines.local import LocalEngine

            self._detector = LocalEngine()
        face: FaceInfo = self._detector.detect_face(image)
        return face
