"""What the board enters and sees of a dividend, what members choose, and what payments receives."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.kit.validation import SaneDate
from billing.dividends.models import (
    AllocationStatus,
    CapitalPayoutStatus,
    DecisionStatus,
    DividendBasis,
    DividendChoice,
)

BusinessYear = Annotated[int, Field(ge=1900, le=2199)]
Rate = Annotated[Decimal, Field(gt=0, le=100, max_digits=7, decimal_places=4)]


class DecisionCreate(BaseModel):
    """The general assembly's decision: the dividend rate (percent of paid-in capital) for a business year, and
    the patronage refund (percent of each member's net service revenue of the year) if one was decided."""

    model_config = ConfigDict(extra="forbid")

    business_year: BusinessYear
    rate_percent: Rate
    decided_on: SaneDate
    basis: DividendBasis | None = None
    refund_percent: Rate | None = None


class RefundPercentUpdate(BaseModel):
    """The patronage refund the assembly decided, in percent of each member's net service revenue of the year
    (null: none was decided)."""

    model_config = ConfigDict(extra="forbid")

    refund_percent: Rate | None


class DecisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    business_year: int
    year_start: date
    year_end: date
    rate_percent: Decimal
    decided_on: date
    basis: DividendBasis
    status: DecisionStatus
    refund_percent: Decimal | None
    late: bool
    capital_gains_tax_percent: Decimal
    solidarity_surcharge_percent: Decimal
    approved_at: datetime | None
    booked_at: datetime | None
    warnings: list[str] = []


class AllocationOut(BaseModel):
    """One member's dividend (previewed while the decision is a draft, stored from approval on)."""

    model_config = ConfigDict(from_attributes=True)

    member_id: int
    member_number: int | None = None
    member_name: str = ""
    capital_base: int
    gross_cents: int
    exemption_used_cents: int
    capital_gains_tax_cents: int
    solidarity_surcharge_cents: int
    net_cents: int
    choice: DividendChoice
    to_capital_cents: int
    payout_cents: int
    set_off_cents: int
    status: AllocationStatus | None = None


class AllocationTotals(BaseModel):
    members: int
    gross_cents: int
    exemption_used_cents: int
    capital_gains_tax_cents: int
    solidarity_surcharge_cents: int
    net_cents: int
    to_capital_cents: int
    payout_cents: int
    set_off_cents: int


class DividendPreview(BaseModel):
    """A decision with every member's allocation and the totals: what the board checks before the run."""

    decision: DecisionOut
    totals: AllocationTotals
    allocations: list[AllocationOut]


class RunReport(BaseModel):
    """What a dividend run did; a second run of the same decision books nothing (``entries`` 0)."""

    decision_id: int
    business_year: int
    status: DecisionStatus
    allocations: int
    entries: int
    gross_cents: int
    capital_gains_tax_cents: int
    solidarity_surcharge_cents: int
    to_capital_cents: int
    payout_cents: int
    set_off_cents: int


class PreferenceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    choice: DividendChoice


class PreferenceOut(BaseModel):
    member_id: int
    choice: DividendChoice


class ExemptionOrderCreate(BaseModel):
    """An exemption order (Freistellungsauftrag) for a calendar year, with the allowance in cents."""

    model_config = ConfigDict(extra="forbid")

    calendar_year: BusinessYear
    allowance_cents: Annotated[int, Field(ge=0, le=10**9)]
    filed_on: SaneDate | None = None


class ExemptionOrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    member_id: int
    calendar_year: int
    allowance_cents: int
    used_cents: int
    filed_on: date


class PayoutInstruction(BaseModel):
    """Money the coop owes a member, for the payments package's credit transfer file (pain.001)."""

    kind: str  # "dividend" or "capital_payout"
    source_id: int
    member_id: int
    amount_cents: int
    reference: str
    due_on: date


class WaitingPayout(BaseModel):
    """A payout that could not go into the credit transfer file: the member gave no account to pay to."""

    kind: str
    source_id: int
    member_id: int
    amount_cents: int
    reference: str


class PayOutReport(BaseModel):
    """What a pay-out made: the pain.001 file (none if nothing was due), what it pays, what waits for an
    account, and how many were paid by an earlier file already."""

    file_id: int | None
    paid: int
    paid_cents: int
    paid_before: int
    waiting: list[WaitingPayout]
    waiting_cents: int = 0
    # Of ``paid_cents``: leaving members' credit paid back with their capital.
    credit_paid_cents: int = 0


class CapitalPayoutSchedule(BaseModel):
    """The board enters when the general assembly approved the balance sheet of the year members left in."""

    model_config = ConfigDict(extra="forbid")

    business_year: BusinessYear
    balance_sheet_approved_on: SaneDate


class CapitalPayoutOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    member_id: int
    business_year: int
    left_on: date
    capital_cents: int
    balance_sheet_approved_on: date
    due_on: date
    set_off_cents: int
    payout_cents: int
    status: CapitalPayoutStatus
    # What the member still owes on invoices: the board may set it off against the payout.
    open_receivables_cents: int = 0


class StatementMovement(BaseModel):
    effective_on: date
    kind: str
    amount_cents: int


class RefundLine(BaseModel):
    """A patronage refund credited for the year (filled once refunds exist)."""

    credit_note_number: str
    issued_on: date
    net_cents: int
    vat_cents: int
    gross_cents: int


class RefundTotals(BaseModel):
    """The patronage refund credit notes issued for a business year so far."""

    credit_notes: int
    net_cents: int
    vat_cents: int
    gross_cents: int


class RefundIssue(BaseModel):
    """The board issues the decided refund: the credit notes' issue date (default today)."""

    model_config = ConfigDict(extra="forbid")

    issue_on: SaneDate | None = None


class RefundReport(BaseModel):
    """What issuing a decision's patronage refund did: the credit notes issued now (none for members refunded
    before) and the year's refunds in total."""

    decision_id: int
    business_year: int
    refund_percent: Decimal
    issued: list[RefundLine]
    issued_gross_cents: int
    year: RefundTotals


class PayOutRequest(BaseModel):
    """The board pays a booked decision out: the day the bank executes the transfers (default today)."""

    model_config = ConfigDict(extra="forbid")

    execution_date: SaneDate | None = None


class AnnualStatement(BaseModel):
    """A member's annual statement: capital over the year, shares, the dividend for the year and its tax, and
    any patronage refund."""

    member_id: int
    member_number: int | None
    member_name: str
    business_year: int
    year_start: date
    year_end: date
    capital_start_cents: int
    capital_end_cents: int
    shares_end: int
    movements: list[StatementMovement]
    decision: DecisionOut | None
    allocation: AllocationOut | None
    refunds: list[RefundLine]
