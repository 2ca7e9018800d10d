"""The seam between payments and invoices: every read and write of invoices that payments need, in one place.

What payments expect of it (the contract the invoice table's implementation must keep):

* ``open_items(session, member_ids=None, numbers=None)``: the issued invoices that are not fully paid (of
  those members, or with those numbers), oldest due date first. ``open_cents`` is the amount due minus
  what was settled plus what was reopened; ``invoice_id`` is the invoice's id, ``number`` its printed
  number ("2026-000123"), ``mandate_reference`` the mandate it will be collected from, if any.
* ``settle(session, allocations)``: these amounts were paid on these invoices (called in the same
  transaction, after the payment is booked in the ledger); an invoice whose open amount reaches zero is paid.
* ``reopen(session, invoice_id=, number=, amount_cents=, on=)``: a direct debit of the invoice came back;
  ``amount_cents`` is open again (dunning starts from here).

Until the invoices package is merged, this implementation reads invoices from the ledger: each entry of
source kind ``invoice`` is an invoice whose number is the entry's ``source_id`` and whose id is the entry's
id, for the amount its receivables line debits the member. What is settled and reopened is read back from
this package's own tables (payment allocations, returned debits), so ``settle`` and ``reopen`` have nothing
to write; a member's open total is capped at their receivables balance
(``billing.ledger.service.member_balances``), so a credit note or a payment outside this package shows too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Actor
from billing.ledger import service as ledger
from billing.ledger.models import SourceKind, SystemAccount
from billing.ledger.repository import EntryFilter

SEAM_ACTOR = Actor.system("payments")
_PAGE = 500


@dataclass(frozen=True, slots=True)
class OpenItem:
    """An invoice with an amount still to pay."""

    invoice_id: int
    number: str
    member_id: int
    open_cents: int
    due_on: date | None = None
    mandate_reference: str | None = None


@dataclass(frozen=True, slots=True)
class Allocation:
    """The part of a payment that settles one invoice."""

    invoice_id: int
    number: str
    member_id: int
    amount_cents: int


async def _invoice_entries(session: AsyncSession) -> list[OpenItem]:
    receivables = (await ledger.system_account_codes(session))[SystemAccount.RECEIVABLES]
    items: list[OpenItem] = []
    offset = 0
    while True:
        entries, total = await ledger.search_entries(
            session,
            actor=SEAM_ACTOR,
            filters=EntryFilter(source_kind=SourceKind.INVOICE),
            limit=_PAGE,
            offset=offset,
        )
        for entry in entries:
            for line in entry.lines:
                if line.account == receivables and line.debit_cents and line.member_id is not None:
                    items.append(
                        OpenItem(
                            invoice_id=entry.id,
                            number=entry.source_id,
                            member_id=line.member_id,
                            open_cents=line.debit_cents,
                            due_on=entry.entry_date,
                        )
                    )
        offset += len(entries)
        if not entries or offset >= total:
            return items


async def _settled_and_reopened(session: AsyncSession) -> dict[str, int]:
    from billing.payments.models import PaymentAllocation, ReturnedDebit

    net: dict[str, int] = defaultdict(int)
    settled = sa.select(PaymentAllocation.invoice_number, sa.func.sum(PaymentAllocation.amount_cents)).group_by(
        PaymentAllocation.invoice_number
    )
    for number, cents in await session.execute(settled):
        net[number] -= int(cents)
    reopened = sa.select(ReturnedDebit.invoice_number, sa.func.sum(ReturnedDebit.amount_cents)).group_by(
        ReturnedDebit.invoice_number
    )
    for number, cents in await session.execute(reopened):
        net[number] += int(cents)
    return net


async def _receivable_balance(session: AsyncSession, member_id: int) -> int:
    balances = await ledger.member_balances(session, actor=SEAM_ACTOR, member_id=member_id)
    receivables = (await ledger.system_account_codes(session))[SystemAccount.RECEIVABLES]
    return sum(a.balance_cents for a in balances.accounts if a.code == receivables)


async def open_items(
    session: AsyncSession, member_ids: Collection[int] | None = None, numbers: Collection[str] | None = None
) -> list[OpenItem]:
    """The invoices not fully paid (of ``member_ids``, or with ``numbers``), oldest first."""
    invoices = await _invoice_entries(session)
    if member_ids is not None:
        invoices = [i for i in invoices if i.member_id in member_ids]
    if numbers is not None:
        invoices = [i for i in invoices if i.number in numbers]
    net = await _settled_and_reopened(session)
    by_member: dict[int, list[OpenItem]] = defaultdict(list)
    for item in sorted(invoices, key=lambda i: (i.due_on or date.min, i.invoice_id)):
        open_cents = item.open_cents + net.get(item.number, 0)
        if open_cents > 0:
            by_member[item.member_id].append(
                OpenItem(item.invoice_id, item.number, item.member_id, open_cents, item.due_on)
            )
    result: list[OpenItem] = []
    for member_id, items in by_member.items():
        # What the books say the member owes bounds what is open: the newest invoices give way first.
        budget = max(await _receivable_balance(session, member_id), 0)
        capped = []
        for item in items:
            take = min(item.open_cents, budget)
            budget -= take
            if take > 0:
                capped.append(OpenItem(item.invoice_id, item.number, item.member_id, take, item.due_on))
        result.extend(capped)
    return sorted(result, key=lambda i: (i.due_on or date.min, i.invoice_id))


async def settle(session: AsyncSession, allocations: Sequence[Allocation]) -> None:
    """Mark these amounts paid on their invoices. Here: nothing to write (the allocations are stored by the
    caller); the invoice table's implementation updates each invoice's paid amount and state."""


async def reopen(session: AsyncSession, *, invoice_id: int | None, number: str, amount_cents: int, on: date) -> None:
    """A direct debit of the invoice came back: ``amount_cents`` is open again. Here: nothing to write (the
    returned debit is stored by the caller); the invoice table's implementation reopens the invoice."""
