"""Dunning: reminder, warning and suspension on the days the settings give, suspension only as §61 TKG
allows it, fees in the books, and service back once the member has paid."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts import service as contracts
from app.contracts.models import ContractStatus
from app.settings import Settings
from billing.dunning import service as dunning
from billing.dunning.models import DunningLevel, DunningNotice, DunningStatus
from billing.dunning.schemas import OverdueItem
from billing.ledger import service as ledger
from tests.builders import BOARD, OPERATOR, make_contract, make_member

DUE = date(2026, 10, 15)


def overdue(member_id: int, open_cents: int, *, due_on: date = DUE, number: str = "2026-000001") -> OverdueItem:
    return OverdueItem(invoice_id=1, number=number, member_id=member_id, due_on=due_on, open_cents=open_cents)


def notice(level: DunningLevel, issued_on: date, *, suspension_on: date | None = None) -> DunningNotice:
    return DunningNotice(member_id=7, level=int(level), issued_on=issued_on, suspension_on=suspension_on)


def test_the_steps_follow_the_days_and_the_law(settings: Settings) -> None:
    items = [overdue(7, 15_000)]

    def step(today: date, latest: DunningNotice | None = None) -> tuple[DunningLevel, date | None] | None:
        found = dunning.next_step(settings, today=today, member_id=7, items=items, latest=latest)
        return None if found is None else (found.level, found.suspension_on)

    reminder = notice(DunningLevel.REMINDER, date(2026, 10, 22))
    warning = notice(DunningLevel.WARNING, date(2026, 11, 5), suspension_on=date(2026, 11, 19))

    assert step(date(2026, 10, 21)) is None  # 6 days after the due date
    assert step(date(2026, 10, 22)) == (DunningLevel.REMINDER, None)
    assert step(date(2026, 11, 4), reminder) is None
    assert step(date(2026, 11, 5), reminder) == (DunningLevel.WARNING, date(2026, 11, 19))  # two weeks ahead
    assert step(date(2026, 11, 18), warning) is None
    assert step(date(2026, 11, 19), warning) == (DunningLevel.SUSPENSION, date(2026, 11, 19))
    assert step(date(2026, 12, 1), notice(DunningLevel.SUSPENSION, date(2026, 11, 19))) is None


def test_less_than_100_euros_is_warned_but_never_suspended_and_trifles_are_not_dunned(settings: Settings) -> None:
    small = [overdue(7, 9_999)]
    reminder = notice(DunningLevel.REMINDER, date(2026, 10, 22))

    warned = dunning.next_step(settings, today=date(2026, 11, 5), member_id=7, items=small, latest=reminder)
    assert warned is not None and (warned.level, warned.suspension_on) == (DunningLevel.WARNING, None)
    plain_warning = notice(DunningLevel.WARNING, date(2026, 11, 5))
    assert dunning.next_step(settings, today=date(2027, 1, 5), member_id=7, items=small, latest=plain_warning) is None
    grown = [*small, overdue(7, 5_000, due_on=date(2026, 11, 15), number="2026-000002")]
    again = dunning.next_step(settings, today=date(2026, 11, 19), member_id=7, items=grown, latest=plain_warning)
    assert again is not None and (again.level, again.suspension_on) == (DunningLevel.WARNING, date(2026, 12, 3))
    trifle = [overdue(7, settings.dunning_minimum_cents - 1)]
    assert dunning.next_step(settings, today=date(2027, 1, 5), member_id=7, items=trifle, latest=None) is None
    not_yet_due = [overdue(7, 15_000, due_on=date(2026, 11, 5))]
    assert dunning.next_step(settings, today=date(2026, 11, 5), member_id=7, items=not_yet_due, latest=None) is None


async def _receivable(session: AsyncSession, member_id: int) -> int:
    balances = await ledger.member_balances(session, actor=BOARD, member_id=member_id)
    return sum(a.balance_cents for a in balances.accounts if a.code == "1400")


async def test_a_member_in_arrears_is_reminded_warned_with_a_fee_suspended_and_resumed_after_paying(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    contract = await make_contract(db_session, settings, member=member)
    other = await make_contract(db_session, settings, member=member)
    await contracts.transition(
        db_session, actor=BOARD, settings=settings, contract_id=other.id, to=ContractStatus.SUSPENDED
    )
    items = [overdue(member.id, 12_000)]
    receivable_before = await _receivable(db_session, member.id)

    async def run(today: date, items: list[OverdueItem]) -> dunning.DunningReport:
        return await dunning.run(db_session, actor=OPERATOR, settings=settings, today=today, overdue=items)

    reminded = await run(date(2026, 10, 22), items)
    twice = await run(date(2026, 10, 22), items)
    warned = await run(date(2026, 11, 5), items)
    early = await run(date(2026, 11, 18), items)
    suspended = await run(date(2026, 11, 19), items)
    state_suspended = (await contracts.contract_states(db_session, contract_ids=[contract.id]))[contract.id]
    notices, _ = await dunning.list_notices(db_session, actor=OPERATOR, member_id=member.id)
    paid = await run(date(2026, 11, 25), [])
    states = await contracts.contract_states(db_session, contract_ids=[contract.id, other.id])
    after, _ = await dunning.list_notices(db_session, actor=OPERATOR, member_id=member.id)

    assert (reminded.reminders, twice.notices, warned.warnings, early.notices) == (1, [], 1, [])
    assert (suspended.suspensions, suspended.contracts_suspended) == (1, 1)
    assert state_suspended is ContractStatus.SUSPENDED
    by_level = {n.level: n for n in notices}
    assert by_level[DunningLevel.WARNING].suspension_on == date(2026, 11, 19)
    assert by_level[DunningLevel.WARNING].fee_cents == settings.dunning_warning_fee_cents == 250
    # Only the contract that was active is suspended by dunning, and only it is resumed.
    assert by_level[DunningLevel.SUSPENSION].suspended_contract_ids == [contract.id]
    assert await _receivable(db_session, member.id) - receivable_before == 250
    assert (paid.contracts_resumed, paid.settled) == (1, 3)
    assert states == {contract.id: ContractStatus.ACTIVE, other.id: ContractStatus.SUSPENDED}
    assert {(n.status, n.settled_on) for n in after} == {(DunningStatus.SETTLED, date(2026, 11, 25))}


async def test_paying_below_the_threshold_resumes_service_but_keeps_the_notices_open(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    contract = await make_contract(db_session, settings, member=member)
    items = [overdue(member.id, 20_000)]
    day = date(2026, 10, 22)
    for _ in range(3):
        await dunning.run(db_session, actor=OPERATOR, settings=settings, today=day, overdue=items)
        day += timedelta(days=14)
    state = (await contracts.contract_states(db_session, contract_ids=[contract.id]))[contract.id]

    partly = await dunning.run(
        db_session, actor=OPERATOR, settings=settings, today=day, overdue=[overdue(member.id, 5_000)]
    )
    notices, _ = await dunning.list_notices(db_session, actor=OPERATOR, member_id=member.id, status=DunningStatus.OPEN)

    assert state is ContractStatus.SUSPENDED
    assert (partly.contracts_resumed, partly.settled, partly.notices) == (1, 0, [])
    assert (await contracts.contract_states(db_session, contract_ids=[contract.id]))[
        contract.id
    ] is ContractStatus.ACTIVE
    assert len(notices) == 3 and notices[0].resumed_on == day
    # The arrears grow again: a new warning announces a new suspension two weeks ahead.
    grown = [overdue(member.id, 5_000), overdue(member.id, 9_000, due_on=day, number="2026-000002")]
    same_day = await dunning.run(db_session, actor=OPERATOR, settings=settings, today=day, overdue=grown)
    later = day + timedelta(days=14)
    rewarned = await dunning.run(db_session, actor=OPERATOR, settings=settings, today=later, overdue=grown)
    [warning] = [
        n
        for n in (await dunning.list_notices(db_session, actor=OPERATOR, member_id=member.id))[0]
        if n.id in rewarned.notices
    ]

    assert same_day.notices == []
    assert (warning.level, warning.suspension_on) == (DunningLevel.WARNING, later + timedelta(days=14))
