"""The identity of a run: an existing code, else an uploaded image (spec §2.5), resolved once
per run, before any photo is uploaded, and shared by every folder.

An identity the server cannot use (no face found) is an error at once, and an identity that
this run uploaded (or found uploaded before) in that state is deleted again, so refused photos
do not pile up in the library."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vestis.client import errors

#: How long an identity may stay `pending`/`processing` on a server that prepares it in the
#: background (the hosted API's create-identity script allows 600 s), and how often to look.
SETTLE_TIMEOUT = 600.0
SETTLE_INTERVAL = 2.0
UNUSABLE = "failed"
SETTLING = ("pending", "processing")


class IdentityError(Exception):
    """No identity code could be had; the message says why. `transient`: a network or server
    error was among the causes, so trying again may work."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class IdentityResolver:
    """Thread-safe; the first code found serves the whole run. A failure is not kept: it may
    have been a network error, so the next folder (or the batch's retry) asks again."""

    def __init__(
        self,
        client: Any,
        code: str | None,
        image: Path | None,
        *,
        name: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.code = code
        self.image = image
        #: The name an uploaded image gets in the library (default: the file's stem).
        self.name = name
        self._sleep = sleep
        self._lock = threading.Lock()
        self._resolved: str | None = None
        self.message: str | None = None
        #: What the server found in an uploaded photo that swaps carry over, with advice.
        self.advice: list[str] = []

    @property
    def resolved(self) -> bool:
        return self._resolved is not None

    def resolve(self) -> str:
        with self._lock:
            if self._resolved is None:
                self._resolved = self._resolve()
            return self._resolved

    def _resolve(self) -> str:
        note: str | None = None
        if self.code:
            try:
                return self._existing(self.code)
            except errors.NotFoundError:
                note = f"Identity code {self.code!r} not found on this server"
            except errors.VestisError as exc:
                if not errors.is_transient(exc) or self.image is None:
                    raise _failure(f"Error checking identity {self.code}", exc) from exc
                note = f"Error checking identity {self.code}: {exc.reason}"
            if self.image is None:
                raise IdentityError(
                    f"{note}. `vestis identities list` shows the codes it has; "
                    "--identity-image uploads a photo instead."
                )
        if self.image is None:
            raise IdentityError("No identity code available")
        if not self.image.is_file():
            raise IdentityError(f"Identity image not found: {self.image}")
        code = self._uploaded(self.image)
        if note:
            self.message = f"{note}; {self.message}"
        return code

    def _existing(self, code: str) -> str:
        info = self.client.identities.get(code)
        status = self._settled(code, info.preprocessing_status)
        if status == UNUSABLE:
            raise IdentityError(
                f"Identity {code} cannot be used: the server found no face in it "
                f"({self._why(code)}). Upload a photo with one clearly visible face."
            )
        self.message = f"Using existing identity: {info.identity_code}"
        return str(info.identity_code)

    def _uploaded(self, image: Path) -> str:
        """The code of `image` as an identity: uploaded now, or the one uploaded before (409).
        One the server cannot use is deleted and reported."""
        try:
            uploaded = self.client.identities.upload(image, name=self.name or image.stem)
            code, status = str(uploaded.identity_code), uploaded.preprocessing_status
            if uploaded.face_detected is False:
                status = UNUSABLE
            again = False
        except errors.ConflictError as exc:
            code = _code_from_conflict(exc)
            status, again = self.client.identities.get(code).preprocessing_status, True
        except errors.VestisError as exc:
            raise _failure("Failed to upload identity", exc) from exc
        status = self._settled(code, status)
        if status == UNUSABLE:
            why = self._why(code)
            self._forget(code)
            raise IdentityError(
                f"{image.name} cannot be the identity: {why} It was not kept in the identity "
                "library; use a photo with one clearly visible face."
            )
        where = f"{image.name}, uploaded before" if again else f"from {image.name}"
        self.message = f"Identity ready: {code} ({where})"
        if not again:
            self.advice = photo_advice(uploaded)
            self.message += "".join(f"\n  note: {line}" for line in self.advice)
        return code

    def _settled(self, code: str, status: str) -> str:
        """The identity's status once the server has prepared it."""
        waited = 0.0
        while status in SETTLING and waited < SETTLE_TIMEOUT:
            self._sleep(SETTLE_INTERVAL)
            waited += SETTLE_INTERVAL
            status = self.client.identities.status(code).preprocessing_status
        if status in SETTLING:
            raise IdentityError(
                f"Identity {code} is still being prepared after {SETTLE_TIMEOUT:g} s; "
                "run the same command again later.",
                transient=True,
            )
        return str(status)

    def _why(self, code: str) -> str:
        try:
            said = self.client.identities.status(code).error_message
        except errors.VestisError:
            said = None
        return str(said or "No face was found in the image.")

    def _forget(self, code: str) -> None:
        # Not keeping it is the wish; a failure to delete does not change the answer.
        with contextlib.suppress(errors.VestisError):
            self.client.identities.delete(code)


def photo_advice(info: Any) -> list[str]:
    """The server's findings on an identity photo (vestis extension `photo_check`), one
    sentence each; empty from a server that does not check photos."""
    check = getattr(info, "photo_check", None)
    return [str(finding.message) for finding in (check.findings if check else [])]


def _code_from_conflict(error: errors.ConflictError) -> str:
    body = error.body if isinstance(error.body, dict) else {}
    code = body.get("existing_identity_code") or body.get("identity_code")
    if not code:
        raise IdentityError(f"Failed to upload identity: {error.reason}")
    return str(code)


def _failure(what: str, exc: errors.VestisError) -> IdentityError:
    return IdentityError(f"{what}: {exc.reason}", transient=errors.is_transient(exc))
