"""Where remote engines get their accounts and limits: the environment, or files it names.

Secrets are read from `NAME` or, when that is unset, from the file named by `NAME_FILE` (the
convention of container secrets), never from the command line. The account objects keep them out
of their `repr`, and `fingerprint()` identifies an account (for the shared limiters and the
remembered identity codes) without revealing anything about its credentials.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ONMODEL_URL_ENV = "VESTIS_ONMODEL_URL"
ONMODEL_TOKEN_ENV = "VESTIS_ONMODEL_TOKEN"
ONMODEL_USERNAME_ENV = "VESTIS_ONMODEL_USERNAME"
ONMODEL_PASSWORD_ENV = "VESTIS_ONMODEL_PASSWORD"
FASHN_API_KEY_ENV = "FASHN_API_KEY"
FASHN_BASE_URL_ENV = "FASHN_BASE_URL"

HOSTED_ONMODEL_URL = "https://v2.api.piktid.com"
HOSTED_FASHN_URL = "https://api.fashn.ai"


class EngineConfigError(ValueError):
    """A remote engine cannot start: credentials or settings are missing or malformed."""


def read_setting(env: Mapping[str, str], name: str) -> str | None:
    """`env[name]`, else the contents of the file `env[name + "_FILE"]` (trailing newline
    stripped); None when neither is set."""
    value = env.get(name)
    if value:
        return value
    path = env.get(name + "_FILE")
    if not path:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise EngineConfigError(f"{name}_FILE names a file that cannot be read: {exc}") from exc
    return text or None


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise EngineConfigError(f"{name} must be a number, got {raw!r}.") from exc


def _rate(env: Mapping[str, str], name: str, default: str) -> str | None:
    """A limit in the `limits` notation ("5/minute"); "0" or "off" for none (an upstream
    without limits, e.g. another vestis server started with --rate-limit 0)."""
    value = (env.get(name) or "").strip()
    if value.lower() in ("0", "off", "none"):
        return None
    return value or default


def _base_url(env: Mapping[str, str], name: str, default: str) -> str:
    """An http(s) base URL without credentials in it (they would show in messages)."""
    url = (read_setting(env, name) or default).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise EngineConfigError(f"{name} must be an http(s) URL.")
    if "@" in parts.netloc:
        raise EngineConfigError(
            f"{name} must not hold credentials; give them in their own variables."
        )
    return url


def _fingerprint(*parts: str | None) -> str:
    digest = hashlib.sha256("\0".join(p or "" for p in parts).encode()).hexdigest()
    return digest[:16]


@dataclass(frozen=True)
class OnModelAccount:
    """One On-Model v2 account: the hosted API or another vestis server."""

    base_url: str
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    #: Job creations per window on this account ("5/minute" on the hosted API; None: none).
    job_rate: str | None = "5/minute"
    max_retries: int = 5
    poll_interval: float = 5.0
    #: How long one remote job may take before its outputs go to the next engine.
    job_timeout: float = 3600.0

    def fingerprint(self) -> str:
        return _fingerprint("onmodel", self.base_url, self.token, self.username)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OnModelAccount:
        env = os.environ if env is None else env
        token = read_setting(env, ONMODEL_TOKEN_ENV)
        username = read_setting(env, ONMODEL_USERNAME_ENV)
        password = read_setting(env, ONMODEL_PASSWORD_ENV)
        if not token and not (username and password):
            raise EngineConfigError(
                f"The onmodel engine needs credentials: set {ONMODEL_TOKEN_ENV} (or "
                f"{ONMODEL_USERNAME_ENV} and {ONMODEL_PASSWORD_ENV}), or the same names with "
                "_FILE naming a file that holds the value."
            )
        if token and (username or password):
            raise EngineConfigError(
                f"Set either {ONMODEL_TOKEN_ENV} or {ONMODEL_USERNAME_ENV}/"
                f"{ONMODEL_PASSWORD_ENV}, not both."
            )
        url = _base_url(env, ONMODEL_URL_ENV, HOSTED_ONMODEL_URL)
        return cls(
            base_url=url,
            token=token,
            username=username if not token else None,
            password=password if not token else None,
            job_rate=_rate(env, "VESTIS_ONMODEL_JOB_RATE", "5/minute"),
            max_retries=int(_number(env, "VESTIS_ONMODEL_MAX_RETRIES", 5)),
            poll_interval=_number(env, "VESTIS_ONMODEL_POLL_INTERVAL", 5.0),
            job_timeout=_number(env, "VESTIS_ONMODEL_JOB_TIMEOUT", 3600.0),
        )


@dataclass(frozen=True)
class FashnAccount:
    """One FASHN account (the hosted API, or a vestis server's `/v1`)."""

    base_url: str
    api_key: str = field(repr=False)
    #: FASHN's documented account limits: 50 runs a minute, 50 status polls per 10 s,
    #: 6 predictions in flight.
    run_rate: str | None = "50/minute"
    status_rate: str | None = "50/10 seconds"
    concurrency: int = 6
    max_retries: int = 3
    poll_interval: float = 2.0
    #: How long one prediction may take before its output goes to the next engine.
    prediction_timeout: float = 900.0

    def fingerprint(self) -> str:
        return _fingerprint("fashn", self.base_url, self.api_key)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> FashnAccount:
        env = os.environ if env is None else env
        key = read_setting(env, FASHN_API_KEY_ENV)
        if not key:
            raise EngineConfigError(
                f"The fashn engine needs an API key: set {FASHN_API_KEY_ENV}, or "
                f"{FASHN_API_KEY_ENV}_FILE naming a file that holds it."
            )
        url = _base_url(env, FASHN_BASE_URL_ENV, HOSTED_FASHN_URL)
        return cls(
            base_url=url,
            api_key=key,
            run_rate=_rate(env, "VESTIS_FASHN_RUN_RATE", "50/minute"),
            status_rate=_rate(env, "VESTIS_FASHN_STATUS_RATE", "50/10 seconds"),
            concurrency=max(1, int(_number(env, "VESTIS_FASHN_CONCURRENCY", 6))),
            max_retries=int(_number(env, "VESTIS_FASHN_MAX_RETRIES", 3)),
            poll_interval=_number(env, "VESTIS_FASHN_POLL_INTERVAL", 2.0),
            prediction_timeout=_number(env, "VESTIS_FASHN_TIMEOUT", 900.0),
        )
