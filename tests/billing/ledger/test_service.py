"""Posting into the ledger: balanced entries are booked, anything else is refused with a code; a source is
booked once; corrections are reversals; balances and the trial balance add up."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Actor, Channel, Role
from app.kit.errors import Conflict, Forbidden, Invalid, NotFound
from app.settings import Settings
from billing.ledger import service as ledger
from billing.ledger.models import AccountKind, JournalEntry, JournalLine, SourceKind, SystemAccount
from billing.ledger.schemas import AccountCreate, EntryDraft, LineDraft
from tests.builders import BOARD, credit, debit, entry_draft, make_member, post_entry

BANK, RECEIVABLES, VAT, CAPITAL, INTERNET = "1200", "1400", "1776", "0800", "8401"


async def count_entries(session: AsyncSession) -> int:
    return int((await session.execute(sa.select(sa.func.count()).select_from(JournalEntry))).scalar_one())


async def test_the_chart_holds_every_system_account_with_its_member_dimension(db_session: AsyncSession) -> None:
    accounts = {a.system_key: a for a in await ledger.list_accounts(db_session, actor=BOARD) if a.system_key}

    assert set(accounts) == set(SystemAccount)
    assert {k for k, a in accounts.items() if a.per_member} == {
        SystemAccount.RECEIVABLES,
        SystemAccount.MEMBER_CAPITAL,
        SystemAccount.DIVIDENDS_PAYABLE,
        SystemAccount.CAPITAL_PAYABLE,
    }
    assert accounts[SystemAccount.VAT_19].kind is AccountKind.LIABILITY
    assert accounts[SystemAccount.MEMBER_CAPITAL].kind is AccountKind.EQUITY
    assert accounts[SystemAccount.BANK].code == BANK


async def test_a_balanced_invoice_entry_is_booked_with_its_lines(db_session: AsyncSession, settings: Settings) -> None:
    member = await make_member(db_session, settings, paid_cents=0)

    entry = await post_entry(
        db_session,
        debit(RECEIVABLES, 4748, member=member),
        credit(INTERNET, 3990),
        credit(VAT, 758),
        text="Rechnung 2026-0001",
    )

    stored = (await db_session.execute(sa.select(JournalLine).where(JournalLine.entry_id == entry.id))).scalars()
    assert sorted((line.debit_cents, line.credit_cents, line.member_id) for line in stored) == [
        (0, 758, None),
        (0, 3990, None),
        (4748, 0, member.id),
    ]
    assert entry.text == "Rechnung 2026-0001"
    assert entry.currency == "EUR"


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        ([debit(BANK, 100), credit(INTERNET, 90)], "ledger_unbalanced"),
        ([debit(BANK, 100)], "ledger_too_few_lines"),
        ([debit(BANK, 0), credit(INTERNET, 0)], "ledger_amount_not_positive"),
        ([debit(BANK, -100), credit(INTERNET, -100)], "ledger_amount_not_positive"),
        (
            [LineDraft(account=BANK, debit_cents=100, credit_cents=50), credit(INTERNET, 50)],
            "ledger_line_both_sides",
        ),
        ([debit("9999", 100), credit(INTERNET, 100)], "ledger_unknown_account"),
        ([debit(RECEIVABLES, 100), credit(INTERNET, 100)], "ledger_member_required"),
        ([debit(BANK, 100, member=1), credit(INTERNET, 100)], "ledger_member_not_allowed"),
        ([debit(RECEIVABLES, 100, member=987_654_321), credit(INTERNET, 100)], "ledger_unknown_member"),
    ],
)
async def test_entries_breaking_a_rule_are_refused_with_its_code_and_book_nothing(
    db_session: AsyncSession, lines: list[LineDraft], code: str
) -> None:
    before = await count_entries(db_session)

    with pytest.raises(Invalid) as refused:
        await post_entry(db_session, *lines)

    assert refused.value.code == code
    assert await count_entries(db_session) == before


async def test_only_euro_is_booked(db_session: AsyncSession) -> None:
    draft = entry_draft(debit(BANK, 100), credit(INTERNET, 100)).model_copy(update={"currency": "USD"})

    with pytest.raises(Invalid) as refused:
        await ledger.post(db_session, actor=BOARD, entry=draft)

    assert refused.value.code == "ledger_currency"


async def test_a_closed_account_takes_no_postings_after_its_closing_day(db_session: AsyncSession) -> None:
    fees = AccountCreate(code="4980", name="Sonstiger Betriebsbedarf", kind=AccountKind.EXPENSE)
    await ledger.create_account(db_session, actor=BOARD, data=fees)
    await ledger.close_account(db_session, actor=BOARD, code="4980", closed_on=date(2026, 1, 31))

    on_the_day = await post_entry(db_session, debit("4980", 500), credit(BANK, 500), entry_date=date(2026, 1, 31))
    with pytest.raises(Invalid) as refused:
        await post_entry(db_session, debit("4980", 500), credit(BANK, 500), entry_date=date(2026, 2, 1))

    assert on_the_day.id is not None
    assert refused.value.code == "ledger_account_closed"


async def test_the_software_s_own_accounts_cannot_be_closed(db_session: AsyncSession) -> None:
    with pytest.raises(Conflict) as refused:
        await ledger.close_account(db_session, actor=BOARD, code=BANK, closed_on=date(2026, 1, 31))

    assert refused.value.code == "ledger_system_account"


async def test_posting_the_same_source_again_returns_the_entry_booked_for_it(db_session: AsyncSession) -> None:
    first = await post_entry(db_session, debit(BANK, 1000), credit(INTERNET, 1000), source_id="BANK-2026-17")
    before = await count_entries(db_session)

    again = await post_entry(db_session, credit(INTERNET, 1000), debit(BANK, 1000), source_id="BANK-2026-17")

    assert again.id == first.id
    assert await count_entries(db_session) == before


async def test_the_same_source_with_other_amounts_is_a_conflict_not_a_second_booking(db_session: AsyncSession) -> None:
    first = await post_entry(db_session, debit(BANK, 1000), credit(INTERNET, 1000), source_id="BANK-2026-18")
    before = await count_entries(db_session)

    with pytest.raises(Conflict) as refused:
        await post_entry(db_session, debit(BANK, 2000), credit(INTERNET, 2000), source_id="BANK-2026-18")
    with pytest.raises(Conflict):
        await post_entry(
            db_session, debit(BANK, 1000), credit(INTERNET, 1000), source_id="BANK-2026-18", entry_date=date(2026, 2, 1)
        )

    assert refused.value.code == "ledger_source_conflict"
    assert refused.value.extra["entry_id"] == first.id
    assert await count_entries(db_session) == before


async def test_a_reversal_swaps_every_line_names_the_entry_and_zeroes_its_effect(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings, paid_cents=0)
    original = await post_entry(
        db_session, debit(RECEIVABLES, 119, member=member), credit(INTERNET, 100), credit(VAT, 19), text="Rechnung 7"
    )

    reversal = await ledger.reverse(db_session, actor=BOARD, entry_id=original.id, reversed_on=date(2026, 2, 3))
    shown = {e.id: e for e in await ledger.entries_out(db_session, [original, reversal])}

    assert reversal.reverses_id == original.id
    assert reversal.entry_date == date(2026, 2, 3)
    assert reversal.text == f"Storno {original.document_number}: Rechnung 7"
    assert shown[original.id].reversed_by_id == reversal.id
    assert sorted((line.account, line.debit_cents, line.credit_cents) for line in shown[reversal.id].lines) == [
        (RECEIVABLES, 0, 119),
        (VAT, 19, 0),
        (INTERNET, 100, 0),
    ]
    balances = await ledger.member_balances(db_session, actor=BOARD, member_id=member.id)
    receivable = next(a for a in balances.accounts if a.code == RECEIVABLES)
    assert (receivable.debit_cents, receivable.credit_cents, receivable.balance_cents) == (119, 119, 0)
    before_reversal = await ledger.member_balances(db_session, actor=BOARD, member_id=member.id, on=date(2026, 2, 2))
    assert next(a for a in before_reversal.accounts if a.code == RECEIVABLES).balance_cents == 119


async def test_an_entry_is_reversed_once_and_not_before_its_own_date(db_session: AsyncSession) -> None:
    original = await post_entry(db_session, debit(BANK, 500), credit(INTERNET, 500), entry_date=date(2026, 3, 10))

    with pytest.raises(Invalid) as too_early:
        await ledger.reverse(db_session, actor=BOARD, entry_id=original.id, reversed_on=date(2026, 3, 9))
    reversal = await ledger.reverse(db_session, actor=BOARD, entry_id=original.id, reversed_on=date(2026, 3, 10))
    with pytest.raises(Conflict) as twice:
        await ledger.reverse(db_session, actor=BOARD, entry_id=original.id, reversed_on=date(2026, 3, 11))

    assert too_early.value.code == "ledger_reversal_before_entry"
    assert twice.value.code == "ledger_already_reversed"
    assert twice.value.extra["entry_id"] == reversal.id


async def test_a_source_s_entry_is_reversed_once_not_before_its_date_and_nothing_booked_is_nothing_reversed(
    db_session: AsyncSession,
) -> None:
    original = await post_entry(
        db_session, debit(BANK, 500), credit(INTERNET, 500), entry_date=date(2026, 3, 10), source_id="R-1"
    )

    early = await ledger.reverse_source(
        db_session, actor=BOARD, kind=SourceKind.MANUAL, source_id="R-1", reversed_on=date(2026, 3, 1)
    )
    again = await ledger.reverse_source(
        db_session, actor=BOARD, kind=SourceKind.MANUAL, source_id="R-1", reversed_on=date(2026, 4, 1)
    )
    nothing = await ledger.reverse_source(
        db_session, actor=BOARD, kind=SourceKind.MANUAL, source_id="R-2", reversed_on=date(2026, 4, 1)
    )

    assert early is not None and again is not None
    assert (early.reverses_id, early.entry_date) == (original.id, date(2026, 3, 10))
    assert again.id == early.id
    assert nothing is None


async def test_reversals_are_only_made_by_reversing(db_session: AsyncSession) -> None:
    draft = EntryDraft.model_validate(
        {**entry_draft(debit(BANK, 1), credit(INTERNET, 1)).model_dump(), "source_kind": "reversal"}
    )

    with pytest.raises(Invalid) as refused:
        await ledger.post(db_session, actor=BOARD, entry=draft)

    assert refused.value.code == "ledger_source_reserved"


async def test_members_cannot_post_and_see_only_their_own_balances(
    db_session: AsyncSession, settings: Settings
) -> None:
    anna = await make_member(db_session, settings)
    ben = await make_member(db_session, settings)
    as_anna = Actor(user_id=None, label="anna", role=Role.MEMBER, channel=Channel.API, member_id=anna.id)

    with pytest.raises(Forbidden):
        await ledger.post(db_session, actor=as_anna, entry=entry_draft(debit(BANK, 1), credit(INTERNET, 1)))
    own = await ledger.member_balances(db_session, actor=as_anna, member_id=anna.id)
    with pytest.raises(NotFound):
        await ledger.member_balances(db_session, actor=as_anna, member_id=ben.id)
    with pytest.raises(Forbidden):
        await ledger.trial_balance(db_session, actor=as_anna)

    assert next(a for a in own.accounts if a.code == CAPITAL).balance_cents == -settings.share_nominal_cents


async def test_the_trial_balance_lists_every_account_and_its_balances_sum_to_zero(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings, shares=2)  # pays 200.00 EUR in: bank to capital
    await post_entry(db_session, debit(RECEIVABLES, 4748, member=member), credit(INTERNET, 3990), credit(VAT, 758))
    await post_entry(
        db_session, debit(BANK, 4748), credit(RECEIVABLES, 4748, member=member), entry_date=date(2026, 2, 2)
    )

    whole = await ledger.trial_balance(db_session, actor=BOARD)
    january = await ledger.trial_balance(db_session, actor=BOARD, on=date(2026, 1, 31))

    rows = {a.code: (a.debit_cents, a.credit_cents, a.balance_cents) for a in whole.accounts}
    assert rows[BANK] == (20_000 + 4748, 0, 24_748)
    assert rows[CAPITAL] == (0, 20_000, -20_000)
    assert rows[RECEIVABLES] == (4748, 4748, 0)
    assert rows[INTERNET] == (0, 3990, -3990)
    assert rows[VAT] == (0, 758, -758)
    assert rows["1795"] == (0, 0, 0)  # accounts without postings are listed too
    assert len(rows) == len(await ledger.list_accounts(db_session, actor=BOARD))
    assert whole.balance_cents == 0
    assert whole.debit_cents == whole.credit_cents == 20_000 + 4748 + 4748
    assert {a.code: a.balance_cents for a in january.accounts}[RECEIVABLES] == 4748
    assert january.balance_cents == 0


async def test_an_account_balance_is_read_by_system_key_or_code(db_session: AsyncSession, settings: Settings) -> None:
    await make_member(db_session, settings, shares=3, admitted_on=date(2025, 1, 10))
    await make_member(db_session, settings, shares=1, admitted_on=date(2025, 6, 1))

    by_key = await ledger.account_balance(db_session, actor=BOARD, account=SystemAccount.MEMBER_CAPITAL)
    by_code_in_spring = await ledger.account_balance(db_session, actor=BOARD, account=CAPITAL, on=date(2025, 5, 31))

    assert by_key.balance_cents == -40_000
    assert by_code_in_spring.balance_cents == -30_000
