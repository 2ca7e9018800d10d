"""The seam between payments and invoices: every read of invoices that payments (and dunning) need, in one
place.

* ``open_items(session, member_ids=None, numbers=None)``: the issued invoices that are not fully paid (of
  those members, or with those numbers), oldest due date first. ``open_cents`` is the amount due, less what
  issued credit notes correcting the invoice credit, less what payments allocated to it
  (``payment_allocations``), plus what returned debits reopened (``returned_debits``), less the member's
  credit applied to it after issue, plus what of its own overpayment went to other invoices as credit
  (``credit_applications``, ``billing.payments.credit``); ``invoice_id`` is
  the invoice's id, ``number`` its printed number ("2026-000123"), ``mandate_reference`` the member's
  mandate not revoked, if any.
* ``settle(session, allocations)`` and ``reopen(...)``: called in the payment's transaction once the
  allocation or the returned debit is stored. The paid state is *derived* from those rows (an issued
  invoice is immutable in the database, so no paid column can live on it), hence neither writes anything;
  they are the hook where a later cache of open amounts would be kept in step.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Actor
from app.kit.events import publish
from billing.invoices.models import Invoice, InvoiceKind, InvoiceStatus


@dataclass(frozen=True, slots=True)
class OpenItem:
    """An invoice with an amount still to pay."""

    invoice_id: int
    number: str
    member_id: int
    open_cents: int
    due_on: date | None = None
    mandate_reference: str | None = None
    issued_on: date | None = None


@dataclass(frozen=True, slots=True)
class InvoicesSettled:
    """A payment was allocated to a member's invoices (announced by ``settle``, in the payment's transaction),
    so dunning can resume what the arrears suspended at once instead of at its next run."""

    member_id: int
    paid_on: date
    actor: Actor


@dataclass(frozen=True, slots=True)
class Allocation:
    """The part of a payment that settles one invoice."""

    invoice_id: int
    number: str
    member_id: int
    amount_cents: int


def credit_counts() -> sa.ColumnElement[bool]:
    """Whether a credit application still uses its credit: always, unless it paid the credit back by a
    transfer the bank rejected (pain.002), which leaves the credit with the member again."""
    from billing.payments.models import CreditApplication, ItemStatus, PayoutItem

    rejected = sa.exists().where(
        PayoutItem.id == CreditApplication.payout_item_id, PayoutItem.status == ItemStatus.REJECTED
    )
    return sa.or_(CreditApplication.payout_item_id.is_(None), ~rejected)


def open_amounts() -> sa.Subquery:
    """Every issued invoice (not credit note) with its member, number, due date and open amount (which may be
    zero or less): the one definition of what is open, for payments and dunning."""
    from billing.payments.models import CreditApplication, PaymentAllocation, ReturnedDebit

    credit_note = sa.orm.aliased(Invoice)
    credited = (
        sa.select(sa.func.coalesce(sa.func.sum(credit_note.amount_due_cents), 0))
        .where(credit_note.corrects_invoice_id == Invoice.id, credit_note.status == InvoiceStatus.ISSUED)
        .scalar_subquery()
    )
    allocated = (
        sa.select(sa.func.coalesce(sa.func.sum(PaymentAllocation.amount_cents), 0))
        .where(PaymentAllocation.invoice_id == Invoice.id)
        .scalar_subquery()
    )
    reopened = (
        sa.select(sa.func.coalesce(sa.func.sum(ReturnedDebit.amount_cents), 0))
        .where(ReturnedDebit.invoice_number == Invoice.number)
        .scalar_subquery()
    )
    credit_in = (
        sa.select(sa.func.coalesce(sa.func.sum(CreditApplication.amount_cents), 0))
        .where(CreditApplication.invoice_id == Invoice.id, CreditApplication.settled.is_(False))
        .scalar_subquery()
    )
    credit_out = (
        sa.select(sa.func.coalesce(sa.func.sum(CreditApplication.amount_cents), 0))
        .where(CreditApplication.from_invoice_id == Invoice.id, credit_counts())
        .scalar_subquery()
    )
    return (
        sa.select(
            Invoice.id.label("invoice_id"),
            Invoice.number.label("number"),
            Invoice.member_id.label("member_id"),
            Invoice.issue_date.label("issued_on"),
            Invoice.due_date.label("due_on"),
            Invoice.bill_run_id.label("bill_run_id"),
            (Invoice.amount_due_cents - credited - allocated + reopened - credit_in + credit_out).label("open_cents"),
        )
        .where(Invoice.status == InvoiceStatus.ISSUED, Invoice.kind == InvoiceKind.INVOICE)
        .subquery("open_amounts")
    )


AGING_DAYS = (30, 60, 90)


@dataclass(frozen=True, slots=True)
class Aging:
    """What members owe on their invoices on a day, by days past the due date (Offene-Posten-Liste), and
    their credit (money of theirs no invoice counts yet), which the next bill run sets off."""

    not_due_cents: int
    overdue_cents: dict[str, int]
    invoices: int
    credit_cents: int


async def aging(session: AsyncSession, *, on: date, credit_cents: int) -> Aging:
    """The open amounts of every issued invoice on ``on`` by how long they are past due: not due yet, then
    1-30, 31-60, 61-90 and over 90 days; one query."""
    amounts = open_amounts()
    lows = [1, *(days + 1 for days in AGING_DAYS[:-1])]
    names = [f"{low}-{high}" for low, high in zip(lows, AGING_DAYS, strict=True)] + [f"{AGING_DAYS[-1] + 1}+"]
    bucket = sa.case(
        (amounts.c.due_on >= on, "due"),
        *(
            (amounts.c.due_on >= on - timedelta(days=days), name)
            for days, name in zip(AGING_DAYS, names[:-1], strict=True)
        ),
        else_=names[-1],
    ).label("bucket")
    query = (
        sa.select(bucket, sa.func.sum(amounts.c.open_cents), sa.func.count())
        .where(amounts.c.open_cents > 0, amounts.c.issued_on <= on)
        .group_by(bucket)
    )
    found = {str(name): (int(cents or 0), int(count)) for name, cents, count in await session.execute(query)}
    return Aging(
        not_due_cents=found.get("due", (0, 0))[0],
        overdue_cents={name: found.get(name, (0, 0))[0] for name in names},
        invoices=sum(count for _, count in found.values()),
        credit_cents=credit_cents,
    )


async def open_items(
    session: AsyncSession,
    member_ids: Collection[int] | None = None,
    numbers: Collection[str] | None = None,
    *,
    bill_run_id: int | None = None,
) -> list[OpenItem]:
    """The invoices not fully paid (of ``member_ids``, with ``numbers``, of a bill run), oldest due date
    first."""
    from billing.payments.models import Mandate

    amounts = open_amounts()
    query = (
        sa.select(amounts, Mandate.reference)
        .outerjoin(Mandate, sa.and_(Mandate.member_id == amounts.c.member_id, Mandate.revoked_on.is_(None)))
        .where(amounts.c.open_cents > 0)
        .order_by(amounts.c.due_on, amounts.c.invoice_id)
    )
    if member_ids is not None:
        query = query.where(amounts.c.member_id.in_(list(member_ids)))
    if numbers is not None:
        query = query.where(amounts.c.number.in_(list(numbers)))
    if bill_run_id is not None:
        query = query.where(amounts.c.bill_run_id == bill_run_id)
    return [
        OpenItem(
            invoice_id=int(row.invoice_id),
            number=str(row.number),
            member_id=int(row.member_id),
            open_cents=int(row.open_cents),
            due_on=row.due_on,
            mandate_reference=row.reference,
            issued_on=row.issued_on,
        )
        for row in await session.execute(query)
    ]


async def settle(
    session: AsyncSession, allocations: Sequence[Allocation], *, actor: Actor | None = None, on: date | None = None
) -> None:
    """These amounts were paid on their invoices. Nothing to write: the open amount is derived from the
    allocations the caller stored (see the module docstring). With ``actor`` and ``on`` it announces
    ``InvoicesSettled`` per member (dunning listens)."""
    if actor is None or on is None:
        return
    members = sorted({a.member_id for a in allocations if a.amount_cents > 0})
    await publish(session, *(InvoicesSettled(member_id=m, paid_on=on, actor=actor) for m in members))


async def reopen(session: AsyncSession, *, invoice_id: int | None, number: str, amount_cents: int, on: date) -> None:
    """A direct debit of the invoice came back: ``amount_cents`` is open again. Nothing to write: the open
    amount is derived from the returned debit the caller stored."""
