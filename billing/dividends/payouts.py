"""Leaving members' capital (Auseinandersetzung, §73 GenG): whoever left at the end of a business year gets
their paid-in capital as of the leaving date back, without a share in the reserves, within six months after
that year, on the basis of the balance sheet the general assembly approved.

When the board enters that approval date, each payout is computed, scheduled (due date from settings, never
later than six months after the year, never before the approval) and booked: member capital to capital
payable (per member, source ``capital_payout <id>``), and the member's capital history records the payout.
Payments takes the due ones through ``capital_payout_instructions``. A member who still owes on invoices may
have the debt set off against the payout (debit capital payable, credit receivables), if the board chooses.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import action
from app.kit.actor import Actor, Role
from app.kit.errors import Conflict, Invalid, NotFound
from app.kit.time import add_months
from app.members import service as members
from app.members.models import CapitalMovementKind, LeavingReason
from app.settings import Settings
from billing.dividends import repository
from billing.dividends.models import CapitalPayout, CapitalPayoutStatus
from billing.dividends.schemas import CapitalPayoutOut, CapitalPayoutSchedule, PayoutInstruction
from billing.dividends.service import business_year_bounds
from billing.ledger import service as ledger
from billing.ledger.models import SourceKind, SystemAccount
from billing.ledger.schemas import EntryDraft, LineDraft


def payout_due_on(settings: Settings, year_end: date, approved_on: date) -> date:
    """``capital_payout_days_after_approval`` after the approval, but within six months after the year (§73 (2)
    GenG); an approval later than that makes the payout due at once."""
    latest = add_months(year_end, 6)
    return max(approved_on, min(approved_on + timedelta(days=settings.capital_payout_days_after_approval), latest))


def capital_payout_reference(payout: CapitalPayout) -> str:
    who = payout.member_number if payout.member_number is not None else f"ID {payout.member_id}"
    return f"Auseinandersetzungsguthaben {payout.business_year} Mitglied {who}"


async def schedule_capital_payouts(
    session: AsyncSession, *, actor: Actor, settings: Settings, data: CapitalPayoutSchedule
) -> list[CapitalPayout]:
    """Compute, schedule and book the payout of every member who left at the end of ``business_year`` with
    capital (not those who passed all their shares on: their capital went with them). Idempotent: a member
    scheduled already is skipped. Refused: an approval dated on or before the year end."""
    actor.require(Role.BOARD)
    start, end = business_year_bounds(settings, data.business_year)
    approved_on = data.balance_sheet_approved_on
    if approved_on <= end:
        raise Invalid(
            f"The balance sheet of {data.business_year} can be approved only after {end.isoformat()}.",
            code="balance_sheet_before_year_end",
            field="balance_sheet_approved_on",
        )
    scheduled = {p.member_id for p in await repository.capital_payouts(session, business_year=data.business_year)}
    codes = await ledger.system_account_codes(session)
    created = []
    for history in await members.capital_histories(session, start=start, end=end):
        if history.leaving_on != end or history.leaving_reason is LeavingReason.TRANSFER:
            continue
        capital = history.opening_cents + sum(m.amount_cents for m in history.movements)
        if capital <= 0 or history.member_id in scheduled:
            continue
        payout = CapitalPayout(
            member_id=history.member_id,
            member_number=history.number,
            business_year=data.business_year,
            left_on=end,
            capital_cents=capital,
            balance_sheet_approved_on=approved_on,
            due_on=payout_due_on(settings, end, approved_on),
            set_off_cents=0,
            status=CapitalPayoutStatus.BOOKED,
        )
        with action(session, "capital_payout.schedule"):
            session.add(payout)
            await session.flush()
        reference = capital_payout_reference(payout)
        await ledger.post(
            session,
            actor=actor,
            entry=EntryDraft(
                entry_date=approved_on,
                text=reference,
                source_kind=SourceKind.CAPITAL_PAYOUT,
                source_id=str(payout.id),
                lines=[
                    LineDraft(
                        account=codes[SystemAccount.MEMBER_CAPITAL], debit_cents=capital, member_id=payout.member_id
                    ),
                    LineDraft(
                        account=codes[SystemAccount.CAPITAL_PAYABLE], credit_cents=capital, member_id=payout.member_id
                    ),
                ],
            ),
        )
        await members.record_capital_change(
            session,
            actor=actor,
            member_id=payout.member_id,
            kind=CapitalMovementKind.PAYOUT,
            amount_cents=capital,
            effective_on=approved_on,
            reference=reference,
        )
        created.append(payout)
    return created


async def open_receivables(session: AsyncSession, *, actor: Actor, member_id: int) -> int:
    """What the member owes on invoices according to the books (receivables debits less credits, not below 0)."""
    code = (await ledger.system_account_codes(session))[SystemAccount.RECEIVABLES]
    balances = await ledger.member_balances(session, actor=actor, member_id=member_id)
    return max(sum(a.balance_cents for a in balances.accounts if a.code == code), 0)


async def capital_payouts(session: AsyncSession, *, actor: Actor, business_year: int | None) -> list[CapitalPayoutOut]:
    """The scheduled payouts, with what each member still owes (the set-off the board may choose)."""
    actor.require(Role.BOARD)
    result = []
    for payout in await repository.capital_payouts(session, business_year=business_year):
        out = CapitalPayoutOut.model_validate(payout)
        out.open_receivables_cents = await open_receivables(session, actor=actor, member_id=payout.member_id)
        result.append(out)
    return result


async def set_off_receivables(session: AsyncSession, *, actor: Actor, payout_id: int, on: date) -> CapitalPayout:
    """Set the member's open receivables off against their payout (§387 BGB; allowed against a leaving member's
    claim): debit capital payable, credit receivables, at most the payout. Once per payout, before it is handed
    to payments (``capital_payout_set_off``)."""
    actor.require(Role.BOARD)
    payout = await repository.capital_payout(session, payout_id, lock=True)
    if payout is None:
        raise NotFound(f"Capital payout {payout_id} not found.", code="capital_payout_not_found")
    if payout.set_off_cents or payout.status is not CapitalPayoutStatus.BOOKED:
        raise Conflict("This payout was set off or handed to payments already.", code="capital_payout_set_off")
    amount = min(await open_receivables(session, actor=actor, member_id=payout.member_id), payout.capital_cents)
    if amount <= 0:
        raise Conflict("The member owes nothing on invoices.", code="capital_payout_nothing_owed")
    codes = await ledger.system_account_codes(session)
    await ledger.post(
        session,
        actor=actor,
        entry=EntryDraft(
            entry_date=max(on, payout.balance_sheet_approved_on),
            text=f"Verrechnung offener Forderungen mit {capital_payout_reference(payout)}",
            source_kind=SourceKind.SET_OFF,
            source_id=f"CP{payout.id}",
            lines=[
                LineDraft(account=codes[SystemAccount.CAPITAL_PAYABLE], debit_cents=amount, member_id=payout.member_id),
                LineDraft(account=codes[SystemAccount.RECEIVABLES], credit_cents=amount, member_id=payout.member_id),
            ],
        ),
    )
    with action(session, "capital_payout.set_off"):
        payout.set_off_cents = amount
        await session.flush()
    return payout


async def capital_payout_instructions(session: AsyncSession, *, due_by: date) -> list[PayoutInstruction]:
    """Seam to billing.payments: the leaving members' payouts due by ``due_by`` not handed over yet."""
    return [
        PayoutInstruction(
            kind="capital_payout",
            source_id=p.id,
            member_id=p.member_id,
            amount_cents=p.payout_cents,
            reference=capital_payout_reference(p),
            due_on=p.due_on,
        )
        for p in await repository.capital_payouts(session, due_by=due_by, status=CapitalPayoutStatus.BOOKED)
        if p.payout_cents > 0
    ]


async def mark_handed_over(session: AsyncSession, *, payout_ids: list[int], handed_over: bool = True) -> None:
    """Payments calls this once the payouts are in a credit transfer file; they are not offered again. With
    ``handed_over=False`` (the bank rejected the transfer, its booking is reversed) they are offered again."""
    status = CapitalPayoutStatus.HANDED_OVER if handed_over else CapitalPayoutStatus.BOOKED
    with action(session, "capital_payout.handed_over" if handed_over else "capital_payout.rejected"):
        for payout_id in payout_ids:
            payout = await repository.capital_payout(session, payout_id, lock=True)
            if payout is not None:
                payout.status = status
        await session.flush()
