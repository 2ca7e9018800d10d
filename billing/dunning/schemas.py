"""What dunning reads and reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from billing.dunning.models import DunningLevel, DunningStatus


@dataclass(frozen=True)
class OverdueItem:
    """An issued invoice of a member that is past its due date and not fully paid."""

    invoice_id: int
    number: str
    member_id: int
    due_on: date
    open_cents: int


@dataclass(frozen=True)
class Step:
    """The next dunning notice for a member, as the rules decide it."""

    member_id: int
    level: DunningLevel
    items: tuple[OverdueItem, ...]
    arrears_cents: int
    fee_cents: int
    pay_by: date
    suspension_on: date | None


@dataclass
class DunningReport:
    """What one dunning run did."""

    reminders: int = 0
    warnings: int = 0
    suspensions: int = 0
    contracts_suspended: int = 0
    settled: int = 0
    contracts_resumed: int = 0
    fees_cents: int = 0
    notices: list[int] = field(default_factory=list)


class NoticeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    member_id: int
    level: DunningLevel
    status: DunningStatus
    issued_on: date
    pay_by: date
    suspension_on: date | None
    arrears_cents: int
    fee_cents: int
    items: list[dict[str, object]]
    suspended_contract_ids: list[int]
    settled_on: date | None
    resumed_on: date | None


class DunningRunCreate(BaseModel):
    """A dunning pass for a day (default: today in the coop's time zone)."""

    model_config = ConfigDict(extra="forbid")

    today: date | None = Field(default=None, ge=date(2000, 1, 1), le=date(2199, 12, 31))


class DunningReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    reminders: int
    warnings: int
    suspensions: int
    contracts_suspended: int
    settled: int
    contracts_resumed: int
    fees_cents: int
    notices: list[int]
