"""The identity of a run: an existing code, else an uploaded image (spec §2.5), resolved once
per batch and shared by every folder."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from vestis.client import errors


class IdentityError(Exception):
    """No identity code could be had; the message says why. `transient`: a network or server
    error was among the causes, so trying again may work."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class IdentityResolver:
    """Thread-safe; the first code found serves the whole batch. A failure is not kept: it may
    have been a network error, so the next folder (or the batch's retry) asks again."""

    def __init__(self, client: Any, code: str | None, image: Path | None) -> None:
        self.client = client
        self.code = code
        self.image = image
        self._lock = threading.Lock()
        self._resolved: str | None = None
        self.message: str | None = None

    def resolve(self) -> str:
        with self._lock:
            if self._resolved is None:
                self._resolved = self._resolve()
            return self._resolved

    def _resolve(self) -> str:
        notes: list[str] = []
        transient = False
        if self.code:
            try:
                info = self.client.identities.get(self.code)
                self.message = f"Using existing identity: {info.identity_code}"
                return str(info.identity_code)
            except errors.VestisError as exc:
                notes.append(f"Error checking identity: {exc}")
                transient = transient or _is_transient(exc)
        if self.image is not None and self.image.is_file():
            try:
                code = self.client.identities.ensure(self.image, name=self.image.stem)
            except errors.VestisError as exc:
                raise IdentityError(
                    f"Failed to upload identity: {exc}", transient=_is_transient(exc)
                ) from exc
            self.message = f"Identity ready: {code} (from {self.image.name})"
            return str(code)
        if self.image is not None:
            notes.append(f"Identity image not found: {self.image}")
        notes.append("No identity code available")
        raise IdentityError("; ".join(notes), transient=transient)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, errors.APIConnectionError):
        return True
    return isinstance(exc, errors.APIError) and (exc.status_code == 429 or exc.status_code >= 500)
