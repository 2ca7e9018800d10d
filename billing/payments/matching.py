"""Matching bank transactions to open invoices: pure functions over plain data, no database.

Rules, in order, for each transaction (oldest booking first, so a later one sees what an earlier one settled):

* A transaction the import **holds** (a batch entry without details it could not resolve by our own file,
  ``billing.payments.batches``) waits for an operator with the import's reason.
* **Money out** with a SEPA return reason (``RtrInf``: AM04, MD06, MS03, ...) whose end-to-end id is one
  of our collections is a *returned* debit of that collection's invoice; a return of a collection we do
  not know waits for an operator. Money out whose end-to-end id is one of our payouts is that *payout*
  booked. Any other money out waits for an operator.
* **Money in** that names open invoices (their number in the end-to-end id or the remittance text) of one
  member: the exact total is *matched* (one invoice) or *split* (several); less than the total is
  *partial*, allocated to the invoices in the order named; more than the total, invoices of several
  members, or no open invoice named: the operator decides (*queue*).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from billing.payments.open_items import Allocation, OpenItem


class Outcome(enum.StrEnum):
    """What matching made of one transaction."""

    MATCHED = "matched"
    SPLIT = "split"
    PARTIAL = "partial"
    RETURNED = "returned"
    PAYOUT = "payout"
    QUEUE = "queue"


@dataclass(frozen=True, slots=True)
class BankLine:
    """A booked transaction as matching needs it."""

    id: int
    credit: bool
    amount_cents: int
    booking_date: date
    remittance: str | None = None
    end_to_end_id: str | None = None
    return_reason: str | None = None
    # Why the import leaves the line to an operator, if it found a reason.
    hold: str | None = None


@dataclass(frozen=True, slots=True)
class Collected:
    """A direct debit we sent: which member and invoice its end-to-end id stands for."""

    item_id: int
    member_id: int
    invoice_id: int | None
    invoice_number: str
    amount_cents: int


@dataclass(frozen=True, slots=True)
class Match:
    """The outcome for one transaction; ``allocations`` for payments, ``collected`` for a return."""

    line_id: int
    outcome: Outcome
    member_id: int | None = None
    allocations: tuple[Allocation, ...] = ()
    collected: Collected | None = None
    reason: str = ""
    # For the operator: the member the named invoices belong to, where matching stopped short of booking.
    suggested_member_id: int | None = None


@dataclass(slots=True)
class _Book:
    """The open amounts as matching consumes them."""

    by_key: dict[str, OpenItem] = field(default_factory=dict)
    remaining: dict[int, int] = field(default_factory=dict)


_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-/][A-Za-z0-9]+)*")


def number_key(text: str) -> str:
    """An invoice number as remittance texts spell it: separators dropped, upper case."""
    return re.sub(r"[^A-Za-z0-9]", "", text).upper()


def named_numbers(*texts: str | None) -> list[str]:
    """The tokens of the texts that could be invoice numbers, as keys (``number_key``), first mention first."""
    keys: list[str] = []
    for text in texts:
        for token in _TOKEN.findall(text or ""):
            key = number_key(token)
            if key not in keys:
                keys.append(key)
    return keys


def allocate(
    amount_cents: int, items: Sequence[OpenItem], remaining: Mapping[int, int] | None = None
) -> list[Allocation]:
    """Spread ``amount_cents`` over ``items`` in their order, each up to its open amount (or ``remaining``)."""
    allocations: list[Allocation] = []
    left = amount_cents
    for item in items:
        open_cents = item.open_cents if remaining is None else remaining.get(item.invoice_id, 0)
        take = min(left, open_cents)
        if take <= 0:
            continue
        allocations.append(
            Allocation(invoice_id=item.invoice_id, number=item.number, member_id=item.member_id, amount_cents=take)
        )
        left -= take
    return allocations


def _money_out(line: BankLine, collections: Mapping[str, Collected], payouts: frozenset[str]) -> Match:
    reference = line.end_to_end_id or ""
    if line.return_reason:
        collected = collections.get(reference)
        if collected is None:
            return Match(line.id, Outcome.QUEUE, reason=f"return ({line.return_reason}) of no collection of ours")
        return Match(line.id, Outcome.RETURNED, member_id=collected.member_id, collected=collected)
    if reference in payouts:
        return Match(line.id, Outcome.PAYOUT)
    return Match(line.id, Outcome.QUEUE, reason="money out that is no payout of ours")


def _money_in(line: BankLine, book: _Book) -> Match:
    named: list[OpenItem] = []
    for key in named_numbers(line.end_to_end_id, line.remittance):
        item = book.by_key.get(key)
        if item is not None and book.remaining[item.invoice_id] > 0 and item not in named:
            named.append(item)
    if not named:
        return Match(line.id, Outcome.QUEUE, reason="no open invoice named")
    members = {item.member_id for item in named}
    if len(members) > 1:
        return Match(line.id, Outcome.QUEUE, reason="invoices of several members named")
    member_id = named[0].member_id
    total = sum(book.remaining[item.invoice_id] for item in named)
    if line.amount_cents > total:
        return Match(
            line.id, Outcome.QUEUE, reason="more than the invoices named are open", suggested_member_id=member_id
        )
    allocations = allocate(line.amount_cents, named, book.remaining)
    for allocation in allocations:
        book.remaining[allocation.invoice_id] -= allocation.amount_cents
    if line.amount_cents < total:
        outcome = Outcome.PARTIAL
    else:
        outcome = Outcome.SPLIT if len(allocations) > 1 else Outcome.MATCHED
    return Match(line.id, outcome, member_id=member_id, allocations=tuple(allocations))


def _one(line: BankLine, book: _Book, collections: Mapping[str, Collected], payouts: frozenset[str]) -> Match:
    if line.hold:
        return Match(line.id, Outcome.QUEUE, reason=line.hold)
    return _money_in(line, book) if line.credit else _money_out(line, collections, payouts)


def match(
    lines: Iterable[BankLine],
    open_items: Iterable[OpenItem],
    *,
    collections: Mapping[str, Collected] | None = None,
    payouts: Iterable[str] = (),
) -> list[Match]:
    """One ``Match`` per line, in booking order (rules in the module docstring). ``collections`` maps the
    end-to-end ids of our direct debits to what they collected; ``payouts`` are our credit transfers' ids."""
    book = _Book()
    for item in open_items:
        book.by_key[number_key(item.number)] = item
        book.remaining[item.invoice_id] = item.open_cents
    known = collections or {}
    paid_out = frozenset(payouts)
    ordered = sorted(lines, key=lambda line: (line.booking_date, line.id))
    return [_one(line, book, known, paid_out) for line in ordered]
