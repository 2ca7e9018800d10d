"""The dividend workflow: the board enters the assembly's decision, previews every member's allocation,
and runs it: allocations are frozen and booked with the tax withheld, and each net dividend goes where the
member chose (paid out, credited to capital, set off on the next invoice).

A run is one transaction (the caller's unit of work commits) and idempotent: a booked decision books
nothing again, and every entry's source (``dividend <decision>/<member>/<step>``) is unique in the books.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.audit.service import action
from app.kit.actor import Actor, Role
from app.kit.db import bulk_insert
from app.kit.errors import Conflict, Invalid, NotFound
from app.kit.time import add_months, utcnow
from app.members import service as members
from app.members.models import CapitalMovementKind
from app.members.schemas import CapitalHistory
from app.settings import Settings
from billing.dividends import compute, repository
from billing.dividends.models import (
    AllocationStatus,
    DecisionStatus,
    DividendAllocation,
    DividendBasis,
    DividendChoice,
    DividendDecision,
    ExemptionOrder,
)
from billing.dividends.schemas import (
    AllocationOut,
    AllocationTotals,
    DecisionCreate,
    DecisionOut,
    DividendPreview,
    PayoutInstruction,
    RunReport,
)
from billing.invoices import service as invoices
from billing.invoices.schemas import CreditDraft
from billing.ledger import service as ledger
from billing.ledger.models import SourceKind, SystemAccount
from billing.ledger.schemas import Posting, PostingLine

POSTING_BATCH = 5000  # allocations per ledger.post_many call (up to three entries each)


def business_year_bounds(settings: Settings, year: int) -> tuple[date, date]:
    """First and last day of the business year that ends in calendar year ``year``."""
    return settings.business_year_end(year - 1) + timedelta(days=1), settings.business_year_end(year)


def decision_out(decision: DividendDecision) -> DecisionOut:
    out = DecisionOut.model_validate(decision)
    if decision.late:
        out.warnings.append(
            "Die Generalversammlung hat später als sechs Monate nach dem Geschäftsjahresende beschlossen (§ 48 GenG)."
        )
    return out


async def enter_decision(
    session: AsyncSession, *, actor: Actor, settings: Settings, data: DecisionCreate
) -> DividendDecision:
    """Record the general assembly's dividend decision for a business year, as a draft to preview.

    Refused: a decision dated on or before the year's end (``dividend_before_year_end``), one for a year that
    is approved or booked already (``dividend_decided``). Entering a draft's year again replaces the draft, but
    not its refund percent once refunds were issued at it (``refund_issued``).
    A decision later than six months after the year end (§48 (1) GenG) is kept, with ``late`` and a warning.
    """
    actor.require(Role.BOARD)
    start, end = business_year_bounds(settings, data.business_year)
    if data.decided_on <= end:
        raise Invalid(
            f"A dividend for {data.business_year} can be decided only after the year ends ({end.isoformat()}).",
            code="dividend_before_year_end",
            field="decided_on",
        )
    decision = await repository.decision_for_year(session, data.business_year)
    if decision is not None and decision.status is not DecisionStatus.DRAFT:
        raise Conflict(
            f"The dividend for {data.business_year} is {decision.status.value} already.", code="dividend_decided"
        )
    if decision is not None:
        await _refund_percent_may_change(session, decision, data.refund_percent)
    with action(session, "dividend.decide"):
        if decision is None:
            decision = DividendDecision(business_year=data.business_year, status=DecisionStatus.DRAFT)
            session.add(decision)
        decision.year_start, decision.year_end = start, end
        decision.rate_percent = data.rate_percent
        decision.refund_percent = data.refund_percent
        decision.decided_on = data.decided_on
        decision.basis = data.basis or DividendBasis(settings.dividend_basis)
        decision.late = data.decided_on > add_months(end, 6)
        decision.capital_gains_tax_percent = settings.capital_gains_tax_percent
        decision.solidarity_surcharge_percent = settings.solidarity_surcharge_percent
        await session.flush()
    return decision


def check_refund_percent(percent: Decimal, *, field: str) -> None:
    """Refused (``refund_percent``) unless the refund is above 0 and at most 100 percent."""
    if not Decimal(0) < percent <= Decimal(100):
        raise Invalid("The refund is a percent above 0 and at most 100.", code="refund_percent", field=field)


async def _refund_percent_may_change(
    session: AsyncSession, decision: DividendDecision, percent: Decimal | None
) -> None:
    """Refused (``refund_issued``) when ``percent`` differs from the decision's and the year's refund credit
    notes were issued at the decision's already."""
    if percent == decision.refund_percent:
        return
    issued, *_ = await repository.refund_totals(session, decision.business_year)
    if issued:
        raise Conflict(
            f"The patronage refund for {decision.business_year} was issued at {decision.refund_percent} % already; "
            "its percent cannot change.",
            code="refund_issued",
            field="refund_percent",
        )


async def record_refund_percent(
    session: AsyncSession, *, actor: Actor, decision_id: int, percent: Decimal | None
) -> DividendDecision:
    """Record (or correct, or clear with None) the patronage refund the assembly decided, on a decision of any
    status: the refund does not change the dividend, so an approved or booked decision takes it too. Refused
    (``refund_issued``) once refund credit notes were issued at another percent."""
    if percent is not None:
        check_refund_percent(percent, field="refund_percent")
    decision = await get_decision(session, actor=actor, decision_id=decision_id, lock=True)
    await _refund_percent_may_change(session, decision, percent)
    if percent != decision.refund_percent:
        with action(session, "dividend.refund_percent"):
            decision.refund_percent = percent
            await session.flush()
    return decision


async def get_decision(
    session: AsyncSession, *, actor: Actor, decision_id: int, lock: bool = False
) -> DividendDecision:
    actor.require(Role.BOARD)
    decision = await repository.decision(session, decision_id, lock=lock)
    if decision is None:
        raise NotFound(f"Dividend decision {decision_id} not found.", code="dividend_not_found")
    return decision


async def decision_for_year(session: AsyncSession, *, actor: Actor, year: int) -> DividendDecision:
    actor.require(Role.BOARD)
    decision = await repository.decision_for_year(session, year)
    if decision is None:
        raise NotFound(f"No dividend decision for {year}.", code="dividend_not_found")
    return decision


async def list_decisions(session: AsyncSession, *, actor: Actor) -> list[DividendDecision]:
    actor.require(Role.BOARD)
    return await repository.decisions(session)


# --- computing the allocations ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Computed:
    history: CapitalHistory
    base: int
    gross: int
    withholding: compute.Withholding
    choice: DividendChoice
    use: compute.Use
    order: ExemptionOrder | None


def _still_member(history: CapitalHistory, on: date) -> bool:
    return history.leaving_on is None or history.leaving_on >= on


async def _compute(
    session: AsyncSession, settings: Settings, decision: DividendDecision, *, lock: bool
) -> list[_Computed]:
    """Every member's dividend for the decision, with the exemption allowance left in the calendar year the
    dividend accrues in (the year of the decision, §44 (2) EStG) and the member's standing choice."""
    histories = await members.capital_histories(session, start=decision.year_start, end=decision.year_end)
    units = compute.units_in_year(decision.year_start, decision.year_end, decision.basis)
    gross: dict[int, tuple[int, int]] = {}
    for history in histories:
        base = compute.capital_base(history, decision.basis)
        amount = compute.gross_dividend(base, decision.rate_percent, units)
        if amount > 0:
            gross[history.member_id] = (base, amount)
    ids = list(gross)
    choices = await repository.preferences(session, ids)
    orders = await repository.exemption_orders(session, ids, decision.decided_on.year, lock=lock)
    # Room for a credit to capital: the nominal of the shares held less every bit of capital recorded.
    positions = await members.capital_positions(session, member_ids=ids, on=date.max)
    result = []
    for history in histories:
        if history.member_id not in gross:
            continue
        base, amount = gross[history.member_id]
        order = orders.get(history.member_id)
        withholding = compute.withhold(
            amount,
            remaining_allowance_cents=order.allowance_cents - order.used_cents if order else 0,
            tax_percent=decision.capital_gains_tax_percent,
            surcharge_percent=decision.solidarity_surcharge_percent,
        )
        choice = choices.get(history.member_id, DividendChoice.PAYOUT)
        position = positions[history.member_id]
        use = compute.use_net(
            withholding.net_cents,
            choice,
            capital_room_cents=position.shares * settings.share_nominal_cents - position.capital_cents,
            still_member=_still_member(history, decision.decided_on),
        )
        result.append(_Computed(history, base, amount, withholding, choice, use, order))
    return result


def _allocation_out(c: _Computed) -> AllocationOut:
    return AllocationOut(
        member_id=c.history.member_id,
        member_number=c.history.number,
        member_name=c.history.name,
        capital_base=c.base,
        gross_cents=c.gross,
        exemption_used_cents=c.withholding.exemption_used_cents,
        capital_gains_tax_cents=c.withholding.capital_gains_tax_cents,
        solidarity_surcharge_cents=c.withholding.solidarity_surcharge_cents,
        net_cents=c.withholding.net_cents,
        choice=c.choice,
        to_capital_cents=c.use.to_capital_cents,
        payout_cents=c.use.payout_cents,
        set_off_cents=c.use.set_off_cents,
    )


def totals(allocations: list[AllocationOut]) -> AllocationTotals:
    def total(field: str) -> int:
        return sum(getattr(a, field) for a in allocations)

    return AllocationTotals(
        members=len(allocations),
        **{
            field: total(field)
            for field in (
                "gross_cents",
                "exemption_used_cents",
                "capital_gains_tax_cents",
                "solidarity_surcharge_cents",
                "net_cents",
                "to_capital_cents",
                "payout_cents",
                "set_off_cents",
            )
        },
    )


async def preview(session: AsyncSession, *, actor: Actor, settings: Settings, decision_id: int) -> DividendPreview:
    """The allocations of a decision with their totals: computed afresh (and not stored) while it is a draft,
    as frozen once it is approved."""
    decision = await get_decision(session, actor=actor, decision_id=decision_id)
    if decision.status is DecisionStatus.DRAFT:
        rows = [_allocation_out(c) for c in await _compute(session, settings, decision, lock=False)]
    else:
        rows = [AllocationOut.model_validate(a) for a in await repository.allocations(session, decision.id)]
    return DividendPreview(decision=decision_out(decision), totals=totals(rows), allocations=rows)


async def approve(session: AsyncSession, *, actor: Actor, settings: Settings, decision_id: int) -> DividendDecision:
    """Freeze the allocations of a draft decision (computed now) and reserve the exemption allowances they use."""
    decision = await get_decision(session, actor=actor, decision_id=decision_id, lock=True)
    if decision.status is not DecisionStatus.DRAFT:
        raise Conflict(f"The decision is {decision.status.value} already.", code="dividend_not_draft")
    await _approve(session, settings, decision)
    return decision


async def _approve(session: AsyncSession, settings: Settings, decision: DividendDecision) -> None:
    """Freeze the allocations, set-based: one multi-row insert (COPY on PostgreSQL) instead of an ORM object
    each, so they are not in the audit log one by one; the decision's approval is (``dividend.approve``)."""
    computed = await _compute(session, settings, decision, lock=True)
    now = utcnow()
    with action(session, "dividend.approve"):
        await bulk_insert(
            session,
            DividendAllocation.__table__,  # type: ignore[arg-type]
            [
                {
                    **_allocation_out(c).model_dump(exclude={"status"}),
                    "decision_id": decision.id,
                    "exemption_order_id": c.order.id if c.order else None,
                    "status": AllocationStatus.APPROVED,
                    "created_at": now,
                    "updated_at": now,
                }
                for c in computed
            ],
        )
        for c in computed:
            if c.order is not None and c.withholding.exemption_used_cents:
                c.order.used_cents += c.withholding.exemption_used_cents
        decision.status = DecisionStatus.APPROVED
        decision.approved_at = now
        await session.flush()


# --- booking -------------------------------------------------------------------------------------


def payout_reference(year: int, member_number: int | None, member_id: int) -> str:
    """The text on the member's bank statement: "Dividende 2025 Mitglied 123"."""
    return f"Dividende {year} Mitglied {member_number if member_number is not None else f'ID {member_id}'}"


def allocation_entries(
    decision: DividendDecision, allocation: DividendAllocation, codes: dict[SystemAccount, str]
) -> list[Posting]:
    """The entries that book one member's dividend, all dated on the decision:

    * the decision: profit for appropriation to dividends payable (the member), the gross;
    * the withholding: dividends payable to capital gains tax and solidarity surcharge payable;
    * a credit to capital: dividends payable to member capital (the member).

    What is paid out or set off stays in dividends payable until payments or the next invoice clears it.
    """
    member = allocation.member_id
    payable = codes[SystemAccount.DIVIDENDS_PAYABLE]
    label = payout_reference(decision.business_year, allocation.member_number, member)
    source = f"{decision.id}/{member}"

    def entry(step: str, text: str, lines: list[PostingLine]) -> Posting:
        return Posting(
            entry_date=decision.decided_on,
            text=text,
            source_kind=SourceKind.DIVIDEND,
            source_id=f"{source}/{step}",
            lines=lines,
        )

    entries = [
        entry(
            "G",
            f"{label}: Bruttodividende",
            [
                PostingLine(account=codes[SystemAccount.PROFIT_FOR_APPROPRIATION], debit_cents=allocation.gross_cents),
                PostingLine(account=payable, credit_cents=allocation.gross_cents, member_id=member),
            ],
        )
    ]
    withheld = allocation.capital_gains_tax_cents + allocation.solidarity_surcharge_cents
    if withheld:
        lines = [
            PostingLine(account=payable, debit_cents=withheld, member_id=member),
            PostingLine(
                account=codes[SystemAccount.CAPITAL_GAINS_TAX_PAYABLE], credit_cents=allocation.capital_gains_tax_cents
            ),
        ]
        if allocation.solidarity_surcharge_cents:
            lines.append(
                PostingLine(
                    account=codes[SystemAccount.SOLIDARITY_SURCHARGE_PAYABLE],
                    credit_cents=allocation.solidarity_surcharge_cents,
                )
            )
        entries.append(entry("T", f"{label}: Kapitalertragsteuer und Solidaritätszuschlag", lines))
    if allocation.to_capital_cents:
        entries.append(
            entry(
                "C",
                f"{label}: Gutschrift auf das Geschäftsguthaben",
                [
                    PostingLine(account=payable, debit_cents=allocation.to_capital_cents, member_id=member),
                    PostingLine(
                        account=codes[SystemAccount.MEMBER_CAPITAL],
                        credit_cents=allocation.to_capital_cents,
                        member_id=member,
                    ),
                ],
            )
        )
    return entries


async def run(session: AsyncSession, *, actor: Actor, settings: Settings, decision_id: int) -> RunReport:
    """Approve the decision if it is a draft, then book every allocation: gross, withholding, credits to capital
    (recorded in the member's capital history too); set-offs are queued for the next invoice. Booked already:
    nothing happens (``entries`` 0)."""
    decision = await get_decision(session, actor=actor, decision_id=decision_id, lock=True)
    entries = 0
    if decision.status is DecisionStatus.DRAFT:
        await _approve(session, settings, decision)
    allocations = await repository.allocations(session, decision.id)
    if decision.status is DecisionStatus.APPROVED:
        codes = await ledger.system_account_codes(session)
        with action(session, "dividend.run"):
            for start in range(0, len(allocations), POSTING_BATCH):
                batch = allocations[start : start + POSTING_BATCH]
                drafts = [d for a in batch for d in allocation_entries(decision, a, codes)]
                await ledger.post_many(session, actor=actor, entries=drafts)
                entries += len(drafts)
            for allocation in allocations:
                if allocation.to_capital_cents:
                    await members.record_capital_change(
                        session,
                        actor=actor,
                        member_id=allocation.member_id,
                        kind=CapitalMovementKind.DIVIDEND_CREDIT,
                        amount_cents=allocation.to_capital_cents,
                        effective_on=decision.decided_on,
                        reference=payout_reference(
                            decision.business_year, allocation.member_number, allocation.member_id
                        ),
                    )
            await _mark(session, decision, allocations)
            await _queue_set_off(session, decision, [a for a in allocations if a.set_off_cents])
            decision.status = DecisionStatus.BOOKED
            decision.booked_at = utcnow()
            await session.flush()
    rows = [AllocationOut.model_validate(a) for a in allocations]
    sums = totals(rows)
    return RunReport(
        decision_id=decision.id,
        business_year=decision.business_year,
        status=decision.status,
        allocations=len(rows),
        entries=entries,
        gross_cents=sums.gross_cents,
        capital_gains_tax_cents=sums.capital_gains_tax_cents,
        solidarity_surcharge_cents=sums.solidarity_surcharge_cents,
        to_capital_cents=sums.to_capital_cents,
        payout_cents=sums.payout_cents,
        set_off_cents=sums.set_off_cents,
    )


async def _mark(session: AsyncSession, decision: DividendDecision, allocations: list[DividendAllocation]) -> None:
    """Every allocation booked, a set-off one pending for the next invoice: two UPDATEs, not one per row."""
    pending = DividendAllocation.set_off_cents > 0
    for status, which in ((AllocationStatus.BOOKED, sa.not_(pending)), (AllocationStatus.SET_OFF_PENDING, pending)):
        await session.execute(
            sa.update(DividendAllocation)
            .where(DividendAllocation.decision_id == decision.id, which)
            .values(status=status, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    for allocation in allocations:
        status = AllocationStatus.SET_OFF_PENDING if allocation.set_off_cents > 0 else AllocationStatus.BOOKED
        set_committed_value(allocation, "status", status)


def set_off_text(year: int) -> str:
    """The settlement's text on the member's next invoice: "Verrechnung Dividende 2025"."""
    return f"Verrechnung Dividende {year}"


async def _queue_set_off(
    session: AsyncSession, decision: DividendDecision, allocations: list[DividendAllocation]
) -> None:
    """The net dividend set off becomes a credit on the member's next invoice (``billing.invoices.add_credits``,
    source ``dividend <allocation id>``, drawn from dividends payable): the bill run settles it and books
    dividends payable to receivables for the member. The allocation is ``set_off_pending`` meanwhile."""
    if not allocations:
        return
    await invoices.add_credits(
        session,
        credits=[
            CreditDraft(
                member_id=a.member_id,
                amount_cents=a.set_off_cents,
                text=set_off_text(decision.business_year),
                account=SystemAccount.DIVIDENDS_PAYABLE,
                source_kind=SourceKind.DIVIDEND.value,
                source_id=str(a.id),
            )
            for a in allocations
        ],
    )


async def payout_instructions(session: AsyncSession, decision_id: int) -> list[PayoutInstruction]:
    """Seam to billing.payments: what a booked decision pays out, one credit transfer per member, due on the
    day of the decision. Nothing before the decision is booked."""
    decision = await repository.decision(session, decision_id)
    if decision is None or decision.status is not DecisionStatus.BOOKED:
        return []
    return [
        PayoutInstruction(
            kind="dividend",
            source_id=a.id,
            member_id=a.member_id,
            amount_cents=a.payout_cents,
            reference=payout_reference(decision.business_year, a.member_number, a.member_id),
            due_on=decision.decided_on,
        )
        for a in await repository.allocations(session, decision.id)
        if a.payout_cents > 0
    ]
