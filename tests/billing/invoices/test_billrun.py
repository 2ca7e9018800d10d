"""A bill run bills every member once a month for all their contracts, with every field §14 UStG asks for,
books what it issued in the ledger, settles pending credits, and bills nothing twice."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import bind_actor
from app.kit.time import local_today
from app.members import service as members
from app.members.schemas import ContactUpdate
from app.settings import Settings
from billing.invoices import repository, service
from billing.invoices.models import BillRunStatus, InvoiceStatus
from billing.invoices.schemas import CreditDraft, CreditNoteCreate
from billing.ledger.models import SystemAccount
from tests.billing.invoices.builders import run_period
from tests.builders import BOARD, OPERATOR, make_contract, make_member, make_plan

PERIOD = "2026-10"


async def _ledger_totals(session: AsyncSession) -> dict[str, tuple[int, int]]:
    rows = await session.execute(
        sa.text(
            "SELECT a.system_key, coalesce(sum(l.debit_cents), 0), coalesce(sum(l.credit_cents), 0) "
            "FROM journal_lines l JOIN ledger_accounts a ON a.id = l.account_id "
            "JOIN journal_entries e ON e.id = l.entry_id "
            "WHERE e.source_kind IN ('invoice', 'credit_note', 'set_off') GROUP BY a.system_key"
        )
    )
    return {str(key): (int(d), int(c)) for key, d, c in rows.all()}


async def _invoices(session: AsyncSession, settings: Settings, run_id: int) -> list[service.InvoiceDetail]:
    found, _ = await repository.search(
        session, actor=BOARD, filters=repository.InvoiceFilter(bill_run_id=run_id), limit=100, offset=0
    )
    return [await service.invoice_detail(session, actor=BOARD, settings=settings, invoice_id=i.id) for i in found]


async def test_a_bill_run_issues_complete_invoices_whose_totals_equal_the_ledger(
    db_session: AsyncSession, settings: Settings
) -> None:
    plan = await make_plan(db_session, min_term_months=12, fee_cents=3990, setup_fee_cents=4900)
    erika = await make_member(db_session, settings, first_name="Erika", last_name="Mustermann")
    max_ = await make_member(db_session, settings, first_name="Max", last_name="Beispiel")
    await make_contract(db_session, settings, member=erika, plan=plan, active_from=date(2025, 2, 15))
    await make_contract(db_session, settings, member=erika, plan=plan, active_from=date(2025, 3, 1))
    # Started on 10 October: 22 of 31 days, and its setup fee on this first invoice.
    await make_contract(
        db_session, settings, member=max_, plan=plan, ordered_on=date(2026, 9, 1), active_from=date(2026, 10, 10)
    )

    run = await run_period(db_session, settings, period=PERIOD)
    invoices = {i.member_id: i for i in await _invoices(db_session, settings, run.id)}

    assert run.status is BillRunStatus.ISSUED
    assert run.invoice_count == 2
    first, second = invoices[erika.id], invoices[max_.id]
    year = local_today(settings.timezone).year
    assert sorted([first.number, second.number]) == [f"{year}-000001", f"{year}-000002"]
    assert [line.net_cents for line in first.lines] == [3990, 3990]
    assert [(line.net_cents, line.unit, line.quantity) for line in second.lines] == [
        (2832, "DAY", 22),
        (4900, "C62", 1),
    ]
    assert second.lines[0].period_start == date(2026, 10, 10)
    assert second.lines[0].period_end == date(2026, 10, 31)
    # §14 (4) UStG: both parties, tax number / VAT ID, date, number, service, period, net per rate, rate, VAT.
    assert first.seller_name == settings.coop_name and first.seller_address == settings.coop_address
    assert first.seller_tax_number == settings.coop_tax_number and first.seller_vat_id == settings.coop_vat_id
    assert first.buyer_name == "Erika Mustermann"
    assert (first.buyer_street, first.buyer_postal_code, first.buyer_city) == (erika.street, "10115", "Berlin")
    assert first.issue_date == local_today(settings.timezone)
    assert (first.period_start, first.period_end) == (date(2026, 10, 1), date(2026, 10, 31))
    assert all(line.description and line.quantity for line in first.lines)
    assert [(v.rate, v.net_cents, v.vat_cents) for v in first.vat_totals] == [(19, 7980, 1516)]
    assert (first.net_cents, first.vat_cents, first.gross_cents) == (7980, 1516, 9496)
    # 7732 net at 19 % is 1469.08: VAT rounded once for the rate.
    assert (second.net_cents, second.vat_cents, second.gross_cents) == (7732, 1469, 9201)
    # §5 TKTransparenzV: every contract's start, minimum-term end, notice and last day to cancel.
    assert len(first.contracts) == 2
    assert first.contracts[0].start_on == date(2025, 2, 15)
    assert first.contracts[0].min_term_end_on == date(2026, 2, 14)
    assert first.contracts[0].last_day_to_cancel == date(2026, 1, 14)
    ledger = await _ledger_totals(db_session)
    assert ledger[SystemAccount.RECEIVABLES.value] == (first.gross_cents + second.gross_cents, 0)
    assert ledger[SystemAccount.REVENUE_INTERNET.value] == (0, 7980 + 2832)
    assert ledger[SystemAccount.REVENUE_SETUP_FEES.value] == (0, 4900)
    assert ledger[SystemAccount.VAT_19.value] == (0, first.vat_cents + second.vat_cents)


async def test_a_bill_run_names_each_buyer_as_business_or_consumer_as_the_register_stood_on_the_issue_day(
    db_session: AsyncSession, settings: Settings
) -> None:
    business = await make_member(db_session, settings, is_business=True, vat_id="DE999999987")
    consumer = await make_member(db_session, settings)
    later = await make_member(db_session, settings)  # becomes a business only after the invoice's date
    for member in (business, consumer, later):
        await make_contract(db_session, settings, member=member)
    issue_on = local_today(settings.timezone)
    bind_actor(db_session, BOARD)
    await members.update_contact(
        db_session,
        actor=OPERATOR,
        member_id=later.id,
        changes=ContactUpdate(is_business=True, vat_id="ATU12345678"),
        effective_on=issue_on + timedelta(days=1),
    )

    run = await run_period(db_session, settings, period=PERIOD, issue_on=issue_on)
    invoices = {i.member_id: i for i in await _invoices(db_session, settings, run.id)}

    assert (invoices[business.id].buyer_is_business, invoices[business.id].buyer_vat_id) == (True, "DE999999987")
    assert (invoices[consumer.id].buyer_is_business, invoices[consumer.id].buyer_vat_id) == (False, None)
    assert (invoices[later.id].buyer_is_business, invoices[later.id].buyer_vat_id) == (False, None)
    note = await service.create_credit_note(
        db_session,
        actor=BOARD,
        settings=settings,
        invoice_id=invoices[business.id].id,
        data=CreditNoteCreate(reason="Storno"),
    )
    assert (note.buyer_is_business, note.buyer_vat_id) == (True, "DE999999987")  # a credit note names its invoice's


async def test_a_second_run_of_an_issued_period_bills_nothing(db_session: AsyncSession, settings: Settings) -> None:
    member = await make_member(db_session, settings)
    await make_contract(db_session, settings, member=member)
    await run_period(db_session, settings, period=PERIOD)

    again = await run_period(db_session, settings, period=PERIOD)

    assert again.invoice_count == 0
    count = await db_session.execute(sa.text("SELECT count(*) FROM invoices WHERE member_id = :m"), {"m": member.id})
    assert count.scalar_one() == 1


async def test_a_new_preview_replaces_the_open_one_and_leaves_no_drafts(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await make_contract(db_session, settings, member=member)
    first = await run_period(db_session, settings, period=PERIOD, issue=False)

    second = await run_period(db_session, settings, period=PERIOD, issue=False)

    await db_session.refresh(first)
    assert first.status is BillRunStatus.DISCARDED
    assert second.invoice_count == 1
    drafts = await db_session.execute(
        sa.text("SELECT bill_run_id FROM invoices WHERE member_id = :m"), {"m": member.id}
    )
    assert drafts.scalars().all() == [second.id]


async def test_a_pending_credit_is_settled_outside_the_vat_base_and_booked_as_a_set_off(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    plan = await make_plan(db_session, fee_cents=3990)
    await make_contract(db_session, settings, member=member, plan=plan)
    [credit] = await service.add_credits(
        db_session,
        actor=BOARD,
        credits=[
            CreditDraft(
                member_id=member.id,
                amount_cents=1250,
                text="Dividende 2025, verrechnet",
                account=SystemAccount.DIVIDENDS_PAYABLE,
                source_kind="dividend",
                source_id="2025-1",
            )
        ],
    )

    run = await run_period(db_session, settings, period=PERIOD)

    [invoice] = await _invoices(db_session, settings, run.id)
    assert (invoice.net_cents, invoice.vat_cents, invoice.gross_cents) == (3990, 758, 4748)
    assert invoice.amount_due_cents == 4748 - 1250
    assert [(s.text, s.amount_cents) for s in invoice.settlements] == [("Dividende 2025, verrechnet", -1250)]
    await db_session.refresh(credit)
    assert credit.invoice_id == invoice.id
    ledger = await _ledger_totals(db_session)
    assert ledger[SystemAccount.DIVIDENDS_PAYABLE.value] == (1250, 0)
    assert ledger[SystemAccount.RECEIVABLES.value] == (4748, 1250)


async def test_a_credit_note_names_its_invoice_has_its_own_series_and_reverses_the_booking(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await make_contract(db_session, settings, member=member, plan=await make_plan(db_session, fee_cents=3990))
    run = await run_period(db_session, settings, period=PERIOD)
    [invoice] = await _invoices(db_session, settings, run.id)

    note = await service.create_credit_note(
        db_session, actor=BOARD, settings=settings, invoice_id=invoice.id, data=CreditNoteCreate(reason="Storno")
    )

    year = local_today(settings.timezone).year
    assert note.number == f"GS-{year}-000001"
    assert note.status is InvoiceStatus.ISSUED
    assert note.corrects_invoice_id == invoice.id
    assert note.gross_cents == invoice.gross_cents
    ledger = await _ledger_totals(db_session)
    assert ledger[SystemAccount.RECEIVABLES.value] == (invoice.gross_cents, invoice.gross_cents)
    assert ledger[SystemAccount.VAT_19.value] == (invoice.vat_cents, invoice.vat_cents)
