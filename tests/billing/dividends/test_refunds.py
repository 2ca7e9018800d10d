"""Patronage refunds (§22 KStG): a percent of each member's net service revenue in the business year, issued
as one credit note per member that names the year's last invoice, its line of the service kind ``refund``, booked
to patronage refunds and VAT against the member's receivables, refunded once; the percent the board entered on the
year's dividend decision.

Business year 2026, 3 %, computed by hand (VAT 19 % half up once):

- Erika: two contracts at 39.90 net, billed in October: revenue 79.80; refund 79.80 × 3 % = 2.394 → 2.39,
  VAT 0.4541 → 0.45, gross 2.84.
- Max: two contracts at 24.90 net (49.80), one credited by a credit note (−24.90): revenue 24.90; refund
  0.747 → 0.75, VAT 0.1425 → 0.14, gross 0.89.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.errors import Conflict, Invalid
from app.settings import Settings
from billing.dividends import refunds, service
from billing.dividends.models import DividendDecision
from billing.dividends.schemas import DecisionCreate
from billing.documents.cii import check_document
from billing.documents.letterhead import seller_from_settings
from billing.documents.model import (
    Address,
    Buyer,
    DocumentKind,
    InvoiceDocument,
    Line,
    Payment,
    PaymentMeans,
    VatTotal,
)
from billing.invoices import repository as invoices_repository
from billing.invoices import service as invoices
from billing.invoices.models import Invoice, InvoiceKind, InvoiceStatus, ServiceKind
from billing.invoices.schemas import CreditNoteCreate
from billing.ledger import service as ledger
from tests.billing.dividends.test_service import _balance
from tests.billing.invoices.builders import make_draft_invoice, run_period
from tests.billing.payments.builders import make_invoice
from tests.builders import BOARD, make_contract, make_member, make_plan

RECEIVABLES, PATRONAGE, VAT = "1400", "8770", "1776"
ISSUE_ON = date(2027, 6, 20)


def _document(note: Invoice, line: object, original: Invoice, settings: Settings) -> InvoiceDocument:
    """The credit note as billing.documents would render it."""
    return InvoiceDocument(
        kind=DocumentKind.CREDIT_NOTE,
        number=str(note.number),
        issue_date=note.issue_date,
        period_start=note.period_start,
        period_end=note.period_end,
        seller=seller_from_settings(settings),
        buyer=Buyer(
            name=note.buyer_name,
            address=Address(note.buyer_street, note.buyer_postal_code, note.buyer_city, note.buyer_country),
            member_number=note.buyer_member_number,
        ),
        lines=(
            Line(
                position=line.position,  # type: ignore[attr-defined]
                description=line.description,  # type: ignore[attr-defined]
                quantity=line.quantity,  # type: ignore[attr-defined]
                unit=line.unit,  # type: ignore[attr-defined]
                unit_price=line.unit_price,  # type: ignore[attr-defined]
                net_cents=line.net_cents,  # type: ignore[attr-defined]
                vat_rate=line.vat_rate,  # type: ignore[attr-defined]
            ),
        ),
        vat_totals=(VatTotal(rate=Decimal("19"), category="S", net_cents=note.net_cents, vat_cents=note.vat_cents),),
        net_total_cents=note.net_cents,
        vat_total_cents=note.vat_cents,
        gross_total_cents=note.gross_cents,
        amount_due_cents=note.amount_due_cents,
        payment=Payment(means=PaymentMeans.CREDIT_TRANSFER, due_on=note.due_date),
        corrects_number=original.number,
        corrects_issue_date=original.issue_date,
    )


async def test_each_member_gets_one_credit_note_of_the_percent_of_their_net_revenue(
    db_session: AsyncSession, settings: Settings
) -> None:
    erika = await make_member(db_session, settings, first_name="Erika")
    max_ = await make_member(db_session, settings, first_name="Max")
    for member, fee in ((erika, 3990), (erika, 3990), (max_, 2490), (max_, 2490)):
        await make_contract(db_session, settings, member=member, plan=await make_plan(db_session, fee_cents=fee))
    run = await run_period(db_session, settings, period="2026-10")
    found, _ = await invoices_repository.search(
        db_session, actor=BOARD, filters=invoices_repository.InvoiceFilter(bill_run_id=run.id), limit=10, offset=0
    )
    last = {i.member_id: i for i in found}
    await invoices.create_credit_note(
        db_session,
        actor=BOARD,
        settings=settings,
        invoice_id=last[max_.id].id,
        data=CreditNoteCreate(reason="Storno", positions=[1]),
    )
    before = {m.id: await _balance(db_session, RECEIVABLES, m) for m in (erika, max_)}
    patronage_before, vat_before = await _balance(db_session, PATRONAGE), await _balance(db_session, VAT)

    notes = await refunds.issue_patronage_refunds(
        db_session, actor=BOARD, settings=settings, business_year=2026, percent=Decimal("3"), issue_on=ISSUE_ON
    )
    again = await refunds.issue_patronage_refunds(
        db_session, actor=BOARD, settings=settings, business_year=2026, percent=Decimal("3"), issue_on=ISSUE_ON
    )

    by_member = {n.member_id: n for n in notes}
    assert {m: (n.net_cents, n.vat_cents, n.gross_cents) for m, n in by_member.items()} == {
        erika.id: (239, 45, 284),
        max_.id: (75, 14, 89),
    }
    assert [n.number for n in sorted(notes, key=lambda n: n.member_id)] == ["GS-2027-000001", "GS-2027-000002"]
    assert all(n.kind is InvoiceKind.CREDIT_NOTE and n.status is InvoiceStatus.ISSUED for n in notes)
    assert {n.member_id: n.corrects_invoice_id for n in notes} == {m: i.id for m, i in last.items()}
    assert again == []
    assert await _balance(db_session, RECEIVABLES, erika) == before[erika.id] - 284
    assert await _balance(db_session, RECEIVABLES, max_) == before[max_.id] - 89
    assert await _balance(db_session, PATRONAGE) == patronage_before + 239 + 75
    assert await _balance(db_session, VAT) == vat_before + 45 + 14
    statement = await refunds.refunds_of(db_session, member_id=erika.id, business_year=2026)
    assert [(r.credit_note_number, r.gross_cents) for r in statement] == [(by_member[erika.id].number, 284)]
    for note in notes:
        [line] = await invoices_repository.lines(db_session, note.id)
        assert line.service_kind is ServiceKind.REFUND
        check_document(_document(note, line, last[note.member_id], settings))
    assert (await ledger.trial_balance(db_session, actor=BOARD)).balance_cents == 0
    # The board's revenue by service shows the refunds on their own, not inside compensation.
    revenue = await invoices.revenue_by_month(db_session, actor=BOARD, since=date(2027, 1, 1))
    assert revenue == {"2027-06": {"refund": -(239 + 75)}}


async def test_a_refund_before_the_year_ends_or_of_no_percent_is_refused(
    db_session: AsyncSession, settings: Settings
) -> None:
    with pytest.raises(Invalid) as early:
        await refunds.issue_patronage_refunds(
            db_session,
            actor=BOARD,
            settings=settings,
            business_year=2026,
            percent=Decimal(3),
            issue_on=date(2026, 12, 31),
        )
    with pytest.raises(Invalid) as zero:
        await refunds.issue_patronage_refunds(
            db_session, actor=BOARD, settings=settings, business_year=2026, percent=Decimal(0), issue_on=ISSUE_ON
        )

    assert (early.value.code, zero.value.code) == ("refund_before_year_end", "refund_percent")


async def test_the_service_kind_check_accepts_refund_and_still_refuses_an_unknown_kind(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)

    accepted = await make_draft_invoice(db_session, member=member, lines=[(1, "C62", "2.39", 239, "refund")])
    with pytest.raises(IntegrityError) as refused:
        async with db_session.begin_nested():
            await make_draft_invoice(db_session, member=member, lines=[(1, "C62", "2.39", 239, "rebate")])

    kinds = await db_session.scalars(
        sa.text("SELECT service_kind FROM invoice_lines WHERE invoice_id = :i"), {"i": accepted.id}
    )
    assert list(kinds) == ["refund"]
    assert "ck_invoice_lines_service_kind" in str(refused.value)


async def _decide_2026(db_session: AsyncSession, settings: Settings, refund_percent: str | None) -> DividendDecision:
    return await service.enter_decision(
        db_session,
        actor=BOARD,
        settings=settings,
        data=DecisionCreate(
            business_year=2026,
            rate_percent=Decimal(4),
            decided_on=date(2027, 6, 10),
            refund_percent=Decimal(refund_percent) if refund_percent else None,
        ),
    )


async def test_the_decision_stores_the_refund_percent_and_the_refund_is_issued_at_it_once(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await make_invoice(db_session, member=member, gross_cents=11_900, issued_on=date(2026, 10, 1))  # net 100.00
    decision_id = (await _decide_2026(db_session, settings, "3.5")).id
    db_session.expunge_all()

    stored = await db_session.get(DividendDecision, decision_id)
    assert stored is not None
    shown = service.decision_out(stored)
    report = await refunds.issue_decided_refunds(
        db_session, actor=BOARD, settings=settings, decision_id=decision_id, issue_on=ISSUE_ON
    )
    again = await refunds.issue_decided_refunds(
        db_session, actor=BOARD, settings=settings, decision_id=decision_id, issue_on=ISSUE_ON
    )
    same = await _decide_2026(db_session, settings, "3.5")
    with pytest.raises(Conflict) as changed:
        await _decide_2026(db_session, settings, "4")

    assert shown.refund_percent == Decimal("3.5")  # read back from the database
    # 100.00 x 3.5 % = 3.50 net, VAT 0.665 -> 0.67.
    assert [(r.net_cents, r.vat_cents, r.gross_cents) for r in report.issued] == [(350, 67, 417)]
    assert (report.refund_percent, report.issued_gross_cents) == (Decimal("3.5"), 417)
    assert (again.issued, again.year.credit_notes, again.year.gross_cents) == ([], 1, 417)
    assert same.refund_percent == Decimal("3.5")
    assert changed.value.code == "refund_issued"


async def test_a_decision_without_a_refund_issues_none(db_session: AsyncSession, settings: Settings) -> None:
    decision = await _decide_2026(db_session, settings, None)

    with pytest.raises(Invalid) as refused:
        await refunds.issue_decided_refunds(
            db_session, actor=BOARD, settings=settings, decision_id=decision.id, issue_on=ISSUE_ON
        )

    assert refused.value.code == "refund_not_decided"


async def test_a_refund_at_another_percent_than_the_decisions_is_refused_and_issues_nothing(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await make_invoice(db_session, member=member, gross_cents=11_900, issued_on=date(2026, 10, 1))
    decision = await _decide_2026(db_session, settings, "3.5")

    with pytest.raises(Invalid) as refused:
        await refunds.issue_decided_refunds(
            db_session,
            actor=BOARD,
            settings=settings,
            decision_id=decision.id,
            issue_on=ISSUE_ON,
            expected_percent=Decimal(5),
        )
    confirmed = await refunds.issue_decided_refunds(
        db_session,
        actor=BOARD,
        settings=settings,
        decision_id=decision.id,
        issue_on=ISSUE_ON,
        expected_percent=Decimal("3.50"),
    )

    assert refused.value.code == "refund_percent_mismatch"
    assert "3.5 %, not 5 %" in str(refused.value)
    assert [r.net_cents for r in confirmed.issued] == [350]  # only the confirmed call issued


async def test_a_refund_forgotten_on_the_decision_is_recorded_after_the_run_until_refunds_are_issued(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await make_invoice(db_session, member=member, gross_cents=11_900, issued_on=date(2026, 10, 1))  # net 100.00
    decision = await _decide_2026(db_session, settings, None)
    await service.run(db_session, actor=BOARD, settings=settings, decision_id=decision.id)

    recorded = await service.record_refund_percent(db_session, actor=BOARD, decision_id=decision.id, percent=Decimal(2))
    report = await refunds.issue_decided_refunds(
        db_session, actor=BOARD, settings=settings, decision_id=decision.id, issue_on=ISSUE_ON
    )
    same = await service.record_refund_percent(db_session, actor=BOARD, decision_id=decision.id, percent=Decimal(2))
    with pytest.raises(Conflict) as changed:
        await service.record_refund_percent(db_session, actor=BOARD, decision_id=decision.id, percent=Decimal(3))
    with pytest.raises(Invalid) as nonsense:
        await service.record_refund_percent(db_session, actor=BOARD, decision_id=decision.id, percent=Decimal(0))

    assert recorded.status.value == "booked" and recorded.refund_percent == Decimal(2)
    assert [r.net_cents for r in report.issued] == [200]
    assert same.refund_percent == Decimal(2)
    assert (changed.value.code, nonsense.value.code) == ("refund_issued", "refund_percent")
