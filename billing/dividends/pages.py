"""Pages about dividends: the member's choice, exemption orders and annual statements in the portal; the
board's decision, preview and run, the pay-out by credit transfer and the patronage refund."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from app.auth.deps import SessionDep
from app.kit.errors import DomainError
from app.kit.money import decimal_to_cents
from app.kit.time import local_today
from app.kit.validation import IdPath
from app.web.shell import BoardPage, MemberPage, Web, redirect
from billing.dividends import choices, refunds, service, statements, transfers
from billing.dividends.models import DecisionStatus, DividendBasis, DividendChoice
from billing.dividends.schemas import DecisionCreate, ExemptionOrderCreate, RefundPercentUpdate

router = APIRouter()


def _invalid(web: Web) -> Response:
    return web.render("error.html", status_code=422, message=web.translator.gettext("The input is not valid."))


def _amount(form: Mapping[str, Any], field: str) -> Decimal:
    return Decimal(str(form.get(field, "")).strip().replace(",", "."))


def _optional_amount(form: Mapping[str, Any], field: str) -> Decimal | None:
    return _amount(form, field) if str(form.get(field, "")).strip() else None


def _day(web: Web, form: Mapping[str, Any], field: str) -> date:
    """A date from the form, today when left empty."""
    value = str(form.get(field, "")).strip()
    return date.fromisoformat(value) if value else local_today(web.settings.timezone)


@router.get("/portal/dividends", response_class=HTMLResponse)
async def portal_dividends(web: MemberPage, session: SessionDep) -> Response:
    """My dividend choice, my exemption orders and my annual statements."""
    actor = web.user
    assert actor.member_id is not None
    return web.render(
        "dividends/portal.html",
        preference=await choices.get_preference(session, actor=actor, member_id=actor.member_id),
        orders=await choices.exemption_orders(session, actor=actor, member_id=actor.member_id),
        years=await statements.statement_years(session, actor=actor, settings=web.settings, member_id=actor.member_id),
        choices=list(DividendChoice),
        this_year=local_today(web.settings.timezone).year,
    )


@router.post("/portal/dividends/choice", response_class=HTMLResponse)
async def portal_choice(web: MemberPage, session: SessionDep) -> Response:
    form = await web.check_csrf()
    actor = web.user
    assert actor.member_id is not None
    try:
        choice = DividendChoice(str(form.get("choice", "")))
    except ValueError:
        return _invalid(web)
    await choices.set_preference(session, actor=actor, member_id=actor.member_id, choice=choice)
    return redirect("/portal/dividends", flash=web.translator.gettext("Your choice was saved."))


@router.post("/portal/dividends/exemption-orders", response_class=HTMLResponse)
async def portal_exemption_order(web: MemberPage, session: SessionDep) -> Response:
    """File an exemption order; the allowance is typed in euros."""
    form = await web.check_csrf()
    actor = web.user
    assert actor.member_id is not None
    try:
        data = ExemptionOrderCreate(
            calendar_year=int(str(form.get("calendar_year", ""))),
            allowance_cents=decimal_to_cents(_amount(form, "allowance")),
        )
        await choices.file_exemption_order(
            session, actor=actor, settings=web.settings, member_id=actor.member_id, data=data
        )
    except DomainError as error:
        return web.error(error)
    except (InvalidOperation, ValueError):
        return _invalid(web)
    return redirect("/portal/dividends", flash=web.translator.gettext("Your exemption order was saved."))


@router.get("/portal/dividends/statements/{year}.pdf")
async def portal_statement_pdf(web: MemberPage, session: SessionDep, year: int) -> Response:
    actor = web.user
    assert actor.member_id is not None
    try:
        statement = await statements.annual_statement(
            session, actor=actor, settings=web.settings, member_id=actor.member_id, business_year=year
        )
    except DomainError as error:
        return web.error(error)
    pdf = await statements.statement_pdf(statement, settings=web.settings, locale=web.translator.locale)
    name = f"jahresmitteilung-{year}.pdf"
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


# --- board ---------------------------------------------------------------------------------------


@router.get("/board/dividends", response_class=HTMLResponse)
async def board_dividends(web: BoardPage, session: SessionDep) -> Response:
    """The dividend decisions by year, and the form for a new one."""
    return web.render(
        "dividends/board.html",
        decisions=[service.decision_out(d) for d in await service.list_decisions(session, actor=web.user)],
        last_year=local_today(web.settings.timezone).year - 1,
        bases=list(DividendBasis),
        default_basis=web.settings.dividend_basis,
    )


@router.post("/board/dividends", response_class=HTMLResponse)
async def board_decide(web: BoardPage, session: SessionDep) -> Response:
    form = await web.check_csrf()
    try:
        data = DecisionCreate(
            business_year=int(str(form.get("business_year", ""))),
            rate_percent=_amount(form, "rate_percent"),
            decided_on=date.fromisoformat(str(form.get("decided_on", ""))),
            basis=DividendBasis(str(form.get("basis", web.settings.dividend_basis))),
            refund_percent=_optional_amount(form, "refund_percent"),
        )
        decision = await service.enter_decision(session, actor=web.user, settings=web.settings, data=data)
    except DomainError as error:
        return web.error(error)
    except (InvalidOperation, ValueError):
        return _invalid(web)
    return redirect(f"/board/dividends/{decision.id}", flash=web.translator.gettext("Decision recorded."))


@router.get("/board/dividends/{decision_id}", response_class=HTMLResponse)
async def board_preview(web: BoardPage, session: SessionDep, decision_id: IdPath) -> Response:
    """Every member's dividend with the totals and the button that runs it; once booked, the credit transfer
    files that paid it and the pay-out; the patronage refund issued for the year and the button that issues it."""
    try:
        preview = await service.preview(session, actor=web.user, settings=web.settings, decision_id=decision_id)
    except DomainError as error:
        return web.error(error)
    booked = preview.decision.status is DecisionStatus.BOOKED
    return web.render(
        "dividends/board_preview.html",
        preview=preview,
        files=await transfers.payout_files(session, actor=web.user, decision_id=decision_id) if booked else [],
        refunded=await refunds.refund_totals(session, actor=web.user, business_year=preview.decision.business_year),
        today=local_today(web.settings.timezone),
    )


@router.post("/board/dividends/{decision_id}/run", response_class=HTMLResponse)
async def board_run(web: BoardPage, session: SessionDep, decision_id: IdPath) -> Response:
    await web.check_csrf()
    try:
        await service.run(session, actor=web.user, settings=web.settings, decision_id=decision_id)
    except DomainError as error:
        return web.error(error)
    return redirect(f"/board/dividends/{decision_id}", flash=web.translator.gettext("The dividend was booked."))


@router.post("/board/dividends/{decision_id}/pay-out", response_class=HTMLResponse)
async def board_pay_out(web: BoardPage, session: SessionDep, decision_id: IdPath) -> Response:
    """Make the credit transfer file of the booked decision (and the capital payouts due); the page lists it."""
    form = await web.check_csrf()
    gettext, ngettext, money = web.translator.gettext, web.translator.ngettext, web.translator.money
    try:
        report = await transfers.pay_out(
            session,
            actor=web.user,
            settings=web.settings,
            decision_id=decision_id,
            execution_date=_day(web, form, "execution_date"),
        )
    except DomainError as error:
        return web.error(error)
    except ValueError:
        return _invalid(web)
    if report.file_id is None:
        message = gettext("Nothing new to pay out.")
    else:
        message = ngettext(
            "Credit transfer file made: %(n)s transfer, %(total)s.",
            "Credit transfer file made: %(n)s transfers, %(total)s.",
            report.paid,
            total=money(report.paid_cents),
        )
    if report.waiting:
        message += " " + ngettext(
            "%(n)s payout (%(total)s) waits for an account.",
            "%(n)s payouts (%(total)s) wait for an account.",
            len(report.waiting),
            total=money(report.waiting_cents),
        )
    return redirect(f"/board/dividends/{decision_id}", flash=message)


@router.post("/board/dividends/{decision_id}/refund-percent", response_class=HTMLResponse)
async def board_refund_percent(web: BoardPage, session: SessionDep, decision_id: IdPath) -> Response:
    """Record the patronage refund the assembly decided on a decision entered without it."""
    form = await web.check_csrf()
    try:
        data = RefundPercentUpdate(refund_percent=_amount(form, "refund_percent"))
        await service.record_refund_percent(
            session, actor=web.user, decision_id=decision_id, percent=data.refund_percent
        )
    except DomainError as error:
        return web.error(error)
    except (InvalidOperation, ValueError):
        return _invalid(web)
    return redirect(f"/board/dividends/{decision_id}", flash=web.translator.gettext("Patronage refund recorded."))


@router.post("/board/dividends/{decision_id}/refunds", response_class=HTMLResponse)
async def board_refunds(web: BoardPage, session: SessionDep, decision_id: IdPath) -> Response:
    """Issue the decided patronage refund's credit notes; the page shows the year's refunds."""
    form = await web.check_csrf()
    gettext, ngettext, money = web.translator.gettext, web.translator.ngettext, web.translator.money
    try:
        report = await refunds.issue_decided_refunds(
            session,
            actor=web.user,
            settings=web.settings,
            decision_id=decision_id,
            issue_on=_day(web, form, "issue_on"),
        )
    except DomainError as error:
        return web.error(error)
    except ValueError:
        return _invalid(web)
    if report.issued:
        message = ngettext(
            "%(n)s refund credit note issued, %(total)s.",
            "%(n)s refund credit notes issued, %(total)s.",
            len(report.issued),
            total=money(report.issued_gross_cents),
        )
    else:
        message = gettext("No new refund credit notes: every member with revenue in the year has been refunded.")
    return redirect(f"/board/dividends/{decision_id}", flash=message)
