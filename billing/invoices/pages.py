"""Pages about invoices: the member's invoices, the operator's invoice search, the board's bill run (preview,
issue), revenue by month and service, and receivables by age."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from app.auth.deps import SessionDep
from app.kit.errors import DomainError
from app.kit.time import add_months, local_today
from app.kit.validation import IdPath
from app.web.shell import BoardPage, MemberPage, StaffPage, redirect
from billing.invoices import billrun, repository, service
from billing.invoices.models import InvoiceStatus, ServiceKind
from billing.payments import credit, open_items

router = APIRouter()
PAGE = 25
SAMPLE = 10


@router.get("/portal/invoices", response_class=HTMLResponse)
async def portal_invoices(web: MemberPage, session: SessionDep, offset: int = 0) -> Response:
    """My invoices, newest first, each with its PDF."""
    start = max(offset, 0)
    invoices, total = await service.search_invoices(
        session, actor=web.user, filters=repository.InvoiceFilter(), limit=PAGE, offset=start
    )
    return web.render("invoices/portal.html", invoices=invoices, total=total, offset=start, page=PAGE)


@router.get("/console/invoices", response_class=HTMLResponse)
async def console_invoices(
    web: StaffPage, session: SessionDep, number: str = "", member: str = "", period: str = "", offset: int = 0
) -> Response:
    """Find invoices by number, member id or period (YYYY-MM)."""
    start = max(offset, 0)
    clean = "".join(ch for ch in number if ch.isalnum() or ch == "-")[:24]
    member_id = int(member) if member.isdigit() and len(member) < 12 else None
    month = None
    if period:
        try:
            month = service.period_bounds(billrun.check_period(period))[0]
        except DomainError as error:
            return web.error(error)
    invoices, total = await service.search_invoices(
        session,
        actor=web.user,
        filters=repository.InvoiceFilter(number=clean or None, member_id=member_id, period=month),
        limit=PAGE,
        offset=start,
    )
    query = f"number={clean}&member={member_id or ''}&period={period if month else ''}"
    return web.render(
        "invoices/console.html",
        invoices=invoices,
        total=total,
        offset=start,
        page=PAGE,
        number=clean,
        member=member_id or "",
        period=period if month else "",
        query=query,
    )


@router.get("/console/invoices/{invoice_id}", response_class=HTMLResponse)
async def console_invoice(web: StaffPage, session: SessionDep, invoice_id: IdPath) -> Response:
    try:
        detail = await service.invoice_detail(session, actor=web.user, settings=web.settings, invoice_id=invoice_id)
    except DomainError as error:
        return web.error(error)
    return web.render("invoices/invoice.html", invoice=detail)


@router.get("/board/billing", response_class=HTMLResponse)
async def board_billing(web: BoardPage, session: SessionDep, run: int | None = None) -> Response:
    """The bill run (preview a month, look at it, issue it), revenue by month and service, receivables by age."""
    actor = web.user
    today = local_today(web.settings.timezone)
    shown = by_service = None
    sample: list[Any] = []
    if run is not None and 0 < run < 2**62:
        try:
            shown, by_service = await billrun.get_run(session, actor=actor, run_id=run)
        except DomainError as error:
            return web.error(error)
        sample, _ = await service.search_invoices(
            session, actor=actor, filters=repository.InvoiceFilter(bill_run_id=run), limit=SAMPLE, offset=0
        )
    since = add_months(date(today.year, today.month, 1), -11)
    return web.render(
        "invoices/board.html",
        run=shown,
        by_service=by_service or {},
        sample=sample,
        next_period=f"{today:%Y-%m}",
        revenue=await service.revenue_by_month(session, actor=actor, since=since),
        kinds=[k.value for k in ServiceKind],
        aging=await open_items.aging(session, on=today, credit_cents=sum((await credit.balances(session)).values())),
        issued=InvoiceStatus.ISSUED,
    )


@router.post("/board/billing/preview", response_class=HTMLResponse)
async def board_preview(web: BoardPage, session: SessionDep) -> Response:
    form = await web.check_csrf()
    try:
        made = await billrun.preview(
            session, actor=web.user, settings=web.settings, period=billrun.check_period(str(form.get("period", "")))
        )
    except DomainError as error:
        return web.error(error)
    return redirect(f"/board/billing?run={made.id}", flash=web.translator.gettext("The preview is ready."))


@router.post("/board/billing/{run_id}/issue", response_class=HTMLResponse)
async def board_issue(web: BoardPage, session: SessionDep, run_id: IdPath) -> Response:
    await web.check_csrf()
    try:
        await billrun.issue(session, actor=web.user, settings=web.settings, run_id=run_id)
    except DomainError as error:
        return web.error(error)
    return redirect(f"/board/billing?run={run_id}", flash=web.translator.gettext("The invoices are issued."))
