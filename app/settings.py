"""One settings object for the whole process (prefix ``OPENTELECOM_``, ``.env`` supported).

Statutory choices (share value, notice periods, business year) are settings with the defaults
of DOMAIN.md, never constants in code: each coop's statute decides them.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "development-only-not-a-secret"  # noqa: S105 - refused outside development


class Settings(BaseSettings):
    """Process settings; every field can be set as ``OPENTELECOM_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="OPENTELECOM_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./opentelecom.db"
    database_echo: bool = False
    secret_key: str = PLACEHOLDER_SECRET
    run_background_loops: bool = True

    # Who we are (letterhead, register header).
    coop_name: str = "openTelecom eG"
    coop_street: str = "Genossenschaftsweg 1"
    coop_postal_code: str = "10115"
    coop_city: str = "Berlin"
    coop_country: str = Field(default="DE", pattern=r"^[A-Z]{2}$")  # ISO 3166-1 alpha-2
    # One line for headers (member register); empty: made from street, postal code and city.
    coop_address: str = ""
    coop_register_court: str = "Amtsgericht Charlottenburg, GnR 999 B"
    # Letterhead of invoices and letters. §14 (4) UStG: a tax number or a VAT ID (at least one); §25a GenG:
    # the board (Vorstand) and the supervisory board's chair by name. The demo values are made up: a VAT ID
    # and tax number that only look right, an IBAN at the Bundesbank (which keeps no customer accounts)
    # with a valid checksum, and the Bundesbank's test creditor ID.
    coop_tax_number: str | None = "27/123/45678"
    coop_vat_id: str | None = "DE999999995"
    coop_email: str = "rechnung@opentelecom.example"
    coop_phone: str | None = "+49 30 1234567"
    coop_website: str | None = "https://opentelecom.example"
    coop_bank_name: str = "Deutsche Bundesbank (Demo)"
    coop_iban: str = "DE91100000000123456789"
    coop_bic: str = "MARKDEF1100"
    coop_creditor_id: str = "DE98ZZZ09999999999"
    coop_board: tuple[str, ...] = ("Erika Mustermann", "Max Beispiel")
    coop_supervisory_chair: str | None = "Clara Vorsitz"
    default_locale: Literal["de", "en"] = "de"
    timezone: str = "Europe/Berlin"

    # Statute (Satzung).
    share_nominal_cents: int = Field(default=10_000, gt=0)
    max_shares_per_member: int = Field(default=100, gt=0)
    membership_notice_months: int = Field(default=3, ge=3, le=60)
    business_year_end_month: int = Field(default=12, ge=1, le=12)
    allow_non_member_customers: bool = False

    # Member dividends (§19, §48 GenG) and the tax withheld on them (§43a EStG, §4 SolZG): pro rata temporis by
    # days or by whole months held; tax rates as the law stands, settings so a change needs no code.
    dividend_basis: Literal["days", "months"] = "days"
    capital_gains_tax_percent: Decimal = Field(default=Decimal("25"), ge=0, le=100)
    solidarity_surcharge_percent: Decimal = Field(default=Decimal("5.5"), ge=0, le=100)
    # The largest exemption order (Freistellungsauftrag) accepted: the saver's allowance of a joint assessment.
    exemption_order_max_cents: int = Field(default=200_000, ge=0)
    # Leaving members' capital (§73 GenG) is due this many days after the board enters the approval of the
    # balance sheet, and never later than six months after the business year they left.
    capital_payout_days_after_approval: int = Field(default=30, ge=0, le=183)

    # Telecom consumer rules (TKG §56): notice after the minimum term.
    contract_notice_after_min_term_months: int = Field(default=1, ge=0, le=3)

    # Dunning (billing/dunning): days after an invoice's due date until the reminder, days from reminder to
    # warning, days each notice gives to pay, fees per level. Suspension (§61 TKG): only for arrears of at
    # least ``dunning_suspension_min_cents`` and announced at least two weeks ahead in the warning.
    dunning_minimum_cents: int = Field(default=500, ge=0)
    dunning_reminder_after_days: int = Field(default=7, ge=0, le=90)
    dunning_warning_after_days: int = Field(default=14, ge=1, le=90)
    dunning_pay_within_days: int = Field(default=10, ge=1, le=60)
    dunning_suspension_notice_days: int = Field(default=14, ge=14, le=90)
    dunning_suspension_min_cents: int = Field(default=10_000, ge=10_000)
    dunning_reminder_fee_cents: int = Field(default=0, ge=0, le=5_000)
    dunning_warning_fee_cents: int = Field(default=250, ge=0, le=5_000)
    dunning_suspension_fee_cents: int = Field(default=0, ge=0, le=5_000)

    # Invoices (§14 UStG; the coop's tax number and VAT ID are with the letterhead above): the standard VAT
    # rate and the days from the issue date to the due date.
    vat_standard_rate: Decimal = Field(default=Decimal("19"), ge=0, le=100)
    invoice_due_days: int = Field(default=14, ge=0, le=90)
    # How many months before a bill run's period it looks back for fees billed in advance that a termination
    # or plan change entered later cut short (corrected by a credit note, or charged, on that run).
    billing_correction_months: int = Field(default=3, ge=1, le=24)

    # Sessions and login throttling.
    session_hours: int = Field(default=12, gt=0)
    api_token_hours: int = Field(default=8, gt=0)
    login_max_failures: int = Field(default=5, gt=0)
    login_window_minutes: int = Field(default=15, gt=0)
    cookie_secure: bool = False

    # Provisioning worker: outbox batch size, retries with exponential backoff, CoA/Disconnect timing.
    provisioning_batch: int = Field(default=500, gt=0, le=10_000)
    provisioning_max_attempts: int = Field(default=5, gt=0, le=50)
    provisioning_backoff_s: float = Field(default=2.0, gt=0, le=300)
    provisioning_poll_s: float = Field(default=1.0, gt=0, le=60)
    coa_timeout_s: float = Field(default=2.0, gt=0, le=30)
    coa_retries: int = Field(default=1, ge=0, le=5)
    # The network namespace the demo's access router is configured in (none: configured by hand).
    demo_router_netns: str | None = None

    # Asterisk's manager interface (AMI), for phones' registration status. Either host, username and
    # secret, or ``asterisk_server_file``: the server.json tools/asterisk.py writes for an instance
    # (``make services``: <root>/var/lib/opentelecom/asterisk/services/server.json), read when the
    # watcher connects, since each start of that instance generates a new secret. Neither: no
    # registration watcher runs and pages say the status is unknown.
    ami_host: str | None = None
    ami_port: int = Field(default=5038, gt=0, lt=65536)
    ami_username: str | None = None
    ami_secret: str | None = None
    asterisk_server_file: Path | None = None
    # How often the watcher lists every contact (PJSIPShowContacts) besides following ContactStatus
    # events; it also lists them after every (re)connect.
    registration_poll_s: float = Field(default=30.0, gt=0, le=3600)
    # How long a carried-out (or given-up) request to end a suspended or terminated line's calls is kept, for
    # questions about a cut call; the ``call-teardown-cleanup`` loop deletes older ones once an hour.
    call_teardown_retention_days: int = Field(default=90, ge=1, le=3650)

    # Line and device health (network/health/rules.py): a condition that lasts ``incident_after_s`` opens
    # an incident. VDSL2 lines train for about 6 dB of SNR margin; well below that they drop or retrain.
    health_snr_margin_min_db: float = Field(default=3.0, ge=0, le=30)
    health_error_rate_max_per_s: float = Field(default=1.0, gt=0)
    health_cpu_max_percent: int = Field(default=90, gt=0, le=100)
    health_incident_after_s: int = Field(default=120, ge=0, le=86400)
    # /metrics (Prometheus): with a token, scrapers send ``Authorization: Bearer <token>``; without one,
    # only clients on this machine (127.0.0.1, ::1) are answered.
    metrics_token: str | None = None
    # SNMP pollers: devices leased per round and in flight at once.
    poller_batch: int = Field(default=200, gt=0, le=10_000)
    poller_concurrency: int = Field(default=64, gt=0, le=1000)

    # SEPA (billing/payments; the coop's account and creditor identifier are with the letterhead above): the
    # lead time between issuing an invoice and collecting it (the invoice is the pre-notification, DOMAIN.md:
    # at least 14 days), and the fee a member owes for a returned direct debit (not subject to VAT).
    sepa_prenotification_days: int = Field(default=14, ge=1, le=60)
    returned_debit_fee_cents: int = Field(default=300, ge=0, le=10_000)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        # Operators paste plain URLs; map them onto the async drivers we ship.
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if value.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + value.split(":///", 1)[1]
        return value

    @model_validator(mode="after")
    def _coop_address_line(self) -> Settings:
        if not self.coop_address:
            self.coop_address = f"{self.coop_street}, {self.coop_postal_code} {self.coop_city}"
        if not (self.coop_tax_number or self.coop_vat_id):
            raise ValueError("OPENTELECOM_COOP_TAX_NUMBER or OPENTELECOM_COOP_VAT_ID must be set (§14 UStG)")
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.environment == "production" and (self.secret_key == PLACEHOLDER_SECRET or len(self.secret_key) < 32):
            raise ValueError("OPENTELECOM_SECRET_KEY must be set to a strong value (32+ characters) in production")
        explicit = [self.ami_host, self.ami_username, self.ami_secret]
        if any(explicit) and not all(explicit):
            raise ValueError("OPENTELECOM_AMI_HOST, OPENTELECOM_AMI_USERNAME and OPENTELECOM_AMI_SECRET go together")
        if self.environment != "development" and self.ami_host and self.ami_secret == PLACEHOLDER_SECRET:
            raise ValueError("OPENTELECOM_AMI_SECRET must be Asterisk's real AMI secret outside development")
        return self

    @property
    def ami_configured(self) -> bool:
        """Whether Asterisk's AMI is known (explicitly or through its server.json)."""
        return bool(self.ami_host) or self.asterisk_server_file is not None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def business_year_end(self, year: int) -> date:
        """Last day of the business year that ends in calendar year ``year``."""
        from app.kit.time import last_day_of_month

        return last_day_of_month(year, self.business_year_end_month)


@lru_cache
def get_settings() -> Settings:
    return Settings()
