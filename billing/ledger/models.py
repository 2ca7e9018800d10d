"""The books: a chart of accounts and the journal of balanced, append-only entries posted into it.

What the database enforces beyond these declarations (triggers, see migration 0007):

* PostgreSQL: UPDATE, DELETE and TRUNCATE of journal entries and lines are refused; a line can only be
  added in the transaction that posted its entry; at commit, every entry posted in the transaction must
  have at least two lines whose debits equal its credits (a deferred constraint trigger).
* SQLite: UPDATE and DELETE of journal entries and lines are refused (BEFORE triggers). SQLite has no
  deferred triggers, so an entry's balance is checked by the service only.
* Both: the CHECK constraints below (a line is a positive debit or a positive credit; one currency, EUR;
  a reversal and only a reversal names the entry it reverses) and the unique source reference.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.kit.db import Base, IdMixin, IdType, TimestampMixin, UTCDateTime, enum_column, fk

LEDGER_CURRENCY = "EUR"


class AccountKind(enum.StrEnum):
    """Where an account sits: balance sheet (asset, liability, equity) or profit and loss (revenue, expense)."""

    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    REVENUE = "revenue"
    EXPENSE = "expense"

    @property
    def debit_normal(self) -> bool:
        """Assets and expenses grow by debits; liabilities, equity and revenue by credits."""
        return self in (AccountKind.ASSET, AccountKind.EXPENSE)


class SystemAccount(enum.StrEnum):
    """The accounts the software posts into by itself. Code refers to accounts by this key, never by number,
    so the coop's tax accountant can renumber the chart (SKR03, SKR04) without a code change."""

    BANK = "bank"
    RECEIVABLES = "receivables"
    VAT_19 = "vat_19"
    MEMBER_CAPITAL = "member_capital"
    DIVIDENDS_PAYABLE = "dividends_payable"
    CAPITAL_GAINS_TAX_PAYABLE = "capital_gains_tax_payable"
    SOLIDARITY_SURCHARGE_PAYABLE = "solidarity_surcharge_payable"
    REVENUE_INTERNET = "revenue_internet"
    REVENUE_TELEPHONY = "revenue_telephony"
    REVENUE_SETUP_FEES = "revenue_setup_fees"
    REVENUE_USAGE = "revenue_usage"
    PROFIT_FOR_APPROPRIATION = "profit_for_appropriation"
    UNMATCHED_PAYMENTS = "unmatched_payments"
    CAPITAL_PAYABLE = "capital_payable"
    REVENUE_FEES = "revenue_fees"
    BANK_CHARGES = "bank_charges"
    REVENUE_REDUCTIONS = "revenue_reductions"
    PATRONAGE_REFUNDS = "patronage_refunds"
    CASH = "cash"


class Account(IdMixin, TimestampMixin, Base):
    """An account of the coop's chart of accounts (Kontenrahmen); ``per_member`` accounts carry the member on
    every posting line, so one account holds every member's receivable or capital."""

    __tablename__ = "ledger_accounts"
    __audited__ = True

    code: Mapped[str] = mapped_column(sa.String(8), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[AccountKind] = mapped_column(enum_column(AccountKind, "ledger_account_kind"))
    system_key: Mapped[SystemAccount | None] = mapped_column(
        enum_column(SystemAccount, "ledger_system_account"), unique=True
    )
    per_member: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # No posting may be dated after the day an account was closed.
    closed_on: Mapped[date | None] = mapped_column(sa.Date)


class SourceKind(enum.StrEnum):
    """What an entry books: the kind of document behind it. A new kind needs a migration that widens the
    CHECK constraint (as 0008 did) and a document prefix below."""

    SHARE_PAYMENT = "share_payment"
    SHARE_TRANSFER = "share_transfer"
    MANUAL = "manual"
    REVERSAL = "reversal"
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    PAYMENT = "payment"
    RETURNED_DEBIT = "returned_debit"
    FEE = "fee"
    DIVIDEND = "dividend"
    SET_OFF = "set_off"
    PAYOUT = "payout"
    CAPITAL_PAYOUT = "capital_payout"

    @property
    def document_prefix(self) -> str:
        """The short prefix of the document number (Belegfeld 1) in the accountant's export."""
        return _DOCUMENT_PREFIXES[self]


_DOCUMENT_PREFIXES = {
    SourceKind.SHARE_PAYMENT: "GA",
    SourceKind.SHARE_TRANSFER: "UE",
    SourceKind.MANUAL: "MAN",
    SourceKind.REVERSAL: "ST",
    SourceKind.INVOICE: "RE",
    SourceKind.CREDIT_NOTE: "GS",
    SourceKind.PAYMENT: "ZE",
    SourceKind.RETURNED_DEBIT: "RL",
    SourceKind.FEE: "GB",
    SourceKind.DIVIDEND: "DV",
    SourceKind.SET_OFF: "VR",
    SourceKind.PAYOUT: "AZ",
    SourceKind.CAPITAL_PAYOUT: "AG",
}


class JournalEntry(IdMixin, Base):
    """A posted booking (Buchungssatz): two or more lines whose debits equal their credits, dated, with a text
    and the document it books. Never changed or deleted; a wrong entry is undone by a reversal (Storno) that
    names it."""

    __tablename__ = "journal_entries"
    __audited__ = True
    # Filled in by PostgreSQL, not by the application; not a business fact.
    __audit_exclude__ = frozenset({"posted_txid"})

    entry_date: Mapped[date] = mapped_column(sa.Date, index=True)
    booked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    text: Mapped[str] = mapped_column(sa.String(200))
    source_kind: Mapped[SourceKind] = mapped_column(enum_column(SourceKind, "ledger_source_kind"))
    source_id: Mapped[str] = mapped_column(sa.String(32))
    currency: Mapped[str] = mapped_column(sa.String(3), default=LEDGER_CURRENCY)
    reverses_id: Mapped[int | None] = mapped_column(IdType, fk("journal_entries.id"), unique=True)
    # PostgreSQL's id of the posting transaction, set by a trigger (NULL on SQLite): lines may be added to an
    # entry only in that transaction.
    posted_txid: Mapped[int | None] = mapped_column(sa.BigInteger)

    lines: Mapped[list[JournalLine]] = relationship(
        lazy="raise", order_by="JournalLine.id", back_populates="entry", passive_deletes="all"
    )

    __table_args__ = (
        sa.UniqueConstraint("source_kind", "source_id", name="uq_journal_entries_source"),
        sa.CheckConstraint(f"currency = '{LEDGER_CURRENCY}'", name="currency_eur"),
        sa.CheckConstraint("(source_kind = 'reversal') = (reverses_id IS NOT NULL)", name="reversal_names_entry"),
    )

    @property
    def document_number(self) -> str:
        """Belegfeld 1: the source as a short document number (at most 36 characters, as DATEV allows)."""
        return f"{self.source_kind.document_prefix}-{self.source_id}"[:36]


class JournalLine(IdMixin, Base):
    """One side of an entry: a positive amount debited or credited to an account, for a member where the
    account is kept per member."""

    __tablename__ = "journal_lines"

    entry_id: Mapped[int] = mapped_column(IdType, fk("journal_entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(IdType, fk("ledger_accounts.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(IdType, fk("members.id"), index=True)
    debit_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    credit_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    entry: Mapped[JournalEntry] = relationship(lazy="raise", back_populates="lines")

    __table_args__ = (
        sa.CheckConstraint(
            "debit_cents >= 0 AND credit_cents >= 0 AND (debit_cents = 0) <> (credit_cents = 0)",
            name="one_positive_side",
        ),
    )
