"""A dividend run on PostgreSQL: a year of capital history, computed by hand below, booked once, the books
balanced, and a second run booking nothing.

Business year 2025 (365 days), 4 % on paid-in capital, decided on 15 June 2026 (so exemption orders of 2026
apply), 25 % capital gains tax and 5.5 % solidarity surcharge, fractions of a cent dropped:

- Anna: 300.00 from admission on 1 July (184 days): 300 × 4 % × 184/365 = 6.0493 → 6.05; no exemption; tax 1.51,
  soli 0.08, net 4.46, paid out.
- Bernd: 1,000.00 all year: 40.00; 36.00 of his exemption order left, so 4.00 taxed: tax 1.00, soli 0.05, net
  38.95, credited to capital (100.00 of his 11 shares unpaid).
- Carla: 200.00 until she left on 31 March (all shares passed on, 90 days): 200 × 4 % × 90/365 = 1.9726 → 1.97;
  tax 0.49, soli 0.02, net 1.46; she asked for capital, but is no longer a member: paid out.
- Dieter: 100.00 all year plus Carla's 200.00 from 1 April (275 days): 4.00 + 6.0274 = 10.0274 → 10.03; tax 2.50,
  soli 0.13, net 7.40, set off on the next invoice.

Tax: Anna 25 % × 6.05 = 1.5125 → 1.51, soli 5.5 % × 1.51 = 0.08305 → 0.08; Bernd 25 % × 4.00 = 1.00, soli 0.055
→ 0.05; Carla 25 % × 1.97 = 0.4925 → 0.49, soli 0.02695 → 0.02; Dieter 25 % × 10.03 = 2.5075 → 2.50, soli
0.1375 → 0.13.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.errors import Conflict, Invalid
from app.members import repository as members_repository
from app.members.models import CapitalMovementKind, Member
from app.settings import Settings
from billing.dividends import service
from billing.dividends.models import AllocationStatus, DecisionStatus, DividendChoice
from billing.ledger import repository as ledger_repository
from billing.ledger import service as ledger
from billing.ledger.models import SourceKind
from tests.billing.dividends.builders import make_decision, make_year_2025
from tests.builders import BOARD

PROFIT, PAYABLE, TAX, SOLI, CAPITAL = "0860", "1795", "1747", "1748", "0800"

# member -> (gross, exemption used, tax, soli, net, to capital, paid out, set off)
EXPECTED = {
    "joined": (605, 0, 151, 8, 446, 0, 446, 0),
    "exempt": (4_000, 3_600, 100, 5, 3_895, 3_895, 0, 0),
    "left": (197, 0, 49, 2, 146, 0, 146, 0),
    "receiver": (1_003, 0, 250, 13, 740, 0, 0, 740),
}


def _row(a: object) -> tuple[int, ...]:
    fields = (
        "gross_cents",
        "exemption_used_cents",
        "capital_gains_tax_cents",
        "solidarity_surcharge_cents",
        "net_cents",
        "to_capital_cents",
        "payout_cents",
        "set_off_cents",
    )
    return tuple(getattr(a, f) for f in fields)


async def _balance(session: AsyncSession, code: str, member: Member | None = None) -> int:
    if member is None:
        return (await ledger.account_balance(session, actor=BOARD, account=code)).balance_cents
    balances = await ledger.member_balances(session, actor=BOARD, member_id=member.id)
    return sum(a.balance_cents for a in balances.accounts if a.code == code)


async def _dividend_entries(session: AsyncSession) -> int:
    filters = ledger_repository.EntryFilter(source_kind=SourceKind.DIVIDEND)
    return (await ledger_repository.search_entries(session, filters=filters, limit=None))[1]


async def test_a_dividend_run_matches_the_hand_computation_balances_the_books_and_runs_once(
    db_session: AsyncSession, settings: Settings
) -> None:
    year = await make_year_2025(db_session, settings)
    decision = await make_decision(db_session, settings)
    who = {getattr(year, name).id: name for name in EXPECTED}

    preview = await service.preview(db_session, actor=BOARD, settings=settings, decision_id=decision.id)
    first = await service.run(db_session, actor=BOARD, settings=settings, decision_id=decision.id)
    entries_after_first = await _dividend_entries(db_session)
    second = await service.run(db_session, actor=BOARD, settings=settings, decision_id=decision.id)
    booked = await service.preview(db_session, actor=BOARD, settings=settings, decision_id=decision.id)

    assert {who[a.member_id]: _row(a) for a in preview.allocations} == EXPECTED
    assert {who[a.member_id]: _row(a) for a in booked.allocations} == EXPECTED
    assert preview.totals.gross_cents == 605 + 4_000 + 197 + 1_003
    assert first.status is DecisionStatus.BOOKED
    # gross for each of 4, withholding for each of 4, one credit to capital
    assert first.entries == 9
    assert entries_after_first == 9
    assert second.entries == 0
    assert await _dividend_entries(db_session) == 9

    trial = await ledger.trial_balance(db_session, actor=BOARD)
    assert trial.balance_cents == 0
    assert trial.debit_cents == trial.credit_cents
    assert await _balance(db_session, PROFIT) == 5_805
    assert await _balance(db_session, TAX) == -(151 + 100 + 49 + 250)
    assert await _balance(db_session, SOLI) == -(8 + 5 + 2 + 13)
    assert [await _balance(db_session, PAYABLE, getattr(year, n)) for n in EXPECTED] == [-446, 0, -146, -740]
    assert await _balance(db_session, CAPITAL, year.exempt) == -(100_000 + 3_895)

    credits = [
        m
        for m in await members_repository.capital_movements(db_session, year.exempt.id)
        if m.kind is CapitalMovementKind.DIVIDEND_CREDIT
    ]
    assert [(m.amount_cents, m.effective_on) for m in credits] == [(3_895, date(2026, 6, 15))]
    await db_session.refresh(year.order)
    assert year.order.used_cents == 100_000


async def test_set_offs_wait_for_the_next_invoice_and_payouts_go_to_payments(
    db_session: AsyncSession, settings: Settings
) -> None:
    year = await make_year_2025(db_session, settings)
    decision = await make_decision(db_session, settings)

    before = await service.payout_instructions(db_session, decision.id)
    await service.run(db_session, actor=BOARD, settings=settings, decision_id=decision.id)
    after = await service.payout_instructions(db_session, decision.id)
    allocations = (
        await service.preview(db_session, actor=BOARD, settings=settings, decision_id=decision.id)
    ).allocations

    assert before == []
    assert sorted((i.member_id, i.amount_cents, i.reference) for i in after) == sorted(
        [
            (year.joined.id, 446, f"Dividende 2025 Mitglied {year.joined.number}"),
            (year.left.id, 146, f"Dividende 2025 Mitglied {year.left.number}"),
        ]
    )
    statuses = {a.member_id: a.status for a in allocations}
    assert statuses[year.receiver.id] is AllocationStatus.SET_OFF_PENDING
    assert statuses[year.joined.id] is AllocationStatus.BOOKED
    choice = {a.member_id: a.choice for a in allocations}
    assert choice[year.left.id] is DividendChoice.CAPITAL  # her choice is kept, but a former member is paid


async def test_a_draft_preview_stores_nothing_and_follows_a_changed_rate(
    db_session: AsyncSession, settings: Settings
) -> None:
    year = await make_year_2025(db_session, settings)
    decision = await make_decision(db_session, settings, rate_percent="4")

    await service.preview(db_session, actor=BOARD, settings=settings, decision_id=decision.id)
    again = await make_decision(db_session, settings, rate_percent="2")
    preview = await service.preview(db_session, actor=BOARD, settings=settings, decision_id=decision.id)

    assert again.id == decision.id
    assert decision.status is DecisionStatus.DRAFT
    assert {a.member_id: a.gross_cents for a in preview.allocations}[year.exempt.id] == 2_000


async def test_a_decision_before_the_year_ends_is_refused_and_a_late_one_warned(
    db_session: AsyncSession, settings: Settings
) -> None:
    with pytest.raises(Invalid) as early:
        await make_decision(db_session, settings, decided_on=date(2025, 12, 31))
    late = await make_decision(db_session, settings, decided_on=date(2026, 7, 1))

    assert early.value.code == "dividend_before_year_end"
    assert late.late is True
    assert service.decision_out(late).warnings


async def test_a_booked_decision_cannot_be_entered_again(db_session: AsyncSession, settings: Settings) -> None:
    await make_year_2025(db_session, settings)
    decision = await make_decision(db_session, settings)
    await service.run(db_session, actor=BOARD, settings=settings, decision_id=decision.id)

    with pytest.raises(Conflict) as error:
        await make_decision(db_session, settings, rate_percent="5")

    assert error.value.code == "dividend_decided"
