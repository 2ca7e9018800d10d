"""What a bill run's lines say: pro rata by days around a plan change, outage compensation per §58 (3) TKG
as a negative line booked to revenue reductions."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts import service as contracts
from app.kit.money import pro_rata_cents
from app.kit.time import last_day_of_month, local_today
from app.settings import Settings
from billing.invoices import billrun, repository, service
from billing.invoices.models import Invoice, InvoiceKind
from tests.billing.invoices.builders import make_draft_invoice, run_period
from tests.builders import BOARD, make_contract, make_member, make_plan


def test_compensation_is_the_higher_of_the_minimum_and_the_share_of_the_fee() -> None:
    # A 39.90 fee: days 3-4 at 5.00 (10 % is 3.99), from day 5 at 10.00 (20 % is 7.98).
    assert billrun._compensation_cents(3990, 2, 3) == 2 * 500 + 3 * 1000
    # A 99.00 fee: 10 % = 9.90 and 20 % = 19.80 are above the minimums.
    assert billrun._compensation_cents(9900, 1, 1) == 990 + 1980


def test_a_compensation_is_a_negative_line_of_its_month() -> None:
    plan = contracts.BillablePlan(1, "p", "Glasfaser", 3990, 0, False)
    chunk = billrun._Chunk(
        settings=Settings(_env_file=None),  # type: ignore[call-arg]
        first=date(2026, 10, 1),
        last=date(2026, 10, 31),
        plans={1: plan},
        changes={},
    )
    contract = contracts.BillableContract(7, "V7", 3, 1, date(2025, 1, 1), None, 24, 1)
    owed = SimpleNamespace(lower_rate_days=2, higher_rate_days=1, period=date(2026, 9, 1), incident_id=11)

    chunk.compensation(contract, owed)

    [line] = chunk.drafts[3].lines
    assert line["net_cents"] == -2000
    assert line["service_kind"] == "compensation"
    assert (line["period_start"], line["period_end"]) == (date(2026, 9, 1), date(2026, 9, 30))
    assert line["source_ref"] == "outage:7:11:2026-09"


async def test_a_plan_change_splits_the_month_by_days(db_session: AsyncSession, settings: Settings) -> None:
    today = local_today(settings.timezone)
    member = await make_member(db_session, settings)
    old, new = await make_plan(db_session, fee_cents=3000), await make_plan(db_session, fee_cents=6200)
    contract = await make_contract(db_session, settings, member=member, plan=old)
    await contracts.change_plan(db_session, actor=BOARD, settings=settings, contract_id=contract.id, plan_id=new.id)

    run = await run_period(db_session, settings, period=f"{today:%Y-%m}", issue=False)

    days = last_day_of_month(today.year, today.month).day
    expected = [(new.monthly_fee_cents, days - today.day + 1)]
    if today.day > 1:
        expected.insert(0, (old.monthly_fee_cents, today.day - 1))
    found, _ = await repository.search(
        db_session, actor=BOARD, filters=repository.InvoiceFilter(bill_run_id=run.id), limit=5, offset=0
    )
    lines = await repository.lines(db_session, found[0].id)
    assert [line.net_cents for line in lines] == [pro_rata_cents(fee, n, days) for fee, n in expected]
    assert lines[-1].period_start == today


async def test_a_compensation_line_is_booked_to_revenue_reductions(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    invoice = await make_draft_invoice(
        db_session, member=member, lines=[(1, "C62", "0", 3990, "internet"), (1, "C62", "0", -2000, "compensation")]
    )
    await service.issue_drafts(
        db_session, kind=InvoiceKind.INVOICE, year=2026, where="id = :id", params={"id": invoice.id}
    )
    await service.post_issued(db_session, actor=BOARD, where=Invoice.id == invoice.id)

    rows = await db_session.execute(
        sa.text(
            "SELECT a.system_key, l.debit_cents, l.credit_cents FROM journal_lines l "
            "JOIN ledger_accounts a ON a.id = l.account_id JOIN journal_entries e ON e.id = l.entry_id "
            "WHERE e.source_kind = 'invoice' AND e.entry_date = '2026-11-02'"
        )
    )
    booked = {key: (d, c) for key, d, c in rows.all()}
    assert booked["revenue_reductions"] == (2000, 0)
    assert booked["revenue_internet"] == (0, 3990)
    assert booked["vat_19"] == (0, 378)
    assert booked["receivables"] == (2368, 0)
