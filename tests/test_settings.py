"""Settings: placeholder secrets are refused outside development; plain database URLs get async drivers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.settings import Settings


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
