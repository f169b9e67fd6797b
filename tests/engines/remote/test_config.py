"""Remote engine settings from the environment: secrets from NAME or NAME_FILE, limits that can
be switched off, and nothing secret in an account's repr or fingerprint."""

from __future__ import annotations

from pathlib import Path

import pytest

from vestis.engines.remote.config import EngineConfigError, FashnAccount, OnModelAccount


def test_secrets_come_from_the_environment_or_a_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("vst_from_a_file\n")
    account = OnModelAccount.from_env({"VESTIS_ONMODEL_TOKEN_FILE": str(token_file)})
    assert account.token == "vst_from_a_file"
    assert account.base_url == "https://v2.api.piktid.com" and account.job_rate == "5/minute"
    assert "vst_from_a_file" not in repr(account) + account.fingerprint()
    fashn = FashnAccount.from_env({"FASHN_API_KEY": "fa-key", "FASHN_BASE_URL": "http://x/"})
    assert fashn.base_url == "http://x" and "fa-key" not in repr(fashn)
    with pytest.raises(EngineConfigError, match="cannot be read"):
        OnModelAccount.from_env({"VESTIS_ONMODEL_TOKEN_FILE": str(tmp_path / "missing")})


def test_limits_can_be_changed_or_switched_off() -> None:
    env = {"VESTIS_ONMODEL_TOKEN": "t", "VESTIS_ONMODEL_JOB_RATE": "off"}
    assert OnModelAccount.from_env(env).job_rate is None
    env["VESTIS_ONMODEL_JOB_RATE"] = "5/10 seconds"
    assert OnModelAccount.from_env(env).job_rate == "5/10 seconds"
    fashn = FashnAccount.from_env({"FASHN_API_KEY": "k", "VESTIS_FASHN_RUN_RATE": "0"})
    assert fashn.run_rate is None and fashn.status_rate == "50/10 seconds"


def test_missing_or_mixed_credentials_are_refused() -> None:
    with pytest.raises(EngineConfigError, match="VESTIS_ONMODEL_TOKEN"):
        OnModelAccount.from_env({})
    with pytest.raises(EngineConfigError, match="not both"):
        OnModelAccount.from_env(
            {"VESTIS_ONMODEL_TOKEN": "t", "VESTIS_ONMODEL_USERNAME": "u",
             "VESTIS_ONMODEL_PASSWORD": "p"}
        )  # fmt: skip
    with pytest.raises(EngineConfigError, match="FASHN_API_KEY"):
        FashnAccount.from_env({})
    with pytest.raises(EngineConfigError, match="must not hold credentials"):
        OnModelAccount.from_env(
            {"VESTIS_ONMODEL_TOKEN": "t", "VESTIS_ONMODEL_URL": "https://u:p@v2.api.piktid.com"}
        )
    with pytest.raises(EngineConfigError, match="http"):
        FashnAccount.from_env({"FASHN_API_KEY": "k", "FASHN_BASE_URL": "ftp://x"})
