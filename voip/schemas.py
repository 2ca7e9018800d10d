"""API shapes for number blocks, phone lines, SIP credentials, registrations and rates.

No shape but ``SipCredentials`` carries the SIP password, and only ``service.sip_credentials`` fills it,
for the line's member and for operators.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.kit.validation import NoControl, SaneDate, text
from voip.lines import PhoneLineState
from voip.numbers import DEFAULT_QUARANTINE_DAYS, NumberStatus

Name = Annotated[str, text(80), NoControl]
NumberText = Annotated[str, text(30), NoControl]
Prefix = Annotated[str, text(15, pattern=r"^[0-9]{1,15}$")]


class NumberBlockCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    first_number: NumberText
    last_number: NumberText
    quarantine_days: int = Field(default=DEFAULT_QUARANTINE_DAYS, ge=0, le=3650)


class NumberBlockOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    first_number: str
    last_number: str
    quarantine_days: int
    is_active: bool


class PortIn(BaseModel):
    """A number the member brings from another network (entered by the operator once the port is done)."""

    model_config = ConfigDict(extra="forbid")

    number: NumberText
    ported_from: Annotated[str, text(80), NoControl] | None = None


class RegistrationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    registered: bool
    since: datetime
    user_agent: str | None
    round_trip_ms: int | None
    contact_uri: str | None


class PhoneLineOut(BaseModel):
    """A phone line as members and operators see it; never its password."""

    id: int
    contract_id: int
    contract_number: str
    member_id: int
    extension: str
    number: str | None
    number_ported_in: bool
    state: PhoneLineState
    registration: RegistrationOut | None


class SipCredentials(BaseModel):
    """What a phone needs to register: shown to the line's member and to operators only."""

    extension: str
    username: str
    password: str
    number: str | None


class NumberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    e164: str
    status: NumberStatus
    is_ported_in: bool
    quarantine_until: datetime | None


class RateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prefix: Prefix
    name: Annotated[str, text(120), NoControl]
    price_per_minute_cents: Decimal = Field(ge=0, le=100_000, max_digits=14, decimal_places=4)
    first_increment_s: int = Field(default=60, ge=1, le=3600)
    next_increment_s: int = Field(default=60, ge=1, le=3600)
    uses_included_minutes: bool = False
    valid_from: SaneDate = date(2000, 1, 1)
