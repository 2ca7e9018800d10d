"""Money moving between members and the coop's bank account: SEPA mandates, the pain.008 and pain.001 files
given to the bank, the pain.002 status reports, camt.053 statements and camt.054 notifications it sends
back, and what was made of
each booked transaction (payments with their invoice allocations, returned debits, the operator's queue of
unmatched transactions).

``invoice_id`` columns reference the issued invoice (``invoices.id``, migration 0014); ``invoice_number`` keeps
the number printed on it, as the bank's remittance or end-to-end id quoted it.

The files themselves (``sepa_files``, ``bank_statements``) are only ever inserted: the database refuses any UPDATE
or DELETE of them, and TRUNCATE on PostgreSQL (triggers, migration 0018).
"""

from __future__ import annotations

import enum
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.db import Base, IdMixin, IdType, TimestampMixin, enum_column, fk
from billing.ledger.models import SystemAccount


class SequenceType(enum.StrEnum):
    """Where a mandate is in its life as SEPA sees it: no collection yet (FRST) or collected before (RCUR)."""

    FRST = "FRST"
    RCUR = "RCUR"


class Mandate(IdMixin, TimestampMixin, Base):
    """A member's SEPA core direct debit mandate (Lastschriftmandat): the member's account, the unique mandate
    reference, the day it was signed, and whether it was used yet. One active mandate per member."""

    __tablename__ = "sepa_mandates"
    __audited__ = True
    # The full account number stays out of the audit log; ``iban_masked`` is logged instead.
    __audit_exclude__ = frozenset({"iban"})

    member_id: Mapped[int] = mapped_column(IdType, fk("members.id"), index=True)
    reference: Mapped[str] = mapped_column(sa.String(35), unique=True)
    debtor_name: Mapped[str] = mapped_column(sa.String(70))
    iban: Mapped[str] = mapped_column(sa.String(34))
    iban_masked: Mapped[str] = mapped_column(sa.String(42))
    bic: Mapped[str | None] = mapped_column(sa.String(11))
    signed_on: Mapped[date] = mapped_column(sa.Date)
    sequence: Mapped[SequenceType] = mapped_column(enum_column(SequenceType, "sepa_sequence_type"))
    last_collected_on: Mapped[date | None] = mapped_column(sa.Date)
    revoked_on: Mapped[date | None] = mapped_column(sa.Date)

    __table_args__ = (
        # One mandate a member has not revoked; giving a new one revokes the old one first.
        sa.Index(
            "uq_sepa_mandates_member_active",
            "member_id",
            unique=True,
            postgresql_where=sa.text("revoked_on IS NULL"),
            sqlite_where=sa.text("revoked_on IS NULL"),
        ),
    )


class SepaFileKind(enum.StrEnum):
    """A file for the bank: direct debits to collect (pain.008) or credit transfers to pay out (pain.001)."""

    DIRECT_DEBIT = "direct_debit"
    CREDIT_TRANSFER = "credit_transfer"


class SepaFile(IdMixin, TimestampMixin, Base):
    """A pain.008 or pain.001 file as it was handed to the bank, stored once with its SHA-256 (GoBD)."""

    __tablename__ = "sepa_files"
    __audited__ = True
    __audit_exclude__ = frozenset({"content"})

    kind: Mapped[SepaFileKind] = mapped_column(enum_column(SepaFileKind, "sepa_file_kind"))
    message_id: Mapped[str] = mapped_column(sa.String(35), unique=True)
    schema: Mapped[str] = mapped_column(sa.String(20))
    # The collection or execution date; a direct debit file also has one sequence type.
    due_on: Mapped[date] = mapped_column(sa.Date, index=True)
    sequence: Mapped[SequenceType | None] = mapped_column(enum_column(SequenceType, "sepa_sequence_type"))
    sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    content: Mapped[bytes] = mapped_column(sa.LargeBinary)
    total_cents: Mapped[int] = mapped_column(sa.BigInteger)
    item_count: Mapped[int] = mapped_column(sa.Integer)


class ItemStatus(enum.StrEnum):
    """What became of a collection or payout: handed to the bank, booked by it, sent back after booking, or
    refused by the bank before anything was booked (a pain.002 status report's RJCT)."""

    SUBMITTED = "submitted"
    COLLECTED = "collected"
    RETURNED = "returned"
    REJECTED = "rejected"


class CollectionItem(IdMixin, TimestampMixin, Base):
    """One direct debit in a pain.008 file: an invoice's amount collected from a member's mandate."""

    __tablename__ = "sepa_collection_items"
    __audited__ = True

    file_id: Mapped[int] = mapped_column(IdType, fk("sepa_files.id"), index=True)
    member_id: Mapped[int] = mapped_column(IdType, fk("members.id"), index=True)
    mandate_id: Mapped[int] = mapped_column(IdType, fk("sepa_mandates.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(IdType, fk("invoices.id"), index=True)
    end_to_end_id: Mapped[str] = mapped_column(sa.String(35), index=True)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    remittance: Mapped[str] = mapped_column(sa.String(140))
    collection_date: Mapped[date] = mapped_column(sa.Date)
    sequence: Mapped[SequenceType] = mapped_column(enum_column(SequenceType, "sepa_sequence_type"))
    status: Mapped[ItemStatus] = mapped_column(enum_column(ItemStatus, "sepa_item_status"))
    # The batch of the file the item is in (its PmtInfId), as the bank names it when it books the batch.
    batch_id: Mapped[str | None] = mapped_column(sa.String(35), index=True)

    __table_args__ = (
        sa.UniqueConstraint("file_id", "end_to_end_id", name="uq_sepa_collection_items_file_e2e"),
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
    )


class PayoutItem(IdMixin, TimestampMixin, Base):
    """One credit transfer in a pain.001 file: a dividend, a leaving member's capital (§73 GenG) or a refund
    paid to a member, booked off the liability it settles."""

    __tablename__ = "sepa_payout_items"
    __audited__ = True
    __audit_exclude__ = frozenset({"iban"})

    file_id: Mapped[int] = mapped_column(IdType, fk("sepa_files.id"), index=True)
    member_id: Mapped[int] = mapped_column(IdType, fk("members.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(70))
    iban: Mapped[str] = mapped_column(sa.String(34))
    iban_masked: Mapped[str] = mapped_column(sa.String(42))
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    end_to_end_id: Mapped[str] = mapped_column(sa.String(35))
    remittance: Mapped[str] = mapped_column(sa.String(140))
    execution_date: Mapped[date] = mapped_column(sa.Date)
    liability: Mapped[SystemAccount] = mapped_column(enum_column(SystemAccount, "ledger_system_account"))
    status: Mapped[ItemStatus] = mapped_column(enum_column(ItemStatus, "sepa_item_status"))
    # The batch of the file the item is in (its PmtInfId), as the bank names it when it books the batch.
    batch_id: Mapped[str | None] = mapped_column(sa.String(35), index=True)

    __table_args__ = (
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        # Paid once: one payout per end-to-end id (which names its source) that the bank did not reject; a
        # rejected one is paid again in a later file under the same id.
        sa.Index(
            "uq_sepa_payout_items_live_end_to_end_id",
            "end_to_end_id",
            unique=True,
            postgresql_where=sa.text("status <> 'rejected'"),
            sqlite_where=sa.text("status <> 'rejected'"),
        ),
    )


class SepaStatusReport(IdMixin, TimestampMixin, Base):
    """A pain.002 payment status report (Zahlungsstatusbericht) the bank sent for one of our files, stored once
    with its SHA-256; what it rejected is on the file's items."""

    __tablename__ = "sepa_status_reports"
    __audited__ = True
    __audit_exclude__ = frozenset({"content"})

    file_id: Mapped[int] = mapped_column(IdType, fk("sepa_files.id"), index=True)
    # The report's own message id and date, and the status it gives the whole file (None: per batch only).
    message_id: Mapped[str] = mapped_column(sa.String(35))
    created_on: Mapped[date] = mapped_column(sa.Date)
    group_status: Mapped[str | None] = mapped_column(sa.String(4))
    sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    content: Mapped[bytes] = mapped_column(sa.LargeBinary)
    # Transactions the report gives a status, and the items it rejected when it was imported.
    transaction_count: Mapped[int] = mapped_column(sa.Integer)
    rejected_count: Mapped[int] = mapped_column(sa.Integer)


class ReportKind(enum.StrEnum):
    """What the bank reported an account's bookings in: a camt.053 statement of the day (Kontoauszug) or a
    camt.054 notification (Soll-/Haben-Avis, e.g. the transactions of a batch booking)."""

    STATEMENT = "statement"
    NOTIFICATION = "notification"


class BankStatement(IdMixin, TimestampMixin, Base):
    """A camt.053 account statement (Kontoauszug) or camt.054 notification as the bank sent it, imported once
    (one row per report in the file, each with the whole file)."""

    __tablename__ = "bank_statements"
    __audited__ = True
    __audit_exclude__ = frozenset({"content"})

    account_iban: Mapped[str] = mapped_column(sa.String(34))
    kind: Mapped[ReportKind] = mapped_column(
        enum_column(ReportKind, "bank_report_kind"), server_default=ReportKind.STATEMENT.value
    )
    # The bank's id of the report (Stmt/Id or Ntfctn/Id), unique per account and kind.
    statement_id: Mapped[str] = mapped_column(sa.String(35))
    created_on: Mapped[date | None] = mapped_column(sa.Date)
    # The file's hash and bytes as received (a file may hold several statements).
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    content: Mapped[bytes] = mapped_column(sa.LargeBinary)
    transaction_count: Mapped[int] = mapped_column(sa.Integer)

    __table_args__ = (
        sa.UniqueConstraint("account_iban", "kind", "statement_id", name="uq_bank_statements_account_kind_id"),
    )


class TransactionStatus(enum.StrEnum):
    """What the matching made of a booked transaction, or what an operator decided for it. ``covered``: the
    bank reported the entry in a statement and a notification, and the other report's transactions book it
    (``billing.payments.batches``)."""

    MATCHED = "matched"
    PARTIAL = "partial"
    OVERPAID = "overpaid"
    RETURNED = "returned"
    PAYOUT = "payout"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    NOT_OURS = "not_ours"
    COVERED = "covered"


class BankTransaction(IdMixin, TimestampMixin, Base):
    """One booked movement on the coop's account from a bank statement: money in (credit) or out (debit)."""

    __tablename__ = "bank_transactions"
    __audited__ = True
    __audit_exclude__ = frozenset({"counterparty_iban"})

    statement_id: Mapped[int] = mapped_column(IdType, fk("bank_statements.id"), index=True)
    # A hash of what identifies the booking, so the same booking in two overlapping statements is kept once.
    fingerprint: Mapped[str] = mapped_column(sa.String(64), unique=True)
    booking_date: Mapped[date] = mapped_column(sa.Date, index=True)
    value_date: Mapped[date | None] = mapped_column(sa.Date)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    credit: Mapped[bool] = mapped_column(sa.Boolean)
    counterparty_name: Mapped[str | None] = mapped_column(sa.String(140))
    counterparty_iban: Mapped[str | None] = mapped_column(sa.String(34))
    remittance: Mapped[str | None] = mapped_column(sa.String(500))
    end_to_end_id: Mapped[str | None] = mapped_column(sa.String(35), index=True)
    mandate_reference: Mapped[str | None] = mapped_column(sa.String(35))
    bank_reference: Mapped[str | None] = mapped_column(sa.String(35))
    return_reason: Mapped[str | None] = mapped_column(sa.String(4))
    # The bank's entry the transaction is part of: its reference (Ntry/AcctSvcrRef), the batch it books
    # (Btch/PmtInfId, else Btch/MsgId), its amount (a batch's total), and whether this transaction is that
    # whole batch, booked without its transactions (Sammlerbuchung). A statement and a notification that
    # report the same entry meet by these.
    entry_reference: Mapped[str | None] = mapped_column(sa.String(35), index=True)
    batch_id: Mapped[str | None] = mapped_column(sa.String(35), index=True)
    entry_cents: Mapped[int | None] = mapped_column(sa.BigInteger)
    batch_total: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    status: Mapped[TransactionStatus] = mapped_column(
        enum_column(TransactionStatus, "bank_transaction_status"), index=True
    )
    member_id: Mapped[int | None] = mapped_column(IdType, fk("members.id"), index=True)
    note: Mapped[str | None] = mapped_column(sa.String(500))

    __table_args__ = (sa.CheckConstraint("amount_cents > 0", name="amount_positive"),)


class PaymentMethod(enum.StrEnum):
    """How a payment reached the coop."""

    DIRECT_DEBIT = "direct_debit"
    TRANSFER = "transfer"
    CASH = "cash"


class Payment(IdMixin, TimestampMixin, Base):
    """Money a member paid (Zahlungseingang), booked bank to the member's receivables, with the invoices it
    settles; what no invoice takes stays on the member's account as credit."""

    __tablename__ = "payments"
    __audited__ = True

    member_id: Mapped[int] = mapped_column(IdType, fk("members.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    paid_on: Mapped[date] = mapped_column(sa.Date, index=True)
    method: Mapped[PaymentMethod] = mapped_column(enum_column(PaymentMethod, "payment_method"))
    transaction_id: Mapped[int | None] = mapped_column(IdType, fk("bank_transactions.id"), unique=True)
    reference: Mapped[str | None] = mapped_column(sa.String(140))

    __table_args__ = (sa.CheckConstraint("amount_cents > 0", name="amount_positive"),)


class PaymentAllocation(IdMixin, Base):
    """The part of a payment that settles one invoice."""

    __tablename__ = "payment_allocations"

    payment_id: Mapped[int] = mapped_column(IdType, fk("payments.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(IdType, fk("invoices.id"), index=True)
    invoice_number: Mapped[str] = mapped_column(sa.String(35), index=True)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)

    __table_args__ = (sa.CheckConstraint("amount_cents > 0", name="amount_positive"),)


class ReturnedDebit(IdMixin, TimestampMixin, Base):
    """A direct debit the member's bank sent back (Rücklastschrift), with the SEPA reason code; it reopens the
    invoice and charges the member the returned-debit fee."""

    __tablename__ = "returned_debits"
    __audited__ = True

    transaction_id: Mapped[int] = mapped_column(IdType, fk("bank_transactions.id"), unique=True)
    collection_item_id: Mapped[int | None] = mapped_column(IdType, fk("sepa_collection_items.id"), index=True)
    member_id: Mapped[int] = mapped_column(IdType, fk("members.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(IdType, fk("invoices.id"), index=True)
    invoice_number: Mapped[str] = mapped_column(sa.String(35), index=True)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    fee_cents: Mapped[int] = mapped_column(sa.BigInteger)
    reason_code: Mapped[str] = mapped_column(sa.String(4))
    returned_on: Mapped[date] = mapped_column(sa.Date)

    __table_args__ = (sa.CheckConstraint("amount_cents > 0 AND fee_cents >= 0", name="amounts"),)


class CreditApplication(IdMixin, TimestampMixin, Base):
    """Credit on a member's account (money of a payment no invoice took, or what an invoice was overpaid by)
    used on another of their invoices (Verrechnung mit Guthaben), or paid back to them by credit transfer
    (``payout_item_id``; it counts unless the bank rejected the transfer). ``settled`` is true where the
    target invoice states it as a settlement (a bill run set it off, so its amount due is net of it already);
    false where it was used on an invoice issued before (its open amount falls by it). An invoice target books
    nothing (both sides are the member's receivables, ``billing.payments.credit``); the payout books
    receivables to bank itself."""

    __tablename__ = "credit_applications"
    __audited__ = True

    member_id: Mapped[int] = mapped_column(IdType, fk("members.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(IdType, fk("payments.id"), index=True)
    from_invoice_id: Mapped[int | None] = mapped_column(IdType, fk("invoices.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(IdType, fk("invoices.id"), index=True)
    payout_item_id: Mapped[int | None] = mapped_column(IdType, fk("sepa_payout_items.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    applied_on: Mapped[date] = mapped_column(sa.Date)
    settled: Mapped[bool] = mapped_column(sa.Boolean, default=False)

    __table_args__ = (
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.CheckConstraint("(payment_id IS NULL) <> (from_invoice_id IS NULL)", name="one_source"),
        sa.CheckConstraint("(invoice_id IS NULL) <> (payout_item_id IS NULL)", name="one_target"),
        sa.CheckConstraint("from_invoice_id IS NULL OR from_invoice_id <> invoice_id", name="other_invoice"),
        sa.CheckConstraint("NOT settled OR invoice_id IS NOT NULL", name="settled_on_invoice"),
    )
