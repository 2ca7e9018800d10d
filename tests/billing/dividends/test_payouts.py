"""Leaving members' capital (§73 GenG): computed as of the leaving date, scheduled after the balance sheet's
approval within six months after the year, booked capital to capital payable once, optionally set off
against what the member owes, and handed to payments when due."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.errors import Conflict, Invalid
from app.members import repository as members_repository
from app.members import service as members
from app.members.models import Member
from app.settings import Settings
from billing.dividends import payouts
from billing.dividends.schemas import CapitalPayoutSchedule
from billing.ledger import service as ledger
from tests.builders import BOARD, credit, debit, make_member, post_entry

CAPITAL, CAPITAL_PAYABLE, RECEIVABLES, REVENUE = "0800", "1797", "1400", "8401"


async def _member_balance(session: AsyncSession, code: str, member: Member) -> int:
    balances = await ledger.member_balances(session, actor=BOARD, member_id=member.id)
    return sum(a.balance_cents for a in balances.accounts if a.code == code)


async def _leaver(session: AsyncSession, settings: Settings) -> Member:
    """Emil: 300.00 EUR on 3 shares since 2024, notice on 1 March 2025, so he leaves on 31 December 2025."""
    emil = await make_member(
        session, settings, first_name="Emil", shares=3, applied_on=date(2024, 1, 2), admitted_on=date(2024, 1, 15)
    )
    await members.give_notice(session, actor=BOARD, settings=settings, member_id=emil.id, received_on=date(2025, 3, 1))
    return emil


async def _schedule(session: AsyncSession, settings: Settings, approved_on: date) -> list[int]:
    data = CapitalPayoutSchedule(business_year=2025, balance_sheet_approved_on=approved_on)
    return [
        p.member_id for p in await payouts.schedule_capital_payouts(session, actor=BOARD, settings=settings, data=data)
    ]


async def test_a_member_who_left_at_the_year_end_is_paid_their_capital_once(
    db_session: AsyncSession, settings: Settings
) -> None:
    emil = await _leaver(db_session, settings)
    stays = await make_member(
        db_session, settings, first_name="Frida", shares=2, applied_on=date(2024, 1, 2), admitted_on=date(2024, 1, 15)
    )

    first = await _schedule(db_session, settings, date(2026, 5, 20))
    second = await _schedule(db_session, settings, date(2026, 5, 20))
    scheduled = await payouts.capital_payouts(db_session, actor=BOARD, business_year=2025)

    assert first == [emil.id]
    assert second == []
    assert [(p.capital_cents, p.left_on, p.due_on) for p in scheduled] == [
        (30_000, date(2025, 12, 31), date(2026, 6, 19))  # approval + 30 days, inside six months
    ]
    assert await _member_balance(db_session, CAPITAL, emil) == 0
    assert await _member_balance(db_session, CAPITAL_PAYABLE, emil) == -30_000
    assert await _member_balance(db_session, CAPITAL, stays) == -20_000
    assert await members_repository.capital_on(db_session, emil.id, date(2026, 5, 20)) == 0
    assert await members_repository.capital_on(db_session, emil.id, date(2025, 12, 31)) == 30_000
    assert (await ledger.trial_balance(db_session, actor=BOARD)).balance_cents == 0


async def test_a_late_approval_makes_the_payout_due_at_the_six_month_limit_or_at_once(
    db_session: AsyncSession, settings: Settings
) -> None:
    assert payouts.payout_due_on(settings, date(2025, 12, 31), date(2026, 6, 25)) == date(2026, 6, 30)
    assert payouts.payout_due_on(settings, date(2025, 12, 31), date(2026, 8, 1)) == date(2026, 8, 1)
    with pytest.raises(Invalid) as error:
        await _schedule(db_session, settings, date(2025, 12, 31))

    assert error.value.code == "balance_sheet_before_year_end"


async def test_open_receivables_can_be_set_off_and_only_the_rest_is_handed_to_payments(
    db_session: AsyncSession, settings: Settings
) -> None:
    emil = await _leaver(db_session, settings)
    await post_entry(db_session, debit(RECEIVABLES, 5_000, member=emil), credit(REVENUE, 5_000))
    await _schedule(db_session, settings, date(2026, 5, 20))
    (offered,) = await payouts.capital_payouts(db_session, actor=BOARD, business_year=2025)

    payout = await payouts.set_off_receivables(db_session, actor=BOARD, payout_id=offered.id, on=date(2026, 5, 21))
    not_yet = await payouts.capital_payout_instructions(db_session, due_by=date(2026, 6, 18))
    due = await payouts.capital_payout_instructions(db_session, due_by=date(2026, 6, 19))
    with pytest.raises(Conflict):
        await payouts.set_off_receivables(db_session, actor=BOARD, payout_id=offered.id, on=date(2026, 5, 21))
    await payouts.mark_handed_over(db_session, payout_ids=[payout.id])

    assert offered.open_receivables_cents == 5_000
    assert payout.set_off_cents == 5_000
    assert await _member_balance(db_session, RECEIVABLES, emil) == 0
    assert await _member_balance(db_session, CAPITAL_PAYABLE, emil) == -25_000
    assert not_yet == []
    assert [(i.member_id, i.amount_cents, i.reference) for i in due] == [
        (emil.id, 25_000, f"Auseinandersetzungsguthaben 2025 Mitglied {emil.number}")
    ]
    assert await payouts.capital_payout_instructions(db_session, due_by=date(2026, 6, 19)) == []
