"""Settings: placeholder secrets are refused outside development; plain database URLs get async drivers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.settings import PLACEHOLDER_SECRET, Settings


def test_production_refuses_the_placeholder_secret() -> None:
    with pytest.raises(ValidationError, match="OPENTELECOM_SECRET_KEY"):
        Settings(environment="production", _env_file=None)  # type: ignore[call-arg]


def test_production_accepts_a_strong_secret() -> None:
    settings = Settings(environment="production", secret_key="k" * 40, _env_file=None)  # type: ignore[call-arg]

    assert settings.environment == "production"


def test_plain_postgres_url_gets_the_async_driver() -> None:
    settings = Settings(database_url="postgresql://u@db/coop", _env_file=None)  # type: ignore[call-arg]

    assert settings.database_url == "postgresql+asyncpg://u@db/coop"


def test_statutory_notice_period_is_bounded_by_law(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENTELECOM_MEMBERSHIP_NOTICE_MONTHS", "61")

    with pytest.raises(ValidationError, match="membership_notice_months"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_placeholder_ami_secret_is_refused_outside_development() -> None:
    ami = {"ami_host": "127.0.0.1", "ami_username": "opentelecom", "ami_secret": PLACEHOLDER_SECRET}

    with pytest.raises(ValidationError, match="OPENTELECOM_AMI_SECRET"):
        Settings(environment="test", _env_file=None, **ami)  # type: ignore[call-arg]
    assert Settings(environment="development", _env_file=None, **ami).ami_configured  # type: ignore[call-arg]


def test_ami_host_without_username_and_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="go together"):
        Settings(ami_host="127.0.0.1", _env_file=None)  # type: ignore[call-arg]


def test_without_ami_settings_asterisk_is_not_configured() -> None:
    assert not Settings(_env_file=None).ami_configured  # type: ignore[call-arg]
