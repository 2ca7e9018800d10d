"""Issue 6's done-when, end to end on PostgreSQL: the demo coop billed, issued and rendered; the PDFs say
what §14 (4) UStG and §5 TKTransparenzV require, carry the Factur-X XML the documents module makes, match the
books, are stored once, and are read by their member and the board only; a business member's invoice names its
VAT ID and exports as XRechnung, a consumer's does not."""

from __future__ import annotations

import subprocess
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import sqlalchemy as sa
from babel.numbers import format_decimal
from facturx import get_xml_from_pdf, xml_check_xsd
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import unit_of_work
from app.demo import seed
from app.kit.actor import Actor, Channel, Role
from app.kit.money import format_money
from app.kit.time import local_today
from app.members.models import Member
from app.settings import Settings
from billing.documents.model import InvoiceDocument, PaymentMeans
from billing.documents.pdf import mask_iban
from billing.documents.service import invoice_xml, sha256
from billing.invoices import billrun, documents
from billing.invoices.models import BillRun, Invoice, InvoiceDocumentFile, InvoiceKind, InvoiceLine, ServiceKind
from billing.invoices.service import REVENUE_ACCOUNTS
from billing.ledger import service as ledger
from billing.ledger.models import Account, JournalEntry, JournalLine, SourceKind, SystemAccount
from tests.builders import make_user, token_for

pytestmark = pytest.mark.postgres
BOARD = Actor(user_id=None, label="test-board", role=Role.BOARD, channel=Channel.CLI)


class _OneSession:
    """``render_pending``'s units of work on the test's session (savepoints, all rolled back at the end)."""

    def __init__(self, session: AsyncSession):
        self.session = session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with unit_of_work(self.session):
            yield self.session


def pdf_text(content: bytes) -> str:
    """The PDF's text in the order it is drawn (a table cell stays together), whitespace and no-break
    spaces collapsed to single spaces."""
    result = subprocess.run(["pdftotext", "-raw", "-", "-"], input=content, capture_output=True, check=True)
    return " ".join(result.stdout.decode().replace("\xa0", " ").split())


def money(cents: int) -> str:
    return format_money(cents).replace("\xa0", " ")


def day(value: object) -> str:
    return f"{value:%d.%m.%Y}"


def missing_legal_fields(text: str, doc: InvoiceDocument) -> list[str]:
    """What of §14 (4) UStG and §5 TKTransparenzV the page does not say (empty: all of it)."""
    seller, buyer = doc.seller, doc.buyer
    wanted = {
        "seller name": seller.name,
        "seller street": seller.address.street,
        "seller town": f"{seller.address.postal_code} {seller.address.city}",
        "buyer name": buyer.name,
        "buyer street": buyer.address.street,
        "buyer town": f"{buyer.address.postal_code} {buyer.address.city}",
        "tax number or VAT ID": seller.tax_number or seller.vat_id or "(none)",
        "issue date": day(doc.issue_date),
        "invoice number": doc.number,
        "service period": f"{day(doc.period_start)} – {day(doc.period_end)}",
        "gross": money(doc.gross_total_cents),
    }
    for line in doc.lines:
        wanted[f"line {line.position} service"] = line.description
        wanted[f"line {line.position} quantity"] = f"{format_decimal(line.quantity, locale='de_DE')} "
        wanted[f"line {line.position} net"] = money(line.net_cents)
    for vat in doc.vat_totals:
        wanted[f"net at {vat.rate} %"] = money(vat.net_cents)
        wanted[f"rate {vat.rate} %"] = f"{format_decimal(vat.rate, locale='de_DE')} %"
        wanted[f"VAT at {vat.rate} %"] = money(vat.vat_cents)
    for terms in doc.contracts:
        wanted[f"{terms.contract_number} start"] = day(terms.start_on)
        term_end = terms.min_term_end_on
        wanted[f"{terms.contract_number} minimum term end"] = day(term_end) if term_end else "keine"
        wanted[f"{terms.contract_number} notice"] = terms.notice
        wanted[f"{terms.contract_number} last day to cancel"] = (
            day(terms.last_day_to_cancel) if terms.last_day_to_cancel else "jederzeit"
        )
    return [name for name, value in wanted.items() if value not in text]


async def demo_login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post("/api/v1/auth/token", data={"username": email, "password": seed.DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _counts(session: AsyncSession) -> tuple[int, int, int]:
    invoices = (await session.execute(sa.select(sa.func.count()).select_from(Invoice))).scalar_one()
    entries = (await session.execute(sa.select(sa.func.count()).select_from(JournalEntry))).scalar_one()
    files = (await session.execute(sa.select(sa.func.count()).select_from(InvoiceDocumentFile))).scalar_one()
    return int(invoices), int(entries), int(files)


async def _booked_per_account(session: AsyncSession, numbers: list[str]) -> dict[str, int]:
    """Credit minus debit per account over the ledger entries of source kind invoice for ``numbers``."""
    query = (
        sa.select(Account.code, sa.func.sum(JournalLine.credit_cents - JournalLine.debit_cents))
        .join(JournalLine, JournalLine.account_id == Account.id)
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .where(JournalEntry.source_kind == SourceKind.INVOICE, JournalEntry.source_id.in_(numbers))
        .group_by(Account.code)
    )
    return {code: int(total) for code, total in (await session.execute(query)).all()}


async def test_the_demo_coops_bill_run_renders_lawful_pdfs_that_match_the_books_once(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    await seed.seed(db_session, settings=settings)
    period = f"{local_today(settings.timezone):%Y-%m}"
    run = await billrun.preview(db_session, actor=BOARD, settings=settings, period=period)
    await billrun.issue(db_session, actor=BOARD, settings=settings, run_id=run.id)
    report = await documents.render_pending(_OneSession(db_session), settings=settings, run_id=run.id)
    print(f"\ndemo bill run: {report.rendered} PDFs in {report.seconds:.2f} s = {report.per_second:.2f} PDFs/s")

    invoices = list(
        (await db_session.execute(sa.select(Invoice).where(Invoice.bill_run_id == run.id).order_by(Invoice.id)))
        .scalars()
        .all()
    )
    stored = {
        f.invoice_id: f
        for f in (
            await db_session.execute(
                sa.select(InvoiceDocumentFile).where(InvoiceDocumentFile.invoice_id.in_([i.id for i in invoices]))
            )
        ).scalars()
    }
    assert len(invoices) >= 30
    assert report.rendered == len(invoices)
    assert set(stored) == {i.id for i in invoices}
    assert all(f.sha256 == sha256(f.content) for f in stored.values())

    kinds: dict[int, set[str]] = defaultdict(set)
    for invoice_id, kind in await db_session.execute(
        sa.select(InvoiceLine.invoice_id, InvoiceLine.service_kind).where(
            InvoiceLine.invoice_id.in_([i.id for i in invoices])
        )
    ):
        kinds[invoice_id].add(ServiceKind(kind).value)
    all_docs = await documents.documents_for(db_session, settings=settings, invoice_ids=[i.id for i in invoices])
    by_id = {i.id: d for i, d in zip(invoices, all_docs, strict=True)}
    with_calls = next(i for i in invoices if ServiceKind.TELEPHONY.value in kinds[i.id])
    with_mandate = next(i for i in invoices if by_id[i.id].payment.means is PaymentMeans.SEPA_DIRECT_DEBIT)
    two_contracts = next(i for i in invoices if len(by_id[i.id].contracts) > 1)
    business = next(i for i in invoices if i.buyer_is_business)  # the demo's businesses: VAT ID and XRechnung
    sample = [invoices[0], with_calls, with_mandate, two_contracts, business]

    for invoice in sample:
        doc = await documents.document_for(db_session, settings=settings, invoice_id=invoice.id)
        content = stored[invoice.id].content
        text = pdf_text(content)
        _, embedded = get_xml_from_pdf(content, check_xsd=False)
        assert doc == by_id[invoice.id]
        assert missing_legal_fields(text, doc) == [], invoice.number
        assert xml_check_xsd(embedded, flavor="factur-x", level="en16931")
        assert embedded == invoice_xml(doc)
    mandate_doc = by_id[with_mandate.id]
    assert mandate_doc.payment.mandate_reference and mandate_doc.payment.iban and mandate_doc.payment.collection_on
    mandate_text = pdf_text(stored[with_mandate.id].content)
    assert mandate_doc.payment.mandate_reference in mandate_text
    assert mask_iban(mandate_doc.payment.iban) in mandate_text
    assert day(mandate_doc.payment.collection_on) in mandate_text
    assert "Lastschrift" in mandate_text
    business_id, vat_id = business.id, business.buyer_vat_id
    assert vat_id in {vat for _, vat in seed.BUSINESSES.values()}
    assert f"Ihre USt-IdNr. {vat_id}" in pdf_text(stored[business_id].content)

    # The books: the invoices' totals are what the ledger booked from them, per account.
    codes = await ledger.system_account_codes(db_session)
    expected: dict[str, int] = defaultdict(int)
    for invoice in invoices:
        assert invoice.kind is InvoiceKind.INVOICE
        expected[codes[SystemAccount.RECEIVABLES]] -= invoice.gross_cents
        expected[codes[SystemAccount.VAT_19]] += invoice.vat_cents
    for kind, net in await db_session.execute(
        sa.select(InvoiceLine.service_kind, sa.func.sum(InvoiceLine.net_cents))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(Invoice.bill_run_id == run.id)
        .group_by(InvoiceLine.service_kind)
    ):
        expected[codes[REVENUE_ACCOUNTS[ServiceKind(kind)]]] += int(net)
    assert await _booked_per_account(db_session, [str(i.number) for i in invoices]) == {
        k: v for k, v in expected.items() if v
    }

    # A second run of the same period makes nothing: no invoices, no entries, no documents.
    before = await _counts(db_session)
    again = await billrun.preview(db_session, actor=BOARD, settings=settings, period=period)
    await billrun.issue(db_session, actor=BOARD, settings=settings, run_id=again.id)
    rendered_again = await documents.render_pending(_OneSession(db_session), settings=settings)
    assert again.invoice_count == 0
    assert rendered_again.rendered == 0
    assert await _counts(db_session) == before
    assert (await db_session.get(BillRun, again.id)) is not None

    # The API: the member reads their own stored PDF (the same bytes each time), the board too, no one else.
    ben = (await db_session.execute(sa.select(Member).where(Member.email == "ben@example.org"))).scalar_one()
    assert with_mandate.member_id == ben.id  # the demo's member who pays by direct debit
    mine, theirs = await demo_login(client, "ben@example.org"), await demo_login(client, "anna@example.org")
    board = await token_for(client, await make_user(db_session, role=Role.BOARD))
    invoice_id, content, digest = with_mandate.id, stored[with_mandate.id].content, stored[with_mandate.id].sha256
    url = f"/api/v1/invoices/{invoice_id}/pdf"
    first, second = await client.get(url, headers=mine), await client.get(url, headers=mine)
    by_board, by_stranger = await client.get(url, headers=board), await client.get(url, headers=theirs)
    assert first.status_code == 200, first.text
    assert first.content == second.content == by_board.content == content
    assert first.headers["etag"] == digest
    assert by_stranger.status_code == 404
    assert (await client.get(f"/api/v1/invoices/{invoice_id}/xrechnung", headers=theirs)).status_code == 404
    assert await _counts(db_session) == before

    # XRechnung: Ben buys as a consumer (none for him); the demo's businesses get a valid one naming their VAT ID.
    consumers = await client.get(f"/api/v1/invoices/{invoice_id}/xrechnung", headers=mine)
    assert consumers.status_code == 409 and consumers.json()["code"] == "xrechnung_business_only"
    xrechnung = await client.get(f"/api/v1/invoices/{business_id}/xrechnung", headers=board)
    assert xrechnung.status_code == 200, xrechnung.text
    assert xml_check_xsd(xrechnung.content, flavor="factur-x", level="en16931")
    assert f'<ram:ID schemeID="VA">{vat_id}</ram:ID>'.encode() in xrechnung.content
