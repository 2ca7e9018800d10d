"""What payments take in and give out: mandates, collections, payouts, statements, payments, the queue.

Amounts are integer cents. IBANs are checked by the service (schwifty), which gives one refusal code for
every entry point; shapes here check types and lengths only.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.kit.validation import IdRef, NoControl, SaneDate, text
from billing.ledger.schemas import MAX_CENTS
from billing.payments.models import (
    ItemStatus,
    PaymentMethod,
    SepaFileKind,
    SequenceType,
    TransactionStatus,
)

Name = Annotated[str, text(70), NoControl]
IbanText = Annotated[str, text(42), NoControl]
BicText = Annotated[str, text(11, min_length=8), NoControl]


def _sepa_slashes(value: str) -> str:
    if value.startswith("/") or value.endswith("/") or "//" in value:
        raise ValueError("a SEPA reference neither starts nor ends with '/' nor holds '//'")
    return value


# SEPA's character set for references (EPC: Latin letters, digits, / - ? : ( ) . , ' + and space), no
# leading or trailing slash, no double slash.
SepaReference = Annotated[str, text(35, pattern=r"^[A-Za-z0-9/\-?:().,'+ ]+$"), AfterValidator(_sepa_slashes)]
Remittance = Annotated[str, text(140), NoControl]
PositiveCents = Annotated[int, Field(gt=0, le=MAX_CENTS)]
Liability = Literal["dividends_payable", "capital_payable", "receivables"]


class MandateCreate(BaseModel):
    """A mandate the member gives (or an operator records from the signed form)."""

    model_config = ConfigDict(extra="forbid")

    debtor_name: Name
    iban: IbanText
    bic: BicText | None = None
    signed_on: SaneDate | None = None


class MandateOut(BaseModel):
    """A mandate as shown: the IBAN masked; ``state`` is active, lapsed (36 months unused) or revoked."""

    id: int
    member_id: int
    reference: str
    debtor_name: str
    iban_masked: str
    bic: str | None
    signed_on: date
    sequence: SequenceType
    last_collected_on: date | None
    revoked_on: date | None
    state: Literal["active", "lapsed", "revoked"]
    lapses_on: date | None


class CollectionRequest(BaseModel):
    """One invoice to collect by direct debit from the member's active mandate."""

    model_config = ConfigDict(extra="forbid")

    member_id: IdRef
    invoice_id: IdRef | None = None
    amount_cents: PositiveCents
    end_to_end_id: SepaReference
    remittance: Remittance
    collection_date: SaneDate


class PayoutInstruction(BaseModel):
    """One credit transfer to a member: a dividend, leaving capital (§73 GenG) or a refund; ``liability`` is
    the account it settles (dividends payable, capital payable, or receivables for a member's credit)."""

    model_config = ConfigDict(extra="forbid")

    member_id: IdRef
    name: Name
    iban: IbanText
    bic: BicText | None = None
    amount_cents: PositiveCents
    reference: SepaReference
    remittance: Remittance
    execution_date: SaneDate
    liability: Liability


class SepaFileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: SepaFileKind
    message_id: str
    schema_name: str = Field(validation_alias="schema")
    due_on: date
    sequence: SequenceType | None
    sha256: str
    total_cents: int
    item_count: int
    created_at: datetime


class CollectionItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    file_id: int
    member_id: int
    invoice_id: int | None
    end_to_end_id: str
    amount_cents: int
    collection_date: date
    sequence: SequenceType
    status: ItemStatus


class TransactionOut(BaseModel):
    """A booked bank transaction; the counterparty's IBAN is shown masked."""

    id: int
    booking_date: date
    value_date: date | None
    amount_cents: int
    credit: bool
    counterparty_name: str | None
    counterparty_iban_masked: str | None
    remittance: str | None
    end_to_end_id: str | None
    bank_reference: str | None
    return_reason: str | None
    status: TransactionStatus
    member_id: int | None
    note: str | None


class ImportReport(BaseModel):
    """What one camt.053 or camt.054 file brought: new reports (statements or notifications) and transactions,
    and what matching made of them; ``covered``: new transactions of entries the bank's other kind of report
    booked already (nothing booked for them)."""

    statements: int
    statements_known: int
    transactions: int
    transactions_known: int
    matched: int
    returned: int
    payouts: int
    queued: int
    covered: int


class AllocationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    invoice_id: int
    invoice_number: str
    amount_cents: int


class PaymentOut(BaseModel):
    id: int
    member_id: int
    amount_cents: int
    paid_on: date
    method: PaymentMethod
    reference: str | None
    allocations: list[AllocationOut]


class CreditSourceOut(BaseModel):
    """Where a member's credit comes from: the rest of a payment, or what an invoice was overpaid by."""

    payment_id: int | None
    invoice_id: int | None
    invoice_number: str | None
    dated: date
    amount_cents: int


class CreditApplicationOut(BaseModel):
    """Credit used on an invoice (``settled``: a bill run set it off on the invoice, its amount due is net of
    it; else applied to the invoice after issue), or paid back by the credit transfer ``payout_item_id``."""

    id: int
    invoice_id: int | None
    invoice_number: str | None
    payout_item_id: int | None
    payment_id: int | None
    from_invoice_id: int | None
    from_invoice_number: str | None
    amount_cents: int
    applied_on: date
    settled: bool


class CreditPayback(BaseModel):
    """Paying a member's credit back: all of it unless an amount is given, to their mandate's account unless
    an account is given."""

    model_config = ConfigDict(extra="forbid")

    amount_cents: PositiveCents | None = None
    name: Name | None = None
    iban: IbanText | None = None
    bic: BicText | None = None


class CreditOut(BaseModel):
    """A member's credit (Guthaben): what they have now, its sources, and where credit went (newest first)."""

    member_id: int
    credit_cents: int
    sources: list[CreditSourceOut]
    applications: list[CreditApplicationOut]


class ManualPayment(BaseModel):
    """A payment an operator records by hand (cash at the office, a transfer seen outside a statement)."""

    model_config = ConfigDict(extra="forbid")

    member_id: IdRef
    amount_cents: PositiveCents
    paid_on: SaneDate
    method: Literal["cash", "transfer"] = "transfer"
    invoice_numbers: list[Annotated[str, text(35), NoControl]] = Field(default_factory=list, max_length=50)
    reference: Remittance | None = None


class QueueAssignment(BaseModel):
    """An operator's decision for a queued transaction: whose money it is (and which invoices it pays)."""

    model_config = ConfigDict(extra="forbid")

    member_id: IdRef
    invoice_numbers: list[Annotated[str, text(35), NoControl]] = Field(default_factory=list, max_length=50)
    note: Annotated[str, text(500), NoControl] | None = None


class NotOurs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, text(500), NoControl]


class ReturnedDebitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    member_id: int
    invoice_number: str
    amount_cents: int
    fee_cents: int
    reason_code: str
    returned_on: date


class RejectionOut(BaseModel):
    """A transaction of the file the bank rejected, with its reason, and what its item is now."""

    end_to_end_id: str
    member_id: int
    amount_cents: int
    reason_code: str | None
    reason_info: str | None
    item_status: ItemStatus


class StatusReportOut(BaseModel):
    """What one pain.002 brought: the file it answers, its status, and the items it rejected. ``known``: the
    same report was imported before and nothing changed; ``unchanged`` counts rejections of items that were
    no longer pending (rejected before, or booked by the bank)."""

    id: int
    file_id: int
    original_message_id: str
    message_id: str
    created_on: date
    group_status: str | None
    known: bool
    transactions: int
    rejected: int
    unchanged: int
    rejections: list[RejectionOut]
