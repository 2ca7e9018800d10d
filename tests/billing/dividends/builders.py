"""Builders for dividends: a year of demo-like capital history, decisions, choices and exemption orders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from app.members import service as members
from app.members.models import Member
from app.settings import Settings
from billing.dividends import choices, service
from billing.dividends.models import DividendChoice, DividendDecision, ExemptionOrder
from billing.dividends.schemas import DecisionCreate, ExemptionOrderCreate
from tests.builders import BOARD, make_member


@dataclass
class Year2025:
    """Four members over business year 2025 (hand computations in test_service.py)."""

    joined: Member  # admitted 1 July 2025 with 300.00 EUR; dividends paid out
    exempt: Member  # 1,000.00 EUR on 11 shares since 2024, exemption order with 36.00 EUR left; credits to capital
    left: Member  # 200.00 EUR since 2024, all shares passed on effective 1 April 2025; asked for capital
    receiver: Member  # 100.00 EUR since 2024, received the 200.00 EUR on 1 April 2025; sets off
    order: ExemptionOrder


async def make_year_2025(session: AsyncSession, settings: Settings) -> Year2025:
    joined = await make_member(
        session,
        settings,
        first_name="Anna",
        shares=3,
        applied_on=date(2025, 6, 20),
        admitted_on=date(2025, 7, 1),
    )
    exempt = await make_member(
        session,
        settings,
        first_name="Bernd",
        shares=11,
        applied_on=date(2024, 2, 20),
        admitted_on=date(2024, 3, 1),
        paid_cents=100_000,
    )
    left = await make_member(
        session, settings, first_name="Carla", shares=2, applied_on=date(2024, 1, 2), admitted_on=date(2024, 1, 15)
    )
    receiver = await make_member(
        session, settings, first_name="Dieter", shares=1, applied_on=date(2024, 1, 2), admitted_on=date(2024, 1, 15)
    )
    await members.transfer_shares(
        session,
        actor=BOARD,
        settings=settings,
        from_member_id=left.id,
        to_member_id=receiver.id,
        shares=2,
        agreed_on=date(2025, 3, 10),
        effective_on=date(2025, 4, 1),
    )
    # 1,000.00 EUR allowance for 2026 (the year the 2025 dividend accrues), 964.00 EUR used on other income.
    order = await make_exemption_order(session, settings, member=exempt, calendar_year=2026, allowance_cents=100_000)
    order.used_cents = 96_400
    await session.flush()
    for member, choice in (
        (exempt, DividendChoice.CAPITAL),
        (left, DividendChoice.CAPITAL),
        (receiver, DividendChoice.SET_OFF),
    ):
        await choices.set_preference(session, actor=BOARD, member_id=member.id, choice=choice)
    return Year2025(joined=joined, exempt=exempt, left=left, receiver=receiver, order=order)


async def make_exemption_order(
    session: AsyncSession, settings: Settings, *, member: Member, calendar_year: int, allowance_cents: int
) -> ExemptionOrder:
    return await choices.file_exemption_order(
        session,
        actor=BOARD,
        settings=settings,
        member_id=member.id,
        data=ExemptionOrderCreate(
            calendar_year=calendar_year, allowance_cents=allowance_cents, filed_on=date(calendar_year, 1, 5)
        ),
    )


async def make_decision(
    session: AsyncSession,
    settings: Settings,
    *,
    business_year: int = 2025,
    rate_percent: str = "4",
    decided_on: date = date(2026, 6, 15),
) -> DividendDecision:
    return await service.enter_decision(
        session,
        actor=BOARD,
        settings=settings,
        data=DecisionCreate(business_year=business_year, rate_percent=Decimal(rate_percent), decided_on=decided_on),
    )


async def make_booked_decision(session: AsyncSession, settings: Settings) -> int:
    """The 4 % decision on 2025 (``make_decision``), approved and booked; returns its id."""
    decision_id = (await make_decision(session, settings)).id
    await service.run(session, actor=BOARD, settings=settings, decision_id=decision_id)
    return decision_id
