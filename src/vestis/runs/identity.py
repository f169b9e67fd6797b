"""The identity of a run: an existing code, else an uploaded image (spec §2.5), resolved once
per batch and shared by every folder."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from vestis.client import errors


class IdentityError(Exception):
    """No identity code could be had; the message says why."""


class IdentityResolver:
    """Thread-safe, caches the first answer (success or failure) for the whole batch."""

    def __init__(self, client: Any, code: str | None, image: Path | None) -> None:
        self.client = client
        self.code = code
        self.image = image
        self._lock = threading.Lock()
        self._resolved: str | None = None
        self._error: IdentityError | None = None
        self.message: str | None = None

    def resolve(self) -> str:
        with self._lock:
            if self._resolved is not None:
                return self._resolved
            if self._error is not None:
                raise self._error
            try:
                self._resolved = self._resolve()
            except IdentityError as exc:
                self._error = exc
                raise
            return self._resolved

    def _resolve(self) -> str:
        notes: list[str] = []
        if self.code:
            try:
                info = self.client.identities.get(self.code)
                self.message = f"Using existing identity: {info.identity_code}"
                return str(info.identity_code)
            except errors.VestisError as exc:
                notes.append(f"Error checking identity: {exc}")
        if self.image is not None and self.image.is_file():
            try:
                code = self.client.identities.ensure(self.image, name=self.image.stem)
            except errors.VestisError as exc:
                raise IdentityError(f"Failed to upload identity: {exc}") from exc
            self.message = f"Identity ready: {code} (from {self.image.name})"
            return str(code)
        if self.image is not None:
            notes.append(f"Identity image not found: {self.image}")
        notes.append("No identity code available")
        raise IdentityError("; ".join(notes))
