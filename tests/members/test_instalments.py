"""Shares paid in instalments: the schedule and what is due on a given day."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import bind_actor
from app.members import service
from app.members.schemas import MemberApplication
from app.settings import Settings
from tests.builders import BOARD


async def test_three_shares_in_four_instalments_are_due_monthly_with_the_remainder_last(
    db_session: AsyncSession, settings: Settings
) -> None:
    bind_actor(db_session, BOARD)
    member = await service.apply(
        db_session,
        actor=BOARD,
        settings=settings,
        application=MemberApplication(
            first_name="Ina",
            last_name="Raten",
            street="Weg 1",
            postal_code="10115",
            city="Berlin",
            email="ina@example.org",
            shares=3,
            instalments=4,
            applied_on=date(2025, 1, 2),
        ),
    )
    await service.admit(db_session, actor=BOARD, settings=settings, member_id=member.id, admitted_on=date(2025, 1, 31))
    await service.record_share_payment(
        db_session, actor=BOARD, settings=settings, member_id=member.id, amount_cents=7500, paid_on=date(2025, 1, 31)
    )

    overview = await service.shares_overview(
        db_session, actor=BOARD, settings=settings, member_id=member.id, on=date(2025, 3, 15)
    )

    assert [(i.due_on, i.amount_cents) for i in overview.instalments] == [
        (date(2025, 1, 31), 7500),
        (date(2025, 2, 28), 7500),
        (date(2025, 3, 31), 7500),
        (date(2025, 4, 30), 7500),
    ]
    assert overview.capital_cents == 7500
    assert overview.due_cents == 7500  # February's instalment is open; March's is not due yet
    assert overview.outstanding_cents == 22500
