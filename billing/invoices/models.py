"""Invoices and credit notes with their lines, the contract facts and settlements they state, the series
that numbers them, the documents rendered from them, pending credits, and the bill runs that make them.

What the database enforces beyond these declarations (triggers, migration 0009), on PostgreSQL and SQLite:
an issued invoice cannot be updated or deleted, and nothing can be inserted into, changed in or deleted from
its lines, contract facts and settlements; a stored document is never changed or deleted. Drafts (a bill
run's preview) may be changed and thrown away. A wrong issued invoice is corrected by a credit note.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.db import Base, IdMixin, IdType, TimestampMixin, UTCDateTime, enum_column, fk

# A line's unit price in euros, to four places (a call priced per second carries fractions of a cent).
UnitPrice = sa.Numeric(14, 4)
VatRate = sa.Numeric(5, 2)


class InvoiceKind(enum.StrEnum):
    """An invoice (Rechnung) or a credit note (Gutschrift / Stornorechnung) that corrects one."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class InvoiceStatus(enum.StrEnum):
    """A draft (a bill run's preview, may be thrown away) or issued (numbered, never changed again)."""

    DRAFT = "draft"
    ISSUED = "issued"


class ServiceKind(enum.StrEnum):
    """What a line bills; each kind has its revenue account in the ledger."""

    INTERNET = "internet"
    TELEPHONY = "telephony"
    SETUP = "setup"
    USAGE = "usage"
    COMPENSATION = "compensation"
    # A patronage refund (genossenschaftliche Rückvergütung, §22 KStG) credited by a credit note.
    REFUND = "refund"


class BillRunStatus(enum.StrEnum):
    """A run is previewed (draft invoices), then issued, or thrown away by the next preview."""

    PREVIEW = "preview"
    ISSUED = "issued"
    DISCARDED = "discarded"


class InvoiceSeries(IdMixin, Base):
    """A gapless number range (Nummernkreis), one per kind and year: the next number is taken only in the
    transaction that issues, so a rolled-back issue leaves no gap."""

    __tablename__ = "invoice_series"

    kind: Mapped[InvoiceKind] = mapped_column(enum_column(InvoiceKind, "invoice_kind"))
    year: Mapped[int] = mapped_column(sa.Integer)
    prefix: Mapped[str] = mapped_column(sa.String(12))
    next_number: Mapped[int] = mapped_column(sa.BigInteger, default=1)

    __table_args__ = (
        sa.UniqueConstraint("kind", "year", name="uq_invoice_series_kind_year"),
        sa.CheckConstraint("next_number >= 1", name="next_positive"),
    )


class BillRun(IdMixin, TimestampMixin, Base):
    """One month's billing of every member: previewed as drafts, then issued in one transaction."""

    __tablename__ = "bill_runs"
    __audited__ = True

    period_start: Mapped[date] = mapped_column(sa.Date, index=True)
    period_end: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[BillRunStatus] = mapped_column(enum_column(BillRunStatus, "bill_run_status"))
    invoice_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    line_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    net_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    vat_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    gross_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    due_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    preview_seconds: Mapped[float | None] = mapped_column(sa.Float)
    issue_seconds: Mapped[float | None] = mapped_column(sa.Float)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Invoice(IdMixin, TimestampMixin, Base):
    """An invoice or credit note to one member, with the buyer as the member register stood on the issue date
    and the totals of §14 (4) UStG; numbered when issued."""

    __tablename__ = "invoices"
    # Written through the ORM (a credit note) it is in the audit log; a bill run writes its drafts set-based,
    # and the run's own audited row records who previewed and issued them.
    __audited__ = True

    kind: Mapped[InvoiceKind] = mapped_column(enum_column(InvoiceKind, "invoice_kind"))
    status: Mapped[InvoiceStatus] = mapped_column(enum_column(InvoiceStatus, "invoice_status"))
    number: Mapped[str | None] = mapped_column(sa.String(24), unique=True)
    series_id: Mapped[int | None] = mapped_column(IdType, fk("invoice_series.id"))
    member_id: Mapped[int] = mapped_column(IdType, fk("members.id"), index=True)
    bill_run_id: Mapped[int | None] = mapped_column(IdType, fk("bill_runs.id"), index=True)
    corrects_invoice_id: Mapped[int | None] = mapped_column(IdType, fk("invoices.id"), index=True)
    buyer_name: Mapped[str] = mapped_column(sa.String(300))
    buyer_street: Mapped[str] = mapped_column(sa.String(200))
    buyer_postal_code: Mapped[str] = mapped_column(sa.String(10))
    buyer_city: Mapped[str] = mapped_column(sa.String(100))
    buyer_country: Mapped[str] = mapped_column(sa.String(2))
    buyer_member_number: Mapped[int | None] = mapped_column(sa.Integer)
    buyer_vat_id: Mapped[str | None] = mapped_column(sa.String(20))
    buyer_is_business: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    issue_date: Mapped[date] = mapped_column(sa.Date, index=True)
    period_start: Mapped[date] = mapped_column(sa.Date, index=True)
    period_end: Mapped[date] = mapped_column(sa.Date)
    due_date: Mapped[date] = mapped_column(sa.Date)
    net_cents: Mapped[int] = mapped_column(sa.BigInteger)
    vat_cents: Mapped[int] = mapped_column(sa.BigInteger)
    gross_cents: Mapped[int] = mapped_column(sa.BigInteger)
    # Gross plus the settlements outside the VAT base (a dividend set off is negative).
    amount_due_cents: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3), default="EUR")
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The contract facts the invoice states (§ 5 TKTransparenzV), as they stood on the issue date: one object
    # per contract (contract_number, plan_name, start_on, min_term_end_on, notice_months,
    # notice_after_min_term_months, last_day_to_cancel; dates ISO 8601). Part of the row, so as final as it.
    contract_terms: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list, server_default=sa.text("'[]'"))

    __table_args__ = (
        sa.CheckConstraint("(status = 'issued') = (number IS NOT NULL)", name="issued_has_number"),
        sa.CheckConstraint("(kind = 'credit_note') = (corrects_invoice_id IS NOT NULL)", name="credit_note_corrects"),
        sa.CheckConstraint("gross_cents = net_cents + vat_cents", name="gross_is_net_plus_vat"),
        sa.CheckConstraint("currency = 'EUR'", name="currency_eur"),
    )


class InvoiceLine(IdMixin, Base):
    """One position of an invoice: what was supplied, how much, for which period and contract, at which rate;
    ``source_ref`` names what it bills (a contract's month, a call month, an outage) so it is billed once."""

    __tablename__ = "invoice_lines"

    # Indexed by the unique (invoice_id, position); a second index would only slow a bill run's COPY.
    invoice_id: Mapped[int] = mapped_column(IdType, fk("invoices.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(sa.Integer)
    description: Mapped[str] = mapped_column(sa.String(300))
    quantity: Mapped[Decimal] = mapped_column(sa.Numeric(14, 4))
    unit: Mapped[str] = mapped_column(sa.String(3))  # UN/ECE Recommendation 20: MON, DAY, MIN, C62
    unit_price: Mapped[Decimal] = mapped_column(UnitPrice)
    net_cents: Mapped[int] = mapped_column(sa.BigInteger)
    vat_rate: Mapped[Decimal] = mapped_column(VatRate)
    service_kind: Mapped[ServiceKind] = mapped_column(enum_column(ServiceKind, "service_kind"))
    period_start: Mapped[date | None] = mapped_column(sa.Date)
    period_end: Mapped[date | None] = mapped_column(sa.Date)
    contract_id: Mapped[int | None] = mapped_column(IdType, fk("contracts.id"), index=True)
    contract_number: Mapped[str | None] = mapped_column(sa.String(20))
    source_ref: Mapped[str | None] = mapped_column(sa.String(80), unique=True)

    __table_args__ = (sa.UniqueConstraint("invoice_id", "position", name="uq_invoice_lines_invoice_position"),)


class InvoiceSettlement(IdMixin, Base):
    """An amount settled on an invoice outside its VAT base, e.g. a dividend set off (negative): it changes
    the amount due, not the net or VAT."""

    __tablename__ = "invoice_settlements"

    invoice_id: Mapped[int] = mapped_column(IdType, fk("invoices.id", ondelete="CASCADE"), index=True)
    credit_id: Mapped[int | None] = mapped_column(IdType, fk("pending_credits.id"), unique=True)
    text: Mapped[str] = mapped_column(sa.String(200))
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    account: Mapped[str] = mapped_column(sa.String(32))  # the ledger system key it is drawn from


class PendingCredit(IdMixin, TimestampMixin, Base):
    """Money the coop owes a member that their next invoice settles (a dividend they chose to set off),
    drawn from a ledger account; ``invoice_id`` is set once an issued invoice consumed it."""

    __tablename__ = "pending_credits"
    __audited__ = True

    member_id: Mapped[int] = mapped_column(IdType, fk("members.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    text: Mapped[str] = mapped_column(sa.String(200))
    account: Mapped[str] = mapped_column(sa.String(32))
    source_kind: Mapped[str] = mapped_column(sa.String(32))
    source_id: Mapped[str] = mapped_column(sa.String(32))
    invoice_id: Mapped[int | None] = mapped_column(IdType, fk("invoices.id"), index=True)

    __table_args__ = (
        sa.UniqueConstraint("source_kind", "source_id", name="uq_pending_credits_source"),
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
    )


class DocumentFormat(enum.StrEnum):
    """What was rendered from an invoice: the PDF (with its embedded XML) or a separate e-invoice XML."""

    PDF = "pdf"
    XML = "xml"


class InvoiceDocumentFile(IdMixin, Base):
    """A document rendered from an issued invoice, stored once with its SHA-256 (GoBD); never changed."""

    __tablename__ = "invoice_documents"

    invoice_id: Mapped[int] = mapped_column(IdType, fk("invoices.id"), index=True)
    format: Mapped[DocumentFormat] = mapped_column(enum_column(DocumentFormat, "document_format"))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    content: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (sa.UniqueConstraint("invoice_id", "format", name="uq_invoice_documents_invoice_format"),)
