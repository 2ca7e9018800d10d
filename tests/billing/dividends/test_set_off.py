"""A dividend a member chose to set off is settled on their next invoice: the bill run shows it as a
settlement, the amount due drops by it, and the books move it from dividends payable to receivables."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from billing.dividends import service
from billing.invoices import repository as invoices_repository
from billing.invoices import service as invoices
from billing.invoices.models import PendingCredit
from tests.billing.dividends.builders import make_decision, make_year_2025
from tests.billing.dividends.test_service import PAYABLE, _balance
from tests.billing.invoices.builders import run_period
from tests.builders import BOARD, make_contract, make_plan

RECEIVABLES = "1400"


async def test_a_dividend_set_off_is_settled_on_the_next_invoice_and_clears_dividends_payable(
    db_session: AsyncSession, settings: Settings
) -> None:
    year = await make_year_2025(db_session, settings)
    await make_contract(db_session, settings, member=year.receiver, plan=await make_plan(db_session, fee_cents=3990))
    decision = await make_decision(db_session, settings)
    await service.run(db_session, actor=BOARD, settings=settings, decision_id=decision.id)
    payable_after_run = await _balance(db_session, PAYABLE, year.receiver)
    queued = (await db_session.execute(sa.select(PendingCredit))).scalars().all()

    run = await run_period(db_session, settings, period="2026-10")

    found, _ = await invoices_repository.search(
        db_session, actor=BOARD, filters=invoices_repository.InvoiceFilter(bill_run_id=run.id), limit=10, offset=0
    )
    [invoice] = [i for i in found if i.member_id == year.receiver.id]
    detail = await invoices.invoice_detail(db_session, actor=BOARD, settings=settings, invoice_id=invoice.id)
    assert payable_after_run == -740
    assert [(c.member_id, c.amount_cents, c.account, c.source_kind) for c in queued] == [
        (year.receiver.id, 740, "dividends_payable", "dividend")
    ]
    assert [(s.text, s.amount_cents) for s in detail.settlements] == [("Verrechnung Dividende 2025", -740)]
    assert detail.gross_cents == 4748
    assert detail.amount_due_cents == 4748 - 740
    assert await _balance(db_session, PAYABLE, year.receiver) == 0
    assert await _balance(db_session, RECEIVABLES, year.receiver) == 4748 - 740


async def test_running_a_booked_decision_again_queues_no_second_credit(
    db_session: AsyncSession, settings: Settings
) -> None:
    await make_year_2025(db_session, settings)
    decision = await make_decision(db_session, settings)

    await service.run(db_session, actor=BOARD, settings=settings, decision_id=decision.id)
    await service.run(db_session, actor=BOARD, settings=settings, decision_id=decision.id)

    count = await db_session.scalar(sa.select(sa.func.count()).select_from(PendingCredit))
    assert count == 1
