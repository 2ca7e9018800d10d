"""Invoices and credit notes: issuing with gapless numbers, booking them in the ledger, credit notes as the
only correction, pending credits, and reading invoices as the caller may see them.

Services only flush; the caller's unit of work commits. Numbers are taken from the series row inside the
issuing transaction (``repository.take_numbers``), so a rollback returns them and concurrent issuers queue.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import action
from app.kit.actor import Actor, Role
from app.kit.errors import Conflict, Invalid, NotFound
from app.kit.money import vat_by_rate
from app.kit.time import local_today, utcnow
from app.settings import Settings
from billing.invoices import repository
from billing.invoices.models import (
    DocumentFormat,
    Invoice,
    InvoiceDocumentFile,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    PendingCredit,
    ServiceKind,
)
from billing.invoices.schemas import (
    ContractTermsOut,
    CreditDraft,
    CreditNoteCreate,
    InvoiceDetail,
    InvoiceLineOut,
    SettlementOut,
    VatTotalOut,
)
from billing.ledger import service as ledger
from billing.ledger.models import SourceKind, SystemAccount
from billing.ledger.schemas import Posting, PostingLine
from billing.payments import credit

REVENUE_ACCOUNTS = {
    ServiceKind.INTERNET: SystemAccount.REVENUE_INTERNET,
    ServiceKind.TELEPHONY: SystemAccount.REVENUE_TELEPHONY,
    ServiceKind.SETUP: SystemAccount.REVENUE_SETUP_FEES,
    ServiceKind.USAGE: SystemAccount.REVENUE_USAGE,
    ServiceKind.COMPENSATION: SystemAccount.REVENUE_REDUCTIONS,
    ServiceKind.REFUND: SystemAccount.PATRONAGE_REFUNDS,
}
POSTING_BATCH = 5000


def contract_terms(invoice: Invoice) -> list[ContractTermsOut]:
    """The contract facts ``invoice`` states, in contract order."""
    terms = [ContractTermsOut.model_validate(t) for t in invoice.contract_terms or []]
    return sorted(terms, key=lambda t: t.contract_number)


# --- numbers -----------------------------------------------------------------------------------------


async def issue_drafts(
    session: AsyncSession, *, kind: InvoiceKind, year: int, where: str, params: dict[str, object]
) -> int:
    """Number the drafts of ``kind`` matching ``where`` (SQL on ``invoices``) from the series of ``year``, in
    member order, and mark them issued; returns how many. The one place numbers are handed out."""
    condition = f"kind = :kind AND {where}"
    values = {**params, "kind": kind.value}
    count = await repository.count_drafts(session, where=condition, params=values)
    if not count:
        return 0
    series = await repository.series_id(session, kind, year)
    prefix, first = await repository.take_numbers(session, series, count)
    numbered = await repository.number_drafts(
        session, where=condition, params=values, series=series, prefix=prefix, first=first, now=utcnow()
    )
    if numbered != count:
        raise RuntimeError(f"numbered {numbered} invoices, expected {count}")
    return count


# --- the ledger --------------------------------------------------------------------------------------


async def post_issued(session: AsyncSession, *, actor: Actor, where: sa.ColumnElement[bool]) -> int:
    """Book the issued invoices and credit notes matching ``where``, set-based in the database: an invoice
    debits receivables (member) with the gross and credits revenue per service kind with the net and VAT 19 %
    with the VAT (a compensation's negative net debits revenue reductions); a credit note the reverse. The
    settlements of an invoice (credits set off) post debit the credit's account, credit receivables (source
    ``set_off``); the member's own credit set off (account receivables) posts nothing. Returns how many
    entries were booked."""
    ids = await ledger.system_account_ids(session)
    revenue = {kind.value: ids[account] for kind, account in REVENUE_ACCOUNTS.items()}
    booked = await ledger.post_selected(
        session,
        actor=actor,
        lines=repository.posting_lines(
            where=where, receivables=ids[SystemAccount.RECEIVABLES], vat=ids[SystemAccount.VAT_19], revenue=revenue
        ),
    )
    set_offs: dict[int, list[Any]] = defaultdict(list)
    for row in await repository.settlement_rows(session, where=where):
        # The member's own credit set off moves nothing between accounts (receivables to receivables).
        if row.account != SystemAccount.RECEIVABLES.value:
            set_offs[row.id].append(row)
    if not set_offs:
        return booked
    codes = await ledger.system_account_codes(session)
    receivables = codes[SystemAccount.RECEIVABLES]
    drafts: list[Posting] = []
    for parts in set_offs.values():
        head = parts[0]
        member = head.member_id
        lines = [
            PostingLine(account=codes[SystemAccount(part.account)], debit_cents=-int(part.amount), member_id=member)
            for part in parts
        ]
        lines.append(
            PostingLine(account=receivables, credit_cents=-sum(int(p.amount) for p in parts), member_id=member)
        )
        drafts.append(
            Posting(
                entry_date=head.issue_date,
                text=f"Verrechnung mit Rechnung {head.number}",
                source_kind=SourceKind.SET_OFF,
                source_id=str(head.number),
                lines=lines,
            )
        )
    return booked + len(await ledger.post_many(session, actor=actor, entries=drafts))


# --- credits -----------------------------------------------------------------------------------------


async def add_credits(
    session: AsyncSession, *, credits: Sequence[CreditDraft], actor: Actor | None = None
) -> list[PendingCredit]:
    """Queue credits that each member's next invoice settles (outside its VAT base). A credit whose source
    was added already is returned as it is, if it says the same (else ``credit_source_conflict``).

    Other billing services (a dividend run) call it inside their own authorised step, without ``actor``;
    given one, it must be staff. The session's bound actor is recorded in the audit log either way."""
    if actor is not None:
        actor.require(Role.OPERATOR, Role.BOARD)
    existing = await repository.credits_by_source(session, [(c.source_kind, c.source_id) for c in credits])
    result: list[PendingCredit] = []
    with action(session, "invoices.add_credits"):
        for draft in credits:
            found = existing.get((draft.source_kind, draft.source_id))
            if found is not None:
                if (found.member_id, found.amount_cents, found.account) != (
                    draft.member_id,
                    draft.amount_cents,
                    draft.account.value,
                ):
                    raise Conflict(
                        f"Credit {draft.source_kind} {draft.source_id} was added with other values.",
                        code="credit_source_conflict",
                    )
                result.append(found)
                continue
            credit = PendingCredit(
                member_id=draft.member_id,
                amount_cents=draft.amount_cents,
                text=draft.text,
                account=draft.account.value,
                source_kind=draft.source_kind,
                source_id=draft.source_id,
            )
            session.add(credit)
            existing[(draft.source_kind, draft.source_id)] = credit
            result.append(credit)
        await session.flush()
    return result


# --- reading -----------------------------------------------------------------------------------------


async def get_invoice(session: AsyncSession, *, actor: Actor, invoice_id: int) -> Invoice:
    """One invoice the actor may see (a member: their own, issued ones); anyone else's is not found."""
    found = await repository.invoice(session, invoice_id, actor=actor)
    if found is None or (actor.is_member and found.status is not InvoiceStatus.ISSUED):
        raise NotFound(f"Invoice {invoice_id} not found.", code="invoice_not_found")
    return found


async def search_invoices(
    session: AsyncSession, *, actor: Actor, filters: repository.InvoiceFilter, limit: int, offset: int
) -> tuple[list[Invoice], int]:
    """Invoices the actor may see, newest first; members see their issued ones only."""
    if actor.is_member:
        filters = dataclasses.replace(filters, status=InvoiceStatus.ISSUED)
    return await repository.search(session, actor=actor, filters=filters, limit=limit, offset=offset)


async def invoice_detail(session: AsyncSession, *, actor: Actor, settings: Settings, invoice_id: int) -> InvoiceDetail:
    """Everything an invoice says: both parties, numbers, lines, net and VAT per rate, contract facts."""
    found = await get_invoice(session, actor=actor, invoice_id=invoice_id)
    lines = await repository.lines(session, found.id)
    totals = vat_by_rate((line.vat_rate, line.net_cents) for line in lines)
    return InvoiceDetail(
        **{k: getattr(found, k) for k in InvoiceDetail.model_fields if hasattr(found, k)},
        seller_name=settings.coop_name,
        seller_address=settings.coop_address,
        seller_tax_number=settings.coop_tax_number,
        seller_vat_id=settings.coop_vat_id,
        lines=[InvoiceLineOut.model_validate(line) for line in lines],
        vat_totals=[VatTotalOut(rate=rate, net_cents=net, vat_cents=vat) for rate, (net, vat) in totals.items()],
        contracts=contract_terms(found),
        settlements=[SettlementOut.model_validate(s) for s in await repository.settlements(session, found.id)],
        has_pdf=await repository.document(session, found.id, DocumentFormat.PDF) is not None,
    )


async def store_document(
    session: AsyncSession, *, invoice_id: int, fmt: DocumentFormat, content: bytes
) -> InvoiceDocumentFile:
    """Keep a rendering of an issued invoice once, with its SHA-256 (GoBD); the same again returns it, other
    bytes are a ``invoice_document_conflict``."""
    found = await repository.invoice(session, invoice_id)
    if found is None or found.status is not InvoiceStatus.ISSUED:
        raise Conflict(f"Invoice {invoice_id} is not issued.", code="invoice_not_issued")
    digest = hashlib.sha256(content).hexdigest()
    stored = await repository.document(session, invoice_id, fmt)
    if stored is not None:
        if stored.sha256 != digest:
            raise Conflict(f"Invoice {invoice_id} has another {fmt.value}.", code="invoice_document_conflict")
        return stored
    stored = InvoiceDocumentFile(invoice_id=invoice_id, format=fmt, sha256=digest, content=content, created_at=utcnow())
    session.add(stored)
    await session.flush()
    return stored


# --- credit notes ------------------------------------------------------------------------------------


async def create_credit_note(
    session: AsyncSession, *, actor: Actor, settings: Settings, invoice_id: int, data: CreditNoteCreate
) -> Invoice:
    """Correct an issued invoice by a credit note (Stornorechnung) that names it: for all its lines or those
    at ``data.positions``, each line at most once over all credit notes. Issued at once in the credit notes'
    own series and booked in reverse in the ledger. What the note credits beyond what is open on the invoice is
    the member's credit, used at once on their other open invoices (``billing.payments.credit.apply``)."""
    actor.require(Role.OPERATOR, Role.BOARD)
    original = await repository.invoice(session, invoice_id)
    if original is None:
        raise NotFound(f"Invoice {invoice_id} not found.", code="invoice_not_found")
    if original.kind is not InvoiceKind.INVOICE or original.status is not InvoiceStatus.ISSUED:
        raise Conflict("Only an issued invoice can be corrected by a credit note.", code="invoice_not_issued")
    lines = await repository.lines(session, original.id)
    wanted = set(data.positions) or {line.position for line in lines}
    unknown = wanted - {line.position for line in lines}
    if unknown:
        raise Invalid(f"Invoice {original.number} has no position {min(unknown)}.", field="positions")
    chosen = [line for line in lines if line.position in wanted]
    refs = [f"cn:{line.id}" for line in chosen]
    if await repository.billed_refs(session, refs):
        raise Conflict(f"A line of invoice {original.number} is credited already.", code="invoice_line_credited")
    issue_on = data.issue_on or local_today(settings.timezone)
    totals = vat_by_rate((line.vat_rate, line.net_cents) for line in chosen)
    net = sum(n for n, _ in totals.values())
    vat = sum(v for _, v in totals.values())
    note = Invoice(
        kind=InvoiceKind.CREDIT_NOTE,
        status=InvoiceStatus.DRAFT,
        member_id=original.member_id,
        corrects_invoice_id=original.id,
        **{c: getattr(original, c) for c in _BUYER_COLUMNS},
        issue_date=issue_on,
        period_start=original.period_start,
        period_end=original.period_end,
        due_date=issue_on + timedelta(days=settings.invoice_due_days),
        net_cents=net,
        vat_cents=vat,
        gross_cents=net + vat,
        amount_due_cents=net + vat,
    )
    with action(session, "invoices.credit_note"):
        session.add(note)
        await session.flush()
        for position, (line, ref) in enumerate(zip(chosen, refs, strict=True), start=1):
            session.add(
                InvoiceLine(
                    invoice_id=note.id,
                    position=position,
                    description=f"{data.reason} (Pos. {line.position}): {line.description}"[:300],
                    quantity=line.quantity,
                    unit=line.unit,
                    unit_price=line.unit_price,
                    net_cents=line.net_cents,
                    vat_rate=line.vat_rate,
                    service_kind=line.service_kind,
                    period_start=line.period_start,
                    period_end=line.period_end,
                    contract_id=line.contract_id,
                    contract_number=line.contract_number,
                    source_ref=ref,
                )
            )
        await session.flush()
        await issue_drafts(
            session, kind=InvoiceKind.CREDIT_NOTE, year=issue_on.year, where="id = :id", params={"id": note.id}
        )
        await post_issued(session, actor=actor, where=Invoice.id == note.id)
    # Where the invoice was paid already, the note leaves credit: it goes to the member's open invoices.
    await credit.apply(session, actor=actor, on=issue_on, member_ids=[original.member_id])
    await session.refresh(note)
    return note


_BUYER_COLUMNS = (
    "buyer_name",
    "buyer_street",
    "buyer_postal_code",
    "buyer_city",
    "buyer_country",
    "buyer_member_number",
    "buyer_vat_id",
    "buyer_is_business",
)
BUYER_COLUMNS = _BUYER_COLUMNS  # what a credit note copies from the invoice it names (dividends' refunds too)


def period_bounds(period: str) -> tuple[date, date]:
    """``2026-10`` -> (1 Oct 2026, 31 Oct 2026)."""
    from app.kit.time import last_day_of_month

    year, month = (int(p) for p in period.split("-"))
    return date(year, month, 1), last_day_of_month(year, month)


async def revenue_by_month(session: AsyncSession, *, actor: Actor, since: date) -> dict[str, dict[str, int]]:
    """Net revenue invoiced per month (``YYYY-MM``) and service kind since ``since`` (credit notes deducted)."""
    actor.require(Role.BOARD)
    table: dict[str, dict[str, int]] = {}
    for month, kind, net in await repository.revenue_by_month(session, since=since):
        table.setdefault(str(month), {})[ServiceKind(kind).value] = int(net or 0)
    return table
