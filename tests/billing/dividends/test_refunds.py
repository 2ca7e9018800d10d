"""Patronage refunds (§22 KStG): a percent of each member's net service revenue in the business year, issued
as one credit note per member that names the year's last invoice, booked to patronage refunds and VAT against
the member's receivables, refunded once.

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
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.errors import Invalid
from app.settings import Settings
from billing.dividends import refunds
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
from billing.invoices.models import Invoice, InvoiceKind, InvoiceStatus
from billing.invoices.schemas import CreditNoteCreate
from tests.billing.dividends.test_service import _balance
from tests.billing.invoices.builders import run_period
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
        check_document(_document(note, line, last[note.member_id], settings))


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
