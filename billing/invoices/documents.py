"""What an issued invoice says, as a ``billing.documents`` ``InvoiceDocument`` built from its rows, and the
rendering of the PDFs that are not stored yet (once each, GoBD).

Sign conventions (``billing.documents.cii.check_document``): an invoice row keeps a compensation line as a
positive quantity at a negative price with a negative net; the document states it as a negative quantity at
a non-negative price (EN 16931 BR-27). Credit notes are stored with positive amounts and stay so.
Settlements are stored negative and stay so.

Rendering runs after the issuing transaction committed, in its own short transactions: read a batch of
issued invoices without a PDF, render them through the worker pool (no transaction open meanwhile), store
each with its SHA-256.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.errors import Conflict, NotFound
from app.kit.money import vat_by_rate
from app.members import service as members
from app.settings import Settings
from billing.documents import service as rendering
from billing.documents.letterhead import seller_from_settings
from billing.documents.model import (
    Address,
    Buyer,
    ContractTerms,
    DocumentKind,
    InvoiceDocument,
    Line,
    Payment,
    PaymentMeans,
    Settlement,
    VatTotal,
)
from billing.documents.xrechnung import xrechnung_xml
from billing.invoices import repository
from billing.invoices.models import (
    DocumentFormat,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceSettlement,
    InvoiceStatus,
)
from billing.invoices.service import contract_terms, store_document
from billing.payments import mandates, sepa

log = logging.getLogger("opentelecom.invoices")
BATCH = 200


class Transactions(Protocol):
    """What gives a unit of work: ``app.db.Database`` (``async with database.transaction() as session``)."""

    def transaction(self) -> Any: ...


def _months(n: int) -> str:
    return f"{n} Monat" if n == 1 else f"{n} Monaten"


def notice_text(notice_months: int, after_min_term_months: int, *, has_min_term: bool) -> str:
    """The notice period in the words the invoice prints (§5 TKTransparenzV, §56 (3) TKG)."""
    later = f"danach jederzeit mit einer Frist von {_months(after_min_term_months)}"
    if not has_min_term:
        return f"jederzeit mit einer Frist von {_months(notice_months)}"
    return f"{_months(notice_months)} zum Ende der Mindestlaufzeit, {later}"


def _line(row: InvoiceLine) -> Line:
    quantity, price = Decimal(row.quantity), Decimal(row.unit_price)
    if price < 0:  # a credit line (outage compensation): negative quantity, non-negative price (BR-27)
        quantity, price = -quantity, -price
    return Line(
        position=row.position,
        description=row.description,
        quantity=quantity,
        unit=row.unit,
        unit_price=price,
        net_cents=int(row.net_cents),
        vat_rate=Decimal(row.vat_rate),
        period_start=row.period_start,
        period_end=row.period_end,
        contract_number=row.contract_number,
    )


@dataclass(frozen=True, slots=True)
class _Mandate:
    iban: str
    reference: str


def _payment(invoice: Invoice, mandate: _Mandate | None, settings: Settings) -> Payment:
    if invoice.kind is InvoiceKind.CREDIT_NOTE or invoice.amount_due_cents <= 0:
        # Money back: transferred to the member's account if we know it, else set off (the PDF says which).
        return Payment(
            means=PaymentMeans.CREDIT_TRANSFER, due_on=invoice.due_date, iban=mandate.iban if mandate else None
        )
    if mandate is not None:
        return Payment(
            means=PaymentMeans.SEPA_DIRECT_DEBIT,
            due_on=invoice.due_date,
            iban=mandate.iban,
            mandate_reference=mandate.reference,
            collection_on=sepa.collection_date(
                issued_on=invoice.issue_date, due_on=invoice.due_date, settings=settings
            ),
        )
    return Payment(means=PaymentMeans.CREDIT_TRANSFER, due_on=invoice.due_date)


async def _mandates(session: AsyncSession, invoices: Sequence[Invoice]) -> dict[int, _Mandate]:
    """The members' mandates that are active on each invoice's issue date (read, never written)."""
    found = await mandates.active_for(session, member_ids={i.member_id for i in invoices})
    result: dict[int, _Mandate] = {}
    for invoice in invoices:
        mandate = found.get(invoice.member_id)
        on = invoice.issue_date
        if mandate is not None and mandate.signed_on <= on and mandates.state(mandate, on) == "active":
            result[invoice.id] = _Mandate(iban=mandate.iban, reference=mandate.reference)
    return result


async def documents_for(
    session: AsyncSession, *, settings: Settings, invoice_ids: Sequence[int], emails: bool = False
) -> list[InvoiceDocument]:
    """The documents of the issued invoices ``invoice_ids`` (in that order), read in one query per table
    for the whole batch. ``emails`` adds the buyers' e-mail addresses (XRechnung BT-49)."""
    ids = list(dict.fromkeys(invoice_ids))
    invoices = {i.id: i for i in await repository.invoices_by_ids(session, ids)}
    missing = [i for i in ids if i not in invoices or invoices[i].status is not InvoiceStatus.ISSUED]
    if missing:
        raise NotFound(f"Invoice {missing[0]} is not an issued invoice.", code="invoice_not_found")
    lines: dict[int, list[InvoiceLine]] = defaultdict(list)
    settlements: dict[int, list[InvoiceSettlement]] = defaultdict(list)
    for row in await repository.lines_of(session, ids):
        lines[row.invoice_id].append(row)
    for settlement in await repository.settlements_of(session, ids):
        settlements[settlement.invoice_id].append(settlement)
    corrected_ids = [i.corrects_invoice_id for i in invoices.values() if i.corrects_invoice_id]
    corrected = {i.id: i for i in await repository.invoices_by_ids(session, corrected_ids)}
    by_invoice = await _mandates(session, list(invoices.values()))
    addresses: dict[int, str] = {}
    if emails:
        for invoice in invoices.values():
            if invoice.member_id not in addresses:
                member = await members.get_member_for_link(session, member_id=invoice.member_id)
                addresses[invoice.member_id] = member.email
    seller = seller_from_settings(settings)
    result = []
    for invoice_id in ids:
        invoice = invoices[invoice_id]
        doc_lines = tuple(_line(row) for row in lines[invoice_id])
        totals = vat_by_rate((line.vat_rate, line.net_cents) for line in doc_lines)
        original = corrected.get(invoice.corrects_invoice_id) if invoice.corrects_invoice_id else None
        result.append(
            InvoiceDocument(
                kind=DocumentKind(invoice.kind.value),
                number=str(invoice.number),
                issue_date=invoice.issue_date,
                period_start=invoice.period_start,
                period_end=invoice.period_end,
                seller=seller,
                buyer=Buyer(
                    name=invoice.buyer_name,
                    address=Address(
                        street=invoice.buyer_street,
                        postal_code=invoice.buyer_postal_code,
                        city=invoice.buyer_city,
                        country=invoice.buyer_country,
                    ),
                    member_number=invoice.buyer_member_number,
                    vat_id=invoice.buyer_vat_id,
                    email=addresses.get(invoice.member_id),
                    is_business=invoice.buyer_is_business,
                ),
                lines=doc_lines,
                vat_totals=tuple(
                    VatTotal(rate=rate, category="S", net_cents=net, vat_cents=vat)
                    for rate, (net, vat) in sorted(totals.items())
                ),
                net_total_cents=invoice.net_cents,
                vat_total_cents=invoice.vat_cents,
                gross_total_cents=invoice.gross_cents,
                amount_due_cents=invoice.amount_due_cents,
                payment=_payment(invoice, by_invoice.get(invoice_id), settings),
                contracts=tuple(
                    ContractTerms(
                        contract_number=t.contract_number,
                        plan_name=t.plan_name,
                        start_on=t.start_on,
                        min_term_end_on=t.min_term_end_on,
                        notice=notice_text(
                            t.notice_months, t.notice_after_min_term_months, has_min_term=t.min_term_end_on is not None
                        ),
                        last_day_to_cancel=t.last_day_to_cancel,
                    )
                    for t in contract_terms(invoice)
                ),
                settlements=tuple(
                    Settlement(text=s.text, amount_cents=int(s.amount_cents)) for s in settlements[invoice_id]
                ),
                corrects_number=original.number if original else None,
                corrects_issue_date=original.issue_date if original else None,
            )
        )
    return result


async def document_for(session: AsyncSession, *, settings: Settings, invoice_id: int) -> InvoiceDocument:
    """The document of one issued invoice (what its PDF and XML say)."""
    return (await documents_for(session, settings=settings, invoice_ids=[invoice_id]))[0]


# --- rendering and storing ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RenderReport:
    """What one ``render_pending`` call did, and how fast."""

    rendered: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.rendered / self.seconds if self.seconds else 0.0


async def _store_or_keep(
    session: AsyncSession, *, invoice_id: int, content: bytes, fmt: DocumentFormat = DocumentFormat.PDF
) -> bytes:
    """Store a rendering; if one was stored first, that one stays and is returned (two renderings are not
    byte-identical, and the first stored is the document)."""
    stored = await repository.document(session, invoice_id, fmt)
    if stored is not None:
        return stored.content
    return (await store_document(session, invoice_id=invoice_id, fmt=fmt, content=content)).content


async def render_pending(
    database: Transactions,
    *,
    settings: Settings,
    run_id: int | None = None,
    limit: int | None = None,
    in_flight: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RenderReport:
    """Render and store the PDFs of issued invoices that have none yet (those of bill run ``run_id``, or
    all), at most ``limit``, in batches of ``BATCH``: each batch is read in one transaction, rendered
    through ``render_many`` with none open, and stored in another. ``progress(done, total)`` counts over
    the whole call. Run it after the issuing transaction committed."""
    started, done = time.perf_counter(), 0
    async with database.transaction() as session:
        total = await repository.count_without_document(session, fmt=DocumentFormat.PDF, run_id=run_id)
    total = min(total, limit) if limit is not None else total
    after = 0
    while done < total:
        async with database.transaction() as session:
            ids = await repository.without_document(
                session, fmt=DocumentFormat.PDF, run_id=run_id, after_id=after, limit=min(BATCH, total - done)
            )
            if not ids:
                break
            docs = await documents_for(session, settings=settings, invoice_ids=ids)
        after = ids[-1]
        rendered: list[tuple[int, bytes]] = []

        def tick(batch_done: int, _: int, base: int = done) -> None:
            if progress:
                progress(base + batch_done, total)

        async for item in rendering.render_many(docs, in_flight=in_flight, progress=tick):
            rendered.append((ids[item.index], item.pdf))
        async with database.transaction() as session:
            for invoice_id, content in rendered:
                await _store_or_keep(session, invoice_id=invoice_id, content=content)
        done += len(rendered)
    seconds = time.perf_counter() - started
    if done:
        log.info("rendered %d invoice PDFs in %.1f s", done, seconds)
    return RenderReport(rendered=done, seconds=seconds)


async def stored_or_made(session: AsyncSession, *, settings: Settings, invoice: Invoice, fmt: DocumentFormat) -> bytes:
    """An issued invoice's stored rendering, made and stored on first request: the PDF (with Factur-X)
    or the XRechnung 3.0 XML (which also needs the buyer's e-mail, BT-49). XRechnung is for invoices to
    business members only (``xrechnung_business_only``): a consumer's invoice is its PDF."""
    xml = fmt is DocumentFormat.XML
    if xml and not invoice.buyer_is_business:
        raise Conflict(
            f"Invoice {invoice.number or invoice.id} is addressed to a consumer; XRechnung is made only for invoices "
            "to business members. Its PDF (with Factur-X XML) is the invoice; mark the member as a business for "
            "XRechnung on their next invoices.",
            code="xrechnung_business_only",
        )
    stored = await repository.document(session, invoice.id, fmt)
    if stored is not None:
        return stored.content
    if invoice.status is not InvoiceStatus.ISSUED:
        raise Conflict(f"Invoice {invoice.id} is not issued.", code="invoice_not_issued")
    (doc,) = await documents_for(session, settings=settings, invoice_ids=[invoice.id], emails=xml)
    content = xrechnung_xml(doc) if xml else await rendering.render_invoice_pdf(doc)
    return await _store_or_keep(session, invoice_id=invoice.id, content=content, fmt=fmt)
