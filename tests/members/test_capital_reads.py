"""What app.members offers billing about capital: dated histories and positions for a period, and the capital
changes billing books itself (dividend credits and payouts on leaving), audited, nothing else."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.errors import Invalid
from app.members import repository
from app.members import service as members
from app.members.models import CapitalMovementKind
from app.settings import Settings
from tests.builders import BOARD, make_member


async def test_a_capital_history_holds_the_opening_capital_and_the_year_s_movements(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(
        db_session, settings, shares=3, paid_cents=10_000, applied_on=date(2024, 1, 2), admitted_on=date(2024, 1, 15)
    )
    await members.record_share_payment(
        db_session, actor=BOARD, settings=settings, member_id=member.id, amount_cents=5_000, paid_on=date(2025, 5, 2)
    )
    later = await make_member(db_session, settings, applied_on=date(2026, 1, 2), admitted_on=date(2026, 1, 10))

    histories = await members.capital_histories(db_session, start=date(2025, 1, 1), end=date(2025, 12, 31))
    positions = await members.capital_positions(db_session, member_ids=[member.id], on=date(2025, 4, 30))

    (history,) = [h for h in histories if h.member_id in (member.id, later.id)]
    assert history.member_id == member.id  # admitted only in 2026: not in 2025's histories
    assert history.opening_cents == 10_000
    assert [(m.effective_on, m.amount_cents) for m in history.movements] == [(date(2025, 5, 2), 5_000)]
    assert (positions[member.id].shares, positions[member.id].capital_cents) == (3, 10_000)


async def test_billing_records_dividend_credits_and_payouts_with_their_sign_and_nothing_else(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings, shares=2, paid_cents=10_000)

    await members.record_capital_change(
        db_session,
        actor=BOARD,
        member_id=member.id,
        kind=CapitalMovementKind.DIVIDEND_CREDIT,
        amount_cents=300,
        effective_on=date(2026, 6, 15),
        reference="Dividende 2025",
    )
    await members.record_capital_change(
        db_session,
        actor=BOARD,
        member_id=member.id,
        kind=CapitalMovementKind.PAYOUT,
        amount_cents=10_300,
        effective_on=date(2026, 7, 1),
        reference="Auseinandersetzungsguthaben",
    )
    with pytest.raises(Invalid):
        await members.record_capital_change(
            db_session,
            actor=BOARD,
            member_id=member.id,
            kind=CapitalMovementKind.PAYMENT,
            amount_cents=100,
            effective_on=date(2026, 7, 1),
            reference="no",
        )

    assert await repository.capital_on(db_session, member.id, date(2026, 6, 30)) == 10_300
    assert await repository.capital_on(db_session, member.id, date(2026, 7, 1)) == 0
