"""API shapes for members, shares and the register."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from app.kit.validation import IdRef, NoControl, SaneDate, text
from app.members.models import (
    CapitalMovementKind,
    LeavingReason,
    MemberStatus,
    ShareMovementKind,
    SubscriptionStatus,
)

Name = Annotated[str, text(100), NoControl]
Street = Annotated[str, text(200), NoControl]
Organisation = Annotated[str, text(200), NoControl]
PostalCode = Annotated[str, text(10, min_length=3, pattern=r"^[0-9A-Za-z -]{3,10}$"), NoControl]
Country = Annotated[str, text(2, min_length=2, pattern=r"^[A-Z]{2}$"), NoControl]
Phone = Annotated[str, text(40, min_length=4, pattern=r"^\+?[0-9 ()/-]{4,40}$"), NoControl]
Reference = Annotated[str, text(140, min_length=0), NoControl]
# The form is checked and normalised (upper case, no spaces) by app.members.business, for the API and the pages.
VatId = Annotated[str, text(30, min_length=0), NoControl]


class Address(BaseModel):
    street: Street
    postal_code: PostalCode
    city: Name
    country: Country = "DE"


class MemberApplication(Address):
    """An application for membership with the number of shares subscribed."""

    model_config = ConfigDict(extra="forbid")

    first_name: Name
    last_name: Name
    organisation: Organisation | None = None
    email: EmailStr
    phone: Phone | None = None
    birth_date: SaneDate | None = None
    shares: int = Field(ge=1, le=1000, description="Number of shares subscribed with the application")
    instalments: int = Field(default=1, ge=1, le=60, description="1 = paid at once")
    applied_on: SaneDate | None = None
    is_business: bool = Field(default=False, description="Buys as a business (entrepreneur), not as a consumer")
    vat_id: VatId | None = Field(default=None, description="USt-IdNr., business members only (DE + 9 digits)")


class CustomerCreate(MemberApplication):
    """A non-member customer (only where the statute allows them); ``shares`` is ignored."""

    shares: int = Field(default=1, ge=1, le=1000)


class ContactUpdate(BaseModel):
    """What a member may change about themselves; staff also whether the member is a business and its VAT ID."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr | None = None
    phone: Phone | None = None
    street: Street | None = None
    postal_code: PostalCode | None = None
    city: Name | None = None
    country: Country | None = None
    is_business: bool | None = Field(default=None, description="Staff only")
    vat_id: VatId | None = Field(default=None, description="Staff only; null removes it; business members only")


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: int | None
    status: MemberStatus
    first_name: str
    last_name: str
    organisation: str | None
    display_name: str
    street: str
    postal_code: str
    city: str
    country: str
    email: str
    phone: str | None
    birth_date: date | None
    is_business: bool
    vat_id: str | None
    applied_on: date
    shares_applied: int
    admitted_on: date | None
    rejected_on: date | None
    notice_given_on: date | None
    leaving_on: date | None
    leaving_reason: LeavingReason | None
    created_at: datetime
    updated_at: datetime


class Admission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    admitted_on: SaneDate | None = None


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rejected_on: SaneDate | None = None


class ShareSubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shares: int = Field(ge=1, le=1000)
    instalments: int = Field(default=1, ge=1, le=60)
    subscribed_on: SaneDate | None = None


class SubscriptionApproval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    effective_on: SaneDate | None = None


class ShareSubscriptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    member_id: int
    shares: int
    nominal_cents: int
    instalments: int
    subscribed_on: date
    effective_on: date | None
    status: SubscriptionStatus


class SharePaymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_cents: int = Field(gt=0, le=100_000_000)
    paid_on: SaneDate | None = None
    reference: Reference | None = None


class ShareTransferCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_member_id: IdRef
    shares: int = Field(ge=1, le=1000)
    agreed_on: SaneDate | None = None
    effective_on: SaneDate | None = None


class ShareTransferOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    from_member_id: int
    to_member_id: int
    shares: int
    capital_cents: int
    agreed_on: date
    effective_on: date


class ShareCancellationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shares: int = Field(ge=1, le=1000)
    received_on: SaneDate | None = None


class MembershipNotice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    received_on: SaneDate | None = None


class LeavingRecord(BaseModel):
    """Death or exclusion: membership ends at the end of that business year."""

    model_config = ConfigDict(extra="forbid")

    reason: LeavingReason
    occurred_on: SaneDate | None = None


class ShareMovementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    delta: int
    effective_on: date
    kind: ShareMovementKind


class CapitalMovementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    amount_cents: int
    effective_on: date
    kind: CapitalMovementKind
    reference: str | None


class SharePayment(BaseModel):
    """Money paid in on a member's shares, as other domains (the ledger) read it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    member_id: int
    amount_cents: int
    effective_on: date
    reference: str | None


class Instalment(BaseModel):
    """One payment due on a share subscription."""

    subscription_id: int
    number: int
    due_on: date
    amount_cents: int


class SharesOverview(BaseModel):
    """A member's shares and paid-in capital as of a date, with the history behind them."""

    member_id: int
    on: date
    shares: int
    nominal_cents: int
    subscribed_cents: int
    capital_cents: int
    outstanding_cents: int
    pending_cancellation_shares: int
    due_cents: int
    instalments: list[Instalment]
    subscriptions: list[ShareSubscriptionOut]
    share_movements: list[ShareMovementOut]
    capital_movements: list[CapitalMovementOut]


class RegisterEntry(BaseModel):
    """One line of the member register (§30 GenG) as of a date."""

    number: int
    member_id: int
    name: str
    address: str
    shares: int
    capital_cents: int
    joined_on: date
    last_change_on: date | None
    left_on: date | None
    leaving_reason: LeavingReason | None
    notice_given_on: date | None


class Register(BaseModel):
    on: date
    members: int
    shares: int
    capital_cents: int
    entries: list[RegisterEntry]


class CapitalHistory(BaseModel):
    """A member's paid-in capital over a period, as other domains (dividends) read it: what they held at the
    end of the day before ``start`` and every dated change from ``start`` to ``end``, in date order."""

    member_id: int
    number: int | None
    name: str
    status: MemberStatus
    admitted_on: date
    leaving_on: date | None
    leaving_reason: LeavingReason | None
    start: date
    end: date
    opening_cents: int
    movements: list[CapitalMovementOut]


class CapitalPosition(BaseModel):
    """A member's shares and paid-in capital at the end of a day."""

    member_id: int
    on: date
    shares: int
    capital_cents: int
