"""What goes into the ledger and what comes out: entries to post, posted entries, balances, the trial balance.

Amounts are integer cents. Drafts check types and lengths only: the ledger's rules (positive, balanced,
known and open accounts) are the service's, so every caller gets the same refusals with the same codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from app.kit.validation import IdRef, NoControl, SaneDate, text
from billing.ledger.models import LEDGER_CURRENCY, AccountKind, SourceKind, SystemAccount

# Far beyond any coop's turnover, far inside a bigint: keeps overflow out of the database.
MAX_CENTS = 10**13

AccountCode = Annotated[str, text(8, pattern=r"^[0-9]{4,8}$")]
EntryText = Annotated[str, text(200), NoControl]
SourceId = Annotated[str, text(32, pattern=r"^[A-Za-z0-9$&%*+\-/]+$"), NoControl]
Cents = Annotated[int, Field(ge=-MAX_CENTS, le=MAX_CENTS)]


class LineDraft(BaseModel):
    """One line of an entry to post: a debit or a credit in cents on the account with ``account`` (its code)."""

    model_config = ConfigDict(extra="forbid")

    account: AccountCode
    debit_cents: Cents = 0
    credit_cents: Cents = 0
    member_id: IdRef | None = None


class EntryDraft(BaseModel):
    """An entry to post. ``source_kind`` + ``source_id`` name the document it books; posting the same source
    again returns the entry already posted."""

    model_config = ConfigDict(extra="forbid")

    entry_date: SaneDate
    text: EntryText
    source_kind: SourceKind
    source_id: SourceId
    currency: Annotated[str, Field(min_length=3, max_length=3)] = LEDGER_CURRENCY
    lines: list[LineDraft] = Field(max_length=1000)


class ManualEntryCreate(BaseModel):
    """A booking the board enters by hand (opening balances, bank charges); ``document`` is its voucher number."""

    model_config = ConfigDict(extra="forbid")

    entry_date: SaneDate
    text: EntryText
    document: SourceId
    lines: list[LineDraft] = Field(max_length=1000)


class ReversalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reversed_on: SaneDate
    text: EntryText | None = None


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: AccountCode
    name: Annotated[str, text(120), NoControl]
    kind: AccountKind
    per_member: bool = False


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    kind: AccountKind
    system_key: SystemAccount | None
    per_member: bool
    closed_on: date | None


class LineOut(BaseModel):
    account: str
    debit_cents: int
    credit_cents: int
    member_id: int | None


class EntryOut(BaseModel):
    id: int
    entry_date: date
    booked_at: datetime
    text: str
    source_kind: SourceKind
    source_id: str
    document_number: str
    currency: str
    reverses_id: int | None
    reversed_by_id: int | None
    lines: list[LineOut]


class AccountBalance(BaseModel):
    """An account's debit and credit totals up to a date; ``balance_cents`` is debits minus credits."""

    code: str
    name: str
    kind: AccountKind
    debit_cents: int
    credit_cents: int
    balance_cents: int


class TrialBalance(BaseModel):
    """Every account's totals (Summen- und Saldenliste) up to and including ``on``; the balances sum to zero."""

    on: date | None
    currency: str
    accounts: list[AccountBalance]
    debit_cents: int
    credit_cents: int
    balance_cents: int


class MemberBalances(BaseModel):
    """What the books hold for one member on each per-member account, up to and including ``on``."""

    member_id: int
    on: date | None
    accounts: list[AccountBalance]


class ShareBookingReport(BaseModel):
    """The outcome of booking the share payments (or transfers) that had no entry yet."""

    payments: int = 0
    transfers: int = 0
    booked: int


class PostingLine(NamedTuple):
    """A line of a ``Posting``: the same fields as ``LineDraft``, as a plain record."""

    account: str
    debit_cents: int = 0
    credit_cents: int = 0
    member_id: int | None = None


class Posting(NamedTuple):
    """An entry to post in a batch (``post_many``), as a plain record: what software composes by the thousand
    (a bill run) skips pydantic's per-field parsing; the ledger's rules are checked by the service alike."""

    entry_date: date
    text: str
    source_kind: SourceKind
    source_id: str
    lines: Sequence[PostingLine]
    currency: str = LEDGER_CURRENCY


# The columns of the query ``post_selected`` books: one row per posting line.
SELECTED_LINE_COLUMNS = (
    "source_kind",
    "source_id",
    "entry_date",
    "text",
    "position",
    "account_id",
    "member_id",
    "debit_cents",
    "credit_cents",
)
