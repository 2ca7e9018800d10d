"""What an issued invoice's document says: the sign conventions EN 16931 wants (a compensation as a negative
quantity at a positive price, a credit note positive and naming its invoice), the payment block from the
member's mandate, the buyer's VAT ID (BT-48) for a business, a batch read in a fixed number of queries, and
the XRechnung export stored once, for business members' invoices only."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
import sqlalchemy as sa
from facturx import xml_check_xsd
from lxml import etree
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.kit.actor import Role
from app.members.models import Member
from app.settings import Settings
from billing.documents.cii import NSMAP
from billing.documents.model import DocumentKind, PaymentMeans
from billing.documents.pdf import invoice_html
from billing.documents.service import invoice_xml
from billing.invoices import documents, repository, service
from billing.invoices.models import DocumentFormat, Invoice, InvoiceDocumentFile, InvoiceKind
from billing.invoices.schemas import CreditNoteCreate
from billing.payments import sepa
from tests.billing.invoices.builders import make_draft_invoice, run_period
from tests.billing.payments.builders import make_mandate
from tests.builders import BOARD, make_contract, make_member, make_plan, make_user, token_for

pytestmark = pytest.mark.postgres
PERIOD = "2026-10"
VAT_ID = "DE999999987"
BUYER_VAT_ID = "//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']"  # BT-48


def _buyer_vat_ids(xml: bytes) -> list[str]:
    return [str(e.text) for e in etree.fromstring(xml).xpath(BUYER_VAT_ID, namespaces=NSMAP)]


async def _issued(session: AsyncSession, settings: Settings, *members: Member) -> list[Invoice]:
    for member in members:
        await make_contract(session, settings, member=member, plan=await make_plan(session, fee_cents=3990))
    run = await run_period(session, settings, period=PERIOD)
    found, _ = await repository.search(
        session, actor=BOARD, filters=repository.InvoiceFilter(bill_run_id=run.id), limit=100, offset=0
    )
    return sorted(found, key=lambda i: i.member_id)


async def test_a_compensation_is_a_negative_quantity_at_a_non_negative_price(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    invoice = await make_draft_invoice(
        db_session,
        member=member,
        lines=[(1, "MON", "39.90", 3990, "internet"), (3, "DAY", "-3.3333", -1000, "compensation")],
    )
    await service.issue_drafts(
        db_session, kind=InvoiceKind.INVOICE, year=2026, where="id = :id", params={"id": invoice.id}
    )

    doc = await documents.document_for(db_session, settings=settings, invoice_id=invoice.id)

    credit = doc.lines[1]
    assert (credit.quantity, credit.unit_price, credit.net_cents) == (Decimal(-3), Decimal("3.3333"), -1000)
    assert doc.lines[0].quantity == 1 and doc.lines[0].unit_price == Decimal("39.90")
    assert [(t.net_cents, t.vat_cents) for t in doc.vat_totals] == [(2990, 568)]
    assert b'<ram:BilledQuantity unitCode="DAY">-3</ram:BilledQuantity>' in invoice_xml(doc)


async def test_a_credit_note_carries_positive_amounts_and_names_its_invoice(
    db_session: AsyncSession, settings: Settings
) -> None:
    [invoice] = await _issued(db_session, settings, await make_member(db_session, settings))
    note = await service.create_credit_note(
        db_session, actor=BOARD, settings=settings, invoice_id=invoice.id, data=CreditNoteCreate(reason="Storno")
    )

    doc = await documents.document_for(db_session, settings=settings, invoice_id=note.id)

    assert doc.kind is DocumentKind.CREDIT_NOTE
    assert (doc.corrects_number, doc.corrects_issue_date) == (invoice.number, invoice.issue_date)
    assert doc.gross_total_cents == invoice.gross_cents > 0
    assert all(line.net_cents > 0 and line.unit_price >= 0 for line in doc.lines)
    assert xml_check_xsd(invoice_xml(doc), flavor="factur-x", level="en16931")


async def test_a_member_with_a_mandate_is_debited_and_one_without_transfers(
    db_session: AsyncSession, settings: Settings
) -> None:
    debtor, payer = await make_member(db_session, settings), await make_member(db_session, settings)
    mandate = await make_mandate(db_session, settings, member=debtor)
    debited, transferred = await _issued(db_session, settings, debtor, payer)

    docs = await documents.documents_for(db_session, settings=settings, invoice_ids=[debited.id, transferred.id])

    debit, transfer = docs[0].payment, docs[1].payment
    assert debit.means is PaymentMeans.SEPA_DIRECT_DEBIT
    assert (debit.iban, debit.mandate_reference) == (mandate.iban, mandate.reference)
    assert debit.collection_on == sepa.collection_date(
        issued_on=debited.issue_date, due_on=debited.due_date, settings=settings
    )
    assert debit.collection_on >= debited.issue_date + timedelta(days=settings.sepa_prenotification_days)
    assert transfer.means is PaymentMeans.CREDIT_TRANSFER
    assert (transfer.due_on, transfer.iban, transfer.mandate_reference) == (transferred.due_date, None, None)


async def test_a_batch_of_documents_is_read_in_the_same_number_of_queries_as_one(
    db_session: AsyncSession, connection: AsyncConnection, settings: Settings
) -> None:
    members = [await make_member(db_session, settings) for _ in range(5)]
    await make_mandate(db_session, settings, member=members[0])
    invoices = await _issued(db_session, settings, *members)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    sa.event.listen(connection.sync_connection, "before_cursor_execute", count)
    try:
        await documents.documents_for(db_session, settings=settings, invoice_ids=[invoices[0].id])
        one = len(statements)
        statements.clear()
        batch = await documents.documents_for(db_session, settings=settings, invoice_ids=[i.id for i in invoices])
    finally:
        sa.event.remove(connection.sync_connection, "before_cursor_execute", count)

    assert [d.number for d in batch] == [i.number for i in invoices]
    assert len(statements) == one


async def test_a_business_buyers_document_names_its_vat_id_in_the_pdf_and_the_xml_and_a_consumers_none(
    db_session: AsyncSession, settings: Settings
) -> None:
    business = await make_member(
        db_session, settings, organisation="Tischlerei Schulz GmbH", is_business=True, vat_id=VAT_ID
    )
    consumer = await make_member(db_session, settings)
    to_business, to_consumer = await _issued(db_session, settings, business, consumer)

    business_doc, consumer_doc = await documents.documents_for(
        db_session, settings=settings, invoice_ids=[to_business.id, to_consumer.id]
    )

    assert (business_doc.buyer.is_business, business_doc.buyer.vat_id) == (True, VAT_ID)
    assert (consumer_doc.buyer.is_business, consumer_doc.buyer.vat_id) == (False, None)
    assert f"Ihre USt-IdNr.</th><td>{VAT_ID}" in invoice_html(business_doc)
    assert "Ihre USt-IdNr." not in invoice_html(consumer_doc)
    business_xml = invoice_xml(business_doc)  # the Factur-X XML the PDF embeds
    assert _buyer_vat_ids(business_xml) == [VAT_ID]
    assert xml_check_xsd(business_xml, flavor="factur-x", level="en16931")
    assert _buyer_vat_ids(invoice_xml(consumer_doc)) == []


async def _xrechnung_readers(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, *, owner: Member
) -> tuple[int, list[dict[str, str]]]:
    """The one issued invoice of ``owner`` and the headers of its member, the board and another member."""
    [invoice] = await _issued(session, settings, owner)
    invoice_id, other = invoice.id, await make_member(session, settings)
    users = [
        await make_user(session, role=Role.MEMBER, member=owner),
        await make_user(session, role=Role.BOARD),
        await make_user(session, role=Role.MEMBER, member=other),
    ]
    return invoice_id, [await token_for(client, user) for user in users]


async def _stored_xml_count(session: AsyncSession, invoice_id: int) -> int:
    stored = await session.execute(
        sa.select(sa.func.count()).where(
            InvoiceDocumentFile.invoice_id == invoice_id, InvoiceDocumentFile.format == DocumentFormat.XML
        )
    )
    return int(stored.scalar_one())


async def test_the_xrechnung_export_is_valid_cii_stored_once_and_only_for_its_member_and_staff(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    owner = await make_member(db_session, settings, is_business=True, vat_id=VAT_ID)
    invoice_id, (mine, board, theirs) = await _xrechnung_readers(client, db_session, settings, owner=owner)
    url = f"/api/v1/invoices/{invoice_id}/xrechnung"

    first, again = await client.get(url, headers=mine), await client.get(url, headers=board)

    assert first.status_code == 200, first.text
    assert first.headers["content-type"].startswith("application/xml")
    assert b"urn:xeinkauf.de:kosit:xrechnung_3.0" in first.content
    assert xml_check_xsd(first.content, flavor="factur-x", level="en16931")
    assert _buyer_vat_ids(first.content) == [VAT_ID]
    assert again.content == first.content
    assert (await client.get(url, headers=theirs)).status_code == 404
    assert await _stored_xml_count(db_session, invoice_id) == 1


async def test_a_consumers_invoice_has_no_xrechnung_and_a_stranger_still_gets_not_found(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    consumer = await make_member(db_session, settings)
    invoice_id, (mine, board, theirs) = await _xrechnung_readers(client, db_session, settings, owner=consumer)
    url = f"/api/v1/invoices/{invoice_id}/xrechnung"

    by_member, by_board, by_stranger = [await client.get(url, headers=h) for h in (mine, board, theirs)]

    for refused in (by_member, by_board):
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "xrechnung_business_only"
        assert "consumer" in refused.json()["detail"]
    assert by_stranger.status_code == 404
    assert (await client.get(f"/api/v1/invoices/{invoice_id}/pdf", headers=mine)).status_code == 200
    assert await _stored_xml_count(db_session, invoice_id) == 0
