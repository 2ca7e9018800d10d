"""A member's credit (Guthaben) and its use on their invoices.

**What credit is.** Money of the member's that no invoice counts: the part of a payment no invoice took (an
operator assigned more than was open, a manual payment without invoices), and what an invoice was overpaid
by (it was paid, then a credit note corrected it: its open amount is below zero). Both are derived from
stored rows like every open amount (``open_items.open_amounts``); nothing keeps a balance.

**How it is used.** A ``CreditApplication`` moves an amount from one source (a payment or an overpaid
invoice) to one invoice of the same member, oldest source first:

* the bill run sets the credit off on the member's new invoice as a settlement outside the VAT base
  ("Verrechnung mit Ihrem Guthaben", account receivables): the invoice, its PDF and its XML (BT-113) state
  it, its amount due and the direct debit pre-notified on it are net of it. The preview reads the credit
  (``balances``); issuing writes the applications (``settled``) and refuses, as a stale preview, when the
  credit is no longer there (``consume_settled``);
* credit that arises later (a credit note on a paid invoice, an overpayment) goes to the member's open
  invoices issued before, oldest due date first (``apply``): when a credit note is issued (by hand or by a
  bill run), when an operator records or assigns a payment, before dunning computes arrears, and when an
  operator asks. Not to an invoice whose direct debit is at the bank or announced (not due yet, member with
  a mandate): that credit waits for the next bill run, so no debit differs from its pre-notification.

**The books.** Source and target are both the member's receivables, so an application books nothing: the
ledger's balance of the member stays the same, only the invoice the money is counted on changes (the
settlement of a bill run posts nothing either, see ``billing.invoices.service.post_issued``).

**Paying it back.** The board pays a member's credit back by credit transfer (``pay_back``: a pain.001 through
``sepa.pay_out``, booked receivables to bank, end-to-end id ``GH-<member>-<n>``). Every payout of receivables
draws its amount from the member's credit in the same transaction (``draw_for_payout``, an application whose
target is the payout item) and is refused beyond it, so credit paid back is never set off as well; a transfer
the bank rejects (pain.002) gives the credit back (``open_items.credit_counts``) as its booking is reversed.

Invariants (tested): a source is never used beyond its amount; an invoice never gets more than is open on
it; the sum of a member's open amounts less their credit is the same before and after an application.
Concurrent uses of one member's credit are serialised by locking the member's row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import action
from app.kit.actor import Actor, Role
from app.kit.errors import Conflict, Invalid
from app.members import service as members
from app.members.models import Member
from app.settings import Settings
from billing.invoices.models import Invoice, InvoiceKind, InvoiceSettlement, InvoiceStatus
from billing.ledger.models import SystemAccount
from billing.payments import mandates, open_items, repository
from billing.payments.models import (
    CollectionItem,
    CreditApplication,
    ItemStatus,
    Payment,
    PaymentAllocation,
    PayoutItem,
    SepaFile,
)
from billing.payments.open_items import Allocation
from billing.payments.schemas import (
    CreditApplicationOut,
    CreditOut,
    CreditPayback,
    CreditSourceOut,
    PayoutInstruction,
)

SETTLEMENT_TEXT = "Verrechnung mit Ihrem Guthaben"
SETTLEMENT_ACCOUNT = SystemAccount.RECEIVABLES.value
APPLICATIONS_SHOWN = 100
REFUND_PREFIX = "GH"


@dataclass(frozen=True, slots=True)
class Source:
    """Credit of a member's that can be used: the rest of a payment, or an invoice's overpayment."""

    member_id: int
    cents: int
    dated: date
    payment_id: int | None = None
    invoice_id: int | None = None


def _of_members(
    column: sa.ColumnElement[int] | sa.orm.InstrumentedAttribute[int],
    member_ids: Collection[int] | None,
    member_range: tuple[int, int] | None,
) -> sa.ColumnElement[bool]:
    condition: sa.ColumnElement[bool] = sa.true()
    if member_ids is not None:
        condition = sa.and_(condition, column.in_(list(member_ids)))
    if member_range is not None:
        condition = sa.and_(condition, column.between(*member_range))
    return condition


async def sources(
    session: AsyncSession, member_ids: Collection[int] | None = None, *, member_range: tuple[int, int] | None = None
) -> dict[int, list[Source]]:
    """Each member's credit (of ``member_ids``, of the ids in ``member_range`` inclusive, or everyone's),
    oldest first: payments by the day they were paid, overpaid invoices by their issue date."""
    # Correlated sums: index lookups per payment of the members asked for, never an aggregate of the whole book.
    allocated = (
        sa.select(sa.func.coalesce(sa.func.sum(PaymentAllocation.amount_cents), 0))
        .where(PaymentAllocation.payment_id == Payment.id)
        .scalar_subquery()
    )
    used = (
        sa.select(sa.func.coalesce(sa.func.sum(CreditApplication.amount_cents), 0))
        .where(CreditApplication.payment_id == Payment.id, open_items.credit_counts())
        .scalar_subquery()
    )
    rest = Payment.amount_cents - allocated - used
    payments = sa.select(Payment.id, Payment.member_id, Payment.paid_on, rest.label("cents")).where(rest > 0)
    payments = payments.where(_of_members(Payment.member_id, member_ids, member_range))
    found: dict[int, list[Source]] = defaultdict(list)
    for row in await session.execute(payments):
        found[int(row.member_id)].append(
            Source(member_id=int(row.member_id), cents=int(row.cents), dated=row.paid_on, payment_id=int(row.id))
        )
    # An invoice is overpaid only once a credit note corrected it (payments and credit never take more than
    # is open), so only those are read.
    note = sa.orm.aliased(Invoice)
    corrected = sa.select(note.corrects_invoice_id).where(
        note.kind == InvoiceKind.CREDIT_NOTE, note.status == InvoiceStatus.ISSUED
    )
    amounts = open_items.open_amounts()
    overpaid = sa.select(amounts).where(amounts.c.open_cents < 0, amounts.c.invoice_id.in_(corrected))
    overpaid = overpaid.where(_of_members(amounts.c.member_id, member_ids, member_range))
    for row in await session.execute(overpaid):
        found[int(row.member_id)].append(
            Source(
                member_id=int(row.member_id),
                cents=-int(row.open_cents),
                dated=row.issued_on,
                invoice_id=int(row.invoice_id),
            )
        )
    for member_sources in found.values():
        member_sources.sort(key=lambda s: (s.dated, s.invoice_id is not None, s.payment_id or s.invoice_id or 0))
    return dict(found)


async def balances(
    session: AsyncSession, member_ids: Collection[int] | None = None, *, member_range: tuple[int, int] | None = None
) -> dict[int, int]:
    """Each member's credit in cents (members with none left out)."""
    found = await sources(session, member_ids, member_range=member_range)
    return {member: sum(s.cents for s in member_sources) for member, member_sources in found.items()}


async def _lock(session: AsyncSession, member_ids: Collection[int]) -> None:
    if member_ids:
        await session.execute(
            sa.select(Member.id).where(Member.id.in_(sorted(member_ids))).order_by(Member.id).with_for_update()
        )


def _draw(
    member_sources: list[Source],
    cents: int,
    *,
    member_id: int,
    on: date,
    settled: bool = False,
    invoice_id: int | None = None,
    payout_item_id: int | None = None,
) -> list[CreditApplication]:
    """Applications of ``cents`` from the sources, oldest first; the sources' amounts are used up in place."""
    drawn: list[CreditApplication] = []
    left = cents
    for i, source in enumerate(member_sources):
        if left <= 0:
            break
        take = min(left, source.cents)
        if take <= 0:
            continue
        drawn.append(
            CreditApplication(
                member_id=member_id,
                payment_id=source.payment_id,
                from_invoice_id=source.invoice_id,
                invoice_id=invoice_id,
                payout_item_id=payout_item_id,
                amount_cents=take,
                applied_on=on,
                settled=settled,
            )
        )
        member_sources[i] = replace(source, cents=source.cents - take)
        left -= take
    return drawn


async def apply(
    session: AsyncSession, *, actor: Actor, on: date, member_ids: Collection[int] | None = None
) -> list[CreditApplication]:
    """Use the credit of ``member_ids`` (or of every member who has some) on their open invoices, oldest due
    date first, each up to what is open on it. Not on an invoice whose direct debit is at the bank (its item
    submitted), nor on one not yet due of a member with a mandate: its pre-notified debit would change; the
    next bill run sets that credit off instead. Returns the applications stored; none where there is no
    credit or nothing it may go to."""
    actor.require(Role.OPERATOR, Role.BOARD)
    if member_ids is not None and not member_ids:
        return []
    found = await sources(session, member_ids)
    if not found:
        return []
    await _lock(session, found)
    found = await sources(session, found)  # read again under the lock
    items = await open_items.open_items(session, member_ids=list(found))
    in_flight = await _submitted(session, [i.invoice_id for i in items])
    debited = {
        member_id
        for member_id, mandate in (
            await repository.active_mandates(session, {i.member_id for i in items}, lock=False)
        ).items()
        if mandates.state(mandate, on) == "active"
    }
    stored: list[CreditApplication] = []
    for item in items:
        member_sources = found.get(item.member_id)
        if not member_sources or item.invoice_id in in_flight:
            continue
        if item.member_id in debited and (item.due_on is None or item.due_on >= on):
            continue  # its direct debit is announced for the amount due; the next invoice sets the credit off
        # An invoice with something open is no overpaid source, so it never draws on itself.
        stored += _draw(
            member_sources, item.open_cents, member_id=item.member_id, invoice_id=item.invoice_id, on=on, settled=False
        )
    if not stored:
        return []
    with action(session, "payments.apply_credit"):
        session.add_all(stored)
        await session.flush()
    settled = [
        Allocation(invoice_id=a.invoice_id, number="", member_id=a.member_id, amount_cents=a.amount_cents)
        for a in stored
        if a.invoice_id is not None
    ]
    await open_items.settle(session, settled, actor=actor, on=on)
    return stored


async def _submitted(session: AsyncSession, invoice_ids: list[int]) -> set[int]:
    """The invoices among ``invoice_ids`` with a direct debit at the bank, neither booked nor sent back yet."""
    if not invoice_ids:
        return set()
    query = sa.select(CollectionItem.invoice_id).where(
        CollectionItem.invoice_id.in_(invoice_ids), CollectionItem.status == ItemStatus.SUBMITTED
    )
    return {int(i) for i in (await session.scalars(query)).all() if i is not None}


async def draw_for_payout(session: AsyncSession, *, item: PayoutItem) -> None:
    """A credit transfer paying a member's credit back (liability receivables, ``sepa.pay_out``) uses that much
    of their credit, oldest first, in the same transaction; refused (``credit_insufficient``) beyond what they
    have, so no credit is paid out twice or set off after it was paid back. Should the bank reject the
    transfer, the credit is the member's again (``open_items.credit_counts``)."""
    await _lock(session, [item.member_id])
    found = (await sources(session, [item.member_id])).get(item.member_id, [])
    has = sum(s.cents for s in found)
    if has < item.amount_cents:
        raise Conflict(
            f"Member {item.member_id} has {has} cents of credit; {item.amount_cents} cannot be paid back.",
            code="credit_insufficient",
        )
    drawn = _draw(found, item.amount_cents, member_id=item.member_id, on=item.execution_date, payout_item_id=item.id)
    session.add_all(drawn)
    await session.flush()


async def payback_instruction(
    session: AsyncSession,
    *,
    member: Member,
    cents: int,
    name: str,
    iban: str,
    bic: str | None,
    execution_date: date,
) -> PayoutInstruction:
    """The credit transfer paying ``cents`` of the member's credit back: liability receivables, end-to-end id
    ``GH-<member>-<n>`` (n counts the member's paybacks, rejected ones too, so an id is never reused)."""
    count = await session.scalar(
        sa.select(sa.func.count()).where(PayoutItem.end_to_end_id.like(f"{REFUND_PREFIX}-{member.id}-%"))
    )
    return PayoutInstruction(
        member_id=member.id,
        name=name,
        iban=iban,
        bic=bic,
        amount_cents=cents,
        reference=f"{REFUND_PREFIX}-{member.id}-{int(count or 0) + 1}",
        remittance=f"Erstattung Ihres Guthabens, Mitglied {member.number}",
        execution_date=execution_date,
        liability="receivables",
    )


async def pay_back(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    member_id: int,
    on: date,
    data: CreditPayback,
) -> SepaFile:
    """Pay a member's credit (all of it, or ``data.amount_cents``) back by credit transfer on the first SEPA
    day from ``on``: to the account of their mandate, or the one given. End-to-end id ``GH-<member>-<n>``."""
    from billing.payments import sepa  # sepa draws on this module for every payout of credit

    actor.require(Role.BOARD)
    member = await members.get_member_for_link(session, member_id=member_id)
    has = (await balances(session, [member_id])).get(member_id, 0)
    cents = data.amount_cents or has
    if cents <= 0:  # more than the member has is refused by the payout itself (``draw_for_payout``)
        raise Conflict(f"Member {member_id} has no credit to pay back.", code="credit_insufficient")
    name, iban, bic = data.name, data.iban, data.bic
    if iban is None:
        mandate = await mandates.current(session, actor=actor, member_id=member_id)
        if mandate is None:
            raise Invalid(
                "The member has no mandate, so no account of theirs is known: give the IBAN to pay to.",
                code="credit_no_account",
                field="iban",
            )
        name, iban, bic = mandate.debtor_name, mandate.iban, mandate.bic
    instruction = await payback_instruction(
        session,
        member=member,
        cents=cents,
        name=name or f"{member.first_name} {member.last_name}"[:70],
        iban=iban,
        bic=bic,
        execution_date=sepa.next_target_day(on),
    )
    return await sepa.pay_out(session, actor=actor, settings=settings, instructions=[instruction])


async def consume_settled(session: AsyncSession, *, run_id: int, on: date) -> int:
    """Write the applications behind the credit a bill run's invoices set off (their settlements on account
    receivables), in the issuing transaction. Refuses (``bill_run_stale``) when a member's credit is smaller
    now than when the run was previewed. Returns how many invoices set credit off."""
    query = (
        sa.select(InvoiceSettlement.invoice_id, Invoice.member_id, InvoiceSettlement.amount_cents)
        .join(Invoice, Invoice.id == InvoiceSettlement.invoice_id)
        .where(Invoice.bill_run_id == run_id, InvoiceSettlement.account == SETTLEMENT_ACCOUNT)
        .order_by(Invoice.member_id, Invoice.id)
    )
    rows = list((await session.execute(query)).all())
    if not rows:
        return 0
    members = {int(row.member_id) for row in rows}
    await _lock(session, members)
    found = await sources(session, members)
    stored: list[CreditApplication] = []
    for row in rows:
        member_id, cents = int(row.member_id), -int(row.amount_cents)
        member_sources = found.get(member_id, [])
        if sum(s.cents for s in member_sources) < cents:
            raise Conflict(
                f"The credit of member {member_id} changed since the preview; preview the run again.",
                code="bill_run_stale",
            )
        stored += _draw(member_sources, cents, member_id=member_id, invoice_id=int(row.invoice_id), on=on, settled=True)
    session.add_all(stored)
    await session.flush()
    return len(rows)


def set_off(credit_cents: int, due_cents: int) -> dict[str, object] | None:
    """The settlement a bill run adds to an invoice of ``due_cents`` for a member with ``credit_cents``:
    as much of the credit as the invoice takes, or nothing."""
    take = min(credit_cents, due_cents)
    if take <= 0:
        return None
    return {"credit_id": None, "text": SETTLEMENT_TEXT, "amount_cents": -take, "account": SETTLEMENT_ACCOUNT}


# --- reading -------------------------------------------------------------------------------------------


async def credit_of(session: AsyncSession, *, actor: Actor, member_id: int) -> CreditOut:
    """A member's credit now, where it comes from, and where their credit went (newest first); a member sees
    only their own."""
    mandates.self_or_staff(actor, member_id)
    found = (await sources(session, [member_id])).get(member_id, [])
    query = (
        sa.select(CreditApplication)
        .where(CreditApplication.member_id == member_id)
        .order_by(CreditApplication.applied_on.desc(), CreditApplication.id.desc())
        .limit(APPLICATIONS_SHOWN)
    )
    applications = list((await session.scalars(query)).all())
    ids = {s.invoice_id for s in found if s.invoice_id} | {a.invoice_id for a in applications}
    ids |= {a.from_invoice_id for a in applications if a.from_invoice_id}
    numbers = await _numbers(session, ids)
    return CreditOut(
        member_id=member_id,
        credit_cents=sum(s.cents for s in found),
        sources=[
            CreditSourceOut(
                payment_id=s.payment_id,
                invoice_id=s.invoice_id,
                invoice_number=numbers.get(s.invoice_id) if s.invoice_id else None,
                dated=s.dated,
                amount_cents=s.cents,
            )
            for s in found
        ],
        applications=[application_out(a, numbers) for a in applications],
    )


async def members_with_credit(session: AsyncSession, *, actor: Actor, limit: int) -> list[tuple[int, int]]:
    """Staff's view: the members who have credit and how much, most first (at most ``limit``)."""
    actor.require(Role.OPERATOR, Role.BOARD)
    ranked = sorted((await balances(session)).items(), key=lambda item: (-item[1], item[0]))
    return ranked[:limit]


async def apply_for(session: AsyncSession, *, actor: Actor, member_id: int, on: date) -> list[CreditApplicationOut]:
    """An operator has the member's credit used now, as ``apply`` does."""
    actor.require(Role.OPERATOR, Role.BOARD)
    await members.get_member_for_link(session, member_id=member_id)
    applied = await apply(session, actor=actor, on=on, member_ids=[member_id])
    numbers = await _numbers(session, {a.invoice_id for a in applied} | {a.from_invoice_id or 0 for a in applied})
    return [application_out(a, numbers) for a in applied]


async def _numbers(session: AsyncSession, invoice_ids: Collection[int | None]) -> dict[int, str]:
    wanted = [i for i in invoice_ids if i]
    if not wanted:
        return {}
    rows = await session.execute(sa.select(Invoice.id, Invoice.number).where(Invoice.id.in_(wanted)))
    return {int(row.id): str(row.number) for row in rows}


def application_out(application: CreditApplication, numbers: dict[int, str]) -> CreditApplicationOut:
    return CreditApplicationOut(
        id=application.id,
        invoice_id=application.invoice_id,
        invoice_number=numbers.get(application.invoice_id) if application.invoice_id else None,
        payout_item_id=application.payout_item_id,
        payment_id=application.payment_id,
        from_invoice_id=application.from_invoice_id,
        from_invoice_number=numbers.get(application.from_invoice_id) if application.from_invoice_id else None,
        amount_cents=application.amount_cents,
        applied_on=application.applied_on,
        settled=application.settled,
    )
