"""Secrets at rest: argon2 for passwords, SHA-256 for random tokens (they have full entropy)."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


_dummy_hash: str | None = None


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check `password`; with no hash (an unknown user, or one made without a password), check
    it against a dummy hash of the same cost and answer False, so the time taken does not tell
    whether the user exists or has a password."""
    global _dummy_hash
    if not password_hash:
        if _dummy_hash is None:
            _dummy_hash = hash_password(secrets.token_urlsafe(16))
        password_hash = _dummy_hash
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token(prefix: str = "vst") -> str:
    """A random bearer token; the prefix tells token kinds apart in logs."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_public_id(prefix: str) -> str:
    """A public object id such as `job_3f2a...` (32 hex digits of randomness)."""
    return f"{prefix}_{secrets.token_hex(16)}"
