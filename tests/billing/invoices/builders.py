"""Builders for bill-run tests, keyword-only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import bind_actor
from app.kit.money import vat_cents
from app.kit.time import local_today
from app.members.models import Member
from app.settings import Settings
from billing.invoices import billrun
from billing.invoices.models import BillRun, Invoice, InvoiceKind
from tests.builders import BOARD


async def run_period(
    session: AsyncSession, settings: Settings, *, period: str, issue: bool = True, issue_on: date | None = None
) -> BillRun:
    """Preview ``period`` (issued today unless told) and, with ``issue``, issue it."""
    bind_actor(session, BOARD)
    run = await billrun.preview(
        session, actor=BOARD, settings=settings, period=period, issue_on=issue_on or local_today(settings.timezone)
    )
    if issue:
        run = await billrun.issue(session, actor=BOARD, settings=settings, run_id=run.id)
    return run


async def make_draft_invoice(
    session: AsyncSession,
    *,
    member: Member,
    lines: Sequence[tuple[int, str, str, int, str]],
    issue_date: date = date(2026, 11, 2),
) -> Invoice:
    """A draft invoice of November 2026 to ``member`` with ``lines`` given as (quantity, unit, unit price,
    net cents, service kind), written as a bill run writes them (a compensation: a negative price and net);
    the totals are the lines' at 19 %."""
    net = sum(line[3] for line in lines)
    vat = vat_cents(net, Decimal(19))
    invoice = Invoice(
        kind=InvoiceKind.INVOICE,
        status="draft",
        member_id=member.id,
        buyer_name="Erika Mustermann",
        buyer_street="Weg 1",
        buyer_postal_code="10115",
        buyer_city="Berlin",
        buyer_country="DE",
        issue_date=issue_date,
        period_start=date(2026, 11, 1),
        period_end=date(2026, 11, 30),
        due_date=issue_date + timedelta(days=14),
        net_cents=net,
        vat_cents=vat,
        gross_cents=net + vat,
        amount_due_cents=net + vat,
    )
    session.add(invoice)
    await session.flush()
    for position, (quantity, unit, price, cents, kind) in enumerate(lines, start=1):
        await session.execute(
            sa.text(
                "INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit, unit_price, "
                "net_cents, vat_rate, service_kind) VALUES (:i, :p, 'x', :q, :u, :price, :n, 19, :k)"
            ),
            {"i": invoice.id, "p": position, "q": quantity, "u": unit, "price": Decimal(price), "n": cents, "k": kind},
        )
    return invoice
