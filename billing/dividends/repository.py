"""Every query of dividends and capital payouts."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from billing.dividends.models import (
    CapitalPayout,
    CapitalPayoutStatus,
    DividendAllocation,
    DividendChoice,
    DividendDecision,
    DividendPreference,
    ExemptionOrder,
)
from billing.invoices.models import Invoice, InvoiceLine, InvoiceStatus

# A patronage refund's credit note line names its year and member in ``source_ref``: ``patronage:<year>:<member>``.
REFUND_REF_PREFIX = "patronage"


async def decision(session: AsyncSession, decision_id: int, *, lock: bool = False) -> DividendDecision | None:
    query = sa.select(DividendDecision).where(DividendDecision.id == decision_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def decision_for_year(session: AsyncSession, year: int) -> DividendDecision | None:
    query = sa.select(DividendDecision).where(DividendDecision.business_year == year)
    return (await session.execute(query)).scalar_one_or_none()


async def decisions(session: AsyncSession) -> list[DividendDecision]:
    query = sa.select(DividendDecision).order_by(DividendDecision.business_year.desc())
    return list((await session.execute(query)).scalars())


async def allocations(
    session: AsyncSession, decision_id: int, *, member_id: int | None = None
) -> list[DividendAllocation]:
    query = sa.select(DividendAllocation).where(DividendAllocation.decision_id == decision_id)
    if member_id is not None:
        query = query.where(DividendAllocation.member_id == member_id)
    return list((await session.execute(query.order_by(DividendAllocation.id))).scalars())


def allocation_refs(decision_id: int, prefix: str) -> sa.Select[str]:
    """``<prefix>-<allocation id>`` of every allocation of the decision, as a query (payout end-to-end ids)."""
    ref = sa.literal(f"{prefix}-") + sa.cast(DividendAllocation.id, sa.String)
    return sa.select(ref).where(DividendAllocation.decision_id == decision_id)


async def preferences(session: AsyncSession, member_ids: list[int]) -> dict[int, DividendChoice]:
    if not member_ids:
        return {}
    rows = await session.execute(
        sa.select(DividendPreference.member_id, DividendPreference.choice).where(
            DividendPreference.member_id.in_(member_ids)
        )
    )
    return {int(m): choice for m, choice in rows}


async def preference(session: AsyncSession, member_id: int) -> DividendPreference | None:
    query = sa.select(DividendPreference).where(DividendPreference.member_id == member_id)
    return (await session.execute(query)).scalar_one_or_none()


async def exemption_orders(
    session: AsyncSession, member_ids: list[int], calendar_year: int, *, lock: bool = False
) -> dict[int, ExemptionOrder]:
    if not member_ids:
        return {}
    query = sa.select(ExemptionOrder).where(
        ExemptionOrder.member_id.in_(member_ids), ExemptionOrder.calendar_year == calendar_year
    )
    if lock:
        query = query.order_by(ExemptionOrder.id).with_for_update()
    return {order.member_id: order for order in (await session.execute(query)).scalars()}


async def exemption_orders_of(session: AsyncSession, member_id: int) -> list[ExemptionOrder]:
    query = (
        sa.select(ExemptionOrder)
        .where(ExemptionOrder.member_id == member_id)
        .order_by(ExemptionOrder.calendar_year.desc())
    )
    return list((await session.execute(query)).scalars())


async def capital_payouts(
    session: AsyncSession,
    *,
    business_year: int | None = None,
    due_by: date | None = None,
    status: CapitalPayoutStatus | None = None,
) -> list[CapitalPayout]:
    query = sa.select(CapitalPayout)
    if business_year is not None:
        query = query.where(CapitalPayout.business_year == business_year)
    if due_by is not None:
        query = query.where(CapitalPayout.due_on <= due_by)
    if status is not None:
        query = query.where(CapitalPayout.status == status)
    return list((await session.execute(query.order_by(CapitalPayout.due_on, CapitalPayout.id))).scalars())


async def capital_payout(session: AsyncSession, payout_id: int, *, lock: bool = False) -> CapitalPayout | None:
    query = sa.select(CapitalPayout).where(CapitalPayout.id == payout_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def refund_totals(session: AsyncSession, business_year: int) -> tuple[int, int, int, int]:
    """Count, net, VAT and gross of the issued patronage refund credit notes of ``business_year``."""
    refunded = sa.select(InvoiceLine.invoice_id).where(
        InvoiceLine.source_ref.like(f"{REFUND_REF_PREFIX}:{business_year}:%")
    )
    query = sa.select(
        sa.func.count(Invoice.id),
        sa.func.coalesce(sa.func.sum(Invoice.net_cents), 0),
        sa.func.coalesce(sa.func.sum(Invoice.vat_cents), 0),
        sa.func.coalesce(sa.func.sum(Invoice.gross_cents), 0),
    ).where(Invoice.status == InvoiceStatus.ISSUED, Invoice.id.in_(refunded))
    count, net, vat, gross = (await session.execute(query)).one()
    return int(count), int(net), int(vat), int(gross)
