"""API shapes for plans, premises and contracts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.contracts.models import ContractStatus
from app.kit.validation import IdRef, NoControl, SaneDate, text
from app.members.schemas import Address

Code = Annotated[str, text(40, min_length=2, pattern=r"^[a-z0-9][a-z0-9_-]{1,39}$"), NoControl]
Text = Annotated[str, text(120), NoControl]
Reason = Annotated[str, text(500, min_length=0), NoControl]
Unit = Annotated[str, text(60, min_length=0), NoControl]


class PlanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Text
    down_kbps: int = Field(gt=0, le=100_000_000)
    up_kbps: int = Field(gt=0, le=100_000_000)
    monthly_fee_cents: int = Field(ge=0, le=10_000_000)
    setup_fee_cents: int = Field(default=0, ge=0, le=10_000_000)
    min_term_months: int = Field(ge=0, le=24, description="TKG §56: at most 24 months")
    notice_months: int = Field(default=1, ge=0, le=3)
    includes_phone: bool = False


class PlanUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text | None = None
    monthly_fee_cents: int | None = Field(default=None, ge=0, le=10_000_000)
    setup_fee_cents: int | None = Field(default=None, ge=0, le=10_000_000)
    is_active: bool | None = None


class PlanOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    down_kbps: int
    up_kbps: int
    monthly_fee_cents: int
    setup_fee_cents: int
    min_term_months: int
    notice_months: int
    includes_phone: bool
    is_active: bool


class PremisesCreate(Address):
    model_config = ConfigDict(extra="forbid")

    member_id: IdRef
    unit: Unit | None = None


class PremisesOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    member_id: int
    street: str
    postal_code: str
    city: str
    country: str
    unit: str | None


class ContractOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: IdRef
    premises_id: IdRef
    plan_id: IdRef
    ordered_on: SaneDate | None = None


class ContractPlanChange(BaseModel):
    """Move a running contract to another plan; the line's live session follows by CoA."""

    model_config = ConfigDict(extra="forbid")

    plan_id: IdRef
    reason: Reason | None = None


class Transition(BaseModel):
    """A lifecycle step; ``effective_on`` defaults to today."""

    model_config = ConfigDict(extra="forbid")

    effective_on: SaneDate | None = None
    reason: Reason | None = None


MAX_BULK_CONTRACTS = 10_000


class BulkActivation(BaseModel):
    """Ordered contracts switched on together (a street going live): all of them, or none."""

    model_config = ConfigDict(extra="forbid")

    contract_ids: list[IdRef] = Field(min_length=1, max_length=MAX_BULK_CONTRACTS)
    effective_on: SaneDate | None = None
    reason: Reason | None = None


class Cancellation(BaseModel):
    """The subscriber's notice; the contract ends on the earliest date the terms allow, or later if asked."""

    model_config = ConfigDict(extra="forbid")

    received_on: SaneDate | None = None
    requested_end_on: SaneDate | None = None
    reason: Reason | None = None


class ContractTermsOut(BaseModel):
    """The dates TKG §56 and TKTransparenzV require us to state."""

    start_on: date | None
    min_term_months: int
    min_term_end_on: date | None
    notice_months: int
    last_day_to_cancel_for_min_term_end: date | None
    earliest_end_if_cancelled_today: date | None
    ends_on: date | None


class ContractOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    member_id: int
    premises_id: int
    plan_id: int
    status: ContractStatus
    ordered_on: date
    start_on: date | None
    min_term_months: int
    notice_months: int
    cancellation_received_on: date | None
    ends_on: date | None
    terminated_on: date | None
    created_at: datetime
    updated_at: datetime


class ContractDetail(ContractOut):
    plan: PlanOut
    premises: PremisesOut
    terms: ContractTermsOut


class ContractEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    from_status: ContractStatus | None
    to_status: ContractStatus
    effective_on: date
    at: datetime
    actor_label: str
    reason: str | None
