"""Payments and dunning on real invoices: a bill run's invoices are open items, collected from the mandates
in XSD-valid pain.008 files, settled by a camt payment that names the number, reopened with the fee by a
returned debit, and dunned from reminder to suspension until a payment resumes the contract."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import sepaxml
import sqlalchemy as sa
import xmlschema
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts import service as contracts
from app.contracts.models import ContractStatus
from app.members.models import Member
from app.settings import Settings
from billing.dunning import service as dunning
from billing.dunning.models import DunningLevel
from billing.invoices.models import BillRun, Invoice
from billing.ledger import service as ledger
from billing.payments import open_items, sepa, service
from tests.billing.invoices.builders import run_period
from tests.billing.payments.builders import Booking, camt053, make_mandate
from tests.builders import BOARD, OPERATOR, make_contract, make_member, make_plan

pytestmark = pytest.mark.postgres
SCHEMAS = Path(sepaxml.__file__).parent / "schemas"


async def _billed_member(session: AsyncSession, settings: Settings, *, fee_cents: int = 12_000) -> tuple[Member, int]:
    plan = await make_plan(session, fee_cents=fee_cents)
    member = await make_member(session, settings)
    contract = await make_contract(session, settings, member=member, plan=plan, active_from=date(2025, 2, 1))
    return member, contract.id


async def _run(session: AsyncSession, settings: Settings) -> tuple[BillRun, dict[int, Invoice]]:
    run = await run_period(session, settings, period="2026-10")
    invoices = await session.scalars(sa.select(Invoice).where(Invoice.bill_run_id == run.id))
    return run, {invoice.member_id: invoice for invoice in invoices}


async def _receivable(session: AsyncSession, member_id: int) -> int:
    balances = await ledger.member_balances(session, actor=BOARD, member_id=member_id)
    return sum(a.balance_cents for a in balances.accounts if a.code == "1400")


async def _state(session: AsyncSession, contract_id: int) -> ContractStatus:
    return (await contracts.contract_states(session, contract_ids=[contract_id]))[contract_id]


async def test_a_bill_runs_invoices_are_collected_once_settled_by_the_bank_and_reopened_with_the_fee_on_return(
    db_session: AsyncSession, settings: Settings
) -> None:
    member, _ = await _billed_member(db_session, settings)
    no_mandate, _ = await _billed_member(db_session, settings, fee_cents=3990)
    await make_mandate(db_session, settings, member=member)
    run, invoices = await _run(db_session, settings)
    invoice = invoices[member.id]

    listed = await open_items.open_items(db_session, bill_run_id=run.id)
    files = await sepa.collect_run(db_session, actor=OPERATOR, settings=settings, run_id=run.id)
    again = await sepa.collect_run(db_session, actor=OPERATOR, settings=settings, run_id=run.id)

    assert {(i.member_id, i.number, i.open_cents) for i in listed} == {
        (member.id, invoice.number, 14_280),
        (no_mandate.id, invoices[no_mandate.id].number, 4_748),
    }
    [file] = files
    expected_day = sepa.collection_date(issued_on=invoice.issue_date, due_on=invoice.due_date, settings=settings)
    assert (file.item_count, file.total_cents, file.due_on) == (1, 14_280, expected_day)
    schema = xmlschema.XMLSchema(str(SCHEMAS / f"{sepa.DIRECT_DEBIT_SCHEMA}.xsd"))
    assert schema.is_valid(file.content.decode())
    assert invoice.number is not None and invoice.number.encode() in file.content
    assert again == []

    collected = Booking("142.80", end_to_end_id=invoice.number, booked_on=invoice.due_date)
    await service.import_statement(
        db_session, actor=OPERATOR, settings=settings, data=camt053(batches=[[collected]], statement_id="S1")
    )
    after_collection = await open_items.open_items(db_session, member_ids={member.id})
    owed_before_return = await _receivable(db_session, member.id)
    back = Booking(
        "142.80", credit=False, end_to_end_id=invoice.number, return_reason="MS03", booked_on=invoice.due_date
    )
    await service.import_statement(db_session, actor=OPERATOR, settings=settings, data=camt053(back, statement_id="S2"))
    reopened = await open_items.open_items(db_session, member_ids={member.id})

    assert after_collection == []
    assert [(i.number, i.open_cents) for i in reopened] == [(invoice.number, 14_280)]
    assert await _receivable(db_session, member.id) - owed_before_return == 14_280 + settings.returned_debit_fee_cents
    assert await sepa.collect_run(db_session, actor=OPERATOR, settings=settings, run_id=run.id) == []


async def test_an_overdue_invoice_is_reminded_warned_suspended_and_a_payment_resumes_the_contract_at_once(
    db_session: AsyncSession, settings: Settings
) -> None:
    member, contract_id = await _billed_member(db_session, settings)
    _, invoices = await _run(db_session, settings)
    invoice = invoices[member.id]
    due = invoice.due_date

    async def dun(today: date) -> dunning.DunningReport:
        return await dunning.run_due(db_session, actor=OPERATOR, settings=settings, today=today)

    on_due_day = await dunning.overdue_items(db_session, due)
    [overdue] = await dunning.overdue_items(db_session, due + timedelta(days=1))
    reminded = await dun(due + timedelta(days=settings.dunning_reminder_after_days))
    warning_day = due + timedelta(days=settings.dunning_reminder_after_days + settings.dunning_warning_after_days)
    warned = await dun(warning_day)
    suspension_day = warning_day + timedelta(days=settings.dunning_suspension_notice_days)
    suspended = await dun(suspension_day)
    state_suspended = await _state(db_session, contract_id)

    assert on_due_day == []
    assert (overdue.member_id, overdue.number, overdue.open_cents) == (member.id, invoice.number, 14_280)
    assert (reminded.reminders, warned.warnings, suspended.suspensions) == (1, 1, 1)
    assert state_suspended is ContractStatus.SUSPENDED

    paid = Booking("142.80", remittance=f"Rechnung {invoice.number}", booked_on=suspension_day + timedelta(days=1))
    await service.import_statement(db_session, actor=OPERATOR, settings=settings, data=camt053(paid, statement_id="P1"))
    state_after_payment = await _state(db_session, contract_id)
    notices, _ = await dunning.list_notices(db_session, actor=OPERATOR, member_id=member.id)

    assert await open_items.open_items(db_session, member_ids={member.id}) == []
    assert state_after_payment is ContractStatus.ACTIVE
    assert {DunningLevel(n.level) for n in notices} == set(DunningLevel)
    assert {n.status.value for n in notices} == {"settled"}
