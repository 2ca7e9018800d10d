"""Fees billed in advance for a month that a termination or plan change, entered after that month's run, cut
short are corrected by the next run: a credit by a credit note naming the invoice that billed the days, a
charge by a line of the next invoice, each once; a member with nothing in service any more is corrected too."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from facturx import xml_check_xsd
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts import service as contracts
from app.contracts.models import Contract, ContractStatus
from app.kit.money import pro_rata_cents
from app.kit.time import add_months, last_day_of_month, local_today
from app.members.models import Member
from app.settings import Settings
from billing.documents.service import invoice_xml
from billing.invoices import billrun, documents, repository, service
from billing.invoices.models import BillRun, Invoice, InvoiceKind, InvoiceLine, InvoiceStatus
from billing.invoices.schemas import CreditNoteCreate
from billing.payments import open_items
from tests.billing.invoices.builders import run_period
from tests.builders import BOARD, make_contract, make_member, make_plan

FEE = 3100


def _months(settings: Settings) -> tuple[date, date, int]:
    """This month's first day, the next month's, and this month's days."""
    today = local_today(settings.timezone)
    first = today.replace(day=1)
    return first, add_months(first, 1), last_day_of_month(first.year, first.month).day


async def _documents(session: AsyncSession, run: BillRun) -> list[Invoice]:
    query = sa.select(Invoice).where(Invoice.bill_run_id == run.id).order_by(Invoice.id)
    return list((await session.execute(query.execution_options(populate_existing=True))).scalars())


async def _corrections(session: AsyncSession) -> list[InvoiceLine]:
    query = sa.select(InvoiceLine).where(InvoiceLine.source_ref.like("fee-correction:%")).order_by(InvoiceLine.id)
    return list((await session.execute(query)).scalars())


async def _terminate(session: AsyncSession, settings: Settings, contract_id: int, day: date) -> None:
    await contracts.transition(
        session, actor=BOARD, settings=settings, contract_id=contract_id, to=ContractStatus.TERMINATED, effective_on=day
    )


async def _billed_month(
    session: AsyncSession, settings: Settings, *, contract_count: int = 1
) -> tuple[Member, list[Contract], Invoice]:
    """A member with contracts on a plan of ``FEE`` a month, this month billed in advance and issued."""
    first, _, _ = _months(settings)
    member = await make_member(session, settings)
    plan = await make_plan(session, fee_cents=FEE)
    made = [await make_contract(session, settings, member=member, plan=plan) for _ in range(contract_count)]
    run = await run_period(session, settings, period=f"{first:%Y-%m}")
    [invoice] = [i for i in await _documents(session, run) if i.member_id == member.id]
    return member, made, invoice


async def test_a_termination_after_the_month_was_billed_is_credited_once_by_a_credit_note(
    db_session: AsyncSession, settings: Settings
) -> None:
    first, following, days = _months(settings)
    _, (ending, staying), october = await _billed_month(db_session, settings, contract_count=2)
    end = first.replace(day=19)
    await _terminate(db_session, settings, ending.id, end)

    run = await run_period(db_session, settings, period=f"{following:%Y-%m}")

    invoice, note = await _documents(db_session, run)
    assert (invoice.kind, note.kind) == (InvoiceKind.INVOICE, InvoiceKind.CREDIT_NOTE)
    assert note.status is InvoiceStatus.ISSUED and note.number.startswith("GS-")
    assert note.corrects_invoice_id == october.id
    assert (note.period_start, note.period_end) == (october.period_start, october.period_end)
    [line] = await repository.lines(db_session, note.id)
    unused = days - 19
    assert line.net_cents == FEE - pro_rata_cents(FEE, 19, days) > 0
    assert line.description.startswith(
        f"Gutschrift Monatsentgelt {first:%m/%Y} anteilig ({unused} von {days} Tagen), Kündigung zum {end:%d.%m.%Y}"
    )
    assert (line.quantity, line.unit, line.contract_id) == (Decimal(unused), "DAY", ending.id)
    assert (line.period_start, line.period_end) == (end + timedelta(days=1), last_day_of_month(end.year, end.month))
    assert line.source_ref == f"fee-correction:{ending.id}:{first:%Y-%m}:01"
    assert line.service_kind == "internet"
    # The next invoice bills the contract that goes on, and nothing of the ended one.
    assert {i.contract_id for i in await repository.lines(db_session, invoice.id)} == {staying.id}
    # The credit reduces what the corrected invoice leaves open, and the run's totals net it.
    [item] = await open_items.open_items(db_session, numbers=[october.number])
    assert item.open_cents == october.amount_due_cents - note.gross_cents
    assert run.net_cents == invoice.net_cents - note.net_cents
    doc = await documents.document_for(db_session, settings=settings, invoice_id=note.id)
    assert (doc.corrects_number, doc.corrects_issue_date) == (october.number, october.issue_date)
    assert xml_check_xsd(invoice_xml(doc), flavor="factur-x", level="en16931")
    entry = await db_session.execute(
        sa.text("SELECT count(*) FROM journal_entries WHERE source_kind = 'credit_note' AND source_id = :n"),
        {"n": note.number},
    )
    assert entry.scalar_one() == 1

    third = await run_period(db_session, settings, period=f"{add_months(following, 1):%Y-%m}")

    assert [i.kind for i in await _documents(db_session, third)] == [InvoiceKind.INVOICE]
    assert len(await _corrections(db_session)) == 1


@pytest.mark.parametrize(("new_fee", "kind"), [(1550, InvoiceKind.CREDIT_NOTE), (6200, InvoiceKind.INVOICE)])
async def test_a_plan_change_after_the_month_was_billed_is_corrected_both_ways(
    db_session: AsyncSession, settings: Settings, new_fee: int, kind: InvoiceKind
) -> None:
    first, following, days = _months(settings)
    today = local_today(settings.timezone)
    _, [contract], billed = await _billed_month(db_session, settings)
    new = await make_plan(db_session, fee_cents=new_fee)
    await contracts.change_plan(db_session, actor=BOARD, settings=settings, contract_id=contract.id, plan_id=new.id)

    run = await run_period(db_session, settings, period=f"{following:%Y-%m}")

    changed = days - today.day + 1
    difference = pro_rata_cents(new_fee, changed, days) - (FEE - pro_rata_cents(FEE, days - changed, days))
    [correction] = await _corrections(db_session)
    holder = await db_session.get(Invoice, correction.invoice_id)
    assert holder is not None and holder.bill_run_id == run.id and holder.kind is kind
    assert correction.net_cents == abs(difference) > 0
    label = "Gutschrift" if kind is InvoiceKind.CREDIT_NOTE else "Nachberechnung"
    assert correction.description.startswith(
        f"{label} Monatsentgelt {first:%m/%Y} anteilig ({changed} von {days} Tagen), "
        f"Tarifwechsel zu {new.name} am {today:%d.%m.%Y}"
    )
    assert (correction.period_start, correction.period_end) == (today, last_day_of_month(today.year, today.month))
    if kind is InvoiceKind.CREDIT_NOTE:
        assert holder.corrects_invoice_id == billed.id
    else:
        # The charge is a line of the next invoice, beside the next month's fee on the new plan.
        fees = [line for line in await repository.lines(db_session, holder.id) if line.source_ref.startswith("fee:")]
        assert [line.net_cents for line in fees] == [new_fee]

    await run_period(db_session, settings, period=f"{following:%Y-%m}")
    await run_period(db_session, settings, period=f"{add_months(following, 1):%Y-%m}")

    assert len(await _corrections(db_session)) == 1


async def test_a_member_with_nothing_in_service_any_more_still_gets_the_credit(
    db_session: AsyncSession, settings: Settings
) -> None:
    first, following, days = _months(settings)
    member, [contract], billed = await _billed_month(db_session, settings)
    await _terminate(db_session, settings, contract.id, first.replace(day=19))
    assert member.id not in await contracts.members_in_service(
        db_session, first=following, last=add_months(following, 1) - timedelta(days=1)
    )

    run = await run_period(db_session, settings, period=f"{following:%Y-%m}")

    [note] = [i for i in await _documents(db_session, run) if i.member_id == member.id]
    assert note.kind is InvoiceKind.CREDIT_NOTE and note.corrects_invoice_id == billed.id
    assert note.net_cents == FEE - pro_rata_cents(FEE, 19, days)
    assert (run.invoice_count, run.net_cents) == (1, -note.net_cents)


async def test_a_fee_an_operator_credited_by_hand_is_not_corrected_again(
    db_session: AsyncSession, settings: Settings
) -> None:
    first, following, _ = _months(settings)
    _, [by_hand], billed = await _billed_month(db_session, settings)
    await service.create_credit_note(
        db_session, actor=BOARD, settings=settings, invoice_id=billed.id, data=CreditNoteCreate(reason="Kulanz")
    )
    await _terminate(db_session, settings, by_hand.id, first.replace(day=10))

    run = await run_period(db_session, settings, period=f"{following:%Y-%m}")

    assert await _documents(db_session, run) == []
    assert await _corrections(db_session) == []


# --- the arithmetic, without a database ---------------------------------------------------------------


def _chunk(plans: dict[int, contracts.BillablePlan], changes: list[contracts.PlanChange]) -> billrun._Chunk:
    return billrun._Chunk(
        settings=Settings(_env_file=None),  # type: ignore[call-arg]
        first=date(2026, 11, 1),
        last=date(2026, 11, 30),
        plans=plans,
        changes={7: changes},
        since=date(2026, 8, 1),
    )


def _row(line_id: int, ref: str, net: int, *, kind: str = "invoice", invoice_id: int = 50, **period: date) -> Any:
    return SimpleNamespace(
        id=line_id,
        position=1,
        source_ref=ref,
        contract_id=7,
        contract_number="V7",
        period_start=period.get("start", date(2026, 10, 1)),
        period_end=period.get("end", date(2026, 10, 31)),
        net_cents=net,
        vat_rate=Decimal(19),
        service_kind="internet",
        invoice_id=invoice_id,
        kind=kind,
        number="2026-000050",
        member_id=3,
        invoice_period_start=date(2026, 10, 1),
        invoice_period_end=date(2026, 10, 31),
        drafted_at=datetime(2026, 10, 1, 8, tzinfo=UTC),
    )


def test_a_termination_after_a_corrected_plan_change_corrects_only_what_is_left() -> None:
    plans = {1: contracts.BillablePlan(1, "a", "Glasfaser 100", 3100, 0, False)}
    plans[2] = contracts.BillablePlan(2, "b", "Glasfaser 50", 1550, 0, False)
    change = contracts.PlanChange(7, date(2026, 10, 11), 1, 2, datetime(2026, 10, 11, 9, tzinfo=UTC))
    # Ended on 20 October; the plan change of the 11th was credited already (21 days at half the fee).
    contract = contracts.BillableContract(7, "V7", 3, 2, date(2025, 1, 1), date(2026, 10, 20), 24, 1)
    first_correction = -(3100 - pro_rata_cents(3100, 10, 31) - pro_rata_cents(1550, 21, 31))
    chunk = _chunk(plans, [change])

    chunk.corrections(
        [contract],
        [
            _row(1, "fee:7:2026-10:01", 3100),
            _row(2, "fee-correction:7:2026-10:01", -first_correction, kind="credit_note", invoice_id=60),
        ],
    )

    [note] = chunk.credit_notes.values()
    [line] = note.lines
    # Days 21-31 on the cheaper plan are the rest to credit.
    assert line["net_cents"] == pro_rata_cents(1550, 21, 31) - pro_rata_cents(1550, 10, 31) == 550
    assert line["source_ref"] == "fee-correction:7:2026-10:01:2"
    assert note.corrects_invoice_id == 50
    assert "Kündigung zum 20.10.2026" in line["description"]


def test_a_plan_change_known_when_the_month_was_billed_needs_no_correction() -> None:
    plans = {
        1: contracts.BillablePlan(1, "a", "A", 3100, 0, False),
        2: contracts.BillablePlan(2, "b", "B", 6200, 0, False),
    }
    change = contracts.PlanChange(7, date(2026, 10, 11), 1, 2, datetime(2026, 9, 30, tzinfo=UTC))
    contract = contracts.BillableContract(7, "V7", 3, 2, date(2025, 1, 1), None, 24, 1)
    chunk = _chunk(plans, [change])

    chunk.corrections(
        [contract],
        [
            _row(1, "fee:7:2026-10:01", pro_rata_cents(3100, 10, 31), end=date(2026, 10, 10)),
            _row(2, "fee:7:2026-10:11", pro_rata_cents(6200, 21, 31), start=date(2026, 10, 11)),
        ],
    )

    assert (chunk.drafts, chunk.credit_notes) == ({}, {})
