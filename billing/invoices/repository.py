"""All queries on invoices, their series, bill runs and pending credits. Scoping to what an actor may see is
``visible_invoices``, once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Actor, owned_by
from app.kit.db import IdType
from billing.invoices.models import (
    BillRun,
    BillRunStatus,
    DocumentFormat,
    Invoice,
    InvoiceDocumentFile,
    InvoiceKind,
    InvoiceLine,
    InvoiceSeries,
    InvoiceSettlement,
    InvoiceStatus,
    PendingCredit,
)
from billing.ledger.models import SourceKind
from billing.ledger.schemas import SELECTED_LINE_COLUMNS

PREFIXES = {InvoiceKind.INVOICE: "", InvoiceKind.CREDIT_NOTE: "GS-"}
NUMBER_DIGITS = 6


def visible_invoices(actor: Actor) -> sa.ColumnElement[bool]:
    """A member sees their own invoices; staff see all."""
    condition: sa.ColumnElement[bool] = owned_by(actor, Invoice.member_id)
    return condition


# --- numbers -----------------------------------------------------------------------------------------


async def series_id(session: AsyncSession, kind: InvoiceKind, year: int) -> int:
    """The series of ``kind`` for ``year``, created on first use (a concurrent creator wins harmlessly)."""
    dialect = session.get_bind().dialect.name
    insert: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    await session.execute(
        insert(InvoiceSeries)
        .values(kind=kind.value, year=year, prefix=f"{PREFIXES[kind]}{year}-", next_number=1)
        .on_conflict_do_nothing(index_elements=["kind", "year"])
    )
    query = sa.select(InvoiceSeries.id).where(InvoiceSeries.kind == kind, InvoiceSeries.year == year)
    return int((await session.execute(query)).scalar_one())


async def take_numbers(session: AsyncSession, series: int, count: int) -> tuple[str, int]:
    """Take ``count`` consecutive numbers from a series; returns its prefix and the first number. The row
    stays locked until the transaction ends, so concurrent issuers queue and a rollback returns the numbers."""
    result = await session.execute(
        sa.update(InvoiceSeries)
        .where(InvoiceSeries.id == series)
        .values(next_number=InvoiceSeries.next_number + count)
        .returning(InvoiceSeries.prefix, InvoiceSeries.next_number)
    )
    prefix, after = result.one()
    return str(prefix), int(after) - count


def _number_expression(dialect: str) -> str:
    if dialect == "postgresql":
        # lpad cuts longer strings: pad to at least six digits, never truncate.
        return (
            f"lpad(CAST(:first + r.rn - 1 AS TEXT), greatest({NUMBER_DIGITS}, "
            "length(CAST(:first + r.rn - 1 AS TEXT))), '0')"
        )
    return f"printf('%0{NUMBER_DIGITS}d', :first + r.rn - 1)"


async def number_drafts(
    session: AsyncSession, *, where: str, params: dict[str, Any], series: int, prefix: str, first: int, now: datetime
) -> int:
    """Number the drafts matching ``where`` (SQL on ``invoices``) in member order, set-based, and mark them
    issued. Returns how many were numbered."""
    dialect = session.get_bind().dialect.name
    # ``where`` is the service's own SQL, never user input; every value is bound.
    sql = (
        "UPDATE invoices SET status = 'issued', series_id = :series, issued_at = :now, updated_at = :now, "  # noqa: S608
        f"number = :prefix || {_number_expression(dialect)} "
        "FROM (SELECT id, row_number() OVER (ORDER BY member_id, id) AS rn FROM invoices "
        f"WHERE status = 'draft' AND {where}) AS r WHERE invoices.id = r.id"
    )
    statement = sa.text(sql)
    result = await session.execute(
        statement, {**params, "series": series, "prefix": prefix, "first": first, "now": now}
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def count_drafts(session: AsyncSession, *, where: str, params: dict[str, Any]) -> int:
    statement = sa.text(f"SELECT count(*) FROM invoices WHERE status = 'draft' AND {where}")  # noqa: S608
    return int((await session.execute(statement, params)).scalar_one())


# --- bill runs ---------------------------------------------------------------------------------------


async def bill_run(session: AsyncSession, run_id: int, *, lock: bool = False) -> BillRun | None:
    query = sa.select(BillRun).where(BillRun.id == run_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def open_previews(session: AsyncSession) -> list[BillRun]:
    query = sa.select(BillRun).where(BillRun.status == BillRunStatus.PREVIEW).with_for_update()
    return list((await session.execute(query)).scalars())


async def delete_drafts_of_runs(session: AsyncSession, run_ids: Sequence[int]) -> None:
    """Throw away the draft invoices of previews (children first: SQLite may run without cascades)."""
    if not run_ids:
        return
    drafts = sa.select(Invoice.id).where(Invoice.bill_run_id.in_(run_ids), Invoice.status == InvoiceStatus.DRAFT)
    for child in (InvoiceLine, InvoiceSettlement):
        await session.execute(sa.delete(child).where(child.invoice_id.in_(drafts)))
    await session.execute(
        sa.delete(Invoice).where(Invoice.bill_run_id.in_(run_ids), Invoice.status == InvoiceStatus.DRAFT)
    )


async def billed_refs(session: AsyncSession, refs: Sequence[str]) -> set[str]:
    if not refs:
        return set()
    query = sa.select(InvoiceLine.source_ref).where(InvoiceLine.source_ref.in_(refs))
    return {str(r) for r in (await session.execute(query)).scalars()}


async def billed_refs_of_contracts(
    session: AsyncSession, *, contract_from: int, contract_to: int, ignore_runs: Sequence[int] = ()
) -> set[str]:
    """What lines of the contracts with ids in [contract_from, contract_to] bill (drafts included, except those
    of the bill runs ``ignore_runs``: previews being thrown away by a transaction this one cannot see)."""
    query = sa.select(InvoiceLine.source_ref).where(
        InvoiceLine.contract_id.between(contract_from, contract_to), InvoiceLine.source_ref.is_not(None)
    )
    if ignore_runs:
        discarded = sa.select(Invoice.id).where(
            Invoice.bill_run_id.in_(list(ignore_runs)), Invoice.status == InvoiceStatus.DRAFT
        )
        query = query.where(InvoiceLine.invoice_id.not_in(discarded))
    return {str(r) for r in (await session.execute(query)).scalars()}


async def fee_lines_to_correct(
    session: AsyncSession, *, contract_ids: Sequence[int], since: date, before: date
) -> list[Any]:
    """The issued lines of those contracts for days in [since, before) that a correction of fees billed in
    advance needs: the monthly fees (``fee:``), the corrections made of them already (``fee-correction:``) and
    the credit notes an operator made of either (``cn:<line id>``), with their invoice; plain rows."""
    if not contract_ids:
        return []
    kinds = sa.or_(
        InvoiceLine.source_ref.like("fee:%"),
        InvoiceLine.source_ref.like("fee-correction:%"),
        InvoiceLine.source_ref.like("cn:%"),
    )
    query = (
        sa.select(
            InvoiceLine.id,
            InvoiceLine.position,
            InvoiceLine.source_ref,
            InvoiceLine.contract_id,
            InvoiceLine.contract_number,
            InvoiceLine.period_start,
            InvoiceLine.period_end,
            InvoiceLine.net_cents,
            InvoiceLine.vat_rate,
            InvoiceLine.service_kind,
            Invoice.id.label("invoice_id"),
            Invoice.kind,
            Invoice.number,
            Invoice.member_id,
            Invoice.issue_date,
            Invoice.period_start.label("invoice_period_start"),
            Invoice.period_end.label("invoice_period_end"),
            Invoice.created_at.label("drafted_at"),
        )
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(
            InvoiceLine.contract_id.in_(list(contract_ids)),
            Invoice.status == InvoiceStatus.ISSUED,
            InvoiceLine.period_end >= since,
            InvoiceLine.period_start < before,
            kinds,
        )
        .order_by(InvoiceLine.contract_id, InvoiceLine.period_start, InvoiceLine.id)
    )
    return list((await (await session.connection()).execute(query)).all())


def _signed() -> sa.Case[int]:
    """-1 for a credit note (its amounts are stored positive, what it credits), else 1."""
    return sa.case((Invoice.kind == InvoiceKind.CREDIT_NOTE, -1), else_=1)


async def run_totals(session: AsyncSession, run_id: int) -> dict[str, int]:
    """A run's invoices and credit notes (the corrections it made) counted, their sums net of the credits."""
    sign = _signed()
    invoices = (
        await session.execute(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(sign * Invoice.net_cents), 0),
                sa.func.coalesce(sa.func.sum(sign * Invoice.vat_cents), 0),
                sa.func.coalesce(sa.func.sum(sign * Invoice.gross_cents), 0),
                sa.func.coalesce(sa.func.sum(sign * Invoice.amount_due_cents), 0),
            ).where(Invoice.bill_run_id == run_id)
        )
    ).one()
    lines = (
        await session.execute(
            sa.select(sa.func.count())
            .select_from(InvoiceLine)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.bill_run_id == run_id)
        )
    ).scalar_one()
    count, net, vat, gross, due = (int(v) for v in invoices)
    return {
        "invoice_count": count,
        "line_count": int(lines),
        "net_cents": net,
        "vat_cents": vat,
        "gross_cents": gross,
        "due_cents": due,
    }


async def net_by_service(session: AsyncSession, run_id: int) -> dict[str, int]:
    query = (
        sa.select(InvoiceLine.service_kind, sa.func.sum(_signed() * InvoiceLine.net_cents))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(Invoice.bill_run_id == run_id)
        .group_by(InvoiceLine.service_kind)
    )
    return {str(kind): int(net) for kind, net in (await session.execute(query)).all()}


def posting_lines(
    *, where: sa.ColumnElement[bool], receivables: int, vat: int, revenue: dict[str, int]
) -> sa.Select[Any]:
    """The ledger lines of the issued invoices and credit notes matching ``where``, as the query
    ``ledger.post_selected`` books (one row per line, ``SELECTED_LINE_COLUMNS``): receivables with the gross
    (member), revenue per service kind's account with the net, VAT with the VAT; an invoice debits receivables,
    a credit note credits them. Signed amounts become a debit or a credit; zero lines are left out."""
    issued = sa.and_(where, Invoice.status == InvoiceStatus.ISSUED)
    is_invoice = Invoice.kind == InvoiceKind.INVOICE
    sign = sa.case((is_invoice, 1), else_=-1)
    source_kind = sa.case((is_invoice, SourceKind.INVOICE.value), else_=SourceKind.CREDIT_NOTE.value)
    text = sa.case((is_invoice, "Rechnung "), else_="Gutschrift ") + Invoice.number
    no_member = sa.cast(sa.null(), IdType)

    def head(position: int, account: Any, member: Any, credit: Any) -> list[Any]:
        """Columns of a line whose signed amount ``credit`` is a credit when positive, a debit when negative."""
        columns = (
            source_kind,
            Invoice.number,
            Invoice.issue_date,
            text,
            sa.literal(position),
            account,
            member,
            sa.case((credit < 0, -credit), else_=0),
            sa.case((credit > 0, credit), else_=0),
        )
        return [column.label(name) for column, name in zip(columns, SELECTED_LINE_COLUMNS, strict=True)]

    gross = -sign * Invoice.gross_cents
    receivable = sa.select(*head(1, sa.literal(receivables), Invoice.member_id, gross)).where(issued, gross != 0)
    account = sa.case(
        *((InvoiceLine.service_kind == kind, account_id) for kind, account_id in sorted(revenue.items())),
        else_=sa.null(),
    )
    net = sign * sa.func.sum(InvoiceLine.net_cents)
    revenues = (
        sa.select(*head(2, account, no_member, net))
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(issued)
        .group_by(Invoice.id, Invoice.kind, Invoice.number, Invoice.issue_date, account)
        .having(net != 0)
    )
    tax = sign * Invoice.vat_cents
    taxes = sa.select(*head(3, sa.literal(vat), no_member, tax)).where(issued, tax != 0)
    return sa.select(sa.union_all(receivable, revenues, taxes).subquery())


async def settlement_rows(session: AsyncSession, *, where: sa.ColumnElement[bool]) -> list[Any]:
    """The issued invoices matching ``where`` that settle credits, one row per ledger account drawn from."""
    query = (
        sa.select(
            Invoice.id,
            Invoice.number,
            Invoice.member_id,
            Invoice.issue_date,
            InvoiceSettlement.account,
            sa.func.sum(InvoiceSettlement.amount_cents).label("amount"),
        )
        .join(InvoiceSettlement, InvoiceSettlement.invoice_id == Invoice.id)
        .where(where, Invoice.status == InvoiceStatus.ISSUED)
        .group_by(Invoice.id, Invoice.number, Invoice.member_id, Invoice.issue_date, InvoiceSettlement.account)
        .order_by(Invoice.id)
    )
    return list((await session.execute(query)).all())


async def consume_credits(session: AsyncSession, run_id: int) -> None:
    """Mark the credits the run's invoices settle as consumed by them."""
    settled = (
        sa.select(InvoiceSettlement.invoice_id).where(InvoiceSettlement.credit_id == PendingCredit.id).scalar_subquery()
    )
    in_run = (
        sa.select(InvoiceSettlement.credit_id)
        .join(Invoice, Invoice.id == InvoiceSettlement.invoice_id)
        .where(Invoice.bill_run_id == run_id, InvoiceSettlement.credit_id.is_not(None))
    )
    await session.execute(
        sa.update(PendingCredit).where(PendingCredit.id.in_(in_run)).values(invoice_id=settled),
        execution_options={"synchronize_session": False},
    )


# --- credits -----------------------------------------------------------------------------------------


async def open_credits(session: AsyncSession, *, member_from: int, member_to: int) -> list[Any]:
    query = (
        sa.select(
            PendingCredit.id,
            PendingCredit.member_id,
            PendingCredit.amount_cents,
            PendingCredit.text,
            PendingCredit.account,
        )
        .where(PendingCredit.invoice_id.is_(None), PendingCredit.member_id.between(member_from, member_to))
        .order_by(PendingCredit.member_id, PendingCredit.id)
    )
    return list((await session.execute(query)).all())


async def credits_by_source(
    session: AsyncSession, sources: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], PendingCredit]:
    if not sources:
        return {}
    query = sa.select(PendingCredit).where(
        sa.tuple_(PendingCredit.source_kind, PendingCredit.source_id).in_(list(sources))
    )
    return {(c.source_kind, c.source_id): c for c in (await session.execute(query)).scalars()}


# --- reading -----------------------------------------------------------------------------------------


async def invoice(session: AsyncSession, invoice_id: int, *, actor: Actor | None = None) -> Invoice | None:
    query = sa.select(Invoice).where(Invoice.id == invoice_id)
    if actor is not None:
        query = query.where(visible_invoices(actor))
    return (await session.execute(query)).scalar_one_or_none()


async def lines(session: AsyncSession, invoice_id: int) -> list[InvoiceLine]:
    query = sa.select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).order_by(InvoiceLine.position)
    return list((await session.execute(query)).scalars())


async def settlements(session: AsyncSession, invoice_id: int) -> list[InvoiceSettlement]:
    query = (
        sa.select(InvoiceSettlement).where(InvoiceSettlement.invoice_id == invoice_id).order_by(InvoiceSettlement.id)
    )
    return list((await session.execute(query)).scalars())


async def document(session: AsyncSession, invoice_id: int, fmt: DocumentFormat) -> InvoiceDocumentFile | None:
    query = sa.select(InvoiceDocumentFile).where(
        InvoiceDocumentFile.invoice_id == invoice_id, InvoiceDocumentFile.format == fmt
    )
    return (await session.execute(query)).scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class InvoiceFilter:
    number: str | None = None
    member_id: int | None = None
    period: date | None = None
    status: InvoiceStatus | None = None
    kind: InvoiceKind | None = None
    bill_run_id: int | None = None


async def search(
    session: AsyncSession, *, actor: Actor, filters: InvoiceFilter, limit: int, offset: int
) -> tuple[list[Invoice], int]:
    conditions: list[sa.ColumnElement[bool]] = [visible_invoices(actor)]
    if filters.number:
        conditions.append(Invoice.number.contains(filters.number.strip(), autoescape=True))
    if filters.member_id is not None:
        conditions.append(Invoice.member_id == filters.member_id)
    if filters.period is not None:
        conditions.append(Invoice.period_start == filters.period)
    if filters.status is not None:
        conditions.append(Invoice.status == filters.status)
    if filters.kind is not None:
        conditions.append(Invoice.kind == filters.kind)
    if filters.bill_run_id is not None:
        conditions.append(Invoice.bill_run_id == filters.bill_run_id)
    where = sa.and_(*conditions)
    total = int((await session.execute(sa.select(sa.func.count()).select_from(Invoice).where(where))).scalar_one())
    query = sa.select(Invoice).where(where).order_by(Invoice.issue_date.desc(), Invoice.id.desc())
    rows = await session.execute(query.limit(limit).offset(offset))
    return list(rows.scalars()), total


async def revenue_by_month(session: AsyncSession, *, since: date) -> list[Any]:
    """Net of issued invoices less credit notes per issue month and service kind, since ``since``."""
    month = sa.func.substr(sa.cast(Invoice.issue_date, sa.String), 1, 7)
    sign = _signed()
    query = (
        sa.select(month.label("month"), InvoiceLine.service_kind, sa.func.sum(sign * InvoiceLine.net_cents))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(Invoice.status == InvoiceStatus.ISSUED, Invoice.issue_date >= since)
        .group_by(month, InvoiceLine.service_kind)
        .order_by(month)
    )
    return list((await session.execute(query)).all())


# --- documents (many invoices at once) ---------------------------------------------------------------


async def invoices_by_ids(session: AsyncSession, invoice_ids: Sequence[int]) -> list[Invoice]:
    if not invoice_ids:
        return []
    # Issuing numbers drafts with one UPDATE, past the ORM: read the rows as they are, not as loaded before.
    query = sa.select(Invoice).where(Invoice.id.in_(list(invoice_ids))).execution_options(populate_existing=True)
    return list((await session.execute(query)).scalars())


async def lines_of(session: AsyncSession, invoice_ids: Sequence[int]) -> list[InvoiceLine]:
    query = (
        sa.select(InvoiceLine)
        .where(InvoiceLine.invoice_id.in_(list(invoice_ids)))
        .order_by(InvoiceLine.invoice_id, InvoiceLine.position)
    )
    return list((await session.execute(query)).scalars())


async def settlements_of(session: AsyncSession, invoice_ids: Sequence[int]) -> list[InvoiceSettlement]:
    query = (
        sa.select(InvoiceSettlement)
        .where(InvoiceSettlement.invoice_id.in_(list(invoice_ids)))
        .order_by(InvoiceSettlement.invoice_id, InvoiceSettlement.id)
    )
    return list((await session.execute(query)).scalars())


def _without_document(fmt: DocumentFormat, run_id: int | None) -> sa.ColumnElement[bool]:
    stored = sa.select(InvoiceDocumentFile.id).where(
        InvoiceDocumentFile.invoice_id == Invoice.id, InvoiceDocumentFile.format == fmt
    )
    condition = sa.and_(Invoice.status == InvoiceStatus.ISSUED, ~stored.exists())
    if run_id is not None:
        condition = sa.and_(condition, Invoice.bill_run_id == run_id)
    return condition


async def count_without_document(session: AsyncSession, *, fmt: DocumentFormat, run_id: int | None) -> int:
    query = sa.select(sa.func.count()).select_from(Invoice).where(_without_document(fmt, run_id))
    return int((await session.execute(query)).scalar_one())


async def without_document(
    session: AsyncSession, *, fmt: DocumentFormat, run_id: int | None, after_id: int, limit: int
) -> list[int]:
    """Issued invoices (of a run) with no stored ``fmt``, in id order after ``after_id``."""
    query = (
        sa.select(Invoice.id)
        .where(_without_document(fmt, run_id), Invoice.id > after_id)
        .order_by(Invoice.id)
        .limit(limit)
    )
    return [int(i) for i in (await session.execute(query)).scalars()]
