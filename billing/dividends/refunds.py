"""Patronage refunds (genossenschaftliche Rückvergütung, §22 KStG): a share of each member's net service
revenue in the business year, returned by the cooperative's decision as a credit note per member.

What counts: the net of the member's issued invoices dated in the business year, less the net of credit notes
dated in it (earlier refunds excluded); members of that year only (``members.capital_histories``), never
non-member customers. Refund net = that revenue × percent, rounded half up once per member; VAT 19 % on it,
computed the way an invoice computes it (``vat_by_rate``), because the refund lowers the remuneration of taxed
supplies (§17 (1) UStG) and the coop's output tax falls with it.

**The document.** A credit note (type 381) in the credit notes' series, immutable like every issued invoice,
that names the member's **last invoice of the business year** as its preceding invoice (BT-25/26). EN 16931
allows a credit note with or without a preceding invoice reference (BG-3 is 0..n); §14 UStG does not ask a
correction document to name one invoice, but §17 UStG wants the reduced remuneration traceable to the
supplies, and ``billing.documents.check_document`` refuses a credit note without BT-25. Naming the year's last
invoice keeps the document valid there and points to the period whose revenue it reduces; the line's text
states the basis (the year, the percent and the net revenue it was computed on). It is not a self-billing
Gutschrift (§14 (2) UStG). A member who had no invoice in the year has no revenue and gets none.

**The books.** The line's service kind is ``refund``, which ``billing.invoices.service.post_issued`` books like
any credit note: debit patronage refunds (8770, the kind's account) the net and VAT 19 % the VAT, credit
receivables (member) the gross, source ``credit_note <number>``. The refund is a credit on the member's
account, which the next payment matching or invoice clears like any credit note; it is not paid out through
dividends payable (a refund is a revenue reduction, not a distribution of profit, so it does not belong in the
dividend liability and bears no capital gains tax). Paying a credit balance out is payments' refund
(liability ``receivables``).

Idempotent: each line's unique ``source_ref`` is ``patronage:<year>:<member>``, so a member is refunded once
per year however often this runs.

The percent is the board's entry on the year's dividend decision (``refund_percent``): the board page and the
API issue through ``issue_decided_refunds``, which takes it from there.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import action
from app.kit.actor import Actor, Role
from app.kit.errors import Invalid
from app.kit.money import cents_to_decimal, format_money, vat_by_rate, whole_cents
from app.members import service as members
from app.settings import Settings
from billing.dividends import repository
from billing.dividends.schemas import RefundLine, RefundReport, RefundTotals
from billing.dividends.service import business_year_bounds, check_refund_percent, get_decision
from billing.invoices import service as invoices
from billing.invoices.models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus, ServiceKind

VAT_RATE = Decimal("19")
REF_PREFIX = repository.REFUND_REF_PREFIX


def refund_ref(business_year: int, member_id: int) -> str:
    return f"{REF_PREFIX}:{business_year}:{member_id}"


def refund_net(revenue_net_cents: int, percent: Decimal) -> int:
    """The refund of ``percent`` on a net revenue, half up once (never negative)."""
    return max(whole_cents(Decimal(revenue_net_cents) * percent / 100), 0)


async def net_revenue(session: AsyncSession, *, start: date, end: date, member_ids: list[int]) -> dict[int, int]:
    """Each member's net service revenue dated ``start``..``end``: issued invoices' net less credit notes' net,
    patronage refunds left out."""
    if not member_ids:
        return {}
    refund = sa.exists().where(InvoiceLine.invoice_id == Invoice.id, InvoiceLine.source_ref.like(f"{REF_PREFIX}:%"))
    signed = sa.case((Invoice.kind == InvoiceKind.INVOICE, Invoice.net_cents), else_=-Invoice.net_cents)
    rows = await session.execute(
        sa.select(Invoice.member_id, sa.func.sum(signed))
        .where(
            Invoice.status == InvoiceStatus.ISSUED,
            Invoice.issue_date.between(start, end),
            Invoice.member_id.in_(member_ids),
            sa.not_(refund),
        )
        .group_by(Invoice.member_id)
    )
    return {member_id: int(total) for member_id, total in rows.all()}


async def _last_invoices(session: AsyncSession, *, start: date, end: date, member_ids: list[int]) -> dict[int, Invoice]:
    ranked = (
        sa.select(
            Invoice.id,
            sa.func.row_number()
            .over(partition_by=Invoice.member_id, order_by=(Invoice.issue_date.desc(), Invoice.id.desc()))
            .label("n"),
        )
        .where(
            Invoice.kind == InvoiceKind.INVOICE,
            Invoice.status == InvoiceStatus.ISSUED,
            Invoice.issue_date.between(start, end),
            Invoice.member_id.in_(member_ids),
        )
        .subquery()
    )
    found = await session.execute(sa.select(Invoice).join(ranked, ranked.c.id == Invoice.id).where(ranked.c.n == 1))
    return {invoice.member_id: invoice for invoice in found.scalars()}


async def issue_patronage_refunds(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    business_year: int,
    percent: Decimal,
    issue_on: date,
) -> list[Invoice]:
    """Issue the year's patronage refund credit notes (one per member with revenue), numbered in the credit
    notes' series in member order and booked; returns those issued now (none for a member refunded before)."""
    actor.require(Role.BOARD)
    start, end = business_year_bounds(settings, business_year)
    check_refund_percent(percent, field="percent")
    if issue_on <= end:
        raise Invalid(
            f"A refund for {business_year} can be issued only after the year ends.",
            code="refund_before_year_end",
            field="issue_on",
        )
    ids = [h.member_id for h in await members.capital_histories(session, start=start, end=end)]
    revenue = await net_revenue(session, start=start, end=end, member_ids=ids)
    done = set(
        (
            await session.execute(
                sa.select(InvoiceLine.source_ref).where(
                    InvoiceLine.source_ref.in_([refund_ref(business_year, m) for m in revenue])
                )
            )
        ).scalars()
    )
    due = {
        m: refund_net(net, percent)
        for m, net in sorted(revenue.items())
        if refund_ref(business_year, m) not in done and refund_net(net, percent) > 0
    }
    if not due:
        return []
    last = await _last_invoices(session, start=start, end=end, member_ids=list(due))
    notes: list[Invoice] = []
    with action(session, "dividends.patronage_refund"):
        for member_id, net in due.items():
            original = last[member_id]
            ((_, vat),) = vat_by_rate([(VAT_RATE, net)]).values()
            note = Invoice(
                kind=InvoiceKind.CREDIT_NOTE,
                status=InvoiceStatus.DRAFT,
                member_id=member_id,
                corrects_invoice_id=original.id,
                **{c: getattr(original, c) for c in invoices.BUYER_COLUMNS},
                issue_date=issue_on,
                period_start=start,
                period_end=end,
                due_date=issue_on + timedelta(days=settings.invoice_due_days),
                net_cents=net,
                vat_cents=vat,
                gross_cents=net + vat,
                amount_due_cents=net + vat,
            )
            session.add(note)
            notes.append(note)
        await session.flush()
        for note in notes:
            session.add(
                InvoiceLine(
                    invoice_id=note.id,
                    position=1,
                    description=(
                        f"Genossenschaftliche Rückvergütung {business_year} (§ 22 KStG): {percent.normalize()} % "
                        f"auf den Nettoumsatz {format_money(revenue[note.member_id])} vom "
                        f"{start.strftime('%d.%m.%Y')} bis {end.strftime('%d.%m.%Y')}"
                    ),
                    quantity=Decimal(1),
                    unit="C62",
                    unit_price=cents_to_decimal(note.net_cents),
                    net_cents=note.net_cents,
                    vat_rate=VAT_RATE,
                    service_kind=ServiceKind.REFUND,
                    period_start=start,
                    period_end=end,
                    source_ref=refund_ref(business_year, note.member_id),
                )
            )
        await session.flush()
        await invoices.issue_drafts(
            session,
            kind=InvoiceKind.CREDIT_NOTE,
            year=issue_on.year,
            where="id IN (SELECT invoice_id FROM invoice_lines WHERE source_ref LIKE :refs) AND status = 'draft'",
            params={"refs": f"{REF_PREFIX}:{business_year}:%"},
        )
        for note in notes:
            await session.refresh(note)
        # Only the notes just issued: earlier refunds of the year have lower ids and are booked already.
        year_refunds = sa.select(InvoiceLine.invoice_id).where(
            InvoiceLine.source_ref.like(f"{REF_PREFIX}:{business_year}:%")
        )
        await invoices.post_issued(
            session, actor=actor, where=sa.and_(Invoice.id >= min(n.id for n in notes), Invoice.id.in_(year_refunds))
        )
    return notes


async def issue_decided_refunds(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    decision_id: int,
    issue_on: date,
    expected_percent: Decimal | None = None,
) -> RefundReport:
    """Issue the patronage refund the board entered on the dividend decision (``refund_percent``) for its
    business year; refused (``refund_not_decided``) when the decision has none, and (``refund_percent_mismatch``)
    when the caller states the percent it expects (the CLI's ``--percent``) and the decision says another: only
    the assembly's decision sets the percent. Members refunded before are skipped, so issuing again issues only
    what is new."""
    decision = await get_decision(session, actor=actor, decision_id=decision_id)
    if decision.refund_percent is None:
        raise Invalid(
            f"No patronage refund was decided for {decision.business_year}.",
            code="refund_not_decided",
            field="refund_percent",
        )
    if expected_percent is not None and expected_percent != decision.refund_percent:
        raise Invalid(
            f"The decision for {decision.business_year} sets the patronage refund at "
            f"{decision.refund_percent.normalize()} %, not {expected_percent.normalize()} %.",
            code="refund_percent_mismatch",
            field="percent",
        )
    notes = await issue_patronage_refunds(
        session,
        actor=actor,
        settings=settings,
        business_year=decision.business_year,
        percent=decision.refund_percent,
        issue_on=issue_on,
    )
    return RefundReport(
        decision_id=decision.id,
        business_year=decision.business_year,
        refund_percent=decision.refund_percent,
        issued=[refund_line(n) for n in notes],
        issued_gross_cents=sum(n.gross_cents for n in notes),
        year=await refund_totals(session, actor=actor, business_year=decision.business_year),
    )


async def refund_totals(session: AsyncSession, *, actor: Actor, business_year: int) -> RefundTotals:
    """The patronage refund credit notes issued for the business year so far (the board's dividend page)."""
    actor.require(Role.BOARD)
    count, net, vat, gross = await repository.refund_totals(session, business_year)
    return RefundTotals(credit_notes=count, net_cents=net, vat_cents=vat, gross_cents=gross)


async def refunds_of(session: AsyncSession, *, member_id: int, business_year: int) -> list[RefundLine]:
    """The member's patronage refund credit notes for the year (the annual statement's section)."""
    rows = await session.execute(
        sa.select(Invoice)
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(
            Invoice.member_id == member_id,
            Invoice.status == InvoiceStatus.ISSUED,
            InvoiceLine.source_ref == refund_ref(business_year, member_id),
        )
        .order_by(Invoice.id)
    )
    return [refund_line(n) for n in rows.scalars()]


def refund_line(note: Invoice) -> RefundLine:
    return RefundLine(
        credit_note_number=str(note.number),
        issued_on=note.issue_date,
        net_cents=note.net_cents,
        vat_cents=note.vat_cents,
        gross_cents=note.gross_cents,
    )
