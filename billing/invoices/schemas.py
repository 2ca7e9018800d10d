"""What goes into invoicing and what comes out: credits to settle, credit notes to issue, invoices and bill
runs as the API shows them. Amounts are integer cents."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.kit.validation import IdRef, NoControl, SaneDate, text
from billing.invoices.models import BillRunStatus, InvoiceKind, InvoiceStatus, ServiceKind
from billing.ledger.models import SystemAccount

MAX_CENTS = 10**11
Period = Annotated[str, Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]


class CreditDraft(BaseModel):
    """Money owed to a member that their next invoice settles, drawn from ``account`` (e.g. a dividend they
    chose to set off, from ``dividends_payable``). ``source_kind`` + ``source_id`` name it: added once."""

    model_config = ConfigDict(extra="forbid")

    member_id: IdRef
    amount_cents: Annotated[int, Field(gt=0, le=MAX_CENTS)]
    text: Annotated[str, text(200), NoControl]
    account: SystemAccount
    source_kind: Annotated[str, text(32, pattern=r"^[a-z_]+$")]
    source_id: Annotated[str, text(32, pattern=r"^[A-Za-z0-9\-/]+$")]


class CreditNoteCreate(BaseModel):
    """A credit note for an issued invoice: every line (``positions`` empty) or the lines at ``positions``."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, text(200), NoControl]
    positions: list[Annotated[int, Field(ge=1, le=10_000)]] = Field(default_factory=list, max_length=1000)
    issue_on: SaneDate | None = None


class BillRunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: Period
    issue_on: SaneDate | None = None


class InvoiceLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    net_cents: int
    vat_rate: Decimal
    service_kind: ServiceKind
    period_start: date | None
    period_end: date | None
    contract_number: str | None


class ContractTermsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    contract_number: str
    plan_name: str
    start_on: date
    min_term_end_on: date | None
    notice_months: int
    notice_after_min_term_months: int
    last_day_to_cancel: date | None


class SettlementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    text: str
    amount_cents: int


class VatTotalOut(BaseModel):
    rate: Decimal
    net_cents: int
    vat_cents: int


class InvoiceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: InvoiceKind
    status: InvoiceStatus
    number: str | None
    member_id: int
    bill_run_id: int | None
    corrects_invoice_id: int | None
    buyer_name: str
    issue_date: date
    period_start: date
    period_end: date
    due_date: date
    net_cents: int
    vat_cents: int
    gross_cents: int
    amount_due_cents: int
    currency: str


class InvoiceDetail(InvoiceOut):
    """An invoice with everything §14 (4) UStG and §5 TKTransparenzV ask it to say."""

    seller_name: str
    seller_address: str
    seller_tax_number: str | None
    seller_vat_id: str | None
    buyer_street: str
    buyer_postal_code: str
    buyer_city: str
    buyer_country: str
    buyer_member_number: int | None
    buyer_vat_id: str | None
    buyer_is_business: bool
    lines: list[InvoiceLineOut]
    vat_totals: list[VatTotalOut]
    contracts: list[ContractTermsOut]
    settlements: list[SettlementOut]
    has_pdf: bool


class BillRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    period_start: date
    period_end: date
    status: BillRunStatus
    invoice_count: int
    line_count: int
    net_cents: int
    vat_cents: int
    gross_cents: int
    due_cents: int
    preview_seconds: float | None
    issue_seconds: float | None
    created_at: datetime
    issued_at: datetime | None
    net_by_service: dict[str, int] = Field(default_factory=dict)
